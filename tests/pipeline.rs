//! `bce run` on small hand-made extracts covering every quirk of kbo-open-data.md, asserting the
//! warehouse contents exactly; failure modes (truncated zip, missing column or file, rejects over
//! the threshold, a kill mid-run) leave the published warehouse untouched.

mod common;
use common::*;
use std::path::Path;

/// A Full extract exercising the format's quirks. Rows marked REJECT must be rejected.
fn quirks() -> Files {
    let enterprise = concat!(
        // JuridicalFormCAC is absent: an optional column (older extracts).
        "\"EnterpriseNumber\",\"Status\",\"JuridicalSituation\",\"TypeOfEnterprise\",\"JuridicalForm\",\"StartDate\"\n",
        "\"0200.065.765\",\"AC\",\"000\",\"2\",\"416\",09-08-1960\n", // unquoted date
        "\"1001.686.633\",\"AC\",\"000\",\"2\",\"610\",15-10-2025\n", // starts with 1; starts after the snapshot date
        "\"0428.759.497\",\"AC\",\"012\",\"2\",\"014\",\n",           // NULL date as nothing
        "\"0403.019.261\",\"AC\",\"\",\"1\",,\"\"\n",                 // NULL as \"\" and as nothing
        "\"0428.759.400\",\"AC\",\"000\",\"2\",\"014\",01-01-2000\n", // REJECT bad check digit (line 6)
        "\"0876.543.270\",\"AC\",\"000\",\"2\",\"014\",31-02-2020\n", // REJECT impossible date (line 7)
        "\"0200.065.765\",\"AC\",\"000\",\"2\",\"416\",09-08-1960\n", // REJECT duplicate key (line 8)
        "\"0417.497.106\",\"AC\",\"000\"\n",                          // REJECT short row (line 9)
    );
    let establishment = concat!(
        "\"EstablishmentNumber\",\"StartDate\",\"EnterpriseNumber\"\n",
        "\"2.000.000.339\",01-02-1995,\"0200.065.765\"\n",
        "\"2.000.000.438\",,\"1001.686.633\"\n",
    );
    let mut denomination = concat!(
        "\"EntityNumber\",\"Language\",\"TypeOfDenomination\",\"Denomination\"\n",
        "\"0200.065.765\",\"2\",\"001\",\"Café \"\"De Zwaan\"\"\"\n", // doubled quotes
        "\"0200.065.765\",\"1\",\"002\",\"Brasserie\ndu Cygne\"\n",   // quoted newline (lines 3-4)
        "\"1001.686.633\",\"2\",\"001\",\"Nieuwe BV\"\n",
        "\"2.000.000.339\",\"2\",\"003\",\"'t Hoekske\"\n",
        "\"0555.555.523\",\"1\",\"001\",\"Orpheline SRL\"\n", // entity not in the extract: kept, counted
    )
    .as_bytes()
    .to_vec();
    denomination.extend_from_slice(b"\"0428.759.497\",\"1\",\"001\",\"Soci\xe9t\xe9\"\n"); // REJECT invalid UTF-8 (line 8)
    let address = concat!(
        "\"EntityNumber\",\"TypeOfAddress\",\"CountryNL\",\"CountryFR\",\"Zipcode\",\"MunicipalityNL\",\"MunicipalityFR\",\"StreetNL\",\"StreetFR\",\"HouseNumber\",\"Box\",\"ExtraAddressInfo\",\"DateStrikingOff\",\"Foo\"\n",
        "\"0200.065.765\",\"REGO\",\"\",\"\",\"1000\",\"Brussel\",\"Bruxelles\",\"Wetstraat\",\"Rue de la Loi\",\"16\",\"\",\"\",,\"x\"\n",
        "\"2.000.000.339\",\"BAET\",\"\",\"\",\"9000\",\"Gent\",\"Gand\",\"Veldstraat\",\"Veldstraat\",\"1\",\"B\",\"\",01-03-2024,\"y\"\n",
    );
    let contact = concat!(
        "\"EntityNumber\",\"EntityContact\",\"ContactType\",\"Value\"\n",
        "\"0200.065.765\",\"ENT\",\"FAX\",\"022001234\"\n",
        "\"0200.065.765\",\"ENT\",\"EMAIL\",\"info@zwaan.be\"\n",
    );
    let activity = concat!(
        "\"EntityNumber\",\"ActivityGroup\",\"NaceVersion\",\"NaceCode\",\"Classification\"\n",
        "\"0200.065.765\",\"003\",\"2025\",\"0111001\",\"MAIN\"\n",
        "\"0200.065.765\",\"001\",\"2008\",\"01110\",\"SECO\"\n",
        "\"2.000.000.339\",\"003\",\"2025\",\"56101\",\"MAIN\"\n",
        "\"0555.555.523\",\"003\",\"2025\",\"62100\",\"MAIN\"\n", // entity not in the extract: kept, counted
        "\"0555.555.523\",\"001\",\"2008\",\"62010\",\"SECO\"\n", // the same, counted again
        "\"0876.543.270\",\"003\",\"2025\",\"62100\"\n", // REJECT short row (line 7): not counted as an orphan
    );
    let branch = concat!(
        "\"Id\",\"StartDate\",\"EnterpriseNumber\"\n",
        "\"9.000.006.626\",01-01-2010,\"0200.065.765\"\n"
    );
    vec![
        (
            "meta.csv".into(),
            meta_csv(147, "11-10-2025", "full").into_bytes(),
        ),
        ("code.csv".into(), code_csv()),
        ("enterprise.csv".into(), enterprise.as_bytes().to_vec()),
        (
            "establishment.csv".into(),
            establishment.as_bytes().to_vec(),
        ),
        ("denomination.csv".into(), denomination),
        ("address.csv".into(), address.as_bytes().to_vec()),
        ("contact.csv".into(), contact.as_bytes().to_vec()),
        ("activity.csv".into(), activity.as_bytes().to_vec()),
        ("branch.csv".into(), branch.as_bytes().to_vec()),
    ]
}

fn assert_quirks_warehouse(db: &Path) {
    assert_eq!(
        query(db, "SELECT * FROM enterprise"),
        rows(&[
            &[
                "0200.065.765",
                "AC",
                "000",
                "2",
                "416",
                "NULL",
                "1960-08-09",
                "BE0200065765"
            ],
            &[
                "1001.686.633",
                "AC",
                "000",
                "2",
                "610",
                "NULL",
                "2025-10-15",
                "BE1001686633"
            ],
            &[
                "0428.759.497",
                "AC",
                "012",
                "2",
                "014",
                "NULL",
                "NULL",
                "BE0428759497"
            ],
            &[
                "0403.019.261",
                "AC",
                "NULL",
                "1",
                "NULL",
                "NULL",
                "NULL",
                "BE0403019261"
            ],
        ])
    );
    assert_eq!(
        query(db, "SELECT * FROM establishment"),
        rows(&[
            &["2.000.000.339", "1995-02-01", "0200.065.765"],
            &["2.000.000.438", "NULL", "1001.686.633"]
        ])
    );
    assert_eq!(
        query(db, "SELECT * FROM denomination"),
        rows(&[
            &["0200.065.765", "2", "001", "Café \"De Zwaan\""],
            &["0200.065.765", "1", "002", "Brasserie\ndu Cygne"],
            &["1001.686.633", "2", "001", "Nieuwe BV"],
            &["2.000.000.339", "2", "003", "'t Hoekske"],
            &["0555.555.523", "1", "001", "Orpheline SRL"],
        ])
    );
    assert_eq!(
        query(db, "SELECT * FROM address"),
        rows(&[
            &[
                "0200.065.765",
                "REGO",
                "NULL",
                "NULL",
                "1000",
                "Brussel",
                "Bruxelles",
                "Wetstraat",
                "Rue de la Loi",
                "16",
                "NULL",
                "NULL",
                "NULL"
            ],
            &[
                "2.000.000.339",
                "BAET",
                "NULL",
                "NULL",
                "9000",
                "Gent",
                "Gand",
                "Veldstraat",
                "Veldstraat",
                "1",
                "B",
                "NULL",
                "2024-03-01"
            ],
        ])
    );
    assert_eq!(
        query(db, "SELECT * FROM contact"),
        rows(&[
            &["0200.065.765", "ENT", "FAX", "022001234"],
            &["0200.065.765", "ENT", "EMAIL", "info@zwaan.be"]
        ])
    );
    assert_eq!(
        query(db, "SELECT * FROM activity"),
        rows(&[
            &["0200.065.765", "003", "2025", "0111001", "MAIN"],
            &["0200.065.765", "001", "2008", "01110", "SECO"],
            &["2.000.000.339", "003", "2025", "56101", "MAIN"],
            &["0555.555.523", "003", "2025", "62100", "MAIN"],
            &["0555.555.523", "001", "2008", "62010", "SECO"],
        ])
    );
    assert_eq!(
        query(db, "SELECT * FROM branch"),
        rows(&[&["9.000.006.626", "2010-01-01", "0200.065.765"]])
    );
    let rejects = query(db, "SELECT extract_number, table_name, file, line, reason, raw FROM rejects ORDER BY table_name, line");
    let summary: Vec<(String, String, String)> = rejects
        .iter()
        .map(|r| (r[1].clone(), r[3].clone(), r[4].clone()))
        .collect();
    assert_eq!(summary.len(), 6, "{rejects:?}");
    let expect = [
        ("activity", "7", "the row has 4 fields, the header has 5"),
        ("denomination", "8", "column Denomination: invalid UTF-8"),
        (
            "enterprise",
            "6",
            "column EnterpriseNumber: \"0428.759.400\": check digits",
        ),
        (
            "enterprise",
            "7",
            "column StartDate: \"31-02-2020\" is not a valid dd-mm-yyyy date",
        ),
        (
            "enterprise",
            "8",
            "column EnterpriseNumber: duplicate key 0200.065.765",
        ),
        ("enterprise", "9", "the row has 3 fields, the header has 6"),
    ];
    for ((t, l, r), (et, el, er)) in summary.iter().zip(expect) {
        assert_eq!((t.as_str(), l.as_str()), (et, el));
        assert!(r.starts_with(er), "reason {r:?} should start with {er:?}");
    }
    assert!(rejects.iter().all(|r| r[0] == "147"));
    assert_eq!(rejects[2][2], "enterprise.csv");
    assert_eq!(rejects[2][5], "0428.759.400,AC,000,2,014,01-01-2000");
    assert!(
        rejects[1][5].contains("Soci\u{fffd}t\u{fffd}"),
        "{:?}",
        rejects[1][5]
    );
    // The companies view: one row per enterprise with labels.
    assert_eq!(
        query(db, "SELECT enterprise_number, name, lang, juridical_form_label, main_nace_code, seat_zipcode, establishment_count FROM companies ORDER BY 1"),
        rows(&[
            &["0200.065.765", "Café \"De Zwaan\"", "nl", "Dienstverlenende vereniging (Vlaams Gewest)", "0111001", "1000", "1"],
            &["0403.019.261", "NULL", "NULL", "NULL", "NULL", "NULL", "0"],
            &["0428.759.497", "NULL", "NULL", "Société anonyme", "NULL", "NULL", "0"],
            &["1001.686.633", "Nieuwe BV", "nl", "Besloten Vennootschap", "NULL", "NULL", "1"],
        ])
    );
}

#[test]
fn quirks_from_a_folder_and_from_a_zip_give_the_same_exact_warehouse() {
    let tmp = tempfile::tempdir().unwrap();
    let files = quirks();
    let folder = write_folder(&tmp.path().join("extract"), &files);
    let out = tmp.path().join("wf");
    let (code, stdout, stderr) = run_extract(&folder, &out, &["--max-rejects", "1"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stderr.contains("unknown extra column ignored") && stderr.contains("Foo"),
        "{stderr}"
    );
    assert!(
        stderr.contains("optional column absent") && stderr.contains("JuridicalFormCAC"),
        "{stderr}"
    );
    assert_quirks_warehouse(&out.join("warehouse.duckdb"));

    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("snapshots/147/manifest.json")).unwrap())
            .unwrap();
    let table = |name: &str| {
        manifest["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["table"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(table("enterprise")["rows_read"], 8);
    assert_eq!(table("enterprise")["rows_written"], 4);
    assert_eq!(table("enterprise")["rows_rejected"], 4);
    assert_eq!(table("denomination")["orphan_rows"], 1);
    // Counted after the owners' tables were read (activity runs beside them).
    assert_eq!(table("activity")["orphan_rows"], 2);
    assert_eq!(table("activity")["rows_rejected"], 1);
    assert_eq!(
        table("address")["unknown_columns"],
        serde_json::json!(["Foo"])
    );
    assert_eq!(
        table("enterprise")["missing_optional_columns"],
        serde_json::json!(["JuridicalFormCAC"])
    );
    assert_eq!(
        table("enterprise")["input_sha256"].as_str().unwrap().len(),
        64
    );
    assert_eq!(manifest["snapshot_date"], "2025-10-11");

    let zip = write_zip(
        &tmp.path().join("KboOpenData_0147_2025_10_12_Full.zip"),
        &files,
    );
    let outz = tmp.path().join("wz");
    let (code, _, stderr) = run_extract(&zip, &outz, &["--max-rejects", "1"]);
    assert_eq!(code, 0, "{stderr}");
    assert_quirks_warehouse(&outz.join("warehouse.duckdb"));
    let reject_files = query(
        &outz.join("warehouse.duckdb"),
        "SELECT DISTINCT file FROM rejects ORDER BY 1",
    );
    assert_eq!(
        reject_files,
        rows(&[
            &["activity.csv"],
            &["denomination.csv"],
            &["enterprise.csv"]
        ])
    );
    // Views (the default) read the published snapshot, never the staging copy.
    let views = query(
        &outz.join("warehouse.duckdb"),
        "SELECT sql FROM duckdb_views() WHERE view_name = 'activity'",
    );
    let published = std::fs::canonicalize(outz.join("snapshots/147")).unwrap();
    assert!(
        views[0][0].contains(&format!("'{}' || '/activity.parquet'", published.display())),
        "{views:?}"
    );
    assert!(!views[0][0].contains(".staging"), "{views:?}");

    // Native tables: the same contents in a self-contained file.
    let outt = tmp.path().join("wt");
    let (code, _, stderr) =
        run_extract(&zip, &outt, &["--max-rejects", "1", "--storage", "tables"]);
    assert_eq!(code, 0, "{stderr}");
    let copy = tmp.path().join("copied.duckdb");
    std::fs::copy(outt.join("warehouse.duckdb"), &copy).unwrap();
    std::fs::remove_dir_all(&outt).unwrap();
    assert_quirks_warehouse(&copy);
}

#[test]
fn reference_tables_have_four_languages_and_say_when_they_fall_back() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = write_folder(&tmp.path().join("e"), &quirks());
    let out = tmp.path().join("w");
    let (code, _, stderr) = run_extract(&folder, &out, &["--max-rejects", "1"]);
    assert_eq!(code, 0, "{stderr}");
    let db = out.join("warehouse.duckdb");
    // code as delivered: all 21,500 rows of the real code.csv, the leading-space label kept.
    assert_eq!(query_one(&db, "SELECT count(*) FROM code"), "21500");
    assert_eq!(
        query_one(&db, "SELECT description FROM code WHERE category = 'TypeOfDenomination' AND code = '004' AND language = 'FR'"),
        " Dénomination de la succursale"
    );
    assert_eq!(
        query(&db, "SELECT lang, description, fallback_lang FROM nace_code WHERE version = 2025 AND code = '0111001' ORDER BY lang"),
        rows(&[
            &["de", "Culture de céréales (à l'exception du riz) : blé dur, blé tendre, seigle, orge, avoine, maïs, etc", "fr"],
            &["en", "Growing of cereals, other than rice, leguminous crops and oil seeds", "NULL"],
            &["fr", "Culture de céréales (à l'exception du riz) : blé dur, blé tendre, seigle, orge, avoine, maïs, etc", "NULL"],
            &["nl", "Graanteelt (muv rijst) : harde tarwe, zachte tarwe, rogge, gerst, haver, maïs, enz", "NULL"],
        ])
    );
    assert_eq!(
        query(&db, "SELECT level, parent FROM nace_code WHERE version = 2025 AND code IN ('01110', '01') AND lang = 'en' ORDER BY level"),
        rows(&[&["2", "A"], &["5", "0111"]])
    );
    // NACE 2008 has no English: French, flagged.
    assert_eq!(query_one(&db, "SELECT count(*) FROM nace_code WHERE version = 2008 AND lang = 'en' AND fallback_lang IS DISTINCT FROM 'fr'"), "0");
    assert_eq!(
        query_one(
            &db,
            "SELECT description FROM juridical_form WHERE code = '014' AND lang = 'de'"
        ),
        "Aktiengesellschaft"
    );
    assert_eq!(query(&db, "SELECT description, fallback_lang FROM juridical_form WHERE code = '014' AND lang = 'en'"), rows(&[&["Société anonyme", "fr"]]));
    assert_eq!(query(&db, "SELECT description, fallback_lang FROM activity_group WHERE code = '001' AND lang = 'en'"), rows(&[&["VAT activities", "NULL"]]));
    assert_eq!(
        query_one(&db, "SELECT count(DISTINCT lang) FROM juridical_situation"),
        "4"
    );
    for t in [
        "code",
        "nace_code",
        "juridical_form",
        "juridical_situation",
        "activity_group",
    ] {
        assert!(out.join(format!("reference/{t}.parquet")).is_file(), "{t}");
    }
}

#[test]
fn a_snapshot_without_main_activities_gets_them_when_loaded() {
    // Snapshots written before main_activity.parquet existed: `bce load` derives the file.
    let tmp = tempfile::tempdir().unwrap();
    let zip = write_zip(
        &tmp.path().join("KboOpenData_0147_2025_10_12_Full.zip"),
        &quirks(),
    );
    let out = tmp.path().join("w");
    let (code, _, stderr) = run_extract(&zip, &out, &["--max-rejects", "1"]);
    assert_eq!(code, 0, "{stderr}");
    let file = out.join("snapshots/147/main_activity.parquet");
    let written = std::fs::read(&file).unwrap();
    std::fs::remove_file(&file).unwrap();
    let (code, _, stderr) = run(&["load", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("deriving main_activity.parquet"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&file).unwrap(), written);
    assert_quirks_warehouse(&out.join("warehouse.duckdb"));
}

//! `bce generate`: the exact KBO format, realistic proportions (within 20 % of the real register),
//! zero rejects through our own pipeline, determinism.

mod common;
use common::*;
use std::path::{Path, PathBuf};

fn generate(dir: &Path, n: u64, seed: u64, extra: &[&str]) -> PathBuf {
    let mut args = vec!["generate", "--out", dir.to_str().unwrap()];
    let (n, seed) = (n.to_string(), seed.to_string());
    args.extend(["--enterprises", &n, "--seed", &seed]);
    args.extend(extra);
    let (code, stdout, stderr) = run(&args);
    assert_eq!(code, 0, "{stderr}");
    PathBuf::from(stdout.trim())
}

#[test]
fn a_generated_extract_ingests_with_zero_rejects_and_real_proportions() {
    let tmp = tempfile::tempdir().unwrap();
    let n = 20_000u64;
    let zip = generate(&tmp.path().join("g"), n, 11, &[]);
    assert_eq!(
        zip.file_name().unwrap(),
        "KboOpenData_0147_2025_10_12_Full.zip"
    );
    let out = tmp.path().join("w");
    let (code, _, stderr) = run(&[
        "run",
        zip.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--max-rejects",
        "0",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let db = out.join("warehouse.duckdb");
    assert_eq!(query_one(&db, "SELECT count(*) FROM rejects"), "0");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("snapshots/147/manifest.json")).unwrap())
            .unwrap();
    for t in manifest["tables"].as_array().unwrap() {
        assert_eq!(t["orphan_rows"], 0, "{t}");
    }

    // Rows per enterprise in the real register (kbo-open-data.md, Full 140).
    let real = [
        ("establishment", 0.86),
        ("denomination", 1.71),
        ("address", 1.47),
        ("contact", 0.36),
        ("activity", 18.7),
        ("branch", 0.004),
    ];
    for (table, per) in real {
        let rows: f64 = query_one(&db, &format!("SELECT count(*) FROM {table}"))
            .parse()
            .unwrap();
        let ratio = rows / n as f64 / per;
        assert!(
            (0.8..=1.2).contains(&ratio),
            "{table}: {:.3} rows per enterprise, real {per}",
            rows / n as f64
        );
    }
    let share = |sql: &str| -> f64 { query_one(&db, sql).parse().unwrap() };
    // 40 % natural persons, none with a seat address.
    let natural = share("SELECT avg((type_of_enterprise = '1')::INT) FROM enterprise");
    assert!((0.32..=0.48).contains(&natural), "{natural}");
    assert_eq!(share("SELECT count(*) FROM enterprise e JOIN address a ON a.entity_number = e.enterprise_number WHERE type_of_enterprise = '1'"), 0.0);
    // NACE versions 2025 17.3 M / 2008 16.6 M / 2003 2.3 M of 36.3 M; MAIN 80 %; group 003 79 %.
    for (sql, real) in [
        (
            "SELECT avg((nace_version = '2025')::INT) FROM activity",
            17.3 / 36.3,
        ),
        (
            "SELECT avg((nace_version = '2008')::INT) FROM activity",
            16.6 / 36.3,
        ),
        (
            "SELECT avg((nace_version = '2003')::INT) FROM activity",
            2.3 / 36.3,
        ),
        (
            "SELECT avg((classification = 'MAIN')::INT) FROM activity",
            29.2 / 36.3,
        ),
        (
            "SELECT avg((activity_group = '003')::INT) FROM activity",
            28.6 / 36.3,
        ),
        (
            "SELECT avg((activity_group = '001')::INT) FROM activity",
            6.4 / 36.3,
        ),
    ] {
        let got = share(sql);
        assert!(
            (got / real - 1.0).abs() <= 0.2,
            "{sql}: {got:.3} vs real {real:.3}"
        );
    }
    // Every NACE code has 5 or 7 digits and exists in code.csv.
    assert_eq!(
        share("SELECT count(*) FROM activity WHERE length(nace_code) NOT IN (5, 7)"),
        0.0
    );
    assert_eq!(
        share("SELECT count(*) FROM activity a ANTI JOIN code c ON c.category = 'Nace' || a.nace_version AND c.code = a.nace_code"),
        0.0
    );
    // Juridical forms and situations come from code.csv; mostly 000, some liquidation and bankruptcy.
    assert_eq!(share("SELECT count(*) FROM enterprise e ANTI JOIN code c ON c.category = 'JuridicalForm' AND c.code = e.juridical_form WHERE e.juridical_form IS NOT NULL"), 0.0);
    assert_eq!(share("SELECT count(*) FROM enterprise e ANTI JOIN code c ON c.category = 'JuridicalSituation' AND c.code = e.juridical_situation"), 0.0);
    let normal = share("SELECT avg((juridical_situation = '000')::INT) FROM enterprise");
    assert!((0.85..0.97).contains(&normal), "{normal}");
    assert!(share("SELECT count(*) FROM enterprise WHERE juridical_situation = '012'") > 0.0);
    assert!(
        share("SELECT count(*) FROM enterprise WHERE juridical_situation IN ('048', '049', '050')")
            > 0.0
    );
    // The quirks the real files have.
    assert!(share("SELECT count(*) FROM enterprise WHERE enterprise_number LIKE '1%'") > 0.0);
    assert!(share("SELECT count(*) FROM enterprise WHERE start_date > DATE '2025-10-11'") > 0.0);
    assert!(share("SELECT min(year(start_date)) FROM enterprise") < 1950.0);
    assert!(share("SELECT count(*) FROM contact WHERE contact_type = 'FAX'") > 0.0);
    assert!(share("SELECT count(*) FROM address WHERE date_striking_off IS NOT NULL") > 0.0);
    assert!(share("SELECT count(*) FROM denomination WHERE denomination LIKE '%\"%'") > 0.0);
    assert!(share("SELECT count(*) FROM denomination WHERE denomination LIKE '%''%'") > 0.0);
    assert!(
        share("SELECT count(*) FROM denomination WHERE regexp_matches(denomination, '[éèëçüöä]')")
            > 0.0
    );
    assert_eq!(
        share(
            "SELECT count(DISTINCT language) FROM denomination WHERE language IN ('1', '2', '3')"
        ),
        3.0
    );
    // Establishments carry their own names, addresses, contacts and activities.
    for t in ["denomination", "address", "contact", "activity"] {
        assert!(
            share(&format!(
                "SELECT count(*) FROM {t} WHERE length(entity_number) = 13"
            )) > 0.0,
            "{t}"
        );
    }
}

#[test]
fn the_files_are_in_the_exact_kbo_format() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = generate(
        &tmp.path().join("g"),
        500,
        5,
        &[
            "--folder",
            "--extract-number",
            "9",
            "--snapshot-date",
            "2026-02-28",
        ],
    );
    assert_eq!(
        folder.file_name().unwrap(),
        "KboOpenData_0009_2026_03_01_Full"
    );
    let read = |f: &str| std::fs::read_to_string(folder.join(f)).unwrap();
    assert!(read("meta.csv").contains("\"SnapshotDate\",\"28-02-2026\"\n"));
    assert!(read("meta.csv").contains("\"ExtractNumber\",\"9\"\n"));
    assert_eq!(std::fs::read(folder.join("code.csv")).unwrap(), code_csv());
    let ent = read("enterprise.csv");
    assert!(ent.starts_with("\"EnterpriseNumber\",\"Status\",\"JuridicalSituation\",\"TypeOfEnterprise\",\"JuridicalForm\",\"JuridicalFormCAC\",\"StartDate\"\n"));
    // Dates unquoted, empty text as "" (natural persons have no juridical form).
    let line = ent
        .lines()
        .find(|l| l.contains(",\"1\",\"\",\"\","))
        .expect("a natural person");
    assert!(regex_like_date_at_end(line), "{line}");
    let adr = read("address.csv");
    assert!(
        adr.lines().skip(1).any(|l| l.ends_with("\"\",")),
        "a NULL date written as nothing"
    );
    assert!(ent.ends_with('\n') && !ent.contains('\r'));
}

fn regex_like_date_at_end(line: &str) -> bool {
    let d = &line[line.len() - 10..];
    d.as_bytes()[2] == b'-' && d.as_bytes()[5] == b'-' && !line.ends_with('"')
}

#[test]
fn the_same_seed_gives_byte_identical_zips() {
    let tmp = tempfile::tempdir().unwrap();
    let a = generate(&tmp.path().join("a"), 3000, 42, &[]);
    let b = generate(&tmp.path().join("b"), 3000, 42, &[]);
    let c = generate(&tmp.path().join("c"), 3000, 43, &[]);
    let (a, b, c) = (
        std::fs::read(a).unwrap(),
        std::fs::read(b).unwrap(),
        std::fs::read(c).unwrap(),
    );
    assert_eq!(a, b);
    assert_ne!(a, c);
    // The same on one thread: blocks are drawn per enterprise, not per thread.
    let one = bce()
        .env("RAYON_NUM_THREADS", "1")
        .args([
            "generate",
            "--enterprises",
            "3000",
            "--seed",
            "42",
            "--out",
            tmp.path().join("d").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let d = std::fs::read(String::from_utf8(one.stdout).unwrap().trim()).unwrap();
    assert_eq!(a, d);
}

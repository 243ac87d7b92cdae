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
    let (code, _, stderr) = run_extract(&zip, &out, &["--max-rejects", "0"]);
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
    // Updates and filings too.
    let extra = ["--updates", "2", "--filings"];
    let e = generate_all(&tmp.path().join("e"), 3000, 42, &extra);
    let f = generate_all(&tmp.path().join("f"), 3000, 42, &extra);
    assert_eq!(e.len(), 8, "{e:?}");
    for (x, y) in e.iter().zip(&f) {
        assert_eq!(x.file_name(), y.file_name());
        assert!(
            std::fs::read(x).unwrap() == std::fs::read(y).unwrap(),
            "{x:?}"
        );
    }
}

/// Every path `bce generate` printed.
fn generate_all(dir: &Path, n: u64, seed: u64, extra: &[&str]) -> Vec<PathBuf> {
    let p = generate(dir, n, seed, extra);
    p.to_str().unwrap().lines().map(PathBuf::from).collect()
}

/// A table of an extract folder as a sorted list of data lines.
fn lines_of(dir: &Path, file: &str) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    let mut v: Vec<String> = text.lines().skip(1).map(str::to_string).collect();
    v.sort();
    v
}

fn key(line: &str) -> &str {
    line.split(',').next().unwrap()
}

/// An independent, text-level application of an Update (kbo-open-data.md): per table, delete every
/// row whose key is in the delete file, then insert the insert file; then drop the child rows of
/// entities this Update removed from enterprise, establishment or branch (ARCHITECTURE.md: deletes
/// that do not cascade).
fn apply(full: &Path, update: &Path) -> Vec<(String, Vec<String>)> {
    let tables = bce::warehouse::SNAPSHOT_TABLES;
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let mut removed = std::collections::HashSet::new();
    for t in tables {
        let deletes: std::collections::HashSet<String> =
            lines_of(update, &format!("{t}_delete.csv"))
                .into_iter()
                .collect();
        let mut rows: Vec<String> = lines_of(full, &format!("{t}.csv"))
            .into_iter()
            .filter(|l| !deletes.contains(key(l)))
            .collect();
        let inserts = lines_of(update, &format!("{t}_insert.csv"));
        if ["enterprise", "establishment", "branch"].contains(&t) {
            let kept: std::collections::HashSet<&str> = inserts.iter().map(|l| key(l)).collect();
            removed.extend(
                deletes
                    .iter()
                    .filter(|k| !kept.contains(k.as_str()))
                    .cloned(),
            );
        }
        rows.extend(inserts);
        out.push((t.to_string(), rows));
    }
    for (t, rows) in out.iter_mut() {
        if !["enterprise", "establishment", "branch"].contains(&t.as_str()) {
            rows.retain(|l| !removed.contains(key(l)));
        }
        rows.sort();
    }
    out
}

#[test]
fn full_plus_update_equals_the_next_full_for_every_day() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("g");
    let paths = generate_all(&dir, 30_000, 8, &["--folder", "--updates", "3"]);
    let names: Vec<String> = paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "KboOpenData_0147_2025_10_12_Full",
            "KboOpenData_0148_2025_10_13_Update",
            "KboOpenData_0148_2025_10_13_Full",
            "KboOpenData_0149_2025_10_14_Update",
            "KboOpenData_0149_2025_10_14_Full",
            "KboOpenData_0150_2025_10_15_Update",
            "KboOpenData_0150_2025_10_15_Full",
        ]
    );
    // The Full extract of day 0 does not depend on --updates.
    let alone = generate(&tmp.path().join("alone"), 30_000, 8, &["--folder"]);
    for f in ["enterprise.csv", "activity.csv", "address.csv", "meta.csv"] {
        assert!(
            std::fs::read(alone.join(f)).unwrap() == std::fs::read(paths[0].join(f)).unwrap(),
            "{f}"
        );
    }
    let mut non_cascading = 0;
    for day in 0..3 {
        let (full, update, next) = (&paths[2 * day], &paths[2 * day + 1], &paths[2 * day + 2]);
        let meta = std::fs::read_to_string(update.join("meta.csv")).unwrap();
        assert!(meta.contains("\"ExtractType\",\"update\""), "{meta}");
        assert!(meta.contains(&format!("\"ExtractNumber\",\"{}\"", 148 + day)));
        assert_eq!(std::fs::read(update.join("code.csv")).unwrap(), code_csv());
        for ((t, rows), f) in apply(full, update).into_iter().zip([
            "enterprise",
            "establishment",
            "branch",
            "denomination",
            "address",
            "contact",
            "activity",
        ]) {
            let expected = lines_of(next, &format!("{f}.csv"));
            assert!(
                rows == expected,
                "day {}: {t}: {} rows after the Update, {} in the next Full",
                day + 1,
                rows.len(),
                expected.len()
            );
        }
        // A realistic daily mix: new and stopped enterprises, renames, moves, NACE and situation
        // changes, establishments opened and closed.
        let count = |f: &str| lines_of(update, f).len();
        let new_enterprises = lines_of(update, "enterprise_insert.csv")
            .iter()
            .filter(|l| {
                !lines_of(full, "enterprise.csv")
                    .iter()
                    .any(|o| key(o) == key(l))
            })
            .count();
        assert!(new_enterprises >= 1, "day {}", day + 1);
        assert!(count("enterprise_delete.csv") >= 2);
        assert!(count("denomination_insert.csv") >= 1);
        assert!(count("address_insert.csv") >= 1);
        assert!(count("activity_insert.csv") >= 10);
        assert!(count("establishment_insert.csv") >= 1);
        assert!(count("establishment_delete.csv") >= 1);
        // Stopped enterprises whose address or activity deletes are missing (the real quirk).
        let enterprise_deletes = lines_of(update, "enterprise_delete.csv");
        let activity_deletes = lines_of(update, "activity_delete.csv");
        let stopped_without_cascade = enterprise_deletes
            .iter()
            .filter(|k| {
                !lines_of(next, "enterprise.csv")
                    .iter()
                    .any(|l| key(l) == k.as_str())
            })
            .filter(|k| !activity_deletes.contains(k))
            .count();
        non_cascading += stopped_without_cascade;
    }
    assert!(non_cascading >= 1, "some stops do not cascade");
}

#[test]
fn filings_cover_companies_that_must_file_with_plausible_rates() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("g");
    let paths = generate_all(
        &dir,
        20_000,
        4,
        &["--folder", "--filings", "--updates", "2"],
    );
    let full = &paths[0];
    let filings = std::fs::read_to_string(dir.join("filings.csv")).unwrap();
    assert!(filings.starts_with("\"EnterpriseNumber\",\"DepositDate\",\"FiscalYearEnd\",\"Model\",\"Equity\",\"TotalAssets\",\"ProfitLoss\",\"Employees\",\"CurrentAssets\",\"ShortTermDebt\"\n"));
    // Enterprise number → (natural person, juridical form, start year).
    let enterprises: std::collections::HashMap<String, (bool, String, i32)> =
        lines_of(full, "enterprise.csv")
            .iter()
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                let year: i32 = f[6][6..].parse().unwrap();
                (
                    f[0].trim_matches('"').to_string(),
                    (f[3] == "\"1\"", f[4].trim_matches('"').to_string(), year),
                )
            })
            .collect();
    let rows: Vec<Vec<&str>> = filings
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let horizon = bce::kbo::date::days_from_civil(2025, 10, 13);
    let (mut late, mut negative, mut loss, mut fy2024) =
        (0, 0, 0, std::collections::HashSet::new());
    for r in &rows {
        let number = r[0].trim_matches('"');
        let (natural, form, _) = &enterprises[number];
        assert!(!natural, "{number}: a natural person never files");
        assert!(
            bce::kbo::forms::must_file_accounts(form),
            "{number}: form {form}"
        );
        let deposit = bce::kbo::date::parse_dmy(r[1].as_bytes()).unwrap();
        let fye = bce::kbo::date::parse_dmy(r[2].as_bytes()).unwrap();
        assert!(deposit > fye && deposit <= horizon);
        assert!(["\"VOL\"", "\"VKT\"", "\"MIC\""].contains(&r[3]));
        if deposit > bce::generate::filings::due_date(fye) {
            late += 1;
        }
        negative += (r[4].parse::<i64>().unwrap() < 0) as usize;
        loss += (r[6].parse::<i64>().unwrap() < 0) as usize;
        if r[2] == "31-12-2024" {
            fy2024.insert(number.to_string());
        }
    }
    let n = rows.len() as f64;
    let rate = |x: usize| x as f64 / n;
    assert!(rows.len() > 10_000, "{}", rows.len());
    assert!((0.03..0.20).contains(&rate(late)), "late {}", rate(late));
    assert!(
        (0.05..0.25).contains(&rate(negative)),
        "negative equity {}",
        rate(negative)
    );
    assert!((0.15..0.45).contains(&rate(loss)), "loss {}", rate(loss));
    // The latest due calendar year (2024, due 31-07-2025) is missing for some filers.
    let due: Vec<&String> = enterprises
        .iter()
        .filter(|(_, (natural, form, year))| {
            !natural && bce::kbo::forms::must_file_accounts(form) && *year < 2024
        })
        .map(|(k, _)| k)
        .collect();
    let with_dec = rows
        .iter()
        .filter(|r| r[2].starts_with("31-12-"))
        .map(|r| r[0].trim_matches('"'))
        .collect::<std::collections::HashSet<_>>();
    let missing = due
        .iter()
        .filter(|k| with_dec.contains(k.as_str()) && !fy2024.contains(k.as_str()))
        .count() as f64
        / due.iter().filter(|k| with_dec.contains(k.as_str())).count() as f64;
    assert!((0.03..0.20).contains(&missing), "missing FY2024 {missing}");
    // Each Update day has its own file of new deposits, dated that day.
    for (k, day) in [(148, "12-10-2025"), (149, "13-10-2025")] {
        let text = std::fs::read_to_string(dir.join(format!("filings_{k:04}.csv"))).unwrap();
        assert!(
            text.lines()
                .skip(1)
                .all(|l| l.split(',').nth(1) == Some(day)),
            "{k}"
        );
        assert_eq!(
            text.lines().count() - 1,
            rows.iter().filter(|r| r[1] == day).count()
        );
    }
}

#[test]
fn every_generated_day_ingests_with_zero_rejects() {
    let tmp = tempfile::tempdir().unwrap();
    let paths = generate_all(&tmp.path().join("g"), 3000, 6, &["--updates", "1"]);
    let out = tmp.path().join("w");
    let last = paths.last().unwrap();
    assert!(last.to_str().unwrap().ends_with("_Full.zip"));
    let (code, _, stderr) = run_extract(last, &out, &["--max-rejects", "0"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        query_one(
            &out.join("warehouse.duckdb"),
            "SELECT count(*) FROM rejects"
        ),
        "0"
    );
}

/// The bundled sample data is what the generator makes with its defaults (README, first command).
#[test]
fn the_sample_data_is_the_generators_default_output() {
    let tmp = tempfile::tempdir().unwrap();
    // 1 is the default seed.
    generate(tmp.path(), 1000, 1, &["--filings"]);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data");
    for f in ["KboOpenData_0147_2025_10_12_Full.zip", "filings.csv"] {
        assert!(
            std::fs::read(tmp.path().join(f)).unwrap() == std::fs::read(root.join(f)).unwrap(),
            "sample_data/{f} differs from `bce generate --enterprises 1000 --filings`"
        );
    }
}

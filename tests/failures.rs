//! What happens when things go wrong: every failure exits with the documented code, says where,
//! and leaves the previously published warehouse intact and openable.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Generates a synthetic extract with the real binary; returns the zip path.
fn generate(dir: &Path, enterprises: u64, number: u32, snapshot: &str) -> PathBuf {
    let (code, stdout, stderr) = run(&[
        "generate",
        "--enterprises",
        &enterprises.to_string(),
        "--seed",
        "3",
        "--extract-number",
        &number.to_string(),
        "--snapshot-date",
        snapshot,
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    PathBuf::from(stdout.trim())
}

/// A published warehouse of extract 146 to protect.
fn published_base(tmp: &Path) -> PathBuf {
    let zip = generate(&tmp.join("base"), 300, 146, "10-10-2025");
    let out = tmp.join("w");
    let (code, _, stderr) = run(&["run", zip.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    out
}

fn published_number(out: &Path) -> String {
    query_one(
        &out.join("warehouse.duckdb"),
        "SELECT extract_number FROM bce_info",
    )
}

#[test]
fn truncated_and_corrupt_zips_exit_2_and_publish_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = published_base(tmp.path());
    let good = generate(&tmp.path().join("next"), 300, 147, "11-10-2025");
    let bytes = std::fs::read(&good).unwrap();

    let truncated = tmp.path().join("KboOpenData_0147_2025_10_12_Full.zip");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let (code, _, stderr) = run_extract(&truncated, &out, &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("truncated or corrupt") && stderr.contains("KboOpenData_0147"),
        "{stderr}"
    );
    assert_eq!(published_number(&out), "146");

    // Same length, damaged bytes inside activity.csv's compressed data: the CRC or inflate fails.
    let mut damaged = bytes.clone();
    let mid = damaged.len() * 3 / 4;
    for b in &mut damaged[mid..mid + 64] {
        *b ^= 0x5a;
    }
    let corrupt = tmp.path().join("corrupt.zip");
    std::fs::write(&corrupt, &damaged).unwrap();
    let (code, _, stderr) = run_extract(&corrupt, &out, &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("corrupt"), "{stderr}");
    assert_eq!(published_number(&out), "146");
    assert!(!out.join("snapshots/147").exists());
    // No staging debris left behind.
    let debris: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".staging"))
        .collect();
    assert!(debris.is_empty());
}

fn small_extract(tmp: &Path, edit: impl FnOnce(&mut Files)) -> PathBuf {
    let folder = generate(&tmp.join("g"), 50, 147, "11-10-2025");
    let dir = tmp.join("unzipped");
    let mut z = zip::ZipArchive::new(std::fs::File::open(&folder).unwrap()).unwrap();
    let mut files: Files = Vec::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut b).unwrap();
        files.push((f.name().unwrap().to_string(), b));
    }
    edit(&mut files);
    write_folder(&dir, &files)
}

#[test]
fn a_missing_required_column_names_the_file_and_the_column() {
    let tmp = tempfile::tempdir().unwrap();
    let out = published_base(tmp.path());
    let extract = small_extract(tmp.path(), |files| {
        let f = files
            .iter_mut()
            .find(|(n, _)| n == "establishment.csv")
            .unwrap();
        let text = String::from_utf8(f.1.clone()).unwrap();
        f.1 = text.replacen("\"StartDate\"", "\"Begin\"", 1).into_bytes();
    });
    let (code, _, stderr) = run_extract(&extract, &out, &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("establishment.csv") && stderr.contains("\"StartDate\" is missing"),
        "{stderr}"
    );
    assert_eq!(published_number(&out), "146");
}

#[test]
fn a_missing_file_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let out = published_base(tmp.path());
    let extract = small_extract(tmp.path(), |files| {
        files.retain(|(n, _)| n != "contact.csv")
    });
    let (code, _, stderr) = run_extract(&extract, &out, &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("contact.csv is missing"), "{stderr}");
    let no_meta = small_extract(&tmp.path().join("2"), |files| {
        files.retain(|(n, _)| n != "meta.csv")
    });
    let (code, _, stderr) = run_extract(&no_meta, &out, &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("meta.csv is missing"), "{stderr}");
    let (code, _, stderr) = run(&[
        "run",
        "/nonexistent/KboOpenData.zip",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(published_number(&out), "146");
}

#[test]
fn rejects_above_the_threshold_exit_1_publish_nothing_and_keep_the_rejects() {
    let tmp = tempfile::tempdir().unwrap();
    let out = published_base(tmp.path());
    // Break 2 of ~50 enterprise rows' check digits: 4 % > 0.1 %.
    let extract = small_extract(tmp.path(), |files| {
        let f = files
            .iter_mut()
            .find(|(n, _)| n == "enterprise.csv")
            .unwrap();
        let text = String::from_utf8(f.1.clone()).unwrap();
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        for l in lines.iter_mut().skip(1).take(2) {
            // The 12th character is the last check digit: change it.
            let mut c: Vec<char> = l.chars().collect();
            c[12] = if c[12] == '0' { '1' } else { '0' };
            *l = c.into_iter().collect();
        }
        f.1 = (lines.join("\n") + "\n").into_bytes();
    });
    let (code, stdout, stderr) = run_extract(&extract, &out, &[]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("enterprise.csv: 2 of") && stdout.contains("--max-rejects"),
        "{stdout}"
    );
    assert_eq!(published_number(&out), "146");
    assert!(!out.join("snapshots/147").exists());
    let kept: Vec<PathBuf> = std::fs::read_dir(out.join("failed"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(kept.len(), 1);
    assert!(kept[0].join("rejects.parquet").is_file() && kept[0].join("manifest.json").is_file());
    // A looser threshold lets the same extract through, the rejects in the warehouse.
    let (code, _, stderr) = run_extract(&extract, &out, &["--max-rejects", "0.1"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(published_number(&out), "147");
    assert_eq!(
        query_one(
            &out.join("warehouse.duckdb"),
            "SELECT count(*) FROM rejects WHERE table_name = 'enterprise'"
        ),
        "2"
    );
    let runs = query(
        &out.join("warehouse.duckdb"),
        "SELECT extract_number, status FROM runs ORDER BY started_at, status",
    );
    assert!(
        runs.contains(&vec!["147".to_string(), "failed_check".to_string()]),
        "{runs:?}"
    );
}

#[test]
fn the_same_extract_twice_is_a_no_op_unless_forced_and_dry_run_publishes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let zip = generate(&tmp.path().join("g"), 200, 147, "11-10-2025");
    let out = tmp.path().join("w");
    let (code, _, _) = run_extract(&zip, &out, &["--dry-run"]);
    assert_eq!(code, 0);
    assert!(!out.join("warehouse.duckdb").exists() && !out.join("snapshots/147").exists());

    let (code, _, stderr) = run(&["run", zip.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let before = std::fs::metadata(out.join("warehouse.duckdb"))
        .unwrap()
        .modified()
        .unwrap();
    let (code, stdout, _) = run(&["run", zip.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(stdout.contains("nothing to do"), "{stdout}");
    assert_eq!(
        std::fs::metadata(out.join("warehouse.duckdb"))
            .unwrap()
            .modified()
            .unwrap(),
        before
    );
    let (code, stdout, _) = run_extract(&zip, &out, &["--force"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("published"), "{stdout}");
    let db = out.join("warehouse.duckdb");
    assert_eq!(
        query_one(&db, "SELECT count(*) FROM runs WHERE status = 'published'"),
        "2"
    );

    // ingest + load = run.
    let out2 = tmp.path().join("w2");
    let (code, _, stderr) = run(&[
        "ingest",
        zip.to_str().unwrap(),
        "--out",
        out2.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        out2.join("snapshots/147/enterprise.parquet").is_file()
            && !out2.join("warehouse.duckdb").exists()
    );
    let (code, _, stderr) = run(&["load", "--out", out2.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let sql = "SELECT * FROM enterprise ORDER BY enterprise_number";
    assert_eq!(query(&out2.join("warehouse.duckdb"), sql), query(&db, sql));
}

#[test]
fn an_update_extract_missing_its_files_names_the_file_and_publishes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = published_base(tmp.path());
    // Update 147 on snapshot 146, but shaped like a Full extract (no _insert/_delete files).
    let extract = small_extract(tmp.path(), |files| {
        let f = files.iter_mut().find(|(n, _)| n == "meta.csv").unwrap();
        f.1 = meta_csv(147, "11-10-2025", "update").into_bytes();
    });
    let (code, _, stderr) = run_extract(&extract, &out, &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("enterprise_insert.csv is missing"),
        "{stderr}"
    );
    assert_eq!(published_number(&out), "146");
    assert!(!out.join("snapshots/147").exists());
}

#[test]
fn json_logs_and_summary_are_machine_readable() {
    let tmp = tempfile::tempdir().unwrap();
    let zip = generate(&tmp.path().join("g"), 100, 147, "11-10-2025");
    let out = tmp.path().join("w");
    let (code, stdout, stderr) = run(&[
        "--log-format",
        "json",
        "run",
        zip.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).expect(l))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["message"] == "table ingested" && l["table"] == "activity"),
        "{stderr}"
    );
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(summary["status"], "published");
    assert_eq!(summary["extract_number"], 147);
}

#[test]
fn killing_a_run_at_any_moment_leaves_the_published_warehouse_intact() {
    let tmp = tempfile::tempdir().unwrap();
    let out = published_base(tmp.path());
    let next = generate(&tmp.path().join("next"), 60_000, 147, "11-10-2025");
    for delay_ms in [30, 150, 400, 800, 1300, 2000] {
        let mut child = bce()
            .args([
                "run",
                next.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--force",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        // Either the old warehouse or the new one, whole and openable: never a mix.
        let n = published_number(&out);
        let count = query_one(
            &out.join("warehouse.duckdb"),
            "SELECT count(*) FROM enterprise",
        );
        let expected = if n == "146" { "300" } else { "60000" };
        assert!(n == "146" || n == "147", "after {delay_ms} ms: {n}");
        assert_eq!(count, expected, "after {delay_ms} ms");
    }
    // A run after the kills succeeds and cleans the debris.
    let (code, _, stderr) = run_extract(&next, &out, &["--force"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(published_number(&out), "147");
    let debris: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".staging"))
        .collect();
    assert!(debris.is_empty());
}

#[test]
fn a_second_run_on_the_same_folder_is_refused_while_the_first_holds_the_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let zip = generate(&tmp.path().join("g"), 60_000, 147, "11-10-2025");
    let out = tmp.path().join("w");
    let mut first = bce()
        .args(["run", zip.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the first run holds the lock (its staging folder appears).
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        let staging = std::fs::read_dir(&out)
            .map(|d| {
                d.flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with(".staging"))
            })
            .unwrap_or(false);
        if staging {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let (code, _, stderr) = run(&["run", zip.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let first_status = first.wait().unwrap();
    assert!(first_status.success());
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("another bce process"), "{stderr}");
}

//! Helpers for the integration tests: build extracts (folder or zip), run the real binary, query
//! the real DuckDB file.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn bce() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bce"));
    c.env_remove("BCE_OUT")
        .env_remove("BCE_LOG_FORMAT")
        .env_remove("BCE_MAX_REJECTS");
    c
}

/// Runs `bce` with arguments; returns (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out: Output = bce().args(args).output().expect("the bce binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn code_csv() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("data/code.csv"))
        .expect("data/code.csv")
}

pub fn meta_csv(number: u32, snapshot: &str, kind: &str) -> String {
    format!(
        "\"Variable\",\"Value\"\n\"SnapshotDate\",\"{snapshot}\"\n\"ExtractTimestamp\",\"12-10-2025 07:40:18\"\n\"ExtractType\",\"{kind}\"\n\"ExtractNumber\",\"{number}\"\n\"Version\",\"1.0.0\"\n"
    )
}

/// The files of an extract: (name, bytes).
pub type Files = Vec<(String, Vec<u8>)>;

pub fn write_folder(dir: &Path, files: &Files) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    for (n, b) in files {
        std::fs::write(dir.join(n), b).unwrap();
    }
    dir.to_path_buf()
}

pub fn write_zip(path: &Path, files: &Files) -> PathBuf {
    let f = std::fs::File::create(path).unwrap();
    let mut z = zip::ZipWriter::new(f);
    for (n, b) in files {
        z.start_file(n.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(b).unwrap();
    }
    z.finish().unwrap();
    path.to_path_buf()
}

/// Rows of a query, every value rendered as text ("NULL" for NULL).
pub fn query(db: &Path, sql: &str) -> Vec<Vec<String>> {
    let cfg = duckdb::Config::default()
        .access_mode(duckdb::AccessMode::ReadOnly)
        .unwrap();
    let conn = duckdb::Connection::open_with_flags(db, cfg).unwrap();
    let wrapped = format!("SELECT COLUMNS(*)::VARCHAR FROM ({sql})");
    let mut st = conn.prepare(&wrapped).unwrap();
    let mut rows = st.query([]).unwrap();
    let mut out = Vec::new();
    while let Some(r) = rows.next().unwrap() {
        let n = r.as_ref().column_count();
        out.push(
            (0..n)
                .map(|i| {
                    r.get::<_, Option<String>>(i)
                        .unwrap()
                        .unwrap_or_else(|| "NULL".into())
                })
                .collect(),
        );
    }
    out
}

pub fn query_one(db: &Path, sql: &str) -> String {
    query(db, sql)
        .first()
        .and_then(|r| r.first().cloned())
        .unwrap_or_default()
}

pub fn rows(v: &[&[&str]]) -> Vec<Vec<String>> {
    v.iter()
        .map(|r| r.iter().map(|s| s.to_string()).collect())
        .collect()
}

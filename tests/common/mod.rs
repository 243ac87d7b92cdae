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

/// `bce run EXTRACT --out OUT [extra…]`: (exit code, stdout, stderr).
pub fn run_extract(extract: &Path, out: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec![
        "run",
        extract.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    run(&args)
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
    query_conn(&conn, sql)
}

/// Rows of a query on an open connection, every value rendered as text ("NULL" for NULL).
pub fn query_conn(conn: &duckdb::Connection, sql: &str) -> Vec<Vec<String>> {
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

// --- Hand-made extracts: headers and rows of the KBO files ---

pub const ENT_H: &str = "\"EnterpriseNumber\",\"Status\",\"JuridicalSituation\",\"TypeOfEnterprise\",\"JuridicalForm\",\"JuridicalFormCAC\",\"StartDate\"\n";
pub const EST_H: &str = "\"EstablishmentNumber\",\"StartDate\",\"EnterpriseNumber\"\n";
pub const DEN_H: &str = "\"EntityNumber\",\"Language\",\"TypeOfDenomination\",\"Denomination\"\n";
pub const ADR_H: &str = "\"EntityNumber\",\"TypeOfAddress\",\"CountryNL\",\"CountryFR\",\"Zipcode\",\"MunicipalityNL\",\"MunicipalityFR\",\"StreetNL\",\"StreetFR\",\"HouseNumber\",\"Box\",\"ExtraAddressInfo\",\"DateStrikingOff\"\n";
pub const CON_H: &str = "\"EntityNumber\",\"EntityContact\",\"ContactType\",\"Value\"\n";
pub const ACT_H: &str =
    "\"EntityNumber\",\"ActivityGroup\",\"NaceVersion\",\"NaceCode\",\"Classification\"\n";
pub const BRA_H: &str = "\"Id\",\"StartDate\",\"EnterpriseNumber\"\n";

pub fn e_row(n: &str, situation: &str, form: &str) -> String {
    format!("\"{n}\",\"AC\",\"{situation}\",\"2\",\"{form}\",\"\",01-01-2010\n")
}
pub fn den(n: &str, name: &str) -> String {
    format!("\"{n}\",\"2\",\"001\",\"{name}\"\n")
}
pub fn adr(n: &str, zip: &str, city: &str) -> String {
    format!("\"{n}\",\"REGO\",\"\",\"\",\"{zip}\",\"{city}\",\"{city}\",\"Kerkstraat\",\"Kerkstraat\",\"1\",\"\",\"\",\n")
}
pub fn act(n: &str, code: &str) -> String {
    format!("\"{n}\",\"003\",\"2025\",\"{code}\",\"MAIN\"\n")
}

pub fn files(number: u32, date: &str, kind: &str, tables: &[(&str, String)]) -> Files {
    let mut f: Files = vec![
        ("meta.csv".into(), meta_csv(number, date, kind).into_bytes()),
        ("code.csv".into(), code_csv()),
    ];
    f.extend(
        tables
            .iter()
            .map(|(n, c)| (n.to_string(), c.clone().into_bytes())),
    );
    f
}

/// The display form of the entity number with these first 8 digits and valid check digits.
pub fn ent(base: u32) -> String {
    bce::kbo::number::display(bce::kbo::number::with_check_digits(base))
}

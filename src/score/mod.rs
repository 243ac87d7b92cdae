//! score: a snapshot (+ filings, + change events) → payment-risk scores (spec/payment-risk.md).
//!
//! Input: a snapshot folder (Parquet), the reference folder (NACE sections), optionally a filings
//! CSV (`EnterpriseNumber, DepositDate, FiscalYearEnd, Model, Equity, TotalAssets, ProfitLoss,
//! Employees, CurrentAssets, ShortTermDebt`), and the events files of the published extracts.
//! Output: `payment_risk.parquet` (enterprise_number, score, category, model_version,
//! data_completeness, reasons: a list of {code, points, evidence}, highest points first).
//!
//! The model is SQL (`pipelines/score.sql`): every enterprise at once, columnar, with every
//! threshold and point in its `rules` table. Juridical situations are classed by the reviewed table
//! `data/juridical_situation_risk.csv`. Invariants: one row per enterprise of the snapshot (plus one
//! per enterprise that left the register in the last 12 months); the points of the reasons add up
//! to the score; the same inputs give the same file.

mod explain;

pub use explain::{explain, render, Explained};

use crate::kbo::forms;
use crate::sql::{quote, quote_path, statements};
use duckdb::Connection;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const SCORE_SQL: &str = include_str!("../../pipelines/score.sql");
/// code, class (normal / bankruptcy / liquidation / reorganisation / other), description_fr.
pub const JS_CLASSES: &str = include_str!("../../data/juridical_situation_risk.csv");
pub const MODEL_VERSION: &str = "v1";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("scoring {snapshot}: {source}")]
    Db {
        snapshot: PathBuf,
        source: duckdb::Error,
    },
    #[error("{path}: {msg}; the filings file must be a CSV with the header EnterpriseNumber,DepositDate,FiscalYearEnd,Model,Equity,TotalAssets,ProfitLoss,Employees,CurrentAssets,ShortTermDebt (dates dd-mm-yyyy)")]
    Filings { path: PathBuf, msg: String },
    #[error("{path}: {msg}")]
    Scores { path: PathBuf, msg: String },
}

pub type Result<T> = std::result::Result<T, Error>;

/// What a score run reads.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub snapshot: &'a Path,
    pub reference: &'a Path,
    /// ISO date of the snapshot.
    pub snapshot_date: &'a str,
    pub filings: Option<&'a Path>,
    /// The events files (`events.parquet`) that exist; those of the last 12 months count.
    pub events: &'a [PathBuf],
}

/// What a score run wrote, for the summary and the reconciliation.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Report {
    /// Rows in payment_risk.parquet.
    pub rows: u64,
    /// Of those, enterprises that left the register (scored by the KBO_STOPPED floor).
    pub stopped: u64,
    /// Rows per category (low, moderate, high, critical).
    pub categories: BTreeMap<String, u64>,
    /// Rows per data_completeness.
    pub completeness: BTreeMap<String, u64>,
    /// Filings rows skipped because they could not be read (each logged with line and column).
    pub filings_rejected: u64,
}

/// Scores every enterprise of `inputs.snapshot` into `out` (payment_risk.parquet).
pub fn score(inputs: &Inputs, out: &Path, memory_limit: &str) -> Result<Report> {
    let db = |source| Error::Db {
        snapshot: inputs.snapshot.to_path_buf(),
        source,
    };
    let conn = Connection::open_in_memory().map_err(db)?;
    conn.execute_batch(&format!(
        "SET memory_limit = {}; SET enable_progress_bar = false;",
        quote(memory_limit)
    ))
    .map_err(db)?;
    conn.execute_batch(&js_class_sql()).map_err(db)?;
    let filings_rejected = load_filings(&conn, inputs.filings)?;
    load_events(&conn, inputs.events).map_err(db)?;
    let must_file: Vec<String> = forms::MUST_FILE.iter().map(|f| quote(f)).collect();
    let sql = SCORE_SQL
        .replace("{snapshot}", &quote_path(inputs.snapshot))
        .replace("{reference}", &quote_path(inputs.reference))
        .replace("{snapshot_date}", &quote(inputs.snapshot_date))
        .replace("{model_version}", &quote(MODEL_VERSION))
        .replace(
            "{has_filings}",
            if inputs.filings.is_some() {
                "true"
            } else {
                "false"
            },
        )
        .replace("{must_file}", &format!("[{}]", must_file.join(", ")))
        .replace("{out}", &quote_path(out));
    for stmt in statements(&sql) {
        let t = std::time::Instant::now();
        conn.execute_batch(stmt).map_err(db)?;
        tracing::debug!(seconds = format!("{:.2}", t.elapsed().as_secs_f64()), sql = %stmt.lines().find(|l| !l.trim_start().starts_with("--")).unwrap_or(""), "score statement");
    }
    let mut report = Report {
        filings_rejected,
        ..Report::default()
    };
    let mut st = conn
        .prepare(&format!(
            "SELECT category, data_completeness, reasons[1].code = 'KBO_STOPPED', count(*)
             FROM read_parquet({}) GROUP BY ALL",
            quote_path(out)
        ))
        .map_err(db)?;
    let rows = st
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<bool>>(2)?.unwrap_or(false),
                r.get::<_, i64>(3)? as u64,
            ))
        })
        .map_err(db)?;
    for row in rows {
        let (category, completeness, stopped, n) = row.map_err(db)?;
        report.rows += n;
        if stopped {
            report.stopped += n;
        }
        *report.categories.entry(category).or_default() += n;
        *report.completeness.entry(completeness).or_default() += n;
    }
    Ok(report)
}

/// The reviewed juridical-situation classes as a temporary table.
fn js_class_sql() -> String {
    let values: Vec<String> = JS_CLASSES
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.splitn(3, ',');
            Some(format!(
                "({}, {}, {})",
                quote(f.next()?),
                quote(f.next()?),
                quote(f.next()?)
            ))
        })
        .collect();
    format!(
        "CREATE TEMP TABLE js_class (code VARCHAR, class VARCHAR, description_fr VARCHAR);
         INSERT INTO js_class VALUES {};",
        values.join(", ")
    )
}

/// `filings_in`: the deposits, typed; rows that cannot be read are skipped and logged with their
/// line and column (a bad row must not stop the scores of two million companies).
fn load_filings(conn: &Connection, filings: Option<&Path>) -> Result<u64> {
    let create = "CREATE TEMP TABLE filings_in (enterprise_number VARCHAR, deposit_date DATE,
        fiscal_year_end DATE, model VARCHAR, equity BIGINT, total_assets BIGINT, profit_loss BIGINT,
        employees DOUBLE, current_assets BIGINT, short_term_debt BIGINT)";
    let Some(path) = filings else {
        return conn
            .execute_batch(create)
            .map(|_| 0)
            .map_err(|source| Error::Db {
                snapshot: PathBuf::new(),
                source,
            });
    };
    let fail = |e: duckdb::Error| Error::Filings {
        path: path.to_path_buf(),
        msg: e.to_string(),
    };
    if !path.is_file() {
        return Err(Error::Filings {
            path: path.to_path_buf(),
            msg: "no such file".into(),
        });
    }
    conn.execute_batch(create).map_err(fail)?;
    // Numbers in any common form (0200.065.765, 0200065765, BE0200065765) → the display form.
    conn.execute_batch(&format!(
        "INSERT INTO filings_in
         SELECT CASE WHEN length(d) = 10 THEN substr(d, 1, 4) || '.' || substr(d, 5, 3) || '.' || substr(d, 8, 3) END,
                DepositDate, FiscalYearEnd, Model, Equity, TotalAssets, ProfitLoss, Employees, CurrentAssets, ShortTermDebt
         FROM (
             SELECT *, CASE WHEN length(x) = 9 THEN '0' || x ELSE x END AS d
             FROM (SELECT *, regexp_replace(EnterpriseNumber, '[^0-9]', '', 'g') AS x
             FROM read_csv({}, header = true, dateformat = '%d-%m-%Y', store_rejects = true, columns = {{
                 'EnterpriseNumber': 'VARCHAR', 'DepositDate': 'DATE', 'FiscalYearEnd': 'DATE', 'Model': 'VARCHAR',
                 'Equity': 'BIGINT', 'TotalAssets': 'BIGINT', 'ProfitLoss': 'BIGINT', 'Employees': 'DOUBLE',
                 'CurrentAssets': 'BIGINT', 'ShortTermDebt': 'BIGINT'}}))
         )",
        quote_path(path)
    ))
    .map_err(fail)?;
    let mut st = conn
        .prepare("SELECT line, column_name, error_message FROM reject_errors ORDER BY line")
        .map_err(fail)?;
    let rejects = st
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })
        .map_err(fail)?;
    let mut n = 0u64;
    for r in rejects {
        let (line, column, msg) = r.map_err(fail)?;
        n += 1;
        if n <= 20 {
            tracing::warn!(
                file = %path.display(),
                line,
                column = column.as_deref().unwrap_or("?"),
                reason = msg.as_deref().unwrap_or(""),
                "filings row skipped; fix it and run `bce score` again"
            );
        }
    }
    if n > 0 {
        tracing::warn!(file = %path.display(), rows = n, "filings rows skipped");
    }
    Ok(n)
}

/// `events_in`: the change events of every events file given.
fn load_events(conn: &Connection, events: &[PathBuf]) -> duckdb::Result<()> {
    let files: Vec<String> = events
        .iter()
        .filter(|p| p.is_file())
        .map(|p| quote_path(p))
        .collect();
    conn.execute_batch(&if files.is_empty() {
        "CREATE TEMP TABLE events_in (id VARCHAR, type VARCHAR, extract_number INTEGER,
            snapshot_date DATE, enterprise_number VARCHAR, establishment_number VARCHAR, data JSON)"
            .to_string()
    } else {
        format!(
            "CREATE TEMP TABLE events_in AS
             SELECT id, type, extract_number, snapshot_date, enterprise_number, establishment_number, data
             FROM read_parquet([{}])",
            files.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reviewed classes cover every JuridicalSituation of the real code.csv, with the same
    /// French description (a changed label in a new code.csv must be reviewed again).
    #[test]
    fn every_juridical_situation_of_code_csv_is_classed() {
        let code = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/data/code.csv"))
            .unwrap_or_default();
        let mut real = BTreeMap::new();
        let mut rdr = csv::Reader::from_reader(code.as_bytes());
        for r in rdr.records().flatten() {
            if &r[0] == "JuridicalSituation" && &r[2] == "FR" {
                real.insert(r[1].to_string(), r[3].to_string());
            }
        }
        assert_eq!(real.len(), 40);
        let mut reviewed = BTreeMap::new();
        for l in JS_CLASSES.lines().skip(1) {
            let f: Vec<&str> = l.splitn(3, ',').collect();
            assert!(
                [
                    "normal",
                    "bankruptcy",
                    "liquidation",
                    "reorganisation",
                    "other"
                ]
                .contains(&f[1]),
                "{l}"
            );
            reviewed.insert(f[0].to_string(), f[2].to_string());
        }
        assert_eq!(reviewed, real);
        // The spec's classes: 010/012/013 liquidation, bankruptcy opened, reorganisation.
        let class = |c: &str| {
            JS_CLASSES
                .lines()
                .find(|l| l.starts_with(&format!("{c},")))
                .and_then(|l| l.split(',').nth(1))
                .unwrap_or("")
                .to_string()
        };
        for c in ["010", "012", "013"] {
            assert_eq!(class(c), "liquidation");
        }
        for c in ["048", "049", "050"] {
            assert_eq!(class(c), "bankruptcy");
        }
        assert_eq!(class("091"), "reorganisation");
        assert_eq!(class("000"), "normal");
    }
}

//! diff: the previous published snapshot and the new one → change events (spec/events.md).
//!
//! Input: two snapshot folders (Parquet), the reference folder (labels), optionally a filings CSV
//! (payment-risk.md format). Output: `events.parquet` (id, type, created_at, extract_number,
//! snapshot_date, enterprise_number, establishment_number, data as JSON). The SQL is
//! `pipelines/diff.sql`.
//!
//! `narrow` first keeps only the entities whose rows differ (per-entity fingerprints of both
//! snapshots, computed in parallel), so the SQL compares thousands of rows, not 48 million; and
//! the filings rows of the window are cut out of the filings file (`crate::filings`) before the
//! SQL reads them.
//!
//! Invariants: the events depend only on the two snapshots' contents (as sets of rows), so a Full
//! extract diffed against the previous snapshot and the previous snapshot with the Update applied
//! give the same events; ids are derived from (type, entity, extract number, content), so a re-run
//! gives the same ids; a snapshot diffed with itself gives no events.

mod narrow;

use crate::kbo::date;
use crate::sql::{quote, quote_path, statements};
use duckdb::Connection;
use serde::Serialize;
use std::path::{Path, PathBuf};

const DIFF_SQL: &str = include_str!("../../pipelines/diff.sql");

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("computing the events from {prev} and {new}: {source}")]
    Db {
        prev: PathBuf,
        new: PathBuf,
        source: duckdb::Error,
    },
    #[error("comparing {path}: {msg}")]
    Narrow { path: PathBuf, msg: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub type Result<T> = std::result::Result<T, Error>;

/// What the new snapshot is.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    pub extract_number: u32,
    /// ISO dates.
    pub snapshot_date: &'a str,
    pub previous_snapshot_date: &'a str,
    /// RFC 3339, stored in `created_at` (not part of the id).
    pub created_at: &'a str,
}

/// Events per type, for the summary.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Counts(pub std::collections::BTreeMap<String, u64>);

/// Writes `out` (events.parquet) with the events from `prev` to `new`.
pub fn diff(
    prev: &Path,
    new: &Path,
    reference: &Path,
    filings: Option<&Path>,
    target: &Target,
    out: &Path,
    memory_limit: &str,
) -> Result<Counts> {
    // Only the entities whose rows differ, with their rows on each side, go to the SQL.
    let t = std::time::Instant::now();
    let work = out.with_extension("narrow");
    let (before, after, n) = narrow::narrow(prev, new, &work)?;
    tracing::debug!(
        seconds = format!("{:.2}", t.elapsed().as_secs_f64()),
        entities = n,
        "entities whose rows differ"
    );
    let (prev, new) = (before.as_path(), after.as_path());
    // The deposits of the window only, so that the SQL does not read the whole filings file.
    let window = work.join("filings.csv");
    let filings = match filings.map(|f| (f, filings_window(f, target, &window))) {
        Some((_, Ok(()))) => Some(window.as_path()),
        Some((f, Err(msg))) => {
            tracing::debug!(file = %f.display(), msg, "filings read whole by the diff");
            Some(f)
        }
        None => None,
    };
    let result = diff_sql(prev, new, reference, filings, target, out, memory_limit);
    let _ = std::fs::remove_dir_all(&work);
    result
}

/// Writes to `dst` the header and the records of `filings` whose deposit date is after the
/// previous snapshot's and up to this one's, and those whose date this reader cannot read (the
/// SQL's own read decides on those, as it did on the whole file): a few hundred rows a day where
/// the file holds millions.
fn filings_window(filings: &Path, target: &Target, dst: &Path) -> std::result::Result<(), String> {
    let (Some(from), Some(to)) = (
        date::parse_iso(target.previous_snapshot_date),
        date::parse_iso(target.snapshot_date),
    ) else {
        return Err("snapshot dates are not yyyy-mm-dd".into());
    };
    let mut kept: Vec<u8> = Vec::new();
    let header = crate::filings::read(
        filings,
        |b| {
            let mut v = Vec::new();
            b.for_each_record(|r| {
                if date::parse_dmy(r.field(1)).is_none_or(|d| from < d && d <= to) {
                    v.extend_from_slice(r.raw);
                }
            })?;
            Ok(v)
        },
        |v| kept.extend(v),
    )?;
    let mut text = header;
    if !text.ends_with(b"\n") {
        text.push(b'\n');
    }
    text.extend(kept);
    std::fs::write(dst, text).map_err(|e| format!("{}: {e}", dst.display()))
}

fn diff_sql(
    prev: &Path,
    new: &Path,
    reference: &Path,
    filings: Option<&Path>,
    target: &Target,
    out: &Path,
    memory_limit: &str,
) -> Result<Counts> {
    let db = |source| Error::Db {
        prev: prev.to_path_buf(),
        new: new.to_path_buf(),
        source,
    };
    let conn = Connection::open_in_memory().map_err(db)?;
    conn.execute_batch(&format!(
        "SET memory_limit = {}; SET enable_progress_bar = false;",
        quote(memory_limit)
    ))
    .map_err(db)?;
    let sql = DIFF_SQL
        .replace("{prev}", &quote_path(prev))
        .replace("{new}", &quote_path(new))
        .replace("{reference}", &quote_path(reference))
        .replace(
            "{filings}",
            &filings.map(quote_path).unwrap_or_else(|| "''".into()),
        )
        .replace("{extract_number}", &target.extract_number.to_string())
        .replace("{snapshot_date}", &quote(target.snapshot_date))
        .replace("{prev_date}", &quote(target.previous_snapshot_date))
        .replace(
            "{created_at}",
            &quote(target.created_at.trim_end_matches('Z')),
        )
        .replace("{out}", &quote_path(out));
    for stmt in statements(&sql) {
        if filings.is_none() && stmt.contains("company.filing_deposited") {
            continue;
        }
        let t = std::time::Instant::now();
        conn.execute_batch(stmt).map_err(db)?;
        tracing::debug!(seconds = format!("{:.2}", t.elapsed().as_secs_f64()), sql = %stmt.lines().find(|l| !l.starts_with("--")).unwrap_or(""), "diff statement");
    }
    let mut counts = Counts::default();
    let mut st = conn
        .prepare(&format!(
            "SELECT type, count(*) FROM read_parquet({}) GROUP BY type ORDER BY type",
            quote_path(out)
        ))
        .map_err(db)?;
    let rows = st
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .map_err(db)?;
    for row in rows {
        let (t, n) = row.map_err(db)?;
        counts.0.insert(t, n as u64);
    }
    Ok(counts)
}

/// Writes an empty events file (the first snapshot has nothing to compare with).
pub fn write_empty(out: &Path) -> Result<()> {
    let conn = Connection::open_in_memory().map_err(|source| Error::Db {
        prev: PathBuf::new(),
        new: PathBuf::new(),
        source,
    })?;
    conn.execute_batch(&format!(
        "COPY (SELECT NULL::VARCHAR AS id, NULL::VARCHAR AS type, NULL::TIMESTAMP AS created_at,
                 NULL::INTEGER AS extract_number, NULL::DATE AS snapshot_date,
                 NULL::VARCHAR AS enterprise_number, NULL::VARCHAR AS establishment_number,
                 NULL::JSON AS data WHERE false) TO {} (FORMAT parquet)",
        quote_path(out)
    ))
    .map_err(|source| Error::Db {
        prev: PathBuf::new(),
        new: out.to_path_buf(),
        source,
    })
}

/// Exports events files as JSON lines (one event per line, `data` as an object), in order.
pub fn export_jsonl(events: &[PathBuf], out: &Path) -> Result<u64> {
    let db = |source| Error::Db {
        prev: PathBuf::new(),
        new: out.to_path_buf(),
        source,
    };
    let conn = Connection::open_in_memory().map_err(db)?;
    let files: Vec<String> = events.iter().map(|p| quote_path(p)).collect();
    let tmp = out.with_extension("jsonl.tmp");
    conn.execute_batch(&format!(
        "COPY (SELECT id, type, strftime(created_at, '%Y-%m-%dT%H:%M:%SZ') AS created_at, extract_number,
                 snapshot_date::VARCHAR AS snapshot_date, enterprise_number, establishment_number, data
               FROM read_parquet([{}]) ORDER BY extract_number, type, enterprise_number, establishment_number, id)
         TO {} (FORMAT json)",
        files.join(", "),
        quote_path(&tmp)
    ))
    .map_err(db)?;
    std::fs::rename(&tmp, out).map_err(|source| Error::Io {
        path: out.to_path_buf(),
        source,
    })?;
    let n: i64 = conn
        .query_row(
            &format!("SELECT count(*) FROM read_parquet([{}])", files.join(", ")),
            [],
            |r| r.get(0),
        )
        .map_err(db)?;
    Ok(n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The window keeps the header, the deposits after the previous snapshot up to this one (in
    /// file order, as written), and the rows whose date it cannot read; it drops the others.
    #[test]
    fn the_filings_window_keeps_the_deposits_of_the_window_and_the_unreadable() {
        let dir = tempfile::tempdir().unwrap();
        let (src, dst) = (dir.path().join("f.csv"), dir.path().join("w.csv"));
        let header = "\"EnterpriseNumber\",\"DepositDate\",\"FiscalYearEnd\",\"Model\",\"Equity\",\"TotalAssets\",\"ProfitLoss\",\"Employees\",\"CurrentAssets\",\"ShortTermDebt\"\n";
        let rows = [
            ("0200.000.043", "11-10-2025", false), // the previous snapshot's day: known already
            ("0200.000.142", "12-10-2025", true),
            ("0200.000.241", "\"13-10-2025\"", true),
            ("0200.000.340", "14-10-2025", false), // after this snapshot
            ("0200.000.439", "2025-10-12", true),  // unreadable here: the SQL decides
            ("0200.000.538", "01-01-2020", false),
        ];
        let line = |n: &str, d: &str| format!("\"{n}\",{d},31-12-2024,\"M\nIC\",1,2,3,4.5,6,7\n");
        let text: String = std::iter::once(header.to_string())
            .chain(rows.iter().map(|(n, d, _)| line(n, d)))
            .collect();
        std::fs::write(&src, &text).unwrap();
        let target = Target {
            extract_number: 148,
            snapshot_date: "2025-10-13",
            previous_snapshot_date: "2025-10-11",
            created_at: "2025-10-13T00:00:00Z",
        };
        filings_window(&src, &target, &dst).unwrap();
        let expected: String = std::iter::once(header.to_string())
            .chain(rows.iter().filter(|r| r.2).map(|(n, d, _)| line(n, d)))
            .collect();
        assert_eq!(std::fs::read_to_string(&dst).unwrap(), expected);
    }
}

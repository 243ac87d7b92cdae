//! warehouse: a snapshot folder + the reference folder + the run history → a DuckDB file.
//!
//! Input: `snapshots/<n>/` (Parquet + manifest + rejects), `reference/`, the run records.
//! Output: a DuckDB file at a path the caller chooses (a temporary name beside the live warehouse),
//! checkpointed and closed, so that [`publish`] can rename it over the live one atomically.
//! Invariants: the live warehouse is never opened for writing; tables keep the snapshot's row order.

use crate::sql::{quote, quote_path, statements};
use duckdb::Connection;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

static WAREHOUSE_SQL: &str = include_str!("../../pipelines/warehouse.sql");
static COMPANIES_SQL: &str = include_str!("../../pipelines/companies.sql");

/// The data tables loaded from a snapshot, and the reference tables.
pub const SNAPSHOT_TABLES: [&str; 7] = [
    "enterprise",
    "establishment",
    "branch",
    "denomination",
    "address",
    "contact",
    "activity",
];
pub const REFERENCE_TABLES: [&str; 5] = [
    "code",
    "nace_code",
    "juridical_form",
    "juridical_situation",
    "activity_group",
];

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: DuckDB: {source}")]
    Db {
        path: PathBuf,
        source: duckdb::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {msg}")]
    Parquet { path: PathBuf, msg: String },
}

pub type Result<T> = std::result::Result<T, Error>;

/// One run of the pipeline, as kept in `runs.jsonl` and the `runs` table (warehouse.md).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunRecord {
    pub run_id: String,
    pub extract_number: u32,
    pub snapshot_date: String,
    pub extract_type: String,
    pub started_at: String,
    pub finished_at: String,
    /// published · noop · failed_check · failed · dry_run
    pub status: String,
    pub rows_read: BTreeMap<String, u64>,
    pub rows_written: BTreeMap<String, u64>,
    pub rows_rejected: BTreeMap<String, u64>,
    pub tool_version: String,
}

/// What the warehouse says it holds (table `bce_info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub extract_number: u32,
    pub snapshot_date: String,
}

/// How the data tables are stored in the warehouse file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    /// Views over the snapshot's Parquet files (absolute paths; snapshots are immutable once
    /// published): the warehouse is built in a fraction of a second.
    #[default]
    Views,
    /// Native DuckDB tables: a self-contained file that can be copied anywhere.
    Tables,
}

/// What a warehouse is built from: files published (or staged) by the other stages.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The snapshot folder (`<table>.parquet`, `rejects.parquet`).
    pub snapshot: &'a Path,
    /// The reference folder.
    pub reference: &'a Path,
    /// The events files of every published extract (and this run's).
    pub events: &'a [PathBuf],
    /// The snapshot's payment-risk scores (`payment_risk.parquet`), when scored.
    pub scores: Option<&'a Path>,
    /// The run history, and the run being published.
    pub runs: &'a [RunRecord],
    pub current: &'a RunRecord,
}

/// Builds a warehouse file at `path` (which must not exist) from the snapshot and reference folders.
pub fn build(
    path: &Path,
    inputs: &Inputs,
    storage: Storage,
    memory_limit: &str,
) -> Result<BTreeMap<String, u64>> {
    let Inputs {
        snapshot,
        reference,
        events,
        scores,
        runs,
        current,
    } = *inputs;
    let db = |source| Error::Db {
        path: path.to_path_buf(),
        source,
    };
    let conn = Connection::open(path).map_err(db)?;
    let tmp_dir = path.with_extension("tmpdir");
    conn.execute_batch(&format!(
        "SET memory_limit = {}; SET temp_directory = {}; SET enable_progress_bar = false;",
        quote(memory_limit),
        quote(&tmp_dir.to_string_lossy())
    ))
    .map_err(db)?;
    let sql = warehouse_sql(
        snapshot,
        reference,
        if storage == Storage::Views {
            "VIEW"
        } else {
            "TABLE"
        },
    );
    for stmt in statements(&sql).chain(statements(COMPANIES_SQL)) {
        let t = std::time::Instant::now();
        conn.execute_batch(stmt).map_err(db)?;
        tracing::debug!(seconds = format!("{:.2}", t.elapsed().as_secs_f64()), sql = %stmt.lines().find(|l| !l.starts_with("--")).unwrap_or(""), "warehouse statement");
    }
    // Events of every published extract (small: a day's changes), and this run's.
    let files: Vec<String> = events.iter().map(|p| quote_path(p)).collect();
    conn.execute_batch(&if files.is_empty() {
        "CREATE TABLE events (id VARCHAR, type VARCHAR, created_at TIMESTAMP, extract_number INTEGER,
            snapshot_date DATE, enterprise_number VARCHAR, establishment_number VARCHAR, data JSON);"
            .to_string()
    } else {
        format!(
            "CREATE TABLE events AS SELECT * FROM read_parquet([{}]) ORDER BY extract_number, type, enterprise_number, establishment_number, id;",
            files.join(", ")
        )
    })
    .map_err(db)?;
    // Payment-risk scores: like the data tables, a view over the published Parquet file by
    // default (copying 2 M rows of reasons costs seconds), a table with `--storage tables`.
    conn.execute_batch(&match scores {
        Some(p) => scores_sql(p, storage),
        None => {
            "CREATE TABLE payment_risk (enterprise_number VARCHAR, score INTEGER, category VARCHAR,
            model_version VARCHAR, data_completeness VARCHAR,
            reasons STRUCT(code VARCHAR, points INTEGER, evidence VARCHAR)[]);"
                .to_string()
        }
    })
    .map_err(db)?;
    conn.execute_batch(
        "CREATE TABLE runs (run_id VARCHAR, extract_number INTEGER, snapshot_date DATE, extract_type VARCHAR,
            started_at TIMESTAMP, finished_at TIMESTAMP, status VARCHAR, rows_read JSON, rows_written JSON,
            rows_rejected JSON, tool_version VARCHAR);
         CREATE TABLE bce_info (extract_number INTEGER, snapshot_date DATE, extract_type VARCHAR,
            published_at TIMESTAMP, run_id VARCHAR, tool_version VARCHAR);",
    )
    .map_err(db)?;
    {
        let mut ins = conn
            .prepare("INSERT INTO runs VALUES (?, ?, CAST(? AS DATE), ?, CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP), ?, ?, ?, ?, ?)")
            .map_err(db)?;
        for r in runs.iter().chain(std::iter::once(current)) {
            let js = |m: &BTreeMap<String, u64>| {
                serde_json::to_string(m).unwrap_or_else(|_| "{}".into())
            };
            ins.execute(duckdb::params![
                r.run_id,
                r.extract_number,
                r.snapshot_date,
                r.extract_type,
                r.started_at.trim_end_matches('Z'),
                r.finished_at.trim_end_matches('Z'),
                r.status,
                js(&r.rows_read),
                js(&r.rows_written),
                js(&r.rows_rejected),
                r.tool_version
            ])
            .map_err(db)?;
        }
        conn.execute(
            "INSERT INTO bce_info VALUES (?, CAST(? AS DATE), ?, CAST(? AS TIMESTAMP), ?, ?)",
            duckdb::params![
                current.extract_number,
                current.snapshot_date,
                current.extract_type,
                current.finished_at.trim_end_matches('Z'),
                current.run_id,
                current.tool_version
            ],
        )
        .map_err(db)?;
    }
    let counts = table_counts(&conn).map_err(db)?;
    conn.execute_batch("CHECKPOINT;").map_err(db)?;
    conn.close().map_err(|(_, e)| db(e))?;
    let _ = std::fs::remove_dir_all(&tmp_dir);
    Ok(counts)
}

fn warehouse_sql(snapshot: &Path, reference: &Path, data: &str) -> String {
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    WAREHOUSE_SQL
        .replace("{data}", data)
        .replace("{snapshot}", &quote(&absolute(snapshot).to_string_lossy()))
        .replace(
            "{reference}",
            &quote(&absolute(reference).to_string_lossy()),
        )
}

fn scores_sql(scores: &Path, storage: Storage) -> String {
    format!(
        "CREATE OR REPLACE {} payment_risk AS SELECT * FROM read_parquet({});",
        if storage == Storage::Views {
            "VIEW"
        } else {
            "TABLE"
        },
        quote_path(scores)
    )
}

/// Points the data views of a built (views) warehouse at `snapshot` (and `payment_risk` at
/// `scores`): the run builds and reconciles against its staging copy, then moves the snapshot
/// into place and calls this before publishing.
pub fn repoint_views(path: &Path, snapshot: &Path, scores: Option<&Path>) -> Result<()> {
    let db = |source| Error::Db {
        path: path.to_path_buf(),
        source,
    };
    let conn = Connection::open(path).map_err(db)?;
    let sql = warehouse_sql(snapshot, Path::new("."), "OR REPLACE VIEW");
    for stmt in statements(&sql).filter(|s| s.contains("OR REPLACE VIEW")) {
        conn.execute_batch(stmt).map_err(db)?;
    }
    if let Some(p) = scores {
        conn.execute_batch(&scores_sql(p, Storage::Views))
            .map_err(db)?;
    }
    conn.execute_batch("CHECKPOINT;").map_err(db)?;
    conn.close().map_err(|(_, e)| db(e))
}

/// Rows per table (data, rejects per table as `rejects.<table>`, reference).
fn table_counts(conn: &Connection) -> duckdb::Result<BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    for t in SNAPSHOT_TABLES
        .iter()
        .chain(REFERENCE_TABLES.iter())
        .chain(["events", "payment_risk"].iter())
    {
        let n: i64 = conn.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))?;
        out.insert(t.to_string(), n as u64);
    }
    let mut st = conn.prepare("SELECT table_name, count(*) FROM rejects GROUP BY table_name")?;
    let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (t, n) = row?;
        out.insert(format!("rejects.{t}"), n as u64);
    }
    Ok(out)
}

/// Rows in a Parquet file, from its footer (parquet-rs: a DuckDB instance a file cost more than
/// the read).
pub fn parquet_rows(path: &Path) -> Result<u64> {
    let file = crate::parquet_io::read::Opened::open(path).map_err(|msg| Error::Parquet {
        path: path.to_path_buf(),
        msg,
    })?;
    Ok(file.metadata().metadata().file_metadata().num_rows().max(0) as u64)
}

/// What the live warehouse holds, if there is one that can be read.
pub fn published(path: &Path) -> Option<Published> {
    if !path.is_file() {
        return None;
    }
    let cfg = duckdb::Config::default()
        .access_mode(duckdb::AccessMode::ReadOnly)
        .ok()?;
    let conn = Connection::open_with_flags(path, cfg).ok()?;
    conn.query_row(
        "SELECT extract_number, CAST(snapshot_date AS VARCHAR) FROM bce_info",
        [],
        |r| {
            Ok(Published {
                extract_number: r.get::<_, i64>(0)? as u32,
                snapshot_date: r.get(1)?,
            })
        },
    )
    .ok()
}

/// Renames the built file over the live warehouse: readers see the old file or the new one, never a
/// mix; a crash before the rename leaves the old one in place.
pub fn publish(built: &Path, live: &Path) -> Result<()> {
    let io = |source| Error::Io {
        path: live.to_path_buf(),
        source,
    };
    std::fs::File::open(built)
        .and_then(|f| f.sync_all())
        .map_err(io)?;
    std::fs::rename(built, live).map_err(io)?;
    if let Some(dir) = live.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Whether each VAT number (`BE` + 10 digits) is in the published warehouse, and its status:
/// `vat_number → status` for the ones found. One join, whatever the number of inputs.
pub fn lookup_vat(
    db: &Path,
    numbers: &[String],
) -> Result<std::collections::HashMap<String, String>> {
    let err = |source| Error::Db {
        path: db.to_path_buf(),
        source,
    };
    // The warehouse is attached read-only to an in-memory database that holds the inputs.
    let conn = Connection::open_in_memory().map_err(err)?;
    conn.execute_batch(&format!(
        "ATTACH {} AS w (READ_ONLY); CREATE TABLE q (vat_number VARCHAR);",
        quote(&db.to_string_lossy())
    ))
    .map_err(err)?;
    {
        let mut app = conn.appender("q").map_err(err)?;
        for n in numbers {
            app.append_row([n.as_str()]).map_err(err)?;
        }
    }
    let mut st = conn
        .prepare("SELECT e.vat_number, e.status FROM (SELECT DISTINCT vat_number FROM q) q JOIN w.enterprise e USING (vat_number)")
        .map_err(err)?;
    let rows = st
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?.unwrap_or_default(),
            ))
        })
        .map_err(err)?;
    rows.collect::<duckdb::Result<_>>().map_err(err)
}

//! An Update extract applied to the previous snapshot → the next snapshot.
//!
//! Input: the Update extract (`<table>_delete.csv` with the key column, `<table>_insert.csv` with
//! all current rows of every touched entity) and the folder of snapshot N−1. Output, in `out`: the
//! seven `<table>.parquet` of snapshot N, `update/{delete,insert}/<table>.parquet` (what the Update
//! carried, typed), `rejects.parquet`, `manifest.json`.
//!
//! Semantics (kbo-open-data.md): per table, delete every row whose key is in the delete file, then
//! insert the insert file. Two rules where the format is silent (ARCHITECTURE.md): for enterprise,
//! establishment and branch an inserted key also replaces a row the delete file forgot (keys stay
//! unique); and the child rows of an entity this Update removed from enterprise, establishment or
//! branch (deleted, not re-inserted) are dropped even when the child table's delete file does not
//! list it — a Full extract holds active entities only, so Full N−1 + Update N = Full N.
//! Invariant per table: base rows − removed rows + inserted rows = rows written.

use super::{ingest_table, rejects, KeySet, Manifest, Options, Reject, Result, UpdateCounts};
use crate::kbo::{self, Extract, Meta};
use crate::progress::Progress;
use crate::sql::quote_path as quote;
use std::path::Path;

const APPLY_SQL: &str = include_str!("../../pipelines/apply_update.sql");

/// Applies the Update `extract` to the snapshot in `base` and writes snapshot N to `out`.
#[allow(clippy::too_many_arguments)]
pub fn ingest_update(
    extract: &Extract,
    meta: &Meta,
    base: &Path,
    out: &Path,
    opts: &Options,
    progress: &Progress,
    now_rfc3339: &str,
    memory_limit: &str,
) -> Result<(Manifest, Vec<Reject>)> {
    for t in kbo::TABLES.iter().chain(kbo::DELETE_TABLES.iter()) {
        let file = if t.file.ends_with("_delete.csv") {
            t.file.to_string()
        } else {
            t.update_file("insert")
        };
        if !extract.has(&file) {
            return Err(kbo::extract::Error::MissingFile {
                extract: extract.display_name(),
                file,
            }
            .into());
        }
    }
    let (ins_dir, del_dir) = (out.join("update/insert"), out.join("update/delete"));
    for d in [&ins_dir, &del_dir] {
        std::fs::create_dir_all(d).map_err(|source| super::Error::Io {
            path: d.clone(),
            source,
        })?;
    }
    // 1. Type and check the Update's files as any extract's (rejects, lines, reasons).
    let none = KeySet::new();
    let mut reports = Vec::new();
    let mut all_rejects = Vec::new();
    for (def, del) in kbo::TABLES.iter().zip(kbo::DELETE_TABLES.iter()) {
        let ins_file = def.update_file("insert");
        let (mut report, rejects, _) = ingest_table(
            extract,
            def,
            &ins_file,
            &ins_dir.join(format!("{}.parquet", def.name)),
            &none,
            meta,
            opts,
            progress,
        )?;
        let (del_report, del_rejects, _) = ingest_table(
            extract,
            del,
            del.file,
            &del_dir.join(format!("{}.parquet", def.name)),
            &none,
            meta,
            opts,
            progress,
        )?;
        report.rows_read += del_report.rows_read;
        report.rows_rejected += del_report.rows_rejected;
        report.input_bytes += del_report.input_bytes;
        report.input_sha256 = format!("{} {}", report.input_sha256, del_report.input_sha256);
        report.file = format!("{} + {}", ins_file, del.file);
        report.update = Some(UpdateCounts {
            base_rows: 0,
            delete_keys: del_report.rows_written,
            removed_rows: 0,
            cascaded_rows: 0,
            inserted_rows: report.rows_written,
        });
        all_rejects.extend(rejects);
        all_rejects.extend(del_rejects);
        reports.push(report);
    }
    // 2. Apply, table by table, in DuckDB (reads snapshot N−1's Parquet, writes snapshot N's).
    let sp = progress.spinner("apply update");
    let applied = apply(base, out, &ins_dir, &del_dir, memory_limit);
    sp.finish_and_clear();
    let counts = applied?;
    for (report, c) in reports.iter_mut().zip(counts) {
        if let Some(u) = report.update.as_mut() {
            u.base_rows = c.0;
            u.removed_rows = c.1;
            u.cascaded_rows = c.2;
        }
        report.rows_written = c.3;
        report.orphan_rows = c.4;
    }
    rejects::write(
        &out.join("rejects.parquet"),
        meta.extract_number,
        &all_rejects,
    )?;
    let manifest = Manifest {
        extract_number: meta.extract_number,
        snapshot_date: kbo::date::format_iso(meta.snapshot_date),
        extract_type: meta.extract_type,
        extract_timestamp: meta.extract_timestamp.clone(),
        kbo_version: meta.version.clone(),
        source: extract.display_name(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at: now_rfc3339.to_string(),
        tables: reports,
    };
    super::write_manifest(out, &manifest)?;
    Ok((manifest, all_rejects))
}

/// Per table in [`kbo::TABLES`] order: (base rows, removed rows, of which cascaded, rows written,
/// inserted rows whose entity is missing from snapshot N).
type Counts = (u64, u64, u64, u64, u64);

fn apply(
    base: &Path,
    out: &Path,
    ins: &Path,
    del: &Path,
    memory_limit: &str,
) -> Result<Vec<Counts>> {
    let db = |e: duckdb::Error| super::Error::Parquet {
        path: out.to_path_buf(),
        msg: format!("applying the Update: {e}"),
    };
    let conn = duckdb::Connection::open_in_memory().map_err(db)?;
    conn.execute_batch(&format!(
        "SET memory_limit = '{}'; SET enable_progress_bar = false; SET preserve_insertion_order = true;",
        memory_limit.replace('\'', "")
    ))
    .map_err(db)?;
    let sql = APPLY_SQL
        .replace("{base}", &quote(base))
        .replace("{out}", &quote(out))
        .replace("{ins}", &quote(ins))
        .replace("{del}", &quote(del));
    // The removed owners first (shared by every child table), then each table.
    let (setup, per_table) = sql.split_once("-- @per-table").unwrap_or((&sql, ""));
    conn.execute_batch(setup).map_err(db)?;
    let mut counts = Vec::new();
    let out_table = |t: &str| {
        format!(
            "(SELECT {t}_number AS k FROM read_parquet({} || '/{t}.parquet'))",
            quote(out)
        )
    };
    for def in &kbo::TABLES {
        let key = def.columns[0].name;
        let (owner, cascade, owners) = match def.name {
            "enterprise" => (key.to_string(), EMPTY.to_string(), out_table("enterprise")),
            "establishment" | "branch" => (
                "enterprise_number".to_string(),
                "removed_enterprises".to_string(),
                out_table("enterprise"),
            ),
            _ => (
                key.to_string(),
                "removed_owners".to_string(),
                "new_owners".to_string(),
            ),
        };
        if def.name == "denomination" {
            // The owner tables of snapshot N are written: the entities child rows may point to.
            conn.execute_batch(&format!(
                "CREATE TEMP TABLE new_owners AS
                 SELECT enterprise_number AS k FROM read_parquet({o} || '/enterprise.parquet')
                 UNION ALL SELECT establishment_number FROM read_parquet({o} || '/establishment.parquet')
                 UNION ALL SELECT branch_id FROM read_parquet({o} || '/branch.parquet');",
                o = quote(out)
            ))
            .map_err(db)?;
        }
        let table_sql = per_table
            .replace("{table}", def.name)
            .replace("{key}", key)
            .replace("{unique}", if def.unique_key { "true" } else { "false" })
            .replace("{owner}", &owner)
            .replace("{cascade}", &cascade)
            .replace("{owners}", &owners)
            .replace(
                "{out_file}",
                &quote(&out.join(format!("{}.parquet", def.name))),
            );
        conn.execute_batch(&table_sql).map_err(db)?;
        let c: Counts = conn
            .query_row("SELECT * FROM counts", [], |r| {
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    r.get::<_, i64>(1)? as u64,
                    r.get::<_, i64>(2)? as u64,
                    r.get::<_, i64>(3)? as u64,
                    r.get::<_, i64>(4)? as u64,
                ))
            })
            .map_err(db)?;
        tracing::info!(
            table = def.name,
            base_rows = c.0,
            removed_rows = c.1,
            cascaded_rows = c.2,
            rows = c.3,
            "update applied"
        );
        counts.push(c);
    }
    Ok(counts)
}

/// An empty set of keys (the enterprise table has no owner to cascade from).
const EMPTY: &str = "(SELECT NULL::VARCHAR AS k WHERE false)";

//! An Update extract applied to the previous snapshot → the next snapshot.
//!
//! Input: the Update extract (`<table>_delete.csv` with the key column, `<table>_insert.csv` with
//! all current rows of every touched entity) and the folder of snapshot N−1. Output, in `out`: the
//! seven `<table>.parquet` of snapshot N, `update/{delete,insert}/<table>.parquet` (what the Update
//! carried, typed), `update/{before,after}/<table>.parquet` (the rows of every entity the Update
//! touched, in N−1 and in N: all the diff needs to compare), `rejects.parquet`, `manifest.json`.
//!
//! Semantics (kbo-open-data.md): per table, delete every row whose key is in the delete file, then
//! insert the insert file. Two rules where the format is silent (ARCHITECTURE.md): for enterprise,
//! establishment and branch an inserted key also replaces a row the delete file forgot (keys stay
//! unique); and the child rows of an entity this Update removed from enterprise, establishment or
//! branch (deleted, not re-inserted) are dropped even when the child table's delete file does not
//! list it — a Full extract holds active entities only, so Full N−1 + Update N = Full N.
//! Invariant per table: base rows − removed rows + inserted rows = rows written.

use super::{ingest_table, KeySet, Manifest, Options, Reject, Result, UpdateCounts};
use crate::kbo::{self, number, Extract, Meta, TableDef};
use crate::parquet_io::parallel::{ParallelWriter, RawRowGroup};
use crate::parquet_io::{read as pq, write_with_schema};
use crate::progress::Progress;
use duckdb::arrow::array::{BooleanArray, BooleanBufferBuilder};
use duckdb::arrow::compute::filter_record_batch;
use rayon::prelude::*;
use std::path::Path;

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
            base_row_groups: 0,
            row_groups_copied: 0,
        });
        all_rejects.extend(rejects);
        all_rejects.extend(del_rejects);
        reports.push(report);
    }
    // 2. Apply, table by table: the previous snapshot's rows stream through a filter into
    // snapshot N's files (encoded in parallel), then the inserted rows are appended.
    let sp = progress.spinner("apply update");
    let applied = apply(base, out, &ins_dir, &del_dir, opts);
    sp.finish_and_clear();
    let counts = applied?;
    for (report, c) in reports.iter_mut().zip(counts) {
        if let Some(u) = report.update.as_mut() {
            u.base_rows = c.base_rows;
            u.removed_rows = c.removed;
            u.cascaded_rows = c.cascaded;
            u.base_row_groups = c.base_row_groups;
            u.row_groups_copied = c.row_groups_copied;
        }
        report.rows_written = c.written;
        report.orphan_rows = c.orphans;
    }
    let manifest = super::finish(out, meta, extract, now_rfc3339, reports, &all_rejects)?;
    Ok((manifest, all_rejects))
}

/// One table of the Update applied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Applied {
    base_rows: u64,
    /// Previous rows removed (delete file, re-inserted unique key, or cascade).
    removed: u64,
    /// Of those, removed only by the cascade rule.
    cascaded: u64,
    written: u64,
    /// Inserted rows whose entity is not in snapshot N.
    orphans: u64,
    base_row_groups: u64,
    row_groups_copied: u64,
}

fn pq_err(path: &Path) -> impl Fn(String) -> super::Error + '_ {
    move |msg| super::Error::Parquet {
        path: path.to_path_buf(),
        msg,
    }
}

/// The numbers of one column of a (small) Parquet file.
fn numbers_of(path: &Path, column: &str) -> Result<Vec<u64>> {
    let mut out = Vec::new();
    for b in pq::read_all(path).map_err(pq_err(path))? {
        let col = pq::strings(&b, column).map_err(pq_err(path))?;
        out.extend((0..b.num_rows()).filter_map(|i| {
            col.get(i)
                .and_then(|s| number::parse(s.as_bytes(), None).ok())
        }));
    }
    Ok(out)
}

fn set_of(v: &[u64]) -> KeySet {
    let mut s = KeySet::new();
    for n in v {
        s.insert(*n);
    }
    s
}

/// The folders an apply reads and writes.
struct Dirs<'a> {
    /// Snapshot N−1.
    base: &'a Path,
    /// The Update's typed insert and delete files.
    ins: &'a Path,
    /// Snapshot N.
    out: &'a Path,
}

/// How one table is rewritten.
struct Pass<'a> {
    def: &'static TableDef,
    /// For a row's key and owner (the enterprise of an establishment or branch): (removed by the
    /// delete file or a re-inserted key, removed by the cascade).
    remove: &'a (dyn Fn(u64, Option<u64>) -> (bool, bool) + Sync),
    /// The entities whose rows go to `update/before/` and `update/after/`.
    touched: &'a KeySet,
    /// The column of the inserted rows that must point to an entity of snapshot N, and those
    /// entities (for the orphan count); `None` for the enterprise table.
    orphans_of: Option<(&'static str, &'a KeySet)>,
    /// For establishment and branch: the enterprises whose removal cascades to their rows.
    cascade_from: Option<&'a KeySet>,
}

/// Rewrites `base/<table>.parquet` into `out/<table>.parquet` without the rows `pass.remove`
/// says go, then appends the inserted rows. `cascaded_key` sees the key of every row removed by
/// the cascade only; `survivors` (when given) gets the keys of snapshot N's rows.
///
/// The rows of the entities in `pass.touched` (and those the cascade removes) are also written
/// to `out/update/before/` (as in N−1) and `out/update/after/` (as in N): the diff compares those.
///
/// A row group none of whose rows can be removed or touched is copied as it is (compressed bytes:
/// only its key column, and the owner column of establishment and branch, are decoded). A small
/// last row group is rewritten with the inserts, so that daily Updates do not leave a tail of tiny
/// row groups.
fn rewrite(
    dirs: &Dirs,
    opts: &Options,
    pass: &Pass,
    cascaded_key: &mut dyn FnMut(u64),
    survivors: &mut Option<KeySet>,
) -> Result<Applied> {
    let def = pass.def;
    let file = |d: &Path| d.join(format!("{}.parquet", def.name));
    let (base_f, ins_f, out_f) = (file(dirs.base), file(dirs.ins), file(dirs.out));
    let (before_f, after_f) = (
        file(&dirs.out.join("update/before")),
        file(&dirs.out.join("update/after")),
    );
    let (mut before, mut after) = (Vec::new(), Vec::new());
    let err = pq_err(&out_f);
    let base_err = pq_err(&base_f);
    let key_col = def.key();
    let owner_col = pass.cascade_from.map(|_| "enterprise_number");
    // Page indexes too: copied row groups carry theirs over.
    let base = pq::Opened::open_with_page_index(&base_f).map_err(&base_err)?;
    let schema = base.metadata().schema().clone();
    let fh = std::fs::File::create(&out_f).map_err(|e| err(e.to_string()))?;
    let mut w = ParallelWriter::for_file(
        fh,
        schema.clone(),
        super::writer_properties(def, opts.zstd_level),
        opts.row_group_rows,
    )
    .map_err(|e| err(e.to_string()))?;
    let mut a = Applied::default();
    let mut numbers = number::RunParser::default();
    let groups = base.row_groups();
    let started = std::time::Instant::now();
    // Which row groups hold a row to remove or to compare, from their key (and owner) columns
    // alone, read in parallel; the others are copied as they are.
    let scan: Vec<Scanned> = (0..groups)
        .into_par_iter()
        .map(|g| scan_group(&base, g, key_col, owner_col, pass, survivors.is_some()))
        .collect::<Result<_>>()?;
    let scanned_in = started.elapsed().as_secs_f64();
    let mut copied = 0usize;
    for (g, scanned) in scan.into_iter().enumerate() {
        let rows = base.row_group_rows(g);
        let small_tail = g + 1 == groups && (rows as usize) < opts.row_group_rows / 2;
        if !scanned.hit && !small_tail {
            if let Some(s) = survivors.as_mut() {
                for k in scanned.keys {
                    s.insert(k);
                }
            }
            a.base_rows += rows;
            a.written += rows;
            w.copy_row_group(RawRowGroup {
                path: base_f.clone(),
                meta: base.metadata().metadata().clone(),
                index: g,
            })
            .map_err(|e| err(e.to_string()))?;
            copied += 1;
            continue;
        }
        let reader = base
            .builder()
            .map_err(&base_err)?
            .with_row_groups(vec![g])
            .with_batch_size(65_536)
            .build()
            .map_err(|e| base_err(e.to_string()))?;
        for batch in reader {
            let batch = batch.map_err(|e| base_err(e.to_string()))?;
            let keys = pq::strings(&batch, key_col).map_err(&base_err)?;
            let owners = match owner_col {
                Some(c) => Some(pq::strings(&batch, c).map_err(&base_err)?),
                None => None,
            };
            let mut keep = BooleanBufferBuilder::new(batch.num_rows());
            let (mut was, mut stays) = (
                BooleanBufferBuilder::new(batch.num_rows()),
                BooleanBufferBuilder::new(batch.num_rows()),
            );
            for i in 0..batch.num_rows() {
                let k = keys.get(i).and_then(|s| numbers.parse(s));
                let o = owners.as_ref().and_then(|o| {
                    o.get(i)
                        .and_then(|s| number::parse(s.as_bytes(), None).ok())
                });
                let (d, c) = k.map_or((false, false), |k| (pass.remove)(k, o));
                if d || c {
                    a.removed += 1;
                    if c && !d {
                        a.cascaded += 1;
                        if let Some(k) = k {
                            cascaded_key(k);
                        }
                    }
                } else if let (Some(s), Some(k)) = (survivors.as_mut(), k) {
                    s.insert(k);
                }
                keep.append(!(d || c));
                let t = c || k.is_some_and(|k| pass.touched.contains(k));
                was.append(t);
                stays.append(t && !(d || c));
            }
            for (rows, mut mask) in [(&mut before, was), (&mut after, stays)] {
                let part = filter_record_batch(&batch, &BooleanArray::new(mask.finish(), None))
                    .map_err(|e| err(e.to_string()))?;
                if part.num_rows() > 0 {
                    rows.push(part);
                }
            }
            a.base_rows += batch.num_rows() as u64;
            let mask = BooleanArray::new(keep.finish(), None);
            let kept = filter_record_batch(&batch, &mask).map_err(|e| err(e.to_string()))?;
            a.written += kept.num_rows() as u64;
            if kept.num_rows() > 0 {
                w.write(kept).map_err(|e| err(e.to_string()))?;
            }
        }
    }
    a.base_row_groups = groups as u64;
    a.row_groups_copied = copied as u64;
    tracing::debug!(
        table = def.name,
        scan_seconds = format!("{scanned_in:.2}"),
        seconds = format!("{:.2}", started.elapsed().as_secs_f64()),
        "row groups scanned, copied and rewritten"
    );
    for batch in pq::read_all(&ins_f).map_err(pq_err(&ins_f))? {
        let keys = pq::strings(&batch, key_col).map_err(pq_err(&ins_f))?;
        let owned = match pass.orphans_of {
            Some((col, _)) => Some(pq::strings(&batch, col).map_err(pq_err(&ins_f))?),
            None => None,
        };
        for i in 0..batch.num_rows() {
            if let (Some(s), Some(k)) = (
                survivors.as_mut(),
                keys.get(i)
                    .and_then(|x| number::parse(x.as_bytes(), None).ok()),
            ) {
                s.insert(k);
            }
            if let (Some((_, owners)), Some(col)) = (pass.orphans_of, owned.as_ref()) {
                let n = col
                    .get(i)
                    .and_then(|x| number::parse(x.as_bytes(), None).ok());
                if n.is_some_and(|n| !owners.contains(n)) {
                    a.orphans += 1;
                }
            }
        }
        a.written += batch.num_rows() as u64;
        after.push(batch.clone());
        w.write(batch).map_err(|e| err(e.to_string()))?;
    }
    w.close().map_err(|e| err(e.to_string()))?;
    for (path, rows) in [(&before_f, &before), (&after_f, &after)] {
        write_with_schema(path, schema.clone(), rows).map_err(pq_err(path))?;
    }
    Ok(a)
}

/// What the scan of one row group found.
struct Scanned {
    /// A row whose key is touched (every key a removal can hit is), or, for establishment and
    /// branch, whose enterprise is removed.
    hit: bool,
    /// The keys of the row group (only when asked for, and only when not hit).
    keys: Vec<u64>,
}

fn scan_group(
    file: &pq::Opened,
    g: usize,
    key_col: &str,
    owner_col: Option<&str>,
    pass: &Pass,
    want_keys: bool,
) -> Result<Scanned> {
    let cols: Vec<&str> = std::iter::once(key_col).chain(owner_col).collect();
    let path = file.path();
    let batches = file.read(&cols, &[], Some(vec![g])).map_err(pq_err(path))?;
    let mut keys = Vec::new();
    let mut numbers = number::RunParser::default();
    for b in &batches {
        let kc = pq::strings(b, key_col).map_err(pq_err(path))?;
        let oc = match owner_col {
            Some(c) => Some(pq::strings(b, c).map_err(pq_err(path))?),
            None => None,
        };
        for i in 0..b.num_rows() {
            let Some(s) = kc.get(i) else { continue };
            let k = numbers.parse(s);
            // An unreadable key cannot be matched: the row group is rewritten, as before.
            let Some(k) = k else {
                return Ok(Scanned {
                    hit: true,
                    keys: Vec::new(),
                });
            };
            let owner_hit = match (&oc, pass.cascade_from) {
                (Some(oc), Some(removed)) => oc
                    .get(i)
                    .and_then(|o| number::parse(o.as_bytes(), None).ok())
                    .is_some_and(|o| removed.contains(o)),
                _ => false,
            };
            if owner_hit || pass.touched.contains(k) {
                return Ok(Scanned {
                    hit: true,
                    keys: Vec::new(),
                });
            }
            if want_keys {
                keys.push(k);
            }
        }
    }
    Ok(Scanned { hit: false, keys })
}

/// Applies the typed delete and insert files to snapshot `base`, writing snapshot N into `out`.
/// Returns the counts per table, in [`kbo::TABLES`] order.
fn apply(base: &Path, out: &Path, ins: &Path, del: &Path, opts: &Options) -> Result<Vec<Applied>> {
    let dirs = Dirs { base, ins, out };
    let file = |d: &Path, t: &str| d.join(format!("{t}.parquet"));
    let def = |t: &str| {
        kbo::TableDef::by_name(t).ok_or_else(|| super::Error::Parquet {
            path: out.to_path_buf(),
            msg: format!("no table {t}"),
        })
    };
    // The keys of every delete and insert file, read once: every one is touched.
    let mut touched = KeySet::new();
    let mut del_keys = std::collections::HashMap::new();
    let mut ins_keys = std::collections::HashMap::new();
    for t in &kbo::TABLES {
        let d = numbers_of(&file(del, t.name), t.key())?;
        let i = numbers_of(&file(ins, t.name), t.key())?;
        for n in d.iter().chain(&i) {
            touched.insert(*n);
        }
        ins_keys.insert(t.name, set_of(&i));
        del_keys.insert(t.name, (set_of(&d), d));
    }
    for d in ["update/before", "update/after"] {
        let d = out.join(d);
        std::fs::create_dir_all(&d).map_err(|source| super::Error::Io { path: d, source })?;
    }
    let empty = (KeySet::new(), Vec::new());
    let deleted = |t: &str| del_keys.get(t).unwrap_or(&empty);
    let ik = |t: &str| ins_keys.get(t).unwrap_or(&empty.0);
    let reinserted = |n: u64| {
        ik("enterprise").contains(n) || ik("establishment").contains(n) || ik("branch").contains(n)
    };
    // Enterprises this Update removes: deleted and not re-inserted.
    let mut removed_enterprises = KeySet::new();
    for n in &deleted("enterprise").1 {
        if !ik("enterprise").contains(*n) {
            removed_enterprises.insert(*n);
        }
    }
    let mut counts = Vec::new();
    let mut owners_n = KeySet::new();
    let mut cascaded_owners: Vec<u64> = Vec::new();
    // The owner tables first: enterprise, establishment, branch (kbo::TABLES order). Inserted
    // establishments and branches must belong to an enterprise of N (the enterprise table is
    // rewritten first, so `owners_n` holds those).
    for t in ["enterprise", "establishment", "branch"] {
        let (d, i) = (&deleted(t).0, ik(t));
        let re = &removed_enterprises;
        let remove = move |k: u64, owner: Option<u64>| {
            let direct = d.contains(k) || i.contains(k);
            (direct, owner.is_some_and(|o| re.contains(o)))
        };
        let mut survivors = Some(KeySet::new());
        let a = rewrite(
            &dirs,
            opts,
            &Pass {
                def: def(t)?,
                remove: &remove,
                touched: &touched,
                orphans_of: (t != "enterprise").then_some(("enterprise_number", &owners_n)),
                cascade_from: (t != "enterprise").then_some(re),
            },
            &mut |k| cascaded_owners.push(k),
            &mut survivors,
        )?;
        if let Some(s) = survivors {
            owners_n.union(&s);
        }
        counts.push(a);
    }
    for n in &cascaded_owners {
        touched.insert(*n);
    }
    // Entities whose child rows go: the removed enterprises, the establishments and branches
    // deleted or cascaded — unless re-inserted.
    let mut removed_owners = removed_enterprises.clone();
    let gone = deleted("establishment")
        .1
        .iter()
        .chain(&deleted("branch").1);
    for n in gone.chain(&cascaded_owners) {
        if !reinserted(*n) {
            removed_owners.insert(*n);
        }
    }
    // The child tables: activity (the big one) beside the three others.
    let child = |t: &str| -> Result<Applied> {
        let d = &deleted(t).0;
        let ro = &removed_owners;
        let remove = move |k: u64, _: Option<u64>| (d.contains(k), ro.contains(k));
        let pass = Pass {
            def: def(t)?,
            remove: &remove,
            touched: &touched,
            orphans_of: Some(("entity_number", &owners_n)),
            cascade_from: None,
        };
        rewrite(&dirs, opts, &pass, &mut |_| {}, &mut None)
    };
    let (small, activity) = super::both(
        || -> Result<Vec<Applied>> {
            ["denomination", "address", "contact"]
                .iter()
                .map(|t| child(t))
                .collect()
        },
        || child("activity"),
    );
    counts.extend(small?);
    counts.push(activity?);
    let moved = |d: &str| out.join(d).join("activity.parquet");
    let group_rows = crate::snapshot::main_activity_group_rows(opts.row_group_rows);
    let (before, after) = (moved("update/before"), moved("update/after"));
    super::derived::updated(base, &before, &after, out, group_rows).map_err(|msg| {
        super::Error::Parquet {
            path: out.join(super::derived::MAIN_ACTIVITY),
            msg,
        }
    })?;
    for (t, c) in kbo::TABLES.iter().zip(&counts) {
        tracing::info!(
            table = t.name,
            base_rows = c.base_rows,
            removed_rows = c.removed,
            cascaded_rows = c.cascaded,
            rows = c.written,
            row_groups = c.base_row_groups,
            row_groups_copied = c.row_groups_copied,
            "update applied"
        );
    }
    Ok(counts)
}

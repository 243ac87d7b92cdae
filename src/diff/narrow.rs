//! The entities whose rows differ between two snapshots, and only their rows on each side.
//!
//! Per table and per entity, a fingerprint: the wrapping sum of a 64-bit hash of each of its rows
//! (order-free and multiset-exact up to hash collisions, as the per-entity sets of rows of
//! spec/events.md). The row groups of both snapshots are hashed in parallel; text columns are read
//! as dictionaries, so each distinct value is hashed once per batch. An entity whose
//! fingerprints differ in a child table (or that exists on one side only) gets that table's rows
//! copied, read by their positions; every such entity also gets its enterprise, establishment and
//! branch rows. The two small snapshots `before/` and `after/` are what `pipelines/diff.sql`
//! compares; every other entity has the same rows on both sides and gives no event.

use super::{Error, Result};
use crate::ingest::KeySet;
use crate::kbo::number;
use crate::kbo::TABLES;
use crate::parquet_io::read::{self as pq, Opened};
use crate::parquet_io::write_with_schema;
use duckdb::arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use duckdb::arrow::datatypes::{DataType, Date32Type, Int32Type};
use parquet::arrow::arrow_reader::{ArrowPredicateFn, RowFilter, RowSelection, RowSelector};
use parquet::arrow::ProjectionMask;
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn err(path: &Path) -> impl Fn(String) -> Error + '_ {
    move |msg| Error::Narrow {
        path: path.to_path_buf(),
        msg,
    }
}

/// splitmix64's finaliser: a well-spread 64-bit mix.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn hash_bytes(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for x in b {
        h = (h ^ *x as u64).wrapping_mul(0x0100_0000_01b3);
    }
    mix(h ^ b.len() as u64)
}

const NULL: u64 = 0x5bd1_e995_5bd1_e995;

/// The hash of every value of a column, row by row.
fn column_hashes(c: &dyn Array, out: &mut Vec<u64>) -> std::result::Result<(), String> {
    out.clear();
    match c.data_type() {
        DataType::Dictionary(_, _) => {
            let d = c
                .as_dictionary_opt::<Int32Type>()
                .ok_or("a dictionary with other keys")?;
            let values = d
                .values()
                .as_string_opt::<i32>()
                .ok_or("a dictionary of non-text")?;
            let per_value: Vec<u64> = (0..values.len())
                .map(|i| {
                    if values.is_valid(i) {
                        hash_bytes(values.value(i).as_bytes())
                    } else {
                        NULL
                    }
                })
                .collect();
            let keys = d.keys();
            out.extend((0..keys.len()).map(|i| {
                if keys.is_valid(i) {
                    per_value[keys.value(i) as usize]
                } else {
                    NULL
                }
            }));
        }
        DataType::Utf8 => {
            let a = c.as_string::<i32>();
            out.extend((0..a.len()).map(|i| {
                if a.is_valid(i) {
                    hash_bytes(a.value(i).as_bytes())
                } else {
                    NULL
                }
            }));
        }
        DataType::Date32 => {
            let a = c.as_primitive::<Date32Type>();
            out.extend((0..a.len()).map(|i| {
                if a.is_valid(i) {
                    mix(a.value(i) as u64 ^ 0xd1b5_4a32_d192_ed03)
                } else {
                    NULL
                }
            }));
        }
        t => return Err(format!("a column of type {t}")),
    }
    Ok(())
}

/// The columns of a table's file, and those of them (text, not the key) read as dictionaries.
fn columns_of(file: &Path, key: &str) -> std::result::Result<(Vec<String>, Vec<String>), String> {
    let schema = pq::schema_of(file)?;
    let all = schema
        .fields()
        .iter()
        .map(|f| f.name().to_string())
        .collect();
    let dict = schema
        .fields()
        .iter()
        .filter(|f| f.name() != key && f.data_type() == &DataType::Utf8)
        .map(|f| f.name().to_string())
        .collect();
    Ok((all, dict))
}

/// (entity, fingerprint) pairs.
type Runs = Vec<(u64, u64)>;

/// Where each run of one entity's rows stands in its row group: (entity, first row, rows).
type Spans = Vec<(u64, u32, u32)>;

/// Fingerprints of one row group of one table: (entity, wrapping sum of its rows' hashes), one
/// pair per run of consecutive rows of the same entity.
fn fingerprints(
    file: &Opened,
    key: &str,
    group: usize,
    (columns, dict): &(Vec<String>, Vec<String>),
) -> std::result::Result<(Runs, Spans), String> {
    let cols: Vec<&str> = columns.iter().map(String::as_str).collect();
    let dict: Vec<&str> = dict.iter().map(String::as_str).collect();
    let (mut out, mut spans) = (Vec::new(), Vec::new());
    let mut col_h = Vec::new();
    let mut row_h: Vec<u64> = Vec::new();
    let mut offset = 0u32;
    for batch in file.read(&cols, &dict, Some(vec![group]))? {
        let n = batch.num_rows();
        row_h.clear();
        row_h.resize(n, 0x243f_6a88_85a3_08d3);
        for (ci, name) in columns.iter().enumerate() {
            if name == key {
                continue;
            }
            let Some(c) = batch.column_by_name(name) else {
                continue;
            };
            column_hashes(c.as_ref(), &mut col_h)?;
            for (h, v) in row_h.iter_mut().zip(&col_h) {
                *h = mix(*h ^ *v).wrapping_add(ci as u64);
            }
        }
        let keys = pq::strings(&batch, key)?;
        // Rows come grouped by entity: sum a run, then add it to the map once.
        let (mut last, mut run): ((&str, Option<u64>), u64) = (("", None), 0);
        let mut start = 0u32;
        for (i, h) in row_h.iter().enumerate() {
            let Some(s) = keys.get(i) else { continue };
            if s != last.0 {
                if let Some(k) = last.1 {
                    out.push((k, run));
                    spans.push((k, offset + start, i as u32 - start));
                }
                (last, run, start) = ((s, number::parse(s.as_bytes(), None).ok()), 0, i as u32);
            }
            run = run.wrapping_add(mix(*h));
        }
        if let Some(k) = last.1 {
            out.push((k, run));
            spans.push((k, offset + start, n as u32 - start));
        }
        offset += n as u32;
    }
    Ok((out, spans))
}

/// The rows of `changed` entities in one row group of a table: the key column is read first and
/// the other columns only for the rows it selects (a row filter).
fn extract(
    file: &Opened,
    key: &str,
    group: usize,
    changed: &Arc<KeySet>,
) -> std::result::Result<Vec<RecordBatch>, String> {
    let b = file.builder()?;
    let schema = b.parquet_schema();
    let key_leaf = (0..schema.num_columns())
        .find(|i| schema.column(*i).name() == key)
        .ok_or_else(|| format!("no column {key}"))?;
    let mask = ProjectionMask::leaves(schema, [key_leaf]);
    let (changed, key_name) = (changed.clone(), key.to_string());
    let predicate = ArrowPredicateFn::new(mask, move |batch: RecordBatch| {
        let keys = pq::strings(&batch, &key_name)
            .map_err(duckdb::arrow::error::ArrowError::ComputeError)?;
        let mut numbers = number::RunParser::default();
        Ok((0..batch.num_rows())
            .map(|i| {
                let k = numbers.parse(keys.get(i).unwrap_or(""));
                Some(k.is_some_and(|k| changed.contains(k)))
            })
            .collect::<BooleanArray>())
    });
    b.with_row_groups(vec![group])
        .with_row_filter(RowFilter::new(vec![Box::new(predicate)]))
        .with_batch_size(65_536)
        .build()
        .map_err(|e| e.to_string())?
        .map(|r| r.map_err(|e| e.to_string()))
        .collect()
}

/// The rows of the `spans` whose entity is in `changed`, read with a row selection: only those
/// rows are decoded.
fn select(
    file: &Opened,
    group: usize,
    spans: &Spans,
    changed: &KeySet,
) -> std::result::Result<Vec<RecordBatch>, String> {
    let mut selectors = Vec::new();
    let mut at = 0usize;
    for (k, start, len) in spans {
        if changed.contains(*k) {
            let start = *start as usize;
            if start > at {
                selectors.push(RowSelector::skip(start - at));
            }
            selectors.push(RowSelector::select(*len as usize));
            at = start + *len as usize;
        }
    }
    if selectors.is_empty() {
        return Ok(Vec::new());
    }
    let b = file.builder()?;
    let rows = b.metadata().row_group(group).num_rows() as usize;
    if rows > at {
        selectors.push(RowSelector::skip(rows - at));
    }
    b.with_row_groups(vec![group])
        .with_row_selection(RowSelection::from(selectors))
        .with_batch_size(65_536)
        .build()
        .map_err(|e| e.to_string())?
        .map(|r| r.map_err(|e| e.to_string()))
        .collect()
}

/// Writes `work/before/` and `work/after/` (the seven tables, only the rows of the entities
/// whose rows differ) and returns them with the number of such entities.
pub fn narrow(prev: &Path, new: &Path, work: &Path) -> Result<(PathBuf, PathBuf, u64)> {
    let (before, after) = (work.join("before"), work.join("after"));
    for d in [&before, &after] {
        std::fs::create_dir_all(d).map_err(|e| err(d)(e.to_string()))?;
    }
    let t = std::time::Instant::now();
    let file = |dir: &Path, t: &str| dir.join(format!("{t}.parquet"));
    // Every (side, table, row group), hashed in parallel.
    let mut jobs = Vec::new();
    for (side, dir) in [(0usize, prev), (1, new)] {
        for (ti, t) in TABLES.iter().enumerate() {
            let f = file(dir, t.name);
            let opened = Opened::open(&f).map_err(err(&f))?;
            jobs.extend((0..opened.row_groups()).map(|g| (side, ti, opened.clone(), g)));
        }
    }
    let mut changed = KeySet::new();
    let mut count = 0u64;
    // The rows copied per (side, table).
    let mut copied: Vec<[Vec<RecordBatch>; 2]> =
        TABLES.iter().map(|_| [Vec::new(), Vec::new()]).collect();
    // The child tables first, one at a time (both sides' row groups in parallel, so that only one
    // table's fingerprints are in memory): an entity whose rows differ in a child table needs only
    // that table's rows, read right away by their positions. The owner tables (enterprise,
    // establishment, branch) last: they need the rows of every entity found anywhere.
    let owners = ["enterprise", "establishment", "branch"];
    let order: Vec<usize> = (0..TABLES.len())
        .filter(|ti| !owners.contains(&TABLES[*ti].name))
        .chain((0..TABLES.len()).filter(|ti| owners.contains(&TABLES[*ti].name)))
        .collect();
    for ti in order {
        let table = &TABLES[ti];
        let key = table.key();
        let columns = columns_of(&file(prev, table.name), key).map_err(err(prev))?;
        let parts: Vec<(usize, &Opened, usize, Runs, Spans)> = jobs
            .iter()
            .filter(|j| j.1 == ti)
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|(side, _, f, g)| {
                fingerprints(f, key, *g, &columns)
                    .map(|(r, sp)| (*side, f, *g, r, sp))
                    .map_err(err(f.path()))
            })
            .collect::<Result<_>>()?;
        // Per side: the runs sorted by entity, runs of one entity summed.
        let mut sides: [Runs; 2] = [Vec::new(), Vec::new()];
        for p in &parts {
            sides[p.0].extend(p.3.iter().copied());
        }
        sides.par_iter_mut().for_each(|v| {
            v.par_sort_unstable_by_key(|r| r.0);
            v.dedup_by(|next, kept| {
                if next.0 == kept.0 {
                    kept.1 = kept.1.wrapping_add(next.1);
                    true
                } else {
                    false
                }
            });
        });
        let mut here = KeySet::new();
        let mut mark = |k: u64| {
            here.insert(k);
            if changed.insert(k) {
                count += 1;
            }
        };
        let [a, b] = &sides;
        // A merge of the two sorted lists: an entity on one side only, or with other rows.
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            match (a.get(i), b.get(j)) {
                (Some(x), Some(y)) if x.0 == y.0 => {
                    if x.1 != y.1 {
                        mark(x.0);
                    }
                    i += 1;
                    j += 1;
                }
                (Some(x), Some(y)) if x.0 < y.0 => {
                    mark(x.0);
                    i += 1;
                }
                (Some(_), Some(y)) => {
                    mark(y.0);
                    j += 1;
                }
                (Some(x), None) => {
                    mark(x.0);
                    i += 1;
                }
                (None, Some(y)) => {
                    mark(y.0);
                    j += 1;
                }
                (None, None) => break,
            }
        }
        drop(sides);
        if owners.contains(&table.name) {
            continue;
        }
        let rows: Vec<(usize, Vec<RecordBatch>)> = parts
            .par_iter()
            .map(|(side, f, g, _, spans)| {
                select(f, *g, spans, &here)
                    .map(|b| (*side, b))
                    .map_err(err(f.path()))
            })
            .collect::<Result<_>>()?;
        for (side, b) in rows {
            copied[ti][side].extend(b);
        }
    }
    tracing::debug!(
        seconds = format!("{:.2}", t.elapsed().as_secs_f64()),
        "fingerprints compared"
    );
    // The owner tables: the rows of every entity found, by a row filter on the key.
    let changed = Arc::new(changed);
    let owner_jobs: Vec<&(usize, usize, Opened, usize)> = jobs
        .iter()
        .filter(|j| owners.contains(&TABLES[j.1].name))
        .collect();
    let parts: Vec<(usize, usize, Vec<RecordBatch>)> = owner_jobs
        .into_par_iter()
        .map(|(side, ti, f, g)| {
            extract(f, TABLES[*ti].key(), *g, &changed)
                .map(|b| (*side, *ti, b))
                .map_err(err(f.path()))
        })
        .collect::<Result<_>>()?;
    for (side, ti, b) in parts {
        copied[ti][side].extend(b);
    }
    for (side, (from, to)) in [(prev, &before), (new, &after)].into_iter().enumerate() {
        for (ti, t) in TABLES.iter().enumerate() {
            let src = file(from, t.name);
            let schema = pq::schema_of(&src).map_err(err(&src))?;
            let dst = file(to, t.name);
            write_with_schema(&dst, schema, &copied[ti][side]).map_err(err(&dst))?;
        }
    }
    Ok((before, after, count))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_tell_values_and_nulls_apart() {
        assert_ne!(hash_bytes(b""), NULL);
        assert_ne!(hash_bytes(b"ab"), hash_bytes(b"ba"));
        assert_eq!(hash_bytes(b"0200.065.765"), hash_bytes(b"0200.065.765"));
        // The sum is order-free: the same rows in another order give the same fingerprint.
        let rows = [hash_bytes(b"x"), hash_bytes(b"y"), hash_bytes(b"x")];
        let a = rows.iter().fold(0u64, |s, h| s.wrapping_add(mix(*h)));
        let b = rows.iter().rev().fold(0u64, |s, h| s.wrapping_add(mix(*h)));
        assert_eq!(a, b);
    }
}

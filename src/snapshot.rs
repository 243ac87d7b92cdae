//! The files of a snapshot folder that more than one stage reads, beyond the seven tables:
//! `main_activity.parquet` (written by `ingest`, read by `score` and the warehouse's `companies`
//! view): one row per entity with a MAIN activity, in number order — entity_number, nace_version,
//! nace_code, activity_group — chosen by the rule of [`kbo::activity`](crate::kbo::activity).

use crate::kbo::activity::{Dense, Distinct, MainActivity, Sorted};
use crate::kbo::number;
use crate::parquet_io::dict::{self, Append as _};
use crate::parquet_io::parallel::{ParallelWriter, RawRowGroup};
use crate::parquet_io::read::{self as pq, Opened};
use duckdb::arrow::array::{Array, ArrayRef, RecordBatch, StringBuilder};
use duckdb::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use rayon::prelude::*;
use std::ops::RangeInclusive;
use std::path::Path;
use std::sync::Arc;

pub const MAIN_ACTIVITY: &str = "main_activity.parquet";

const COLUMNS: [&str; 4] = [
    "entity_number",
    "nace_version",
    "nace_code",
    "activity_group",
];

/// Text columns; only the entity number is never NULL.
fn schema() -> SchemaRef {
    let fields: Vec<Field> = COLUMNS
        .iter()
        .map(|c| Field::new(*c, DataType::Utf8, *c != "entity_number"))
        .collect();
    Arc::new(Schema::new(fields))
}

/// The batches' schema: the file's, with the codes as dictionaries.
fn batch_schema() -> SchemaRef {
    let fields: Vec<Field> = COLUMNS
        .iter()
        .map(|c| match *c {
            "entity_number" => Field::new(*c, DataType::Utf8, false),
            _ => dict::field(c, true),
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// Rows per row group of `main_activity.parquet` for snapshot tables of `table_rows` rows per
/// group: an eighth. Small, because an Update copies the groups with no touched entity and a daily
/// Update touches a few hundred entities spread over the whole number range (2 M enterprises, 200
/// touched: at 32 k rows 83 % of the 113 groups would be hit; at 4 k, 20 %).
pub fn main_activity_group_rows(table_rows: usize) -> usize {
    (table_rows / 8).max(1)
}

/// Writes the main activities (in number order) to `path`: batches of one row group each, encoded
/// on worker threads (zstd level 1, chunk statistics, no dictionary for the entity numbers).
pub fn write_main_activity(path: &Path, rows: &Sorted, group_rows: usize) -> Result<(), String> {
    write_rows(path, rows.iter(), group_rows)
}

fn write_rows(
    path: &Path,
    rows: impl Iterator<Item = (u64, MainActivity)>,
    group_rows: usize,
) -> Result<(), String> {
    let err = |e: parquet::errors::ParquetError| format!("{}: {e}", path.display());
    let mut w = main_activity_writer(path, group_rows)?;
    let group_rows = group_rows.max(1);
    // A few row groups' batches built at a time, in parallel, then handed over in order (the
    // writer encodes them on its own threads).
    let window = rayon::current_num_threads().max(1) * 2;
    let mut it = rows.peekable();
    while it.peek().is_some() {
        let chunks: Vec<Vec<(u64, MainActivity)>> = (0..window)
            .map(|_| it.by_ref().take(group_rows).collect::<Vec<_>>())
            .take_while(|c| !c.is_empty())
            .collect();
        let batches: Vec<RecordBatch> = chunks
            .par_iter()
            .map(|c| batch(c))
            .collect::<Result<_, String>>()?;
        for b in batches {
            w.write(b).map_err(err)?;
        }
    }
    w.close().map_err(err)?;
    Ok(())
}

/// zstd level 1, chunk statistics (an Update reads each row group's first entity from them), no
/// dictionary for the entity numbers; row groups encoded on worker threads.
fn main_activity_writer(path: &Path, group_rows: usize) -> Result<ParallelWriter, String> {
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap_or_default()))
        .set_created_by(format!("bce {}", env!("CARGO_PKG_VERSION")))
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_column_dictionary_enabled("entity_number".into(), false)
        .build();
    let fh = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    ParallelWriter::for_file(fh, schema(), props, group_rows)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The batch of `chunk`: the codes as dictionary arrays (a few distinct values a row group),
/// which the writer stores as Parquet dictionaries from their keys ([`crate::parquet_io::dict`]).
fn batch(chunk: &[(u64, MainActivity)]) -> Result<RecordBatch, String> {
    let n = chunk.len();
    let mut e = StringBuilder::with_capacity(n, n * 13);
    let mut codes: [dict::Builder; 3] = std::array::from_fn(|_| dict::Builder::with_capacity(n));
    for (num, m) in chunk {
        e.append_value(number::Shown::of(*num).as_str());
        for (b, x) in codes.iter_mut().zip([m.version, m.code, m.group]) {
            if x.is_empty() {
                b.append_null();
            } else {
                b.append_bytes(x.as_bytes());
            }
        }
    }
    let mut cols: Vec<ArrayRef> = vec![Arc::new(e.finish())];
    cols.extend(codes.map(|b| Arc::new(b.finish()) as ArrayRef));
    RecordBatch::try_new(batch_schema(), cols).map_err(|e| e.to_string())
}

/// Calls `f` on the rows of row groups `groups`, in file order.
fn each_row(
    file: &Opened,
    groups: &[usize],
    mut f: impl FnMut(u64, MainActivity),
) -> Result<(), String> {
    let path = file.path();
    let dict = ["nace_version", "activity_group"];
    file.each_batch(&COLUMNS, &dict, groups.iter().copied(), |b| {
        let e = pq::strings(b, "entity_number")?;
        let v = pq::strings(b, "nace_version")?;
        let c = pq::strings(b, "nace_code")?;
        let gr = pq::strings(b, "activity_group")?;
        for i in 0..b.num_rows() {
            let Some(n) = e
                .get(i)
                .and_then(|s| number::parse(s.as_bytes(), None).ok())
            else {
                return Err(format!("{}: row {i}: not an entity number", path.display()));
            };
            let m = MainActivity::new(
                v.get(i).unwrap_or(""),
                gr.get(i).unwrap_or(""),
                c.get(i).unwrap_or(""),
            );
            f(n, m);
        }
        Ok(())
    })
}

/// Folds the rows of `main_activity.parquet` (entity, main activity) whose entity is in `span`,
/// runs of row groups in parallel: one accumulator per run (a few per thread: the groups are
/// small), from `init`, returned in file order. Only the groups that cover numbers of `span` are
/// read ([`groups_in`]); their rows outside `span` are passed on as well.
pub fn fold_main_activity<A: Send>(
    path: &Path,
    span: RangeInclusive<u64>,
    init: impl Fn() -> A + Sync,
    f: impl Fn(&mut A, u64, MainActivity) + Sync,
) -> Result<Vec<A>, String> {
    let file = Opened::open(path)?;
    let groups = groups_in(&file, &span)?;
    groups
        .par_chunks(per_run(groups.len()))
        .map(|run| -> Result<A, String> {
            let mut acc = init();
            each_row(&file, run, |n, m| f(&mut acc, n, m))?;
            Ok(acc)
        })
        .collect()
}

/// The main activities of `main_activity.parquet` by key, for the entities of `span` to which
/// `key_of` gives a key below `n` (the scores: an enterprise's row in the enterprise table). The
/// file has one row an entity, so there is no best to choose and nothing to sort; the codes are
/// read as the file's dictionaries, and each distinct (version, group, code) of a batch is made
/// and looked up once.
pub fn main_activity_by_key(
    path: &Path,
    span: RangeInclusive<u64>,
    n: usize,
    key_of: impl Fn(u64) -> Option<u32> + Sync,
) -> Result<Dense, String> {
    let file = Opened::open(path)?;
    let groups = groups_in(&file, &span)?;
    let parts = groups
        .par_chunks(per_run(groups.len()))
        .map(|run| -> Result<(Distinct, Vec<(u32, u32)>), String> {
            let mut distinct = Distinct::default();
            let mut rows = Vec::new();
            file.each_batch(&COLUMNS, &COLUMNS[1..], run.iter().copied(), |b| {
                let e = pq::strings(b, "entity_number")?;
                let cols = [
                    pq::strings(b, "nace_version")?,
                    pq::strings(b, "activity_group")?,
                    pq::strings(b, "nace_code")?,
                ];
                let mut memo = Memo::of(&cols);
                for i in 0..b.num_rows() {
                    let Some(num) = e
                        .get(i)
                        .and_then(|s| number::parse(s.as_bytes(), None).ok())
                    else {
                        return Err(format!(
                            "{}: row {i}: not an entity number",
                            file.path().display()
                        ));
                    };
                    if let Some(k) = key_of(num) {
                        rows.push((k, memo.id(&cols, i, &mut distinct)));
                    }
                }
                Ok(())
            })?;
            Ok((distinct, rows))
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Dense::from_parts(parts, n))
}

/// Ids of a batch's (version, group, code), made once for each triple of dictionary keys (a NULL
/// is the key after the last); row by row when a column is not a dictionary.
struct Memo {
    /// The three dictionaries' sizes, NULL included.
    dims: Option<[usize; 3]>,
    ids: Vec<u32>,
}

impl Memo {
    fn of(cols: &[pq::StrCol; 3]) -> Memo {
        let size = |c: &pq::StrCol| match c {
            pq::StrCol::Dict(_, v) => Some(v.len() + 1),
            _ => None,
        };
        let dims = match (size(&cols[0]), size(&cols[1]), size(&cols[2])) {
            // Codes repeat: a few versions, a few groups, a few thousand codes.
            (Some(a), Some(b), Some(c)) if a * b * c <= 1 << 20 => Some([a, b, c]),
            _ => None,
        };
        let ids = vec![u32::MAX; dims.map_or(0, |[a, b, c]| a * b * c)];
        Memo { dims, ids }
    }

    fn id(&mut self, cols: &[pq::StrCol; 3], i: usize, d: &mut Distinct) -> u32 {
        let make = |d: &mut Distinct| {
            let [v, g, c] = cols.each_ref().map(|c| c.get(i).unwrap_or(""));
            d.id(MainActivity::new(v, g, c))
        };
        let Some([_, b, c]) = self.dims else {
            return make(d);
        };
        let key = |col: &pq::StrCol| match col {
            pq::StrCol::Dict(k, _) if k.is_valid(i) => k.value(i) as usize,
            pq::StrCol::Dict(_, v) => v.len(),
            _ => 0,
        };
        let slot = (key(&cols[0]) * b + key(&cols[1])) * c + key(&cols[2]);
        match self.ids.get(slot) {
            Some(&id) if id != u32::MAX => id,
            _ => {
                let id = make(d);
                if let Some(s) = self.ids.get_mut(slot) {
                    *s = id;
                }
                id
            }
        }
    }
}

/// Row groups a run, for runs in parallel: a few runs a thread (the groups are small).
fn per_run(groups: usize) -> usize {
    groups
        .div_ceil(rayon::current_num_threads().max(1) * 4)
        .max(1)
}

/// The row groups of a file in number order that cover numbers of `span`: group g covers its
/// first entity up to the next group's first (unknown: no bound). The scores want the
/// enterprises, numbers from 0 and 1, before every establishment's (KBO cookbook).
fn groups_in(file: &Opened, span: &RangeInclusive<u64>) -> Result<Vec<usize>, String> {
    let firsts = (0..file.row_groups())
        .map(|g| first_entity(file, g))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((0..file.row_groups())
        .filter(|&g| {
            let from = firsts[g].unwrap_or(0);
            let to = firsts.get(g + 1).copied().flatten().unwrap_or(u64::MAX);
            from <= *span.end() && to >= *span.start()
        })
        .collect())
}

/// The first entity of row group `g` (the file is in number order): its exact minimum from the
/// statistics, else read.
fn first_entity(file: &Opened, g: usize) -> Result<Option<u64>, String> {
    let group = file.metadata().metadata().row_group(g);
    let stats = group
        .columns()
        .iter()
        .find(|c| c.column_path().string() == "entity_number")
        .and_then(|c| c.statistics());
    if let Some(n) = stats
        .filter(|s| s.min_is_exact())
        .and_then(|s| s.min_bytes_opt())
        .and_then(|b| number::parse(b, None).ok())
    {
        return Ok(Some(n));
    }
    let b = file.read(&["entity_number"], &[], Some(vec![g]))?;
    Ok(b.first()
        .and_then(|b| pq::strings(b, "entity_number").ok()?.get(0))
        .and_then(|s| number::parse(s.as_bytes(), None).ok()))
}

/// Snapshot N's `main_activity.parquet` (`out`) from N−1's (`base`): the rows of the entities
/// in `touched` (in number order) are replaced by `fresh` (the main activities of touched
/// entities in N, in number order; a touched entity without one has no row).
///
/// The file is in number order, so row group g covers the entities from its first one to the
/// next group's first. A group whose cover holds no touched entity is copied as it is (its
/// compressed bytes); the others are read, merged with the fresh rows of their cover and encoded
/// again, as one row group each, so that group sizes stay as they were (a group far larger than
/// `group_rows`, from an earlier bce, is split).
pub fn update_main_activity(
    base: &Path,
    out: &Path,
    touched: &[u64],
    fresh: &[(u64, MainActivity)],
    group_rows: usize,
) -> Result<(), String> {
    let err = |e: parquet::errors::ParquetError| format!("{}: {e}", out.display());
    let file = Opened::open_with_page_index(base)?;
    let groups = file.row_groups();
    let firsts: Vec<Option<u64>> = (0..groups)
        .into_par_iter()
        .map(|g| first_entity(&file, g))
        .collect::<Result<_, String>>()?;
    // The rows of some groups without the touched entities, with `fresh` rows, in number order.
    let merged = |groups: std::ops::Range<usize>, fresh: &[(u64, MainActivity)]| {
        let mut rows: Vec<(u64, MainActivity)> = Vec::new();
        let groups: Vec<usize> = groups.collect();
        each_row(&file, &groups, |n, m| {
            if touched.binary_search(&n).is_err() {
                rows.push((n, m));
            }
        })?;
        rows.extend_from_slice(fresh);
        rows.sort_by_key(|r| r.0);
        Ok::<_, String>(rows)
    };
    if groups == 0 || firsts.iter().any(Option::is_none) {
        // No groups, or one without a first entity (empty, or unreadable): no covers; every
        // row is read.
        let rows = merged(0..groups, fresh)?;
        return write_rows(out, rows.into_iter(), group_rows);
    }
    // Group g's cover starts at its first entity (the first group's at 0) and ends where the
    // next group's starts (the last group's never).
    let starts: Vec<u64> = (0..groups)
        .map(|g| if g == 0 { 0 } else { firsts[g].unwrap_or(0) })
        .collect();
    let cover = |g: usize| starts[g]..starts.get(g + 1).copied().unwrap_or(u64::MAX);
    let group_of = |n: u64| starts.partition_point(|s| *s <= n).saturating_sub(1);
    let mut hit = vec![false; groups];
    for n in touched {
        if let Some(h) = hit.get_mut(group_of(*n)) {
            *h = true;
        }
    }
    let in_range = |r: std::ops::Range<u64>| {
        let (a, b) = (
            fresh.partition_point(|x| x.0 < r.start),
            fresh.partition_point(|x| x.0 < r.end),
        );
        &fresh[a..b]
    };
    let mut w = main_activity_writer(out, group_rows)?;
    for (g, hit) in hit.iter().enumerate() {
        let new_rows = in_range(cover(g));
        if !hit && new_rows.is_empty() {
            w.copy_row_group(RawRowGroup {
                path: base.to_path_buf(),
                meta: file.metadata().metadata().clone(),
                index: g,
            })
            .map_err(err)?;
            continue;
        }
        let rows = merged(g..g + 1, new_rows)?;
        // One group, unless it is far larger than the setting (a file written with larger
        // groups, by an earlier bce, gets smaller ones as its groups are rewritten).
        let per_group = if rows.len() > 2 * group_rows.max(1) {
            group_rows.max(1)
        } else {
            rows.len().max(1)
        };
        for chunk in rows.chunks(per_group) {
            w.write(batch(chunk)?).map_err(err)?;
            w.end_row_group().map_err(err)?;
        }
    }
    w.close().map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kbo::activity::MainActivities;
    use proptest::prelude::*;

    const KINDS: [(&str, &str, &str); 5] = [
        ("2025", "001", "62100"),
        ("2008", "001", "4711001"),
        ("2025", "006", "01110"),
        ("2003", "", "52110"),
        // The first's version and code in another group.
        ("2025", "006", "62100"),
    ];

    fn sorted(rows: &[(u64, usize)]) -> Sorted {
        let mut acc = MainActivities::new();
        for (n, k) in rows {
            let (v, g, c) = KINDS[*k];
            acc.add(*n, MainActivity::new(v, g, c));
        }
        acc.into_sorted()
    }

    fn read_back(path: &Path) -> Vec<(u64, MainActivity)> {
        fold_main_activity(path, 0..=u64::MAX, Vec::new, |v, n, m| v.push((n, m)))
            .unwrap_or_default()
            .concat()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// An Update of the file (row groups copied where nothing is touched) gives the rows a
        /// rewrite from scratch gives: the base's without the touched entities, plus the fresh
        /// ones, in number order. Numbers of all kinds (enterprises and establishments).
        #[test]
        fn an_update_equals_a_rewrite(
            base in proptest::collection::btree_map(0u32..400, 0usize..4, 0..120),
            touched in proptest::collection::btree_set(0u32..400, 0..12),
            fresh_kind in proptest::collection::vec(proptest::option::of(0usize..4), 12),
            group_rows in 1usize..9,
        ) {
            // Bases 0–199 are enterprises, 200–399 establishments (20 000 000 and up).
            let num = |b: u32| number::with_check_digits(if b < 200 { b * 7 } else { 20_000_000 + b });
            let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
            let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
            let base_rows: Vec<(u64, usize)> = base.iter().map(|(b, k)| (num(*b), *k)).collect();
            write_main_activity(&a, &sorted(&base_rows), group_rows)
                .map_err(TestCaseError::fail)?;
            let mut touched_n: Vec<u64> = touched.iter().map(|b| num(*b)).collect();
            touched_n.sort_unstable();
            let fresh_rows: Vec<(u64, usize)> = touched_n
                .iter()
                .zip(&fresh_kind)
                .filter_map(|(n, k)| k.map(|k| (*n, k)))
                .collect();
            let fresh: Vec<(u64, MainActivity)> = sorted(&fresh_rows).iter().collect();
            update_main_activity(&a, &b, &touched_n, &fresh, group_rows)
                .map_err(TestCaseError::fail)?;
            let mut expected: Vec<(u64, usize)> = base_rows
                .iter()
                .filter(|(n, _)| touched_n.binary_search(n).is_err())
                .copied()
                .chain(fresh_rows.iter().copied())
                .collect();
            expected.sort_unstable();
            let expected: Vec<(u64, MainActivity)> = sorted(&expected).iter().collect();
            prop_assert_eq!(read_back(&b), expected);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// Folding over a span passes every row of the span (and maybe rows near it, of the
        /// groups it touches), in order; a span of enterprise numbers skips the groups of
        /// establishments only.
        #[test]
        fn a_span_passes_its_rows(
            rows in proptest::collection::btree_map(0u32..400, 0usize..4, 1..120),
            group_rows in 1usize..9,
            (lo, hi) in (0u32..400, 0u32..400),
        ) {
            // Bases 0–199 are enterprises, 200–399 establishments (20 000 000 and up).
            let num = |b: u32| number::with_check_digits(if b < 200 { b * 7 } else { 20_000_000 + b });
            let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
            let path = dir.path().join("m.parquet");
            let all: Vec<(u64, usize)> = rows.iter().map(|(b, k)| (num(*b), *k)).collect();
            write_main_activity(&path, &sorted(&all), group_rows).map_err(TestCaseError::fail)?;
            let span = num(lo.min(hi))..=num(lo.max(hi));
            let passed: Vec<(u64, MainActivity)> =
                fold_main_activity(&path, span.clone(), Vec::new, |v, n, m| v.push((n, m)))
                    .map_err(TestCaseError::fail)?
                    .concat();
            let everything = read_back(&path);
            let inside = |v: &[(u64, MainActivity)]| -> Vec<(u64, MainActivity)> {
                v.iter().filter(|(n, _)| span.contains(n)).copied().collect()
            };
            prop_assert_eq!(inside(&passed), inside(&everything));
            prop_assert!(passed.windows(2).all(|w| w[0].0 < w[1].0));
            // Whole groups only beyond the span: at most a group's rows on either side.
            let outside = passed.len() - inside(&passed).len();
            prop_assert!(outside <= 2 * group_rows, "{} rows outside", outside);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// By key, the file's main activities are those its rows give: every keyed entity of
        /// the span has its own, the others none; NULL groups, and files whose code columns are
        /// plain text (no dictionaries), included.
        #[test]
        fn by_key_is_the_rows_by_key(
            rows in proptest::collection::btree_map(0u32..400, 0usize..5, 0..120),
            keyed in proptest::collection::btree_set(0u32..400, 0..60),
            group_rows in 1usize..9,
            plain in any::<bool>(),
        ) {
            let num = |b: u32| number::with_check_digits(if b < 200 { b * 7 } else { 20_000_000 + b });
            let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
            let path = dir.path().join("m.parquet");
            let all: Vec<(u64, usize)> = rows.iter().map(|(b, k)| (num(*b), *k)).collect();
            if plain {
                plain_file(&path, &sorted(&all), group_rows);
            } else {
                write_main_activity(&path, &sorted(&all), group_rows)
                    .map_err(TestCaseError::fail)?;
            }
            // Keys: the keyed enterprises (bases below 200) in number order; one key past `n`.
            let keys: Vec<u64> = keyed.iter().filter(|b| **b < 200).map(|b| num(*b)).collect();
            let n = keys.len().saturating_sub(1);
            let span = keys.first().copied().unwrap_or(1)..=keys.last().copied().unwrap_or(0);
            let dense = main_activity_by_key(&path, span, n, |x| {
                keys.iter().position(|k| *k == x).map(|p| p as u32)
            })
            .map_err(TestCaseError::fail)?;
            let by_number: std::collections::BTreeMap<u64, MainActivity> =
                read_back(&path).into_iter().collect();
            for (k, x) in keys.iter().enumerate().take(n) {
                prop_assert_eq!(dense.get(k), by_number.get(x));
            }
            prop_assert_eq!(dense.get(n), None);
        }
    }

    /// `main_activity.parquet` as an earlier writer could have made it: every column plain text.
    fn plain_file(path: &Path, rows: &Sorted, group_rows: usize) {
        let cols: Vec<ArrayRef> = (0..4)
            .map(|c| {
                let mut b = StringBuilder::new();
                for (n, m) in rows.iter() {
                    let v = [
                        number::Shown::of(n).as_str().to_string(),
                        m.version.to_string(),
                        m.code.to_string(),
                        m.group.to_string(),
                    ];
                    if v[c].is_empty() {
                        b.append_null()
                    } else {
                        b.append_value(&v[c])
                    }
                }
                Arc::new(b.finish()) as ArrayRef
            })
            .collect();
        let batch = RecordBatch::try_new(schema(), cols).unwrap();
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(group_rows.max(1)))
            .set_dictionary_enabled(false)
            .set_statistics_enabled(EnabledStatistics::Chunk)
            .build();
        let fh = std::fs::File::create(path).unwrap();
        let mut w = parquet::arrow::ArrowWriter::try_new(fh, schema(), Some(props)).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }

    /// A file with larger groups than the setting (an earlier bce's) gets groups of the setting
    /// where it is rewritten, and keeps its rows.
    #[test]
    fn rewritten_large_groups_are_split() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
        let rows: Vec<(u64, usize)> = (0..100)
            .map(|i| (number::with_check_digits(1000 + i * 3), (i % 4) as usize))
            .collect();
        write_main_activity(&a, &sorted(&rows), 50).unwrap();
        let touched = [number::with_check_digits(1000)];
        update_main_activity(&a, &b, &touched, &[], 8).unwrap();
        let expected: Vec<(u64, MainActivity)> = sorted(&rows[1..]).iter().collect();
        assert_eq!(read_back(&b), expected);
        let m = Opened::open(&b).unwrap();
        // The first group (49 rows left) in groups of 8, the untouched second one as it was.
        let sizes: Vec<u64> = (0..m.row_groups()).map(|g| m.row_group_rows(g)).collect();
        assert_eq!(sizes, vec![8, 8, 8, 8, 8, 8, 1, 50]);
    }

    /// Nothing touched: every row group is copied, the rows and the groups are the base's.
    #[test]
    fn an_empty_update_copies_every_row_group() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
        let rows: Vec<(u64, usize)> = (0..50)
            .map(|i| (number::with_check_digits(1000 + i * 3), (i % 4) as usize))
            .collect();
        write_main_activity(&a, &sorted(&rows), 8).unwrap();
        update_main_activity(&a, &b, &[], &[], 8).unwrap();
        assert_eq!(read_back(&a), read_back(&b));
        let (ma, mb) = (Opened::open(&a).unwrap(), Opened::open(&b).unwrap());
        assert_eq!(ma.row_groups(), 7);
        assert_eq!(mb.row_groups(), 7);
        // The first entity of each group comes from the statistics, exact, without a read.
        for g in 0..7 {
            let stats = ma.metadata().metadata().row_group(g).columns()[0].statistics();
            let min = stats
                .filter(|s| s.min_is_exact())
                .and_then(|s| s.min_bytes_opt());
            let first = number::with_check_digits(1000 + g as u32 * 8 * 3);
            assert_eq!(min, Some(number::display(first).as_bytes()));
        }
        for g in 0..7 {
            let (ga, gb) = (
                ma.metadata().metadata().row_group(g),
                mb.metadata().metadata().row_group(g),
            );
            assert_eq!(ga.num_rows(), gb.num_rows());
            assert_eq!(ga.compressed_size(), gb.compressed_size());
        }
    }
}

//! `main_activity.parquet`: the main activity of every entity of a snapshot (the rule is
//! [`kbo::activity`]), one row per entity in number order — entity_number, nace_version,
//! nace_code, activity_group. A Full ingest derives it from the typed activity batches, on a
//! thread beside the typing; an Update keeps the previous snapshot's rows except for the entities
//! whose activity rows it touched, which are derived again from their rows in the new snapshot.
//! Readers (the `companies` view, the payment-risk sector) never scan the 37 M activity rows for
//! it. In memory: 16 bytes an entity (an id into the distinct main activities).
//!
//! Invariant: the file equals what a Full ingest of the same snapshot would derive (tests/events.rs
//! compares both paths).

use crate::kbo::activity::{Code, MainActivities, MainActivity, Sorted};
use crate::kbo::number;
use crate::parquet_io::dict;
use crate::parquet_io::read::{self as pq, Opened};
use crate::snapshot::{update_main_activity, write_main_activity as write};
use duckdb::arrow::array::{Array, AsArray, PrimitiveArray, RecordBatch, StringArray};
use duckdb::arrow::datatypes::Int32Type;
use rayon::prelude::*;
use std::borrow::Cow;
use std::path::Path;

pub use crate::snapshot::MAIN_ACTIVITY;

/// Feeds the rows of an activity batch (the snapshot's columns, or the typed batches of an ingest,
/// whose codes are dictionary arrays) to `acc`.
pub fn observe(acc: &mut MainActivities, b: &RecordBatch) -> Result<(), String> {
    let mut ent = Entities::of(pq::strings(b, "entity_number")?);
    if let Some(keyed) = Keyed::of(b) {
        keyed.feed(acc, &mut ent);
        return Ok(());
    }
    let class = Codes::of(b, "classification")?;
    let (ver, grp, code) = (
        Codes::of(b, "nace_version")?,
        Codes::of(b, "activity_group")?,
        Codes::of(b, "nace_code")?,
    );
    let main = Code::new("MAIN");
    for i in 0..b.num_rows() {
        if class.get(i) != main {
            continue;
        }
        if let Some(n) = ent.at(i) {
            let m = MainActivity {
                version: ver.get(i),
                group: grp.get(i),
                code: code.get(i),
            };
            acc.add(n, m);
        }
    }
    Ok(())
}

/// The entity numbers of a batch, each parsed once a run: a row whose dictionary key (or text)
/// is the row before's takes its number.
struct Entities<'a> {
    col: EntityCol<'a>,
    last_key: i32,
    last_text: &'a str,
    number: Option<u64>,
}

enum EntityCol<'a> {
    /// A dictionary without NULLs (the typed batches of an ingest).
    Keys(&'a [i32], &'a StringArray),
    Text(pq::StrCol<'a>),
}

impl<'a> Entities<'a> {
    fn of(col: pq::StrCol<'a>) -> Entities<'a> {
        let col = match col {
            pq::StrCol::Dict(keys, values) if keys.null_count() == 0 => {
                EntityCol::Keys(keys.values(), values)
            }
            col => EntityCol::Text(col),
        };
        Entities {
            col,
            last_key: -1,
            last_text: "",
            number: None,
        }
    }

    #[inline]
    fn at(&mut self, i: usize) -> Option<u64> {
        let parse = |s: &str| number::parse(s.as_bytes(), None).ok();
        match &self.col {
            EntityCol::Keys(keys, values) => {
                let key = *keys.get(i)?;
                if key != self.last_key {
                    self.last_key = key;
                    self.number = parse(values.value(key as usize));
                }
            }
            EntityCol::Text(col) => {
                let s = col.get(i)?;
                if self.last_text.is_empty() || !dict::same(s.as_bytes(), self.last_text.as_bytes())
                {
                    self.last_text = s;
                    self.number = parse(s);
                }
            }
        }
        self.number
    }
}

/// A batch whose four code columns are dictionaries of values of up to 7 bytes (the typed batches
/// of an ingest, the snapshot read with dictionaries): a row is compared by its keys' places in
/// the rule's order (three integers), and [`MainActivity`]s are made once an entity, for its
/// best row — not three [`Code`]s a row compared byte by byte (BENCHMARKS.md).
struct Keyed<'a> {
    /// Per row, the keys of classification, version, group and code (a NULL: the dictionary's
    /// length, one past its last entry).
    keys: [Cow<'a, [i32]>; 4],
    values: [&'a StringArray; 4],
    /// The key of `MAIN` in the classification dictionary.
    main: i32,
    /// Per key of version, group and code (NULL included): its place in the rule's order.
    order: [Vec<u64>; 3],
}

/// A code of up to 7 bytes as a `u64` that orders as its bytes do: the bytes from the top, then
/// the length (so that a prefix, or a value ending in NUL bytes, orders before the longer value).
fn ordinal(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() > 7 {
        return None;
    }
    let mut w = [0u8; 8];
    w[..b.len()].copy_from_slice(b);
    w[7] = b.len() as u8;
    Some(u64::from_be_bytes(w))
}

impl<'a> Keyed<'a> {
    /// `None` when a code column is not such a dictionary.
    fn of(b: &'a RecordBatch) -> Option<Keyed<'a>> {
        let col = |name: &str| -> Option<(Cow<'a, [i32]>, &'a StringArray)> {
            let d = b.column_by_name(name)?.as_dictionary_opt::<Int32Type>()?;
            let values = d.values().as_string_opt::<i32>()?;
            if values.null_count() > 0 {
                return None;
            }
            let keys = d.keys();
            let keys = match keys.nulls() {
                None => Cow::Borrowed(&keys.values()[..]),
                Some(_) => {
                    let null = i32::try_from(values.len()).ok()?;
                    Cow::Owned(keys.iter().map(|k| k.unwrap_or(null)).collect())
                }
            };
            Some((keys, values))
        };
        let [class, ver, grp, code] = [
            "classification",
            "nace_version",
            "activity_group",
            "nace_code",
        ]
        .map(col);
        let (class, ver, grp, code) = (class?, ver?, grp?, code?);
        let ordinals = |v: &StringArray, newest_first: bool| -> Option<Vec<u64>> {
            // One more entry: NULL, the empty code.
            let mut o: Vec<u64> = (0..v.len())
                .map(|i| ordinal(v.value(i)))
                .chain([ordinal("")])
                .collect::<Option<_>>()?;
            if newest_first {
                o.iter_mut().for_each(|x| *x = !*x);
            }
            Some(o)
        };
        let order = [
            ordinals(ver.1, true)?,
            ordinals(grp.1, false)?,
            ordinals(code.1, false)?,
        ];
        let main = (0..class.1.len())
            .find(|&i| class.1.value(i) == "MAIN")
            .and_then(|i| i32::try_from(i).ok())
            .unwrap_or(-1);
        Some(Keyed {
            values: [class.1, ver.1, grp.1, code.1],
            keys: [class.0, ver.0, grp.0, code.0],
            main,
            order,
        })
    }

    /// The code of column `c` (1: version, 2: group, 3: code) at row `i`.
    fn code(&self, c: usize, i: usize) -> Code {
        let v = self.values[c];
        match self.keys[c].get(i) {
            Some(&k) if (k as usize) < v.len() => Code::new(v.value(k as usize)),
            _ => Code::default(),
        }
    }

    fn feed(&self, acc: &mut MainActivities, ent: &mut Entities) {
        if self.main < 0 {
            return;
        }
        let [class, ver, grp, code] = &self.keys;
        let [ov, og, oc] = &self.order;
        let place = |k: i32, o: &[u64]| o.get(k as usize).copied().unwrap_or(u64::MAX);
        let settle = |acc: &mut MainActivities, e: u64, i: usize| {
            let m = MainActivity {
                version: self.code(1, i),
                group: self.code(2, i),
                code: self.code(3, i),
            };
            acc.add(e, m);
        };
        // The entity being read, its best row so far and that row's place in the order.
        let mut best: Option<(u64, usize, (u64, u64, u64))> = None;
        let rows = class
            .iter()
            .zip(ver.iter())
            .zip(grp.iter().zip(code.iter()));
        for (i, ((&c, &v), (&g, &k))) in rows.enumerate() {
            if c != self.main {
                continue;
            }
            let Some(e) = ent.at(i) else {
                continue;
            };
            let p = (place(v, ov), place(g, og), place(k, oc));
            match &mut best {
                Some((be, bi, bp)) if *be == e => {
                    if p < *bp {
                        (*bi, *bp) = (i, p);
                    }
                }
                _ => {
                    if let Some((e, i, _)) = best.take() {
                        settle(acc, e, i);
                    }
                    best = Some((e, i, p));
                }
            }
        }
        if let Some((e, i, _)) = best {
            settle(acc, e, i);
        }
    }
}

/// A code column of a batch as [`Code`]s: a dictionary's distinct values made `Code`s once, or
/// strings one row at a time. A NULL is the empty code.
enum Codes<'a> {
    Dict(&'a PrimitiveArray<Int32Type>, Vec<Code>),
    Text(pq::StrCol<'a>),
}

impl<'a> Codes<'a> {
    fn of(b: &'a RecordBatch, name: &str) -> Result<Codes<'a>, String> {
        let dict = b
            .column_by_name(name)
            .and_then(|c| c.as_dictionary_opt::<Int32Type>());
        if let Some(d) = dict {
            if let Some(v) = d.values().as_string_opt::<i32>() {
                let codes = v.iter().map(|s| Code::new(s.unwrap_or(""))).collect();
                return Ok(Codes::Dict(d.keys(), codes));
            }
        }
        pq::strings(b, name).map(Codes::Text)
    }

    fn get(&self, i: usize) -> Code {
        match self {
            Codes::Dict(keys, codes) if keys.is_valid(i) => codes
                .get(keys.value(i) as usize)
                .copied()
                .unwrap_or_default(),
            Codes::Dict(..) => Code::default(),
            Codes::Text(s) => s.get(i).map(Code::new).unwrap_or_default(),
        }
    }
}

/// The main activities of batches a caller is busy producing, derived on a thread of their own:
/// the activity table's typing thread is the longest path of a Full ingest, so it only hands the
/// batches over (an `Arc` clone each).
pub struct Background {
    tx: Option<std::sync::mpsc::SyncSender<RecordBatch>>,
    thread: std::thread::JoinHandle<Result<MainActivities, String>>,
}

impl Background {
    pub fn spawn() -> Background {
        let (tx, rx) = std::sync::mpsc::sync_channel::<RecordBatch>(8);
        let thread = std::thread::spawn(move || {
            let mut acc = MainActivities::new();
            for b in rx {
                observe(&mut acc, &b)?;
            }
            Ok(acc)
        });
        Background {
            tx: Some(tx),
            thread,
        }
    }

    /// Hands a batch over; an error of the thread is reported by [`Background::finish`].
    pub fn observe(&self, b: &RecordBatch) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(b.clone());
        }
    }

    /// Every entity's main activity, in number order.
    pub fn finish(mut self) -> Result<Sorted, String> {
        self.tx = None;
        match self.thread.join() {
            Ok(acc) => Ok(acc?.into_sorted()),
            Err(_) => Err("the main-activity thread panicked".into()),
        }
    }
}

/// Derives the main activities from an activity Parquet file (row groups in parallel).
pub fn derive(activity: &Path) -> Result<MainActivities, String> {
    let file = Opened::open(activity)?;
    let cols = [
        "entity_number",
        "activity_group",
        "nace_version",
        "nace_code",
        "classification",
    ];
    let dict = [
        "activity_group",
        "nace_version",
        "nace_code",
        "classification",
    ];
    (0..file.row_groups())
        .into_par_iter()
        .map(|g| -> Result<MainActivities, String> {
            let mut acc = MainActivities::new();
            for b in file.read(&cols, &dict, Some(vec![g]))? {
                observe(&mut acc, &b)?;
            }
            Ok(acc)
        })
        .try_reduce(MainActivities::new, |mut a, b| {
            a.merge(b);
            Ok(a)
        })
}

/// Writes `snapshot/main_activity.parquet` if it is missing (a snapshot written by an earlier bce),
/// under a temporary name renamed into place. True when it was written.
pub fn ensure(snapshot: &Path) -> Result<bool, String> {
    let path = snapshot.join(MAIN_ACTIVITY);
    if path.exists() {
        return Ok(false);
    }
    tracing::info!(snapshot = %snapshot.display(), "deriving main_activity.parquet (a snapshot of an earlier bce)");
    let rows = derive(&snapshot.join("activity.parquet"))?.into_sorted();
    let tmp = snapshot.join(format!(".{MAIN_ACTIVITY}.tmp"));
    write(
        &tmp,
        &rows,
        crate::snapshot::main_activity_group_rows(super::DEFAULT_ROW_GROUP_ROWS),
    )?;
    std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(true)
}

/// Snapshot N's main activities after an Update: those of `base` (snapshot N−1) but for the
/// entities with rows in `before` or `after` (the touched activity rows in N−1 and in N), which
/// are derived from their rows in `after` (all their rows in N).
pub fn updated(
    base: &Path,
    before: &Path,
    after: &Path,
    out: &Path,
    group_rows: usize,
) -> Result<(), String> {
    ensure(base)?;
    let t = std::time::Instant::now();
    let after = pq::read_all(after)?;
    let before = pq::read(before, &["entity_number"], None)?;
    let mut touched = Vec::new();
    for b in before.iter().chain(&after) {
        let e = pq::strings(b, "entity_number")?;
        let mut numbers = number::RunParser::default();
        touched.extend((0..b.num_rows()).filter_map(|i| e.get(i).and_then(|s| numbers.parse(s))));
    }
    touched.sort_unstable();
    touched.dedup();
    let mut acc = MainActivities::new();
    for b in &after {
        observe(&mut acc, b)?;
    }
    let fresh: Vec<_> = acc.into_sorted().iter().collect();
    update_main_activity(
        &base.join(MAIN_ACTIVITY),
        &out.join(MAIN_ACTIVITY),
        &touched,
        &fresh,
        group_rows,
    )?;
    tracing::debug!(
        entities = touched.len(),
        seconds = format!("{:.2}", t.elapsed().as_secs_f64()),
        "main activities of the Update"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parquet_io::dict::{self as d, Append as _};
    use duckdb::arrow::array::ArrayRef;
    use duckdb::arrow::datatypes::{DataType, Field, Schema};
    use proptest::prelude::*;
    use std::sync::Arc;

    const NAMES: [&str; 5] = [
        "entity_number",
        "classification",
        "nace_version",
        "activity_group",
        "nace_code",
    ];

    /// The rows as a batch: dictionary columns (as the ingest types them) or plain strings.
    fn batch(rows: &[[Option<&str>; 5]], dictionaries: bool) -> RecordBatch {
        let mut fields = Vec::new();
        let mut cols: Vec<ArrayRef> = Vec::new();
        for (c, name) in NAMES.iter().enumerate() {
            let values = rows.iter().map(|r| r[c]);
            if !dictionaries {
                fields.push(Field::new(*name, DataType::Utf8, true));
                cols.push(Arc::new(values.collect::<StringArray>()));
            } else if c == 0 {
                let mut b = d::RunBuilder::with_capacity(rows.len());
                values.for_each(|v| b.append_option(v.map(str::as_bytes)));
                fields.push(d::runs_field(name, true));
                cols.push(Arc::new(b.finish()));
            } else {
                let mut b = d::Builder::with_capacity(rows.len());
                values.for_each(|v| b.append_option(v.map(str::as_bytes)));
                fields.push(d::field(name, true));
                cols.push(Arc::new(b.finish()));
            }
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap_or_else(|e| panic!("{e}"))
    }

    fn derived(batches: &[RecordBatch]) -> Vec<(u64, MainActivity)> {
        let mut acc = MainActivities::new();
        for b in batches {
            observe(&mut acc, b).unwrap_or_else(|e| panic!("{e}"));
        }
        acc.into_sorted().iter().collect()
    }

    proptest! {
        /// The batches of an ingest (dictionaries, compared by their keys' order) and the same rows
        /// as text (compared code by code) give the rule's main activities, row by row
        /// ([`MainActivities::observe`]), whatever the batches' cuts.
        #[test]
        fn dictionaries_and_text_agree_with_the_rule(
            rows in proptest::collection::vec(
                (prop::sample::select(vec!["0200.065.765", "0403.170.701", "2.000.000.438", "bad"]),
                 prop::sample::select(vec![Some("MAIN"), Some("SECO"), None]),
                 prop::sample::select(vec![Some("2008"), Some("2025"), Some("20250"), None]),
                 prop::sample::select(vec![Some("001"), Some("003"), Some("00"), None]),
                 // Prefixes, a NUL byte, and codes too long for the keyed path.
                 prop::sample::select(vec![Some("0111"), Some("01110"), Some("0111\0"),
                     Some("4711001"), Some("47110010"), Some("0"), None])),
                0..60),
            cut in 0usize..60,
        ) {
            let rows: Vec<[Option<&str>; 5]> =
                rows.into_iter().map(|r| [Some(r.0), r.1, r.2, r.3, r.4]).collect();
            let mut rule = MainActivities::new();
            for r in &rows {
                let n = r[0].and_then(|s| number::parse(s.as_bytes(), None).ok());
                if let Some(n) = n {
                    let t = |c: usize| r[c].unwrap_or("");
                    rule.observe(n, t(1), t(2), t(3), t(4));
                }
            }
            let expected: Vec<_> = rule.into_sorted().iter().collect();
            let cut = cut.min(rows.len());
            let (a, b) = rows.split_at(cut);
            for dictionaries in [true, false] {
                let batches = [batch(a, dictionaries), batch(b, dictionaries)];
                prop_assert_eq!(&derived(&batches), &expected, "dictionaries: {}", dictionaries);
            }
        }
    }

    /// The keyed path is the one the ingest's batches take.
    #[test]
    fn typed_batches_are_keyed() {
        let row = [
            Some("0200.065.765"),
            Some("MAIN"),
            Some("2025"),
            Some("001"),
            Some("62010"),
        ];
        assert!(Keyed::of(&batch(&[row], true)).is_some());
        assert!(Keyed::of(&batch(&[row], false)).is_none());
        let long = [row[0], row[1], row[2], row[3], Some("62010000")];
        assert!(Keyed::of(&batch(&[long], true)).is_none());
        // A prefix orders first, even against the same bytes and a NUL (ordinal's length byte).
        let nul = [row[0], row[1], row[2], row[3], Some("0111\0")];
        let prefix = [row[0], row[1], row[2], row[3], Some("0111")];
        let got = derived(&[batch(&[nul, prefix], true)]);
        assert_eq!(got[0].1.code.as_str(), "0111");
    }
}

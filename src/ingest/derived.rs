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
use crate::parquet_io::read::{self as pq, Opened};
use crate::snapshot::{update_main_activity, write_main_activity as write};
use duckdb::arrow::array::{Array, AsArray, PrimitiveArray, RecordBatch};
use duckdb::arrow::datatypes::Int32Type;
use rayon::prelude::*;
use std::path::Path;

pub use crate::snapshot::MAIN_ACTIVITY;

/// Feeds the rows of an activity batch (the snapshot's columns, or the typed batches of an ingest,
/// whose codes are dictionary arrays) to `acc`.
pub fn observe(acc: &mut MainActivities, b: &RecordBatch) -> Result<(), String> {
    let ent = pq::strings(b, "entity_number")?;
    let class = Codes::of(b, "classification")?;
    let (ver, grp, code) = (
        Codes::of(b, "nace_version")?,
        Codes::of(b, "activity_group")?,
        Codes::of(b, "nace_code")?,
    );
    let main = Code::new("MAIN");
    let mut numbers = number::RunParser::default();
    for i in 0..b.num_rows() {
        if class.get(i) != main {
            continue;
        }
        if let Some(n) = ent.get(i).and_then(|s| numbers.parse(s)) {
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

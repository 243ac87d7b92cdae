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
use duckdb::arrow::array::{Array, AsArray, DictionaryArray, RecordBatch};
use duckdb::arrow::datatypes::Int32Type;
use rayon::prelude::*;
use std::path::Path;

pub use crate::snapshot::MAIN_ACTIVITY;

/// Feeds the rows of an activity batch (the snapshot's columns) to `acc`.
pub fn observe(acc: &mut MainActivities, b: &RecordBatch) -> Result<(), String> {
    if let Some(r) = observe_typed(acc, b) {
        return r;
    }
    let ent = pq::strings(b, "entity_number")?;
    let class = pq::strings(b, "classification")?;
    let ver = pq::strings(b, "nace_version")?;
    let grp = pq::strings(b, "activity_group")?;
    let code = pq::strings(b, "nace_code")?;
    let mut numbers = number::RunParser::default();
    for i in 0..b.num_rows() {
        let c = class.get(i).unwrap_or("");
        if c != "MAIN" {
            continue;
        }
        if let Some(n) = ent.get(i).and_then(|s| numbers.parse(s)) {
            acc.observe(
                n,
                c,
                ver.get(i).unwrap_or(""),
                grp.get(i).unwrap_or(""),
                code.get(i).unwrap_or(""),
            );
        }
    }
    Ok(())
}

/// [`observe`] for the typed batches of an ingest, whose codes are dictionary arrays: each
/// distinct code is made a [`Code`] once per batch, and a row is only keys. `None`: the codes are
/// plain strings (a Parquet file read back), for the general path.
fn observe_typed(acc: &mut MainActivities, b: &RecordBatch) -> Option<Result<(), String>> {
    let dict = |name: &str| b.column_by_name(name)?.as_dictionary_opt::<Int32Type>();
    let (class, ver, grp, code) = (
        dict("classification")?,
        dict("nace_version")?,
        dict("activity_group")?,
        dict("nace_code")?,
    );
    let values = |d: &DictionaryArray<Int32Type>| -> Option<Vec<Code>> {
        let v = d.values().as_string_opt::<i32>()?;
        Some(v.iter().map(|s| Code::new(s.unwrap_or(""))).collect())
    };
    let main: Vec<bool> = (class.values().as_string_opt::<i32>()?.iter())
        .map(|v| v == Some("MAIN"))
        .collect();
    let (vs, gs, cs) = (values(ver)?, values(grp)?, values(code)?);
    // A NULL code is the empty one, as on the general path.
    let at = |d: &DictionaryArray<Int32Type>, codes: &[Code], i: usize| -> Code {
        if d.is_valid(i) {
            codes
                .get(d.keys().value(i) as usize)
                .copied()
                .unwrap_or_default()
        } else {
            Code::default()
        }
    };
    let ent = match pq::strings(b, "entity_number") {
        Ok(e) => e,
        Err(e) => return Some(Err(e)),
    };
    let mut numbers = number::RunParser::default();
    let keys = class.keys();
    for i in 0..b.num_rows() {
        if !(keys.is_valid(i) && main.get(keys.value(i) as usize) == Some(&true)) {
            continue;
        }
        if let Some(n) = ent.get(i).and_then(|s| numbers.parse(s)) {
            let m = MainActivity {
                version: at(ver, &vs, i),
                group: at(grp, &gs, i),
                code: at(code, &cs, i),
            };
            acc.add(n, m);
        }
    }
    Some(Ok(()))
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

//! `main_activity.parquet`: the main activity of every entity of a snapshot (the rule is
//! [`kbo::activity`]), one row per entity in number order — entity_number, nace_version,
//! nace_code, activity_group. A Full ingest derives it while it types the activity rows; an Update
//! keeps the previous snapshot's rows except for the entities whose activity rows it touched,
//! which are derived again from their rows in the new snapshot. Readers (the `companies` view, the
//! payment-risk sector) never scan the 37 M activity rows for it.
//!
//! Invariant: the file equals what a Full ingest of the same snapshot would derive (tests/events.rs
//! compares both paths).

use crate::kbo::activity::{MainActivities, MainActivity};
use crate::kbo::number;
use crate::parquet_io::read::{self as pq, Opened};
use crate::snapshot::{read_main_activity as read, write_main_activity as write};
use duckdb::arrow::array::RecordBatch;
use rayon::prelude::*;
use std::path::Path;

pub use crate::snapshot::MAIN_ACTIVITY;

/// Feeds the rows of an activity batch (the snapshot's columns) to `acc`.
pub fn observe(acc: &mut MainActivities, b: &RecordBatch) -> Result<(), String> {
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
    write(&tmp, &rows)?;
    std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(true)
}

/// Snapshot N's main activities after an Update: those of `base` (snapshot N−1) but for the
/// entities with rows in `before` or `after` (the touched activity rows in N−1 and in N), which
/// are derived from their rows in `after` (all their rows in N).
pub fn updated(base: &Path, before: &Path, after: &Path, out: &Path) -> Result<(), String> {
    ensure(base)?;
    let mut touched = std::collections::HashSet::new();
    for f in [before, after] {
        for b in pq::read(f, &["entity_number"], None)? {
            let e = pq::strings(&b, "entity_number")?;
            touched.extend((0..b.num_rows()).filter_map(|i| {
                e.get(i)
                    .and_then(|s| number::parse(s.as_bytes(), None).ok())
            }));
        }
    }
    let mut acc = MainActivities::new();
    for b in pq::read_all(after)? {
        observe(&mut acc, &b)?;
    }
    let fresh = acc.into_sorted();
    let kept = read(&base.join(MAIN_ACTIVITY))?
        .into_iter()
        .filter(|(n, _)| !touched.contains(n));
    let mut rows: Vec<(u64, MainActivity)> = kept.chain(fresh).collect();
    rows.sort_unstable_by_key(|(n, _)| *n);
    write(&out.join(MAIN_ACTIVITY), &rows)
}

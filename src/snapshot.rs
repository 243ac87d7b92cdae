//! The files of a snapshot folder that more than one stage reads, beyond the seven tables:
//! `main_activity.parquet` (written by `ingest`, read by `score` and the warehouse's `companies`
//! view): one row per entity with a MAIN activity, in number order — entity_number, nace_version,
//! nace_code, activity_group — chosen by the rule of [`kbo::activity`](crate::kbo::activity).

use crate::kbo::activity::{MainActivity, Sorted};
use crate::kbo::number;
use crate::parquet_io::read::{self as pq, Opened};
use crate::parquet_io::write_stream;
use duckdb::arrow::array::{ArrayRef, RecordBatch, StringBuilder};
use duckdb::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use rayon::prelude::*;
use std::path::Path;
use std::sync::Arc;

pub const MAIN_ACTIVITY: &str = "main_activity.parquet";

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("entity_number", DataType::Utf8, false),
        Field::new("nace_version", DataType::Utf8, true),
        Field::new("nace_code", DataType::Utf8, true),
        Field::new("activity_group", DataType::Utf8, true),
    ]))
}

/// Writes the main activities (in number order) to `path`, 64 k rows at a time.
pub fn write_main_activity(path: &Path, rows: &Sorted) -> Result<(), String> {
    let mut it = rows.iter().peekable();
    let batches = std::iter::from_fn(|| {
        it.peek()?;
        let chunk: Vec<(u64, MainActivity)> = it.by_ref().take(1 << 16).collect();
        Some(batch(&chunk))
    });
    write_stream(path, schema(), batches)
}

fn batch(chunk: &[(u64, MainActivity)]) -> Result<RecordBatch, String> {
    let n = chunk.len();
    let mut e = StringBuilder::with_capacity(n, n * 13);
    let (mut v, mut c, mut g) = (
        StringBuilder::with_capacity(n, n * 4),
        StringBuilder::with_capacity(n, n * 7),
        StringBuilder::with_capacity(n, n * 3),
    );
    for (num, m) in chunk {
        e.append_value(number::display(*num));
        for (b, x) in [(&mut v, m.version), (&mut c, m.code), (&mut g, m.group)] {
            if x.as_str().is_empty() {
                b.append_null();
            } else {
                b.append_value(x.as_str());
            }
        }
    }
    let cols: Vec<ArrayRef> = vec![
        Arc::new(e.finish()),
        Arc::new(v.finish()),
        Arc::new(c.finish()),
        Arc::new(g.finish()),
    ];
    RecordBatch::try_new(schema(), cols).map_err(|e| e.to_string())
}

/// Folds the rows of `main_activity.parquet` (entity, main activity), row groups in parallel:
/// one accumulator per row group, from `init`, returned in file order.
pub fn fold_main_activity<A: Send>(
    path: &Path,
    init: impl Fn() -> A + Sync,
    f: impl Fn(&mut A, u64, MainActivity) + Sync,
) -> Result<Vec<A>, String> {
    let file = Opened::open(path)?;
    let cols = [
        "entity_number",
        "nace_version",
        "nace_code",
        "activity_group",
    ];
    (0..file.row_groups())
        .into_par_iter()
        .map(|g| -> Result<A, String> {
            let mut acc = init();
            for b in file.read(&cols, &["nace_version", "activity_group"], Some(vec![g]))? {
                let e = pq::strings(&b, "entity_number")?;
                let v = pq::strings(&b, "nace_version")?;
                let c = pq::strings(&b, "nace_code")?;
                let gr = pq::strings(&b, "activity_group")?;
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
                    f(&mut acc, n, m);
                }
            }
            Ok(acc)
        })
        .collect()
}

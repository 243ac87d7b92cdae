//! Small shared Parquet helpers: one zstd file from batches, [`parallel::ParallelWriter`] (row
//! groups encoded on worker threads, appended in order), and [`read`] (columns, dictionaries, row
//! groups).

pub mod dict;
pub mod parallel;
pub mod read;

use duckdb::arrow::datatypes::SchemaRef;
use duckdb::arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use std::path::Path;

/// Writes record batches (all with the first batch's schema) to one zstd Parquet file.
pub fn write_batches(path: &Path, batches: &[RecordBatch]) -> Result<(), String> {
    let Some(first) = batches.first() else {
        return Err("no batch to write".into());
    };
    write_with_schema(path, first.schema(), batches)
}

/// Writes record batches, possibly none, with `schema` to one zstd Parquet file.
pub fn write_with_schema(
    path: &Path,
    schema: SchemaRef,
    batches: &[RecordBatch],
) -> Result<(), String> {
    write_stream(path, schema, batches.iter().cloned().map(Ok))
}

/// As [`write_with_schema`], the batches made one at a time (only one is in memory).
pub fn write_stream(
    path: &Path,
    schema: SchemaRef,
    batches: impl Iterator<Item = Result<RecordBatch, String>>,
) -> Result<(), String> {
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_created_by(format!("bce {}", env!("CARGO_PKG_VERSION")))
        .build();
    let fh = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut w = ArrowWriter::try_new(fh, schema, Some(props)).map_err(|e| e.to_string())?;
    for b in batches {
        w.write(&b?).map_err(|e| e.to_string())?;
    }
    w.close().map_err(|e| e.to_string())?;
    Ok(())
}

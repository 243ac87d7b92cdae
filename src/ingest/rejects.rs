//! Rejected rows: what was refused, where, and why — kept in `rejects.parquet` so nothing is lost.

use super::{Error, Result};
use duckdb::arrow::array::{ArrayRef, Int64Array, StringArray};
use duckdb::arrow::datatypes::{DataType, Field, Schema};
use duckdb::arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use std::path::Path;
use std::sync::Arc;

/// Longest raw text kept for one rejected row.
const MAX_RAW: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub extract_number: u32,
    pub table: String,
    pub file: String,
    /// Line of the file where the row starts (the header is line 1).
    pub line: u64,
    pub reason: String,
    pub raw: String,
}

/// The row as CSV text (re-quoted where needed; invalid UTF-8 shown as U+FFFD).
pub fn raw_text(rec: &csv::ByteRecord) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let _ = w.write_byte_record(rec);
    let bytes = w.into_inner().unwrap_or_default();
    let mut s = String::from_utf8_lossy(&bytes)
        .trim_end_matches('\n')
        .to_string();
    if s.len() > MAX_RAW {
        let mut cut = MAX_RAW;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

pub fn write(path: &Path, extract_number: u32, rejects: &[Reject]) -> Result<()> {
    let _ = extract_number;
    let schema = Arc::new(Schema::new(vec![
        Field::new("extract_number", DataType::Int64, false),
        Field::new("table_name", DataType::Utf8, false),
        Field::new("file", DataType::Utf8, false),
        Field::new("line", DataType::Int64, false),
        Field::new("reason", DataType::Utf8, false),
        Field::new("raw", DataType::Utf8, false),
    ]));
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(
            rejects.iter().map(|r| r.extract_number as i64),
        )),
        Arc::new(StringArray::from_iter_values(
            rejects.iter().map(|r| r.table.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            rejects.iter().map(|r| r.file.as_str()),
        )),
        Arc::new(Int64Array::from_iter_values(
            rejects.iter().map(|r| r.line as i64),
        )),
        Arc::new(StringArray::from_iter_values(
            rejects.iter().map(|r| r.reason.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            rejects.iter().map(|r| r.raw.as_str()),
        )),
    ];
    let pq = |e: parquet::errors::ParquetError| Error::Parquet {
        path: path.to_path_buf(),
        msg: e.to_string(),
    };
    let batch = RecordBatch::try_new(schema.clone(), cols).map_err(|e| Error::Parquet {
        path: path.to_path_buf(),
        msg: e.to_string(),
    })?;
    let fh = std::fs::File::create(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut w = ArrowWriter::try_new(fh, schema, None).map_err(pq)?;
    w.write(&batch).map_err(pq)?;
    w.close().map_err(pq)?;
    Ok(())
}

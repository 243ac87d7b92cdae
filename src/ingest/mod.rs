//! ingest: one extract (zip or folder) → one snapshot folder.
//!
//! Input: an [`Extract`] and its [`Meta`]. Output, in `out` (a temporary folder the caller renames
//! into place): `<table>.parquet` (zstd) for the seven data tables, `rejects.parquet`,
//! `manifest.json`, and the derived `main_activity.parquet` ([`derived`]). Invariants: every data row of every file is either written or rejected, with
//! its line and a reason (rows_read = rows_written + rows_rejected, per table); the first row of a
//! duplicated key is kept; child rows of entities missing from the extract are kept and counted.
//!
//! Per table, a reader thread inflates and hashes the file into 1 MB chunks (recycled), each cut
//! after its last newline; a tokenizer thread tokenizes each chunk in place ([`kbo::records`])
//! and checks it as UTF-8 once; the calling thread types the rows into Arrow arrays, which the
//! [`crate::parquet_io::parallel::ParallelWriter`] encodes on its worker threads. Three stages,
//! so that typing, the longest, has a thread to itself.

pub mod derived;
mod keys;
mod rejects;
pub mod typing;
mod update;

pub use keys::KeySet;
pub use rejects::Reject;
pub use update::ingest_update;

use crate::kbo::{self, Extract, Meta, TableDef};
use crate::progress::Progress;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Extract(#[from] kbo::extract::Error),
    #[error("{file}: line 1: the required column \"{column}\" is missing from the header; this is not a complete KBO extract (expected columns: {expected})")]
    MissingColumn {
        file: String,
        column: String,
        expected: String,
    },
    #[error("{file}: the file is empty (no header row); fetch the extract again")]
    EmptyFile { file: String },
    #[error("{file}: reading stopped near line {line}: {msg}; the extract is corrupt or truncated: fetch it again")]
    Read {
        file: String,
        line: u64,
        msg: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: writing Parquet: {msg}")]
    Parquet { path: PathBuf, msg: String },
}

pub type Result<T> = std::result::Result<T, Error>;

/// Per-table numbers in the manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TableReport {
    pub table: String,
    pub file: String,
    pub rows_read: u64,
    pub rows_written: u64,
    pub rows_rejected: u64,
    pub input_bytes: u64,
    pub input_sha256: String,
    pub seconds: f64,
    /// Child rows whose entity (or establishment/branch rows whose enterprise) is not in the extract.
    pub orphan_rows: u64,
    pub unknown_columns: Vec<String>,
    pub missing_optional_columns: Vec<String>,
    /// For an Update extract: how the previous snapshot's rows became this one's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<UpdateCounts>,
}

/// One table of an Update applied: base rows − removed rows + inserted rows = rows written.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UpdateCounts {
    /// Rows of the table in the previous snapshot.
    pub base_rows: u64,
    /// Keys in the table's delete file.
    pub delete_keys: u64,
    /// Previous rows removed (by the delete file, a re-inserted unique key, or the cascade rule).
    pub removed_rows: u64,
    /// Of those, rows removed only because their entity was removed (deletes that do not cascade).
    pub cascaded_rows: u64,
    /// Rows of the insert file written.
    pub inserted_rows: u64,
    /// Row groups of the previous snapshot's file, and how many of them were copied as they are
    /// (no row of theirs touched); the others were decoded, filtered and encoded again.
    #[serde(default)]
    pub base_row_groups: u64,
    #[serde(default)]
    pub row_groups_copied: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub extract_number: u32,
    pub snapshot_date: String,
    pub extract_type: kbo::ExtractType,
    pub extract_timestamp: String,
    pub kbo_version: String,
    pub source: String,
    pub tool_version: String,
    pub created_at: String,
    pub tables: Vec<TableReport>,
}

/// Writes a snapshot's `rejects.parquet` and `manifest.json`; returns the manifest.
fn finish(
    out: &Path,
    meta: &Meta,
    extract: &Extract,
    now_rfc3339: &str,
    tables: Vec<TableReport>,
    all_rejects: &[Reject],
) -> Result<Manifest> {
    rejects::write(
        &out.join("rejects.parquet"),
        meta.extract_number,
        all_rejects,
    )?;
    let manifest = Manifest::new(meta, extract, now_rfc3339, tables);
    write_manifest(out, &manifest)?;
    Ok(manifest)
}

impl Manifest {
    /// The manifest of a snapshot made from `extract` with these tables.
    pub fn new(
        meta: &Meta,
        extract: &Extract,
        now_rfc3339: &str,
        tables: Vec<TableReport>,
    ) -> Manifest {
        Manifest {
            extract_number: meta.extract_number,
            snapshot_date: kbo::date::format_iso(meta.snapshot_date),
            extract_type: meta.extract_type,
            extract_timestamp: meta.extract_timestamp.clone(),
            kbo_version: meta.version.clone(),
            source: extract.display_name(),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            created_at: now_rfc3339.to_string(),
            tables,
        }
    }
}

/// Rows per Parquet row group of the snapshot tables unless configured: small enough that a
/// daily Update leaves most row groups untouched (they are copied as they are); measured in
/// BENCHMARKS.md.
pub const DEFAULT_ROW_GROUP_ROWS: usize = 32 * 1024;

/// Tuning knobs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Rows per batch handed from the tokenizer to the typing thread.
    pub batch_rows: usize,
    /// Rows per Parquet row group (each encoded on its own thread).
    pub row_group_rows: usize,
    pub zstd_level: i32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            batch_rows: 32 * 1024,
            row_group_rows: DEFAULT_ROW_GROUP_ROWS,
            zstd_level: 1,
        }
    }
}

/// Ingests every data table of a Full extract into `out`. Returns the manifest (also written to
/// `out/manifest.json`) and the rejects (also in `out/rejects.parquet`).
pub fn ingest_full(
    extract: &Extract,
    meta: &Meta,
    out: &Path,
    opts: &Options,
    progress: &Progress,
    now_rfc3339: &str,
) -> Result<(Manifest, Vec<Reject>)> {
    // Missing files fail before any work is done.
    for t in &kbo::TABLES {
        if !extract.has(t.file) {
            return Err(kbo::extract::Error::MissingFile {
                extract: extract.display_name(),
                file: t.file.to_string(),
            }
            .into());
        }
    }
    type Done = (TableReport, Vec<Reject>, Option<KeySet>);
    let table = |name: &str, owners: &KeySet| -> Result<Done> {
        let def = TableDef::by_name(name).ok_or_else(|| Error::Read {
            file: name.to_string(),
            line: 0,
            msg: "unknown table".into(),
        })?;
        let out = out.join(format!("{}.parquet", def.name));
        ingest_table(extract, def, def.file, &out, owners, meta, opts, progress)
    };
    // Tables run two at a time, so that one table's pipeline bubbles are filled by another's work.
    // Owners first: establishment and branch rows point to enterprises; child rows to any of them.
    let none = KeySet::new();
    let enterprise = table("enterprise", &none)?;
    let mut owners = enterprise.2.clone().unwrap_or_default();
    let (establishment, branch) = both(
        || table("establishment", &owners),
        || table("branch", &owners),
    );
    let (establishment, branch) = (establishment?, branch?);
    for keys in [&establishment.2, &branch.2].into_iter().flatten() {
        owners.union(keys);
    }
    let (activity, rest) = both(
        || table("activity", &owners),
        || -> Result<Vec<Done>> {
            ["denomination", "address", "contact"]
                .iter()
                .map(|t| table(t, &owners))
                .collect()
        },
    );
    let (activity, rest) = (activity?, rest?);
    let mut done: Vec<Done> = vec![enterprise, establishment, branch, activity];
    done.extend(rest);
    // Manifest and rejects in the order of kbo::TABLES.
    done.sort_by_key(|d| kbo::TABLES.iter().position(|t| t.name == d.0.table));
    let mut reports = Vec::new();
    let mut all_rejects = Vec::new();
    for (report, rejects, _) in done {
        reports.push(report);
        all_rejects.extend(rejects);
    }
    let manifest = finish(out, meta, extract, now_rfc3339, reports, &all_rejects)?;
    Ok((manifest, all_rejects))
}

pub fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join("manifest.json");
    let bytes = std::fs::read(&path).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Io {
        path,
        source: e.into(),
    })
}

pub fn write_manifest(dir: &Path, m: &Manifest) -> Result<()> {
    let path = dir.join("manifest.json");
    let json = serde_json::to_vec_pretty(m).map_err(|e| Error::Io {
        path: path.clone(),
        source: e.into(),
    })?;
    std::fs::write(&path, json).map_err(|source| Error::Io { path, source })
}

/// Parquet writer settings of a table, chosen by measurement (BENCHMARKS.md): zstd; dictionary
/// encoding for codes; plain for entity numbers (unique, or ~10 consecutive repeats that zstd
/// compresses as well, without hashing every value); min/max statistics only on entity numbers and
/// dates — codes and text are unsorted, so their row-group statistics could not prune anything and
/// cost a fifth of the encoding time. Columns the typing hands over as dictionary arrays (codes,
/// activity's entity numbers) are written as dictionaries by `parquet_io::dict` whatever the
/// dictionary setting; its compression and statistics settings still apply.
pub fn writer_properties(def: &TableDef, zstd_level: i32) -> WriterProperties {
    let mut b = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(zstd_level).unwrap_or_default(),
        ))
        .set_max_row_group_row_count(Some(1 << 20))
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_created_by(format!("bce {}", env!("CARGO_PKG_VERSION")));
    for c in def.columns {
        match c.ty {
            kbo::ColType::Code | kbo::ColType::Text => {
                b = b.set_column_statistics_enabled(c.name.into(), EnabledStatistics::None)
            }
            kbo::ColType::Number(_) | kbo::ColType::EntityNumber => {
                b = b.set_column_dictionary_enabled(c.name.into(), false)
            }
            kbo::ColType::Date => {}
        }
    }
    if def.derives_vat() {
        b = b.set_column_dictionary_enabled("vat_number".into(), false);
    }
    b.build()
}

/// What the reader thread sends.
enum Msg {
    /// The next bytes of the file, as inflated.
    Chunk(Vec<u8>),
    Done {
        sha256: String,
        bytes: u64,
    },
    Failed {
        msg: String,
    },
}

/// Bytes per chunk handed from the reader to the typing thread.
const CHUNK_BYTES: usize = 1 << 20;

/// A record longer than this is taken for a quote that is never closed (the file is corrupt):
/// holding the rest of the file as one field would only exhaust memory.
const MAX_RECORD_BYTES: usize = 64 << 20;

/// Reads `file` of the extract: hashes the bytes and sends them in chunks of about
/// `chunk_bytes` ([`CHUNK_BYTES`] in the ingest), each cut after its last newline (the rest
/// starts the next chunk), so that the typing side seldom has a partial record to carry over and
/// copy; used chunks come back through `recycle` for reuse.
fn read_file(
    src: &mut dyn Read,
    chunk_bytes: usize,
    tx: &SyncSender<Msg>,
    recycle: &Receiver<Vec<u8>>,
    pb: &indicatif::ProgressBar,
) {
    let mut hash = Sha256::new();
    let mut bytes = 0u64;
    let mut tail: Vec<u8> = Vec::new();
    loop {
        // A recycled chunk keeps its length: only growth is zeroed, and reads overwrite the rest.
        let mut chunk = recycle.try_recv().unwrap_or_default();
        let start = tail.len();
        chunk.resize(start + chunk_bytes, 0);
        chunk[..start].copy_from_slice(&tail);
        let mut n = start;
        while n < chunk.len() {
            match src.read(&mut chunk[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.send(Msg::Failed { msg: e.to_string() });
                    return;
                }
            }
        }
        let full = chunk.len() == n;
        hash.update(&chunk[start..n]);
        bytes += (n - start) as u64;
        pb.inc((n - start) as u64);
        chunk.truncate(n);
        tail.clear();
        if full {
            if let Some(cut) = memchr::memrchr(b'\n', &chunk) {
                tail.extend_from_slice(&chunk[cut + 1..]);
                chunk.truncate(cut + 1);
            }
        }
        if !chunk.is_empty() && tx.send(Msg::Chunk(chunk)).is_err() {
            return;
        }
        if !full {
            break;
        }
    }
    let sha256 = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let _ = tx.send(Msg::Done { sha256, bytes });
}

/// Runs two closures at the same time.
fn both<A: Send, B: Send>(a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B + Send) -> (A, B) {
    std::thread::scope(|s| {
        let hb = s.spawn(b);
        let ra = a();
        let rb = match hb.join() {
            Ok(rb) => rb,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        (ra, rb)
    })
}

/// Ingests one file of the extract into one Parquet file. `owners` holds the numbers of the
/// entities rows may point to (for the orphan count); a table with a unique key returns its own
/// key set.
#[allow(clippy::too_many_arguments)]
pub fn ingest_table(
    extract: &Extract,
    def: &'static TableDef,
    file: &str,
    out: &Path,
    owners: &KeySet,
    meta: &Meta,
    opts: &Options,
    progress: &Progress,
) -> Result<(TableReport, Vec<Reject>, Option<KeySet>)> {
    let started = Instant::now();
    let location = extract.locate(file);
    let pb = progress.bytes(def.name, extract.size(file).unwrap_or(0));
    let (tx, rx) = sync_channel::<Msg>(4);
    let (recycle_tx, recycle_rx) = sync_channel::<Vec<u8>>(8);
    let (tok_tx, tok_rx) = sync_channel::<Result<Tokenized>>(2);
    let (spare_tx, spare_rx) = sync_channel::<kbo::records::Records>(4);

    let result = std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let pb = pb.clone();
            extract.with_reader(file, move |r| {
                read_file(r, CHUNK_BYTES, &tx, &recycle_rx, &pb)
            })
        });
        let feed = Feed::new(rx, recycle_tx.clone(), &location);
        s.spawn(move || tokenize_all(feed, tok_tx, spare_rx));
        let consumed = consume(
            def,
            file,
            &location,
            out,
            owners,
            meta,
            opts,
            &tok_rx,
            &recycle_tx,
            &spare_tx,
        );
        drop(tok_rx); // stops the tokenizer, and so the reader, early if we failed
        let read = reader.join();
        match read {
            Ok(Ok(())) => consumed,
            // The extract could not be read at all: that, not what the typing side saw, is the cause.
            Ok(Err(e)) => Err(e.into()),
            Err(_) => consumed.and(Err(Error::Read {
                file: location.clone(),
                line: 0,
                msg: "the reader thread panicked".into(),
            })),
        }
    });
    pb.finish_and_clear();
    let (mut report, rejects, own) = result?;
    report.seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        table = def.name,
        rows_read = report.rows_read,
        rows_written = report.rows_written,
        rows_rejected = report.rows_rejected,
        orphan_rows = report.orphan_rows,
        seconds = format!("{:.2}", report.seconds),
        "table ingested"
    );
    for c in &report.unknown_columns {
        tracing::warn!(file = %location, column = %c, "unknown extra column ignored");
    }
    for c in &report.missing_optional_columns {
        tracing::warn!(file = %location, column = %c, "optional column absent: written as NULL");
    }
    Ok((report, rejects, own))
}

/// The typing side of one table: what is set up once the header is read.
struct Table<'a> {
    schema: duckdb::arrow::datatypes::SchemaRef,
    writer: crate::parquet_io::parallel::ParallelWriter,
    typer: typing::Typer<'a>,
    main: Option<derived::Background>,
}

/// A tokenized buffer: complete records only (an unfinished one stays with the [`Feed`]).
struct Tokenized {
    data: Data,
    recs: kbo::records::Records,
    /// On the last buffer of the file: the reader's sha256 and byte count.
    done: Option<(String, u64)>,
}

/// A buffer's bytes, as text when they were all valid UTF-8 (checked once, on the tokenizer
/// thread: a field of a text buffer needs no check of its own).
enum Data {
    Text(String),
    Bytes(Vec<u8>),
}

impl Data {
    fn new(bytes: Vec<u8>) -> Data {
        match String::from_utf8(bytes) {
            Ok(s) => Data::Text(s),
            Err(e) => Data::Bytes(e.into_bytes()),
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Data::Text(s) => s.as_bytes(),
            Data::Bytes(b) => b,
        }
    }

    fn text(&self) -> Option<&str> {
        match self {
            Data::Text(s) => Some(s),
            Data::Bytes(_) => None,
        }
    }

    fn into_bytes(self) -> Vec<u8> {
        match self {
            Data::Text(s) => s.into_bytes(),
            Data::Bytes(b) => b,
        }
    }
}

/// The reader's chunks, tokenized: each [`Feed::next`] gives the complete records of the next
/// chunk (with the unfinished record carried from the one before in front).
struct Feed<'a> {
    rx: Receiver<Msg>,
    recycle: SyncSender<Vec<u8>>,
    location: &'a str,
    tok: kbo::records::Tokenizer,
    /// An unfinished record carried over to the next chunk.
    carry: Vec<u8>,
    /// The input has ended (the last buffer was given).
    ended: bool,
    /// [`MAX_RECORD_BYTES`] (smaller in tests).
    max_record: usize,
}

impl Feed<'_> {
    fn new(rx: Receiver<Msg>, recycle: SyncSender<Vec<u8>>, location: &str) -> Feed<'_> {
        Feed {
            rx,
            recycle,
            location,
            tok: kbo::records::Tokenizer::default(),
            carry: Vec::new(),
            ended: false,
            max_record: MAX_RECORD_BYTES,
        }
    }

    fn read_error(&self, msg: String) -> Error {
        Error::Read {
            file: self.location.to_string(),
            line: self.tok.line(),
            msg,
        }
    }

    /// Takes the next chunk and tokenizes it into `recs` (cleared first); None after the last.
    fn next(&mut self, mut recs: kbo::records::Records) -> Result<Option<Tokenized>> {
        if self.ended {
            return Ok(None);
        }
        if self.carry.len() > self.max_record {
            return Err(self.read_error(format!(
                "a record runs over {} bytes: a quote that is never closed",
                self.max_record
            )));
        }
        // The usual case: the chunk ends at a newline and nothing is carried, so the chunk itself
        // is tokenized and handed on; else the carried record is copied in front of it.
        let (mut buf, done) = match self.rx.recv() {
            Ok(Msg::Chunk(chunk)) if self.carry.is_empty() => (chunk, None),
            Ok(Msg::Chunk(chunk)) => {
                let mut buf = std::mem::take(&mut self.carry);
                buf.extend_from_slice(&chunk);
                let _ = self.recycle.try_send(chunk);
                (buf, None)
            }
            Ok(Msg::Done { sha256, bytes }) => {
                (std::mem::take(&mut self.carry), Some((sha256, bytes)))
            }
            Ok(Msg::Failed { msg }) => return Err(self.read_error(msg)),
            // No Done message: the reader failed (its error is joined by the caller).
            Err(_) => return Err(self.read_error("input ended unexpectedly".into())),
        };
        self.ended = done.is_some();
        recs.clear();
        let used = self.tok.tokenize(&mut buf, self.ended, &mut recs);
        if used < buf.len() {
            self.carry.extend_from_slice(&buf[used..]);
            buf.truncate(used);
        }
        Ok(Some(Tokenized {
            data: Data::new(buf),
            recs,
            done,
        }))
    }
}

/// The tokenizer thread: the feed's buffers to `tx`, until the last, an error, or the typing side
/// hanging up (which drops the reader's channel and so stops the reader too).
fn tokenize_all(
    mut feed: Feed,
    tx: SyncSender<Result<Tokenized>>,
    spare: Receiver<kbo::records::Records>,
) {
    loop {
        let recs = spare.try_recv().unwrap_or_default();
        match feed.next(recs) {
            Ok(Some(t)) => {
                if tx.send(Ok(t)).is_err() {
                    return;
                }
            }
            Ok(None) => return,
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn consume(
    def: &'static TableDef,
    file: &str,
    location: &str,
    out: &Path,
    owners: &KeySet,
    meta: &Meta,
    opts: &Options,
    rx: &Receiver<Result<Tokenized>>,
    recycle: &SyncSender<Vec<u8>>,
    spare: &SyncSender<kbo::records::Records>,
) -> Result<(TableReport, Vec<Reject>, Option<KeySet>)> {
    let pq = |e: parquet::errors::ParquetError| Error::Parquet {
        path: out.to_path_buf(),
        msg: e.to_string(),
    };
    let arrow = |e: duckdb::arrow::error::ArrowError| Error::Parquet {
        path: out.to_path_buf(),
        msg: e.to_string(),
    };
    let ended = || Error::Read {
        file: location.to_string(),
        line: 0,
        msg: "input ended unexpectedly".into(),
    };
    // A row group holds whole batches: no batch larger than a row group.
    let batch_rows = opts.batch_rows.min(opts.row_group_rows).max(1);
    // The header: the first record.
    let mut next = rx.recv().map_err(|_| ended())??;
    while next.recs.is_empty() {
        if next.done.is_some() {
            return Err(Error::EmptyFile {
                file: location.to_string(),
            });
        }
        next = rx.recv().map_err(|_| ended())??;
    }
    let binding = bind_header(def, location, &next.recs.texts(0, next.data.bytes()))?;
    let mut t = Table::open(def, &binding, file, out, meta, opts)?;
    // The table's own keys, for duplicates (enterprise, establishment, branch).
    let mut own = def.unique_key.then(KeySet::new);
    let mut first = 1;
    let (sha256, bytes) = loop {
        let Tokenized { data, recs, done } = next;
        // A buffer found valid UTF-8 as a whole spares a check per field; else each field is
        // checked on its own, and the rows with the bad bytes are rejected.
        let mut i = first;
        while i < recs.len() {
            let to = (i + batch_rows).min(recs.len());
            let batch = t
                .typer
                .type_records(
                    data.bytes(),
                    data.text(),
                    &recs,
                    i..to,
                    owners,
                    &mut own,
                    t.schema.clone(),
                )
                .map_err(arrow)?;
            if let Some(m) = &t.main {
                m.observe(&batch);
            }
            t.writer.write(batch).map_err(pq)?;
            i = to;
        }
        first = 0;
        let _ = recycle.try_send(data.into_bytes());
        let _ = spare.try_send(recs);
        if let Some(done) = done {
            break done;
        }
        next = rx.recv().map_err(|_| ended())??;
    };
    let meta_out = t.writer.close().map_err(pq)?;
    if let Some(m) = t.main {
        let path = out.with_file_name(derived::MAIN_ACTIVITY);
        let started = Instant::now();
        let group_rows = crate::snapshot::main_activity_group_rows(opts.row_group_rows);
        let mut sorted = 0.0;
        m.finish()
            .and_then(|rows| {
                sorted = started.elapsed().as_secs_f64();
                crate::snapshot::write_main_activity(&path, &rows, group_rows)
            })
            .map_err(|msg| Error::Parquet { path, msg })?;
        tracing::debug!(
            seconds = format!("{:.2}", started.elapsed().as_secs_f64()),
            derived_and_sorted = format!("{sorted:.2}"),
            "main activities written"
        );
    }
    let (stats, rejects) = t.typer.finish();
    debug_assert_eq!(meta_out.file_metadata().num_rows() as u64, stats.written);
    Ok((
        TableReport {
            table: def.name.to_string(),
            file: file.to_string(),
            rows_read: stats.read,
            rows_written: meta_out.file_metadata().num_rows() as u64,
            rows_rejected: rejects.len() as u64,
            input_bytes: bytes,
            input_sha256: sha256,
            seconds: 0.0,
            orphan_rows: stats.orphans,
            unknown_columns: binding.unknown_columns.clone(),
            missing_optional_columns: binding.missing_optional.clone(),
            update: None,
        },
        rejects,
        own,
    ))
}

/// Binds a file's header row to the table's columns, by name.
fn bind_header(def: &TableDef, location: &str, header: &[String]) -> Result<kbo::Binding> {
    let header_refs: Vec<&str> = header.iter().map(String::as_str).collect();
    kbo::bind(def.columns, &header_refs).map_err(|column| Error::MissingColumn {
        file: location.to_string(),
        column,
        expected: def
            .columns
            .iter()
            .map(|c| c.header)
            .collect::<Vec<_>>()
            .join(", "),
    })
}

impl<'a> Table<'a> {
    fn open(
        def: &'static TableDef,
        binding: &'a kbo::Binding,
        file: &str,
        out: &Path,
        meta: &Meta,
        opts: &Options,
    ) -> Result<Table<'a>> {
        let props = writer_properties(def, opts.zstd_level);
        let fh = File::create(out).map_err(|source| Error::Io {
            path: out.to_path_buf(),
            source,
        })?;
        let writer = crate::parquet_io::parallel::ParallelWriter::for_file(
            fh,
            typing::schema(def),
            props,
            opts.row_group_rows,
        )
        .map_err(|e| Error::Parquet {
            path: out.to_path_buf(),
            msg: e.to_string(),
        })?;
        Ok(Table {
            schema: typing::batch_schema(def),
            writer,
            typer: typing::Typer::new(def, binding, file, meta.extract_number),
            // A Full extract's activity rows also give each entity's main activity.
            main: (def.name == "activity" && file == "activity.csv")
                .then(derived::Background::spawn),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (line, fields) of every record of `input`, read in chunks of `chunk_bytes` and tokenized
    /// as the ingest does (records carried over chunk ends, chunks recycled).
    fn through_the_feed(input: &[u8], chunk_bytes: usize) -> Vec<(u64, Vec<Vec<u8>>)> {
        feed_all(input, chunk_bytes, MAX_RECORD_BYTES).unwrap_or_else(|e| panic!("{e}"))
    }

    fn feed_all(
        input: &[u8],
        chunk_bytes: usize,
        max_record: usize,
    ) -> Result<Vec<(u64, Vec<Vec<u8>>)>> {
        let (tx, rx) = sync_channel::<Msg>(4);
        let (recycle_tx, recycle_rx) = sync_channel::<Vec<u8>>(8);
        let mut got = Vec::new();
        std::thread::scope(|s| {
            s.spawn(move || {
                let pb = indicatif::ProgressBar::hidden();
                read_file(&mut &input[..], chunk_bytes, &tx, &recycle_rx, &pb)
            });
            let mut feed = Feed::new(rx, recycle_tx.clone(), "test.csv");
            feed.max_record = max_record;
            let (tok_tx, tok_rx) = sync_channel::<Result<Tokenized>>(2);
            let (spare_tx, spare_rx) = sync_channel::<kbo::records::Records>(4);
            s.spawn(move || tokenize_all(feed, tok_tx, spare_rx));
            // Owned here: an early return drops it, which stops the tokenizer and the reader (as
            // in the ingest).
            let tok_rx = tok_rx;
            let (sha, bytes) = loop {
                let t = match tok_rx.recv() {
                    Ok(t) => t?,
                    Err(_) => panic!("the tokenizer ended without the last buffer"),
                };
                for r in 0..t.recs.len() {
                    let f = t.recs.fields(r);
                    let f = f
                        .iter()
                        .map(|&(a, b)| t.data.bytes()[a..b].to_vec())
                        .collect();
                    got.push((t.recs.line(r), f));
                }
                let _ = recycle_tx.try_send(t.data.into_bytes());
                let _ = spare_tx.try_send(t.recs);
                if let Some(done) = t.done {
                    break done;
                }
            };
            assert_eq!(bytes, input.len() as u64);
            let want: String = Sha256::digest(input)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(sha, want);
            Ok::<(), Error>(())
        })?;
        Ok(got)
    }

    /// A quote never closed would make the rest of the file one field: past the limit, the read
    /// stops with an error naming the line where the record starts.
    #[test]
    fn a_quote_never_closed_stops_the_read_at_the_limit() {
        let mut input = b"\"A\",\"B\"\n\"1\",\"2\"\n\"3\",\"never closed\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 10_000));
        input.extend_from_slice(b"\n\"5\",\"6\"\n");
        match feed_all(&input, 100, 1_000) {
            Err(Error::Read { file, line, msg }) => {
                assert_eq!((file.as_str(), line), ("test.csv", 3));
                assert!(msg.contains("never closed"), "{msg}");
            }
            other => panic!("{other:?}"),
        }
        // Under the limit, the same bytes are one long (last) record.
        let got = feed_all(&input, 100, 100_000).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got.len(), 3);
    }

    /// Records cut anywhere by the chunks — inside quoted newlines, doubled quotes, records longer
    /// than a chunk — come out whole, with their lines, and the hash covers every byte.
    #[test]
    fn chunks_cut_anywhere_give_the_same_records() {
        let mut input = b"\"EntityNumber\",\"Text\",\"Date\"\n".to_vec();
        for i in 0..400 {
            let text = match i % 5 {
                0 => format!("two\nlines {i}"),
                1 => format!("say \"\"{i}\"\""),
                2 => "x".repeat(i * 3),
                3 => String::new(),
                _ => format!("plain {i}"),
            };
            input.extend_from_slice(
                format!("\"0200.065.765\",\"{text}\",0{}-01-2020\n", 1 + i % 9).as_bytes(),
            );
        }
        let whole = through_the_feed(&input, input.len() + 1);
        assert_eq!(whole.len(), 401);
        assert_eq!(whole[1].0, 2);
        assert_eq!(whole[2].0, 4, "a quoted newline counts as a line");
        assert_eq!(whole[6].0, 8);
        assert_eq!(whole[2].1[1], b"say \"1\"".to_vec());
        for chunk in [1, 7, 64, 100, 1000, 4096] {
            assert_eq!(
                through_the_feed(&input, chunk),
                whole,
                "chunks of {chunk} bytes"
            );
        }
    }
}

//! Parallel Parquet encoding: typed batches are grouped into row groups, each row group is encoded
//! (dictionary, statistics, zstd) on its own worker thread, and a writer thread appends the encoded
//! row groups to the file in their original order. Same file layout as `ArrowWriter`, built on its
//! `ArrowRowGroupWriterFactory` API; the order of rows never changes. A row group of another file
//! with the same schema can also be copied in as it is ([`ParallelWriter::copy_row_group`]: its
//! compressed bytes, no decoding), between encoded ones.

use duckdb::arrow::datatypes::SchemaRef;
use duckdb::arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_writer::{compute_leaves, ArrowColumnChunk, ArrowRowGroupWriterFactory};
use parquet::arrow::ArrowWriter;
use parquet::column::writer::ColumnCloseResult;
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::ParquetMetaData;
use parquet::file::properties::WriterProperties;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

type Job = (usize, Vec<RecordBatch>);

/// Row group `index` of the Parquet file at `path`, whose metadata is `meta` (with its page
/// indexes when they were loaded: they are carried over). The writer opens the file itself: clones
/// of one `File` share their offset, so two threads must not read through them.
pub struct RawRowGroup {
    pub path: std::path::PathBuf,
    pub meta: Arc<ParquetMetaData>,
    pub index: usize,
}

/// A row group ready to append: encoded here, or copied from another file.
enum Ready {
    Encoded(Vec<ArrowColumnChunk>),
    Raw(RawRowGroup),
}

type Done = (usize, Result<Ready>);

pub struct ParallelWriter {
    jobs: Option<SyncSender<Job>>,
    /// Raw copies skip the encoders and go straight to the writer thread.
    raw: Option<Sender<Done>>,
    encoders: Vec<JoinHandle<()>>,
    writer: Option<JoinHandle<Result<ParquetMetaData>>>,
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    next_seq: usize,
    row_group_rows: usize,
}

fn encode(
    factory: &ArrowRowGroupWriterFactory,
    schema: &SchemaRef,
    seq: usize,
    batches: &[RecordBatch],
) -> Result<Vec<ArrowColumnChunk>> {
    // One writer per leaf column: a nested field (a list of structs) has several, in order.
    let mut writers = factory.create_column_writers(seq)?;
    let mut first = 0;
    for (i, field) in schema.fields().iter().enumerate() {
        let mut leaves_of_field = 0;
        for b in batches {
            let leaves = compute_leaves(field, b.column(i))?;
            leaves_of_field = leaves.len();
            for (k, leaf) in leaves.iter().enumerate() {
                let w = writers.get_mut(first + k).ok_or_else(|| {
                    ParquetError::General(format!(
                        "no column writer for a leaf of {}",
                        field.name()
                    ))
                })?;
                w.write(leaf)?;
            }
        }
        first += leaves_of_field;
    }
    writers.into_iter().map(|w| w.close()).collect()
}

impl ParallelWriter {
    /// A writer into `file` (buffered), one encoder thread per core; row groups of about
    /// `row_group_rows` rows.
    pub fn for_file(
        file: std::fs::File,
        schema: SchemaRef,
        props: WriterProperties,
        row_group_rows: usize,
    ) -> Result<ParallelWriter> {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        ParallelWriter::new(
            std::io::BufWriter::with_capacity(1 << 20, file),
            schema,
            props,
            threads,
            row_group_rows,
        )
    }

    /// `threads` encoder threads; row groups of about `row_group_rows` rows.
    pub fn new<W: Write + Send + 'static>(
        sink: W,
        schema: SchemaRef,
        props: WriterProperties,
        threads: usize,
        row_group_rows: usize,
    ) -> Result<ParallelWriter> {
        let (mut file, factory) =
            ArrowWriter::try_new(sink, schema.clone(), Some(props))?.into_serialized_writer()?;
        let factory = Arc::new(factory);
        let threads = threads.max(1);
        let (jobs_tx, jobs_rx) = sync_channel::<Job>(threads);
        let jobs_rx = Arc::new(Mutex::new(jobs_rx));
        let (done_tx, done_rx) = channel::<Done>();
        let encoders = (0..threads)
            .map(|_| {
                let (jobs_rx, done_tx, factory, schema) = (
                    jobs_rx.clone(),
                    done_tx.clone(),
                    factory.clone(),
                    schema.clone(),
                );
                std::thread::spawn(move || loop {
                    let job = match jobs_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok((seq, batches)) = job else { return };
                    let encoded = encode(&factory, &schema, seq, &batches).map(Ready::Encoded);
                    if done_tx.send((seq, encoded)).is_err() {
                        return;
                    }
                })
            })
            .collect();
        let writer = std::thread::spawn(move || -> Result<ParquetMetaData> {
            append_in_order(&mut file, done_rx)?;
            file.close()
        });
        Ok(ParallelWriter {
            jobs: Some(jobs_tx),
            raw: Some(done_tx),
            encoders,
            writer: Some(writer),
            pending: Vec::new(),
            pending_rows: 0,
            next_seq: 0,
            row_group_rows: row_group_rows.max(1),
        })
    }

    pub fn write(&mut self, batch: RecordBatch) -> Result<()> {
        self.pending_rows += batch.num_rows();
        self.pending.push(batch);
        if self.pending_rows >= self.row_group_rows {
            self.flush()?;
        }
        Ok(())
    }

    /// Ends the row group being filled: the rows written so far become a row group of their own.
    pub fn end_row_group(&mut self) -> Result<()> {
        self.flush()
    }

    /// Appends a row group of another file as it is, after the rows written so far (which are
    /// encoded as a row group of their own first). The schemas must be the same.
    pub fn copy_row_group(&mut self, rg: RawRowGroup) -> Result<()> {
        self.flush()?;
        let seq = self.next_seq;
        self.next_seq += 1;
        let sent = self
            .raw
            .as_ref()
            .is_some_and(|r| r.send((seq, Ok(Ready::Raw(rg)))).is_ok());
        if !sent {
            return Err(self.stopped());
        }
        Ok(())
    }

    /// Why a job could not be sent: the writer stopped, and its error says why.
    fn stopped(&mut self) -> ParquetError {
        self.join()
            .err()
            .unwrap_or_else(|| ParquetError::General("the Parquet writer stopped".into()))
    }

    fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let job = (self.next_seq, std::mem::take(&mut self.pending));
        self.pending_rows = 0;
        self.next_seq += 1;
        let sent = self
            .jobs
            .as_ref()
            .map(|j| j.send(job).is_ok())
            .unwrap_or(false);
        if !sent {
            return Err(self.stopped());
        }
        Ok(())
    }

    fn join(&mut self) -> Result<ParquetMetaData> {
        self.jobs = None;
        self.raw = None;
        for e in self.encoders.drain(..) {
            let _ = e.join();
        }
        match self.writer.take().map(|w| w.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(ParquetError::General(
                "the Parquet writer thread panicked".into(),
            )),
            None => Err(ParquetError::General(
                "the Parquet writer was already closed".into(),
            )),
        }
    }

    /// Encodes what is left, waits for every row group, writes the footer.
    pub fn close(mut self) -> Result<ParquetMetaData> {
        self.flush()?;
        self.join()
    }
}

impl Drop for ParallelWriter {
    fn drop(&mut self) {
        if self.writer.is_some() {
            let _ = self.join();
        }
    }
}

fn append_in_order<W: Write + Send>(
    file: &mut parquet::file::writer::SerializedFileWriter<W>,
    done: Receiver<Done>,
) -> Result<()> {
    let mut next = 0;
    let mut ready: BTreeMap<usize, Ready> = BTreeMap::new();
    for (seq, r) in done {
        ready.insert(seq, r?);
        while let Some(r) = ready.remove(&next) {
            let mut rg = file.next_row_group()?;
            match r {
                Ready::Encoded(chunks) => {
                    for c in chunks {
                        c.append_to_row_group(&mut rg)?;
                    }
                }
                Ready::Raw(raw) => {
                    let src_file = std::fs::File::open(&raw.path)?;
                    let src = raw.meta.row_group(raw.index);
                    let page = |c: usize| {
                        (
                            raw.meta
                                .column_index()
                                .and_then(|x| x.get(raw.index))
                                .and_then(|x| x.get(c))
                                .cloned(),
                            raw.meta
                                .offset_index()
                                .and_then(|x| x.get(raw.index))
                                .and_then(|x| x.get(c))
                                .cloned(),
                        )
                    };
                    for (c, col) in src.columns().iter().enumerate() {
                        let (column_index, offset_index) = page(c);
                        let close = ColumnCloseResult {
                            bytes_written: col.compressed_size() as u64,
                            rows_written: src.num_rows() as u64,
                            metadata: col.clone(),
                            bloom_filter: None,
                            column_index,
                            offset_index,
                        };
                        rg.append_column(&src_file, close)?;
                    }
                }
            }
            rg.close()?;
            next += 1;
        }
    }
    if !ready.is_empty() {
        return Err(ParquetError::General(
            "a row group was lost between the encoders and the writer".into(),
        ));
    }
    Ok(())
}

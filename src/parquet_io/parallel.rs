//! Parallel Parquet encoding: typed batches are grouped into row groups, each row group is encoded
//! (dictionary, statistics, zstd) on its own worker thread, and a writer thread appends the encoded
//! row groups to the file in their original order. Same file layout as `ArrowWriter`, built on its
//! `ArrowRowGroupWriterFactory` API; the order of rows never changes.

use duckdb::arrow::datatypes::SchemaRef;
use duckdb::arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_writer::{compute_leaves, ArrowColumnChunk, ArrowRowGroupWriterFactory};
use parquet::arrow::ArrowWriter;
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::ParquetMetaData;
use parquet::file::properties::WriterProperties;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

type Job = (usize, Vec<RecordBatch>);

pub struct ParallelWriter {
    jobs: Option<SyncSender<Job>>,
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
        let (done_tx, done_rx) = channel::<(usize, Result<Vec<ArrowColumnChunk>>)>();
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
                    if done_tx
                        .send((seq, encode(&factory, &schema, seq, &batches)))
                        .is_err()
                    {
                        return;
                    }
                })
            })
            .collect();
        drop(done_tx);
        let writer = std::thread::spawn(move || -> Result<ParquetMetaData> {
            append_in_order(&mut file, done_rx)?;
            file.close()
        });
        Ok(ParallelWriter {
            jobs: Some(jobs_tx),
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
            // The writer stopped: its error says why.
            return Err(self
                .join()
                .err()
                .unwrap_or_else(|| ParquetError::General("the Parquet writer stopped".into())));
        }
        Ok(())
    }

    fn join(&mut self) -> Result<ParquetMetaData> {
        self.jobs = None;
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
    done: Receiver<(usize, Result<Vec<ArrowColumnChunk>>)>,
) -> Result<()> {
    let mut next = 0;
    let mut ready: BTreeMap<usize, Vec<ArrowColumnChunk>> = BTreeMap::new();
    for (seq, chunks) in done {
        ready.insert(seq, chunks?);
        while let Some(chunks) = ready.remove(&next) {
            let mut rg = file.next_row_group()?;
            for c in chunks {
                c.append_to_row_group(&mut rg)?;
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

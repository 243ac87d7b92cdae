//! Parallel Parquet encoding: typed batches are grouped into row groups, each row group is encoded
//! (dictionary, statistics, zstd) on its own worker thread, and a writer thread appends the encoded
//! row groups to the file in their original order. Same file layout as `ArrowWriter`, built on its
//! `ArrowRowGroupWriterFactory` API; the order of rows never changes. A row group of another file
//! with the same schema can also be copied in as it is ([`ParallelWriter::copy_row_group`]: its
//! compressed bytes, no decoding), between encoded ones.

use super::dict;
use bytes::Bytes;
use duckdb::arrow::datatypes::DataType;
use duckdb::arrow::datatypes::{Schema, SchemaRef};
use duckdb::arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_writer::{compute_leaves, ArrowColumnChunk, ArrowRowGroupWriterFactory};
use parquet::arrow::ArrowWriter;
use parquet::column::writer::ColumnCloseResult;
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::ParquetMetaData;
use parquet::file::properties::{WriterProperties, WriterPropertiesPtr};
use parquet::schema::types::ColumnDescPtr;
use std::collections::{BTreeMap, HashMap};
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
    Encoded(Vec<Chunk>),
    Raw(RawRowGroup),
}

/// An encoded column chunk: by parquet-rs, or by [`dict::encode`] (bytes from offset 0).
enum Chunk {
    Arrow(ArrowColumnChunk),
    Dict(Bytes, ColumnCloseResult),
}

/// What every encoder thread shares.
struct Shared {
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    /// The file's leaf columns, in order.
    columns: Vec<ColumnDescPtr>,
    /// The leaf columns of each field (a nested field has several).
    leaves: Vec<std::ops::Range<usize>>,
    /// Column writer factories for some of the fields (by their indexes): those not written
    /// from dictionaries.
    subsets: Mutex<HashMap<Vec<usize>, Arc<ArrowRowGroupWriterFactory>>>,
    props: WriterPropertiesPtr,
}

type Done = (usize, Result<Ready>);

impl Shared {
    /// The factory of column writers for `fields` (indexes into the schema): the file's leaves of
    /// those fields (same names, types and levels, so that their chunks append to the file).
    fn factory_of(&self, fields: &[usize]) -> Result<Arc<ArrowRowGroupWriterFactory>> {
        let poisoned = || ParquetError::General("a column writer factory was poisoned".into());
        if let Some(f) = self.subsets.lock().map_err(|_| poisoned())?.get(fields) {
            return Ok(f.clone());
        }
        let all = self.schema.fields();
        let sub: SchemaRef = Arc::new(Schema::new(
            fields.iter().map(|i| all[*i].clone()).collect::<Vec<_>>(),
        ));
        let (_, factory) = ArrowWriter::try_new(std::io::sink(), sub, Some((*self.props).clone()))?
            .into_serialized_writer()?;
        let factory = Arc::new(factory);
        self.subsets
            .lock()
            .map_err(|_| poisoned())?
            .insert(fields.to_vec(), factory.clone());
        Ok(factory)
    }
}

pub struct ParallelWriter {
    shared: Arc<Shared>,
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

/// Encodes one row group. A string column given as dictionary arrays (the typed codes) is written
/// by [`dict::encode`], from its dictionaries; every other column by parquet-rs, whose column
/// writers are made for those columns only (each holds zstd contexts: a cost a row group).
fn encode(shared: &Shared, seq: usize, batches: &[RecordBatch]) -> Result<Vec<Chunk>> {
    let fields = shared.schema.fields();
    // A string field is one leaf: its chunk, when bce writes it from the dictionaries.
    let mut dicts: Vec<Option<Chunk>> = Vec::with_capacity(fields.len());
    for (i, field) in fields.iter().enumerate() {
        let given = (field.data_type() == &DataType::Utf8)
            .then(|| dict::arrays_of(batches, i))
            .flatten()
            .zip(shared.columns.get(shared.leaves[i].start));
        let chunk = match given {
            Some(((arrays, merge), descr)) => dict::encode(descr, &arrays, merge, &shared.props)?
                .map(|(bytes, close)| Chunk::Dict(bytes, close)),
            None => None,
        };
        dicts.push(chunk);
    }
    let rest: Vec<usize> = (0..fields.len()).filter(|i| dicts[*i].is_none()).collect();
    let writers = if rest.len() == fields.len() {
        shared.factory.create_column_writers(seq)?
    } else {
        shared.factory_of(&rest)?.create_column_writers(seq)?
    };
    // The other fields' writers come in their leaf order: each field takes its leaves' writers.
    let mut writers = writers.into_iter();
    let mut chunks = Vec::with_capacity(shared.columns.len());
    for (i, d) in dicts.into_iter().enumerate() {
        if let Some(c) = d {
            chunks.push(c);
            continue;
        }
        let mut mine: Vec<_> = writers.by_ref().take(shared.leaves[i].len()).collect();
        for b in batches {
            let leaves = compute_leaves(&fields[i], b.column(i))?;
            if leaves.len() != mine.len() {
                return Err(ParquetError::General(format!(
                    "no column writer for a leaf of {}",
                    fields[i].name()
                )));
            }
            for (w, leaf) in mine.iter_mut().zip(&leaves) {
                w.write(leaf)?;
            }
        }
        for w in mine {
            chunks.push(Chunk::Arrow(w.close()?));
        }
    }
    Ok(chunks)
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

    /// `threads` encoder threads (0: row groups are encoded on the caller's thread, as they fill,
    /// which a benchmark can time); row groups of about `row_group_rows` rows.
    pub fn new<W: Write + Send + 'static>(
        sink: W,
        schema: SchemaRef,
        props: WriterProperties,
        threads: usize,
        row_group_rows: usize,
    ) -> Result<ParallelWriter> {
        let (mut file, factory) =
            ArrowWriter::try_new(sink, schema.clone(), Some(props))?.into_serialized_writer()?;
        let descr = file.schema_descr();
        let mut leaves = vec![0..0; schema.fields().len()];
        for l in 0..descr.num_columns() {
            if let Some(r) = leaves.get_mut(descr.get_column_root_idx(l)) {
                *r = if r.start == r.end {
                    l..l + 1
                } else {
                    r.start..l + 1
                };
            }
        }
        let shared = Arc::new(Shared {
            factory,
            schema: schema.clone(),
            columns: descr.columns().to_vec(),
            leaves,
            subsets: Mutex::new(HashMap::new()),
            props: file.properties().clone(),
        });
        let (jobs_tx, jobs_rx) = sync_channel::<Job>(threads.max(1));
        let jobs_rx = Arc::new(Mutex::new(jobs_rx));
        let (done_tx, done_rx) = channel::<Done>();
        let encoders = (0..threads)
            .map(|_| {
                let (jobs_rx, done_tx, shared) = (jobs_rx.clone(), done_tx.clone(), shared.clone());
                std::thread::spawn(move || loop {
                    let job = match jobs_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok((seq, batches)) = job else { return };
                    let encoded = encode(&shared, seq, &batches).map(Ready::Encoded);
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
            shared,
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
        if self.encoders.is_empty() {
            let done = (
                job.0,
                encode(&self.shared, job.0, &job.1).map(Ready::Encoded),
            );
            let sent = self.raw.as_ref().is_some_and(|r| r.send(done).is_ok());
            return if sent { Ok(()) } else { Err(self.stopped()) };
        }
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
                        match c {
                            Chunk::Arrow(c) => c.append_to_row_group(&mut rg)?,
                            Chunk::Dict(bytes, close) => rg.append_column(&bytes, close)?,
                        }
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

//! Dictionary columns, built once: [`Builder`] makes an Arrow dictionary array of short codes (a
//! lookup on the code's bytes packed into a `u64`: no hashing of byte strings, no `memcmp`),
//! [`RunBuilder`] one of values that come in runs (a comparison with the value before), and
//! [`encode`] writes the dictionary arrays of one row group as a Parquet column chunk — one PLAIN
//! dictionary page, then RLE_DICTIONARY data pages (format v1), the layout parquet-rs itself
//! writes, so every reader (DuckDB, parquet-rs, Polars) reads a plain string column.
//!
//! Why: given strings, or even an Arrow dictionary array, parquet-rs interns every value again
//! (a hash and a `memcmp` per row); for the 150 M code values of a Full extract that was the
//! largest part of its encoding time (BENCHMARKS.md).
//!
//! Invariants: a chunk decodes to its arrays' strings, row for row, NULLs included (property test
//! against parquet-rs's and DuckDB's readers); pages hold at most the writer's
//! `data_page_row_count_limit` rows; chunk statistics (exact min and max, null count) when the
//! writer's properties ask for them, none per page.

use bytes::Bytes;
use duckdb::arrow::array::{
    Array, AsArray, DictionaryArray, Int32Array, NullBufferBuilder, StringArray, StringBuilder,
};
use duckdb::arrow::datatypes::{DataType, Field, Int32Type};
use parquet::basic::{Compression, Encoding, PageType};
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::data_type::ByteArray;
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::{ColumnChunkMetaData, OffsetIndexBuilder, PageEncodingStats};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::statistics::{Statistics, ValueStatistics};
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

/// What both builders fill: a key per row (a NULL row: key 0 and a null bit) and the dictionary.
struct Entries {
    keys: Vec<i32>,
    nulls: NullBufferBuilder,
    values: StringBuilder,
    /// Entries in `values` so far (at most `i32::MAX`: a batch is far smaller).
    distinct: i32,
}

impl Entries {
    fn new(rows: usize, values: StringBuilder) -> Entries {
        Entries {
            keys: Vec::with_capacity(rows),
            nulls: NullBufferBuilder::new(rows),
            values,
            distinct: 0,
        }
    }

    fn null(&mut self) {
        self.keys.push(0);
        self.nulls.append_null();
    }

    #[inline]
    fn key(&mut self, key: i32) {
        self.keys.push(key);
        self.nulls.append_non_null();
    }

    /// A new entry: its key.
    fn push(&mut self, v: &str) -> i32 {
        self.values.append_value(v);
        self.distinct = self.distinct.saturating_add(1);
        self.distinct - 1
    }

    fn finish(mut self) -> DictionaryArray<Int32Type> {
        let keys = Int32Array::new(self.keys.into(), self.nulls.finish());
        let values: StringArray = self.values.finish();
        DictionaryArray::new(keys, Arc::new(values))
    }
}

/// What both dictionary builders take: a value as its bytes (valid UTF-8), or NULL.
pub trait Append {
    fn append_bytes(&mut self, v: &[u8]);
    fn append_null(&mut self);

    /// A value's bytes, or NULL.
    #[inline]
    fn append_option(&mut self, v: Option<&[u8]>) {
        match v {
            Some(v) => self.append_bytes(v),
            None => self.append_null(),
        }
    }
}

impl Append for Builder {
    /// A value given as its bytes (valid UTF-8, as a [`crate::kbo::activity::Code`]'s are): they
    /// are made text only when the value is new.
    #[inline]
    fn append_bytes(&mut self, v: &[u8]) {
        let key = match pack(v) {
            Some(k) if k == self.last.0 => self.last.1,
            Some(k) => {
                let key = self.short(k, v);
                self.last = (k, key);
                key
            }
            None => self.long(v),
        };
        self.entries.key(key);
    }

    fn append_null(&mut self) {
        self.entries.null();
    }
}

impl Append for RunBuilder {
    /// A value given as its bytes (valid UTF-8): made text only when a new run starts.
    #[inline]
    fn append_bytes(&mut self, v: &[u8]) {
        let values = self.entries.values.values_slice();
        let key = match self.last {
            Some((at, key)) if same(&values[at..], v) => key,
            _ => {
                let at = values.len();
                let key = self.entries.push(&String::from_utf8_lossy(v));
                self.last = Some((at, key));
                key
            }
        };
        self.entries.key(key);
    }

    fn append_null(&mut self) {
        self.entries.null();
    }
}

/// Builds a `Dictionary(Int32, Utf8)` array, values in first-seen order. Values of up to 7 bytes
/// (every KBO code) are looked up in an open-addressing table on their packed bytes; longer ones
/// in a `HashMap`.
pub struct Builder {
    entries: Entries,
    /// Packed value per slot, and its key (`-1`: the slot is free).
    slot_values: Vec<u64>,
    slot_keys: Vec<i32>,
    long: HashMap<Box<[u8]>, i32>,
    /// The last short value looked up, and its key: codes often repeat from one row to the next.
    last: (u64, i32),
}

/// A value of up to 7 bytes as a `u64`: its bytes, and its length in the top byte (so that no
/// two values pack the same). Overlapping loads, no loop over the bytes.
#[inline]
fn pack(v: &[u8]) -> Option<u64> {
    let n = v.len();
    let bytes = match n {
        0 => 0,
        1..=3 => {
            v[0] as u64 | (v[n / 2] as u64) << (8 * (n / 2)) | (v[n - 1] as u64) << (8 * (n - 1))
        }
        4..=7 => {
            let lo = u32::from_le_bytes([v[0], v[1], v[2], v[3]]) as u64;
            let hi = u32::from_le_bytes([v[n - 4], v[n - 3], v[n - 2], v[n - 1]]) as u64;
            lo | hi << (8 * (n - 4))
        }
        _ => return None,
    };
    Some(bytes | (n as u64) << 56)
}

fn slot_of(k: u64, mask: usize) -> usize {
    (k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as usize & mask
}

impl Builder {
    pub fn with_capacity(rows: usize) -> Builder {
        Builder {
            entries: Entries::new(rows, StringBuilder::new()),
            slot_values: vec![0; 64],
            slot_keys: vec![-1; 64],
            long: HashMap::new(),
            // No packed value has a top byte above 7.
            last: (u64::MAX, 0),
        }
    }

    #[inline]
    fn short(&mut self, k: u64, v: &[u8]) -> i32 {
        let mask = self.slot_keys.len() - 1;
        let mut s = slot_of(k, mask);
        loop {
            let key = self.slot_keys[s];
            if key < 0 {
                return self.insert(s, k, v);
            }
            if self.slot_values[s] == k {
                return key;
            }
            s = (s + 1) & mask;
        }
    }

    /// A new short value, into free slot `s`.
    #[cold]
    #[inline(never)]
    fn insert(&mut self, s: usize, k: u64, v: &[u8]) -> i32 {
        let key = self.entries.push(&String::from_utf8_lossy(v));
        self.slot_values[s] = k;
        self.slot_keys[s] = key;
        let short = self.entries.distinct as usize - self.long.len();
        if short * 2 > self.slot_keys.len() {
            self.grow();
        }
        key
    }

    #[cold]
    #[inline(never)]
    fn long(&mut self, v: &[u8]) -> i32 {
        match self.long.get(v) {
            Some(&key) => key,
            None => {
                let key = self.entries.push(&String::from_utf8_lossy(v));
                self.long.insert(v.into(), key);
                key
            }
        }
    }

    fn grow(&mut self) {
        let size = self.slot_keys.len() * 2;
        let (values, keys) = (
            std::mem::replace(&mut self.slot_values, vec![0; size]),
            std::mem::replace(&mut self.slot_keys, vec![-1; size]),
        );
        let mask = size - 1;
        for (k, key) in values.into_iter().zip(keys).filter(|(_, key)| *key >= 0) {
            let mut s = slot_of(k, mask);
            while self.slot_keys[s] >= 0 {
                s = (s + 1) & mask;
            }
            self.slot_values[s] = k;
            self.slot_keys[s] = key;
        }
    }

    pub fn finish(self) -> DictionaryArray<Int32Type> {
        self.entries.finish()
    }
}

/// Builds a `Dictionary(Int32, Utf8)` array for values that come in runs (activity's entity
/// numbers, listed entity by entity): a value equal to the one before takes its key, any other a
/// new key — no lookup at all. A value met again after others becomes a second dictionary entry
/// (Parquet allows it; [`encode`] concatenates such dictionaries, [`Merge::Concatenate`]).
pub struct RunBuilder {
    entries: Entries,
    /// Where the last value starts in `values`, and its key, when there is one.
    last: Option<(usize, i32)>,
}

impl RunBuilder {
    pub fn with_capacity(rows: usize) -> RunBuilder {
        let values = StringBuilder::with_capacity(rows / 4 + 1, rows * 4);
        RunBuilder {
            entries: Entries::new(rows, values),
            last: None,
        }
    }

    pub fn finish(self) -> DictionaryArray<Int32Type> {
        self.entries.finish()
    }
}

/// `a == b`; from 8 to 16 bytes (entity numbers have 12 or 13) as two overlapping 8-byte loads,
/// with no call to `memcmp`.
#[inline]
pub fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if !(8..=16).contains(&a.len()) {
        return a == b;
    }
    let words = |x: &[u8]| {
        let first = x.first_chunk::<8>().map(|w| u64::from_le_bytes(*w));
        let last = x.last_chunk::<8>().map(|w| u64::from_le_bytes(*w));
        (first, last)
    };
    words(a) == words(b)
}

/// How the dictionaries of a row group's batches become the chunk's one dictionary.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Merge {
    /// Each distinct value once (codes: the same few values in every batch).
    Distinct,
    /// One after the other, as they are (values in runs, [`RunBuilder`]: nearly every entry is
    /// new, so looking them up would cost a hash a run for nothing; a value repeated across
    /// batches is a second entry, which Parquet allows).
    Concatenate,
}

/// The field metadata key that marks a dictionary column built by [`RunBuilder`].
const MERGE_KEY: &str = "bce.dictionary";

/// A field for a [`Builder`] column of a batch schema: `Dictionary(Int32, Utf8)`, the type
/// [`arrays_of`] takes.
pub fn field(name: &str, nullable: bool) -> Field {
    let ty = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    Field::new(name, ty, nullable)
}

/// A field for a [`RunBuilder`] column of a batch schema: its metadata tells [`arrays_of`] to
/// concatenate the batches' dictionaries.
pub fn runs_field(name: &str, nullable: bool) -> Field {
    field(name, nullable).with_metadata([(MERGE_KEY.to_string(), "runs".to_string())].into())
}

/// The dictionary arrays of column `column` in `batches`, when every one is `Int32` keys into
/// non-null strings (what [`Builder`] and [`RunBuilder`] make), and how to merge them; `None`
/// otherwise.
pub fn arrays_of(
    batches: &[duckdb::arrow::record_batch::RecordBatch],
    column: usize,
) -> Option<(Vec<&DictionaryArray<Int32Type>>, Merge)> {
    let merge = match batches
        .first()?
        .schema_ref()
        .field(column)
        .metadata()
        .get(MERGE_KEY)
    {
        Some(v) if v == "runs" => Merge::Concatenate,
        _ => Merge::Distinct,
    };
    let arrays = batches
        .iter()
        .map(|b| {
            let d = b.column(column).as_dictionary_opt::<Int32Type>()?;
            let v = d.values().as_string_opt::<i32>()?;
            (v.null_count() == 0).then_some(d)
        })
        .collect::<Option<Vec<_>>>()?;
    Some((arrays, merge))
}

thread_local! {
    /// This thread's zstd context and its level, between two [`encode`] calls.
    static ZSTD: std::cell::RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> =
        const { std::cell::RefCell::new(None) };
}

/// The thread's zstd context at `level` (a new one the first time, or for another level).
fn compressor(level: i32) -> std::io::Result<zstd::bulk::Compressor<'static>> {
    match ZSTD.with(|c| c.borrow_mut().take()) {
        Some((l, z)) if l == level => Ok(z),
        _ => zstd::bulk::Compressor::new(level),
    }
}

/// Writes `arrays` (the rows of one row group, in order) as the column chunk of `descr`: the
/// bytes of the chunk, starting at offset 0, and its metadata for
/// `SerializedRowGroupWriter::append_column`. `Ok(None)`: no rows, or a compression this module
/// does not write (only zstd and none), for the caller to encode the usual way.
pub fn encode(
    descr: &ColumnDescPtr,
    arrays: &[&DictionaryArray<Int32Type>],
    merge: Merge,
    props: &WriterProperties,
) -> Result<Option<(Bytes, ColumnCloseResult)>> {
    let rows: usize = arrays.iter().map(|a| a.len()).sum();
    if rows == 0 {
        return Ok(None);
    }
    let codec = props.compression(descr.path());
    let level = match codec {
        Compression::ZSTD(l) => Some(l.compression_level()),
        Compression::UNCOMPRESSED => None,
        _ => return Ok(None),
    };
    let zstd_err = |e: std::io::Error| ParquetError::External(Box::new(e));
    // One compression context for the chunk's pages, the thread's own, reused chunk after chunk
    // (making one per page, or per chunk with its tables, cost more than compressing the small
    // key pages).
    let mut zstd = level.map(compressor).transpose().map_err(zstd_err)?;
    let mut compress = |buf: Vec<u8>| -> Result<(Bytes, usize)> {
        let n = buf.len();
        match zstd.as_mut() {
            Some(z) => z
                .compress(&buf)
                .map(|c| (Bytes::from(c), n))
                .map_err(zstd_err),
            None => Ok((Bytes::from(buf), n)),
        }
    };

    // One dictionary for the chunk: each array's values mapped to it (a lookup per distinct
    // value, not per row), then every row's key.
    let entries: usize = arrays.iter().map(|a| a.values().len()).sum();
    let mut dict: HashMap<&str, u32, BuildHasherDefault<Fx>> = HashMap::default();
    if merge == Merge::Distinct {
        dict.reserve(entries);
    }
    let mut order: Vec<&str> = Vec::with_capacity(entries);
    let mut keys: Vec<u32> = Vec::with_capacity(rows);
    let mut nulls = 0u64;
    let mut valid: Vec<bool> = Vec::with_capacity(rows);
    for a in arrays {
        let values = a
            .values()
            .as_string_opt::<i32>()
            .ok_or_else(|| ParquetError::General("dictionary values are not strings".into()))?;
        let remap: Vec<u32> = match merge {
            Merge::Distinct => values
                .iter()
                .map(|v| {
                    let v = v.unwrap_or_default();
                    *dict.entry(v).or_insert_with(|| {
                        order.push(v);
                        (order.len() - 1) as u32
                    })
                })
                .collect(),
            Merge::Concatenate => {
                let from = order.len() as u32;
                order.extend(values.iter().map(Option::unwrap_or_default));
                (from..order.len() as u32).collect()
            }
        };
        let k = a.keys();
        let out_of_range = || ParquetError::General("dictionary key out of range".into());
        let remapped = |key: i32| remap.get(key as usize).copied().ok_or_else(out_of_range);
        match k.nulls().filter(|n| n.null_count() > 0) {
            None => {
                valid.extend(std::iter::repeat_n(true, k.len()));
                for &key in k.values().iter() {
                    keys.push(remapped(key)?);
                }
            }
            Some(n) => {
                nulls += n.null_count() as u64;
                for (&key, ok) in k.values().iter().zip(n.iter()) {
                    valid.push(ok);
                    if ok {
                        keys.push(remapped(key)?);
                    }
                }
            }
        }
    }

    let mut sink = TrackedWrite::new(Vec::new());
    let mut pages = SerializedPageWriter::new(&mut sink);
    let mut total_compressed = 0i64;
    let mut total_uncompressed = 0i64;
    let mut encoding_stats = Vec::new();

    let mut plain = Vec::with_capacity(order.iter().map(|v| v.len() + 4).sum());
    for v in &order {
        plain.extend_from_slice(&(v.len() as u32).to_le_bytes());
        plain.extend_from_slice(v.as_bytes());
    }
    let (buf, uncompressed) = compress(plain)?;
    let dict_encoding = props.dictionary_page_encoding();
    let spec = pages.write_page(CompressedPage::new(
        Page::DictionaryPage {
            buf,
            num_values: order.len() as u32,
            encoding: dict_encoding,
            is_sorted: false,
        },
        uncompressed,
    ))?;
    total_compressed += spec.compressed_size as i64;
    total_uncompressed += spec.uncompressed_size as i64;
    encoding_stats.push(PageEncodingStats {
        page_type: PageType::DICTIONARY_PAGE,
        encoding: dict_encoding,
        count: 1,
    });

    let width = bit_width(order.len().saturating_sub(1) as u32);
    let data_encoding = props.dictionary_data_page_encoding();
    let nullable = descr.max_def_level() > 0;
    let page_rows = props.data_page_row_count_limit().clamp(1, 1 << 20);
    let mut offsets = OffsetIndexBuilder::new();
    let mut data_offset = None;
    let mut data_pages = 0;
    let (mut row, mut key) = (0, 0);
    let mut levels: Vec<u32> = Vec::with_capacity(page_rows);
    while row < rows {
        let end = (row + page_rows).min(rows);
        let mut buf = Vec::new();
        let present = valid[row..end].iter().filter(|&&v| v).count();
        if nullable {
            let mut rle = Vec::new();
            if present == end - row {
                run(end - row, 1, 1, &mut rle);
            } else {
                levels.clear();
                levels.extend(valid[row..end].iter().map(|&v| v as u32));
                hybrid(&levels, 1, &mut rle);
            }
            buf.extend_from_slice(&(rle.len() as u32).to_le_bytes());
            buf.extend_from_slice(&rle);
        }
        buf.push(width);
        hybrid(&keys[key..key + present], width, &mut buf);
        let (buf, uncompressed) = compress(buf)?;
        let spec = pages.write_page(CompressedPage::new(
            Page::DataPage {
                buf,
                num_values: (end - row) as u32,
                encoding: data_encoding,
                def_level_encoding: Encoding::RLE,
                rep_level_encoding: Encoding::RLE,
                statistics: None,
            },
            uncompressed,
        ))?;
        data_offset.get_or_insert(spec.offset as i64);
        offsets.append_offset_and_size(spec.offset as i64, spec.compressed_size as i32);
        offsets.append_row_count((end - row) as i64);
        total_compressed += spec.compressed_size as i64;
        total_uncompressed += spec.uncompressed_size as i64;
        data_pages += 1;
        row = end;
        key += present;
    }
    pages.close()?;
    if let (Some(level), Some(z)) = (level, zstd) {
        ZSTD.with(|c| *c.borrow_mut() = Some((level, z)));
    }
    if data_pages > 0 {
        encoding_stats.push(PageEncodingStats {
            page_type: PageType::DATA_PAGE,
            encoding: data_encoding,
            count: data_pages,
        });
    }
    // Min and max over the dictionary: every entry is some row's value.
    let statistics =
        (props.statistics_enabled(descr.path()) != EnabledStatistics::None).then(|| {
            let bytes = |v: Option<&&str>| v.map(|v| ByteArray::from(v.as_bytes().to_vec()));
            let (min, max) = (bytes(order.iter().min()), bytes(order.iter().max()));
            Statistics::ByteArray(ValueStatistics::new(min, max, None, Some(nulls), false))
        });
    let mut metadata = ColumnChunkMetaData::builder(descr.clone())
        .set_compression(codec)
        .set_encodings(vec![dict_encoding, Encoding::RLE, data_encoding])
        .set_page_encoding_stats(encoding_stats)
        .set_total_compressed_size(total_compressed)
        .set_total_uncompressed_size(total_uncompressed)
        .set_num_values(rows as i64)
        .set_data_page_offset(data_offset.unwrap_or(0))
        .set_dictionary_page_offset(Some(0));
    if let Some(s) = statistics {
        metadata = metadata.set_statistics(s);
    }
    let metadata = metadata.build()?;
    let bytes = sink.bytes_written() as u64;
    let data = sink
        .into_inner()
        .map_err(|e| ParquetError::General(e.to_string()))?;
    Ok(Some((
        Bytes::from(data),
        ColumnCloseResult {
            bytes_written: bytes,
            rows_written: rows as u64,
            metadata,
            bloom_filter: None,
            column_index: None,
            offset_index: Some(offsets.build()),
        },
    )))
}

/// A multiply-rotate hash over 8-byte words, for merging the batches' dictionaries (SipHash
/// over a million entity numbers a row group was a tenth of the encoding).
#[derive(Default)]
struct Fx(u64);

impl std::hash::Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in words.by_ref() {
            let w = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
            self.write_u64(w);
        }
        let mut tail = [0u8; 8];
        let rest = words.remainder();
        tail[..rest.len()].copy_from_slice(rest);
        self.write_u64(u64::from_le_bytes(tail) ^ (rest.len() as u64) << 56);
    }
    fn write_u8(&mut self, b: u8) {
        self.write_u64(b as u64);
    }
    fn write_u64(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Bits needed for values up to `max`.
fn bit_width(max: u32) -> u8 {
    (32 - max.leading_zeros()) as u8
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// An RLE run: `count` times `value`, the value in whole bytes.
fn run(count: usize, value: u32, width: u8, out: &mut Vec<u8>) {
    varint((count as u64) << 1, out);
    out.extend_from_slice(&value.to_le_bytes()[..width.div_ceil(8) as usize]);
}

/// How many values from `values[i]` on equal it.
fn run_length(values: &[u32], i: usize) -> usize {
    values[i..].iter().take_while(|&&v| v == values[i]).count()
}

/// Whether 8 equal values start at `i` (the first and the eighth compared first: most places
/// fail there).
#[inline]
fn starts_run(values: &[u32], i: usize) -> bool {
    values
        .get(i..i + 8)
        .is_some_and(|w| w[0] == w[7] && w[1..7].iter().all(|&v| v == w[0]))
}

/// Bit-packed runs of at most 63 groups of 8 (a one-byte header), as parquet-rs writes them.
const MAX_GROUPS: usize = 63;

/// Appends `values` (each below 2^`width`) in Parquet's RLE / bit-packed hybrid encoding: 8 or
/// more equal values in a row as an RLE run, the others bit-packed in groups of 8 (the last group
/// of the stream padded with zeros; readers stop at the page's value count).
fn hybrid(values: &[u32], width: u8, out: &mut Vec<u8>) {
    let n = values.len();
    let mut i = 0;
    while i < n {
        if starts_run(values, i) {
            let r = run_length(values, i);
            run(r, values[i], width, out);
            i += r;
            continue;
        }
        // Groups of 8 until the values end or a run of 8 begins at a group's start.
        let start = i;
        let mut groups = 0;
        loop {
            groups += 1;
            i += 8;
            if i >= n || groups == MAX_GROUPS || starts_run(values, i) {
                break;
            }
        }
        varint(((groups as u64) << 1) | 1, out);
        for group in values[start..i.min(n)].chunks(8) {
            pack8(group, width, out);
        }
        i = i.min(n);
    }
}

/// Bit-packs 8 values (fewer: padded with zeros), least significant bits first: `width` bytes.
#[inline]
fn pack8(group: &[u32], width: u8, out: &mut Vec<u8>) {
    let w = width as u32;
    if w <= 16 {
        // 8 values of up to 16 bits fit one u128.
        let mut acc: u128 = 0;
        for (k, &v) in group.iter().enumerate() {
            acc |= (v as u128) << (k as u32 * w);
        }
        out.extend_from_slice(&acc.to_le_bytes()[..width as usize]);
        return;
    }
    let (mut acc, mut bits) = (0u64, 0u32);
    for k in 0..8 {
        acc |= (group.get(k).copied().unwrap_or(0) as u64) << bits;
        bits += w;
        while bits >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            bits -= 8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Decodes the hybrid encoding (test oracle, written from the format spec).
    fn decode(mut b: &[u8], width: u8, n: usize) -> Vec<u32> {
        let mut out = Vec::new();
        let varint = |b: &mut &[u8]| {
            let (mut v, mut shift) = (0u64, 0);
            loop {
                let byte = b[0];
                *b = &b[1..];
                v |= ((byte & 0x7f) as u64) << shift;
                shift += 7;
                if byte < 0x80 {
                    return v;
                }
            }
        };
        while out.len() < n {
            let h = varint(&mut b);
            if h & 1 == 0 {
                let bytes = width.div_ceil(8) as usize;
                let mut v = [0u8; 4];
                v[..bytes].copy_from_slice(&b[..bytes]);
                b = &b[bytes..];
                out.extend(std::iter::repeat_n(
                    u32::from_le_bytes(v),
                    (h >> 1) as usize,
                ));
            } else {
                let count = (h >> 1) as usize * 8;
                let (mut acc, mut bits) = (0u64, 0u32);
                for _ in 0..count {
                    while bits < width as u32 {
                        acc |= (b[0] as u64) << bits;
                        b = &b[1..];
                        bits += 8;
                    }
                    out.push((acc & ((1u64 << width) - 1)) as u32);
                    acc >>= width;
                    bits -= width as u32;
                }
            }
        }
        out.truncate(n);
        out
    }

    /// A test row: a code (NULL or not), a required code, an entity number in runs (NULL or not).
    type Row = (Option<String>, String, Option<String>);

    /// `rows` as batches of `batch_rows` dictionary arrays (the third column by [`RunBuilder`]),
    /// written by `ParallelWriter` (several row groups, pages of `page_rows`), read back by
    /// parquet-rs and DuckDB; each row group's statistics are its exact min, max and NULL count.
    fn round_trip(rows: &[Row], batch_rows: usize, page_rows: usize) {
        use crate::parquet_io::parallel::ParallelWriter;
        use duckdb::arrow::datatypes::Schema;
        use duckdb::arrow::record_batch::RecordBatch;
        let names = ["code", "kind", "entity"];
        let nullable = [true, false, true];
        let schema = |ty: &dyn Fn() -> DataType| {
            Arc::new(Schema::new(
                (0..3)
                    .map(|i| Field::new(names[i], ty(), nullable[i]))
                    .collect::<Vec<_>>(),
            ))
        };
        let file_schema = schema(&|| DataType::Utf8);
        let batch_schema = Arc::new(Schema::new(vec![
            field("code", true),
            field("kind", false),
            runs_field("entity", true),
        ]));
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("t.parquet");
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(Default::default()))
            .set_data_page_row_count_limit(page_rows)
            .set_write_batch_size(page_rows)
            .set_statistics_enabled(EnabledStatistics::Chunk)
            .build();
        let group_rows = batch_rows * 3;
        let fh = std::fs::File::create(&path).unwrap_or_else(|e| panic!("{e}"));
        let mut w = ParallelWriter::for_file(fh, file_schema, props, group_rows)
            .unwrap_or_else(|e| panic!("{e}"));
        for chunk in rows.chunks(batch_rows.max(1)) {
            let (mut a, mut b) = (Builder::with_capacity(1), Builder::with_capacity(1));
            let mut c = RunBuilder::with_capacity(1);
            for (x, y, z) in chunk {
                a.append_option(x.as_deref().map(str::as_bytes));
                b.append_bytes(y.as_bytes());
                c.append_option(z.as_deref().map(str::as_bytes));
            }
            let cols: Vec<duckdb::arrow::array::ArrayRef> = vec![
                Arc::new(a.finish()),
                Arc::new(b.finish()),
                Arc::new(c.finish()),
            ];
            let batch =
                RecordBatch::try_new(batch_schema.clone(), cols).unwrap_or_else(|e| panic!("{e}"));
            w.write(batch).unwrap_or_else(|e| panic!("{e}"));
        }
        let meta = w.close().unwrap_or_else(|e| panic!("{e}"));

        let mut got: Vec<Row> = Vec::new();
        for b in crate::parquet_io::read::read_all(&path).unwrap_or_else(|e| panic!("{e}")) {
            let col = |i: usize| b.column(i).as_string::<i32>();
            let (x, y, z) = (col(0), col(1), col(2));
            let opt = |a: &StringArray, i: usize| a.is_valid(i).then(|| a.value(i).to_string());
            for i in 0..b.num_rows() {
                got.push((opt(x, i), y.value(i).to_string(), opt(z, i)));
            }
        }
        assert_eq!(got, rows, "parquet-rs reads back what was written");

        let mut start = 0;
        for g in meta.row_groups() {
            let n = g.num_rows() as usize;
            let part = &rows[start..start + n];
            start += n;
            for (ci, c) in g.columns().iter().enumerate() {
                let values: Vec<&str> = part
                    .iter()
                    .filter_map(|r| [r.0.as_deref(), Some(r.1.as_str()), r.2.as_deref()][ci])
                    .collect();
                let s = c.statistics().unwrap_or_else(|| panic!("no statistics"));
                let text = |b: Option<&[u8]>| b.map(|b| String::from_utf8_lossy(b).to_string());
                let want = |v: Option<&&str>| v.map(|v| v.to_string());
                assert_eq!(text(s.min_bytes_opt()), want(values.iter().min()));
                assert_eq!(text(s.max_bytes_opt()), want(values.iter().max()));
                assert_eq!(s.null_count_opt(), Some((n - values.len()) as u64));
                assert!(values.is_empty() || s.min_is_exact() && s.max_is_exact());
            }
        }

        let conn = duckdb::Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        let sql = format!(
            "SELECT code, kind, entity FROM read_parquet('{}') ORDER BY file_row_number",
            path.display()
        );
        let mut stmt = conn.prepare(&sql).unwrap_or_else(|e| panic!("{e}"));
        let got: Vec<Row> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .and_then(|rows| rows.collect())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got, rows, "DuckDB reads back what was written");
    }

    /// A code among `distinct` values, NULL one time in `null_one_in` (never when 0); an entity
    /// number that repeats in runs, and may come back later.
    fn rows_strategy() -> impl Strategy<Value = Vec<Row>> {
        (1usize..600, 0usize..4).prop_flat_map(|(distinct, null_one_in)| {
            prop::collection::vec(
                (0..distinct, 0..4usize, 0..3usize, 0usize..10, 0usize..5),
                0..700,
            )
            .prop_map(move |v| {
                let mut entity = 200_065_765u64;
                v.into_iter()
                    .map(|(code, run, kind, n, step)| {
                        let code = format!("{:0w$}", code, w = 1 + run);
                        let null = null_one_in > 0 && n % (null_one_in + 1) == 0;
                        // Mostly the same entity as the row before; sometimes an earlier one.
                        entity = match step {
                            0 | 1 => entity,
                            2 | 3 => entity + 97,
                            _ => entity.saturating_sub(97 * 3),
                        };
                        let entity = (n != 1).then(|| crate::kbo::number::display(entity));
                        let kind = ["MAIN", "SECO", "ANCILLARY"][kind].to_string();
                        ((!null).then_some(code), kind, entity)
                    })
                    .collect()
            })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// Whatever the batches, row groups and pages, both readers get every row back.
        #[test]
        fn chunks_read_back(rows in rows_strategy(), batch_rows in 1usize..300, page_rows in 1usize..200) {
            round_trip(&rows, batch_rows, page_rows);
        }
    }

    /// Edge cases: one distinct value (bit width 0), NULLs only, long runs across pages, more
    /// than 2^16 distinct values.
    #[test]
    fn edge_cases_read_back() {
        let one: Vec<Row> = (0..100)
            .map(|_| (Some("A".into()), "MAIN".into(), Some("0200.065.765".into())))
            .collect();
        round_trip(&one, 30, 7);
        let nulls: Vec<Row> = (0..100).map(|_| (None, "SECO".into(), None)).collect();
        round_trip(&nulls, 40, 9);
        let wide: Vec<Row> = (0..70_000)
            .map(|i| {
                let code = format!("{}", i * 7919 % 70_000);
                (Some(code.clone()), format!("LONGER{}", i % 3), Some(code))
            })
            .collect();
        round_trip(&wide, 70_000, 20_000);
    }

    proptest! {
        /// Encode then decode gives the values back, at every width, with runs and without.
        #[test]
        fn hybrid_round_trips(width in 0u8..=20, runs in prop::collection::vec((any::<u32>(), 1usize..20), 0..60)) {
            let mask = if width == 0 { 0 } else { (1u64 << width) as u32 - 1 };
            let values: Vec<u32> = runs.iter().flat_map(|&(v, k)| std::iter::repeat_n(v & mask, k)).collect();
            let mut out = Vec::new();
            hybrid(&values, width, &mut out);
            prop_assert_eq!(decode(&out, width, values.len()), values);
        }

        /// The builder's array holds the values appended, NULLs included, one key per distinct value.
        #[test]
        fn builder_keeps_every_value(vals in prop::collection::vec(prop::option::of("[A-C0-9]{0,9}"), 0..300)) {
            let mut b = Builder::with_capacity(4);
            for v in &vals {
                b.append_option(v.as_deref().map(str::as_bytes));
            }
            let a = b.finish();
            let values = a.values().as_string::<i32>();
            let got: Vec<Option<String>> = (0..a.len())
                .map(|i| a.keys().is_valid(i).then(|| values.value(a.keys().value(i) as usize).to_string()))
                .collect();
            prop_assert_eq!(&got, &vals);
            let distinct: std::collections::HashSet<&String> = vals.iter().flatten().collect();
            prop_assert_eq!(values.len(), distinct.len());
        }
    }
}

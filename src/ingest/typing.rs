//! Rows → typed Arrow columns. Every field of a row is checked before any is appended, so a rejected
//! row leaves no trace in the batch.

use super::keys::KeySet;
use super::rejects::{raw_text, Reject};
use crate::kbo::number::{EntityKind, NumberError};
use crate::kbo::records::Records;
use crate::kbo::{self, number, Binding, ColType, TableDef};
use crate::parquet_io::dict::{self, Append as _};
use duckdb::arrow::array::{ArrayRef, Date32Builder, StringBuilder};
use duckdb::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use duckdb::arrow::error::ArrowError;
use duckdb::arrow::record_batch::RecordBatch;
use std::sync::Arc;

/// Arrow schema of a table's Parquet file: the columns of its definition (+ `vat_number` for
/// enterprise). Entity columns are non-nullable strings in display form; dates are Date32.
pub fn schema(def: &TableDef) -> SchemaRef {
    schema_of(def, false)
}

/// Arrow schema of the typed batches: [`schema`], with the codes, and the entity numbers of the
/// activity table, as `Dictionary(Int32, Utf8)` (keys into their distinct values, which the Parquet
/// writer writes as they are: [`crate::parquet_io::dict`]).
pub fn batch_schema(def: &TableDef) -> SchemaRef {
    schema_of(def, true)
}

fn schema_of(def: &TableDef, dictionaries: bool) -> SchemaRef {
    let mut fields: Vec<Field> = (def.columns.iter().enumerate())
        .map(|(ci, c)| {
            let ty = match (kind(def, ci), dictionaries) {
                (Kind::Date, _) => DataType::Date32,
                (Kind::Code, true) => return dict::field(c.name, c.nullable),
                (Kind::Runs, true) => return dict::runs_field(c.name, c.nullable),
                _ => DataType::Utf8,
            };
            Field::new(c.name, ty, c.nullable)
        })
        .collect();
    if def.derives_vat() {
        fields.push(Field::new("vat_number", DataType::Utf8, false));
    }
    Arc::new(Schema::new(fields))
}

/// How column `ci` of `def` is built.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    /// Few distinct values: a dictionary looked up on the value's bytes.
    Code,
    /// The entity number of a table with many rows an entity (its first column): the register
    /// lists them entity by entity, so a value mostly repeats the one before.
    Runs,
    Date,
}

fn kind(def: &TableDef, ci: usize) -> Kind {
    match def.columns[ci].ty {
        ColType::Date => Kind::Date,
        ColType::Code => Kind::Code,
        ColType::EntityNumber | ColType::Number(_) if ci == 0 && def.many_rows_per_entity() => {
            Kind::Runs
        }
        _ => Kind::Str,
    }
}

enum Builder {
    Str(StringBuilder),
    Code(dict::Builder),
    Runs(dict::RunBuilder),
    Date(Date32Builder),
}

impl Builder {
    fn for_column(def: &TableDef, ci: usize, rows: usize) -> Builder {
        match kind(def, ci) {
            Kind::Date => Builder::Date(Date32Builder::with_capacity(rows)),
            Kind::Code => Builder::Code(dict::Builder::with_capacity(rows)),
            Kind::Runs => Builder::Runs(dict::RunBuilder::with_capacity(rows)),
            Kind::Str => Builder::Str(StringBuilder::with_capacity(rows, rows * 12)),
        }
    }

    fn finish(self) -> ArrayRef {
        match self {
            Builder::Str(mut b) => Arc::new(b.finish()),
            Builder::Code(b) => Arc::new(b.finish()),
            Builder::Runs(b) => Arc::new(b.finish()),
            Builder::Date(mut b) => Arc::new(b.finish()),
        }
    }
}

/// Rows checked before their accepted ones are appended, column by column: a block's records
/// (about 100 KB of field ranges for activity) stay in the core's cache between the two passes.
const BLOCK_ROWS: usize = 2048;

pub struct Stats {
    pub read: u64,
    pub written: u64,
    pub orphans: u64,
}

pub struct Typer<'a> {
    def: &'static TableDef,
    binding: &'a Binding,
    file: String,
    extract_number: u32,
    rejects: Vec<Reject>,
    stats: Stats,
    last: Option<LastEntity>,
}

/// The last entity number parsed, as it was written, and what it gave.
struct LastEntity {
    bytes: [u8; 13],
    len: usize,
    kind: Option<EntityKind>,
    number: u64,
}

impl LastEntity {
    /// Whether `v` is this number as written (two 8-byte comparisons for the usual 12 or 13
    /// bytes, no call to memcmp).
    fn is(&self, v: &[u8]) -> bool {
        dict::same(&self.bytes[..self.len], v)
    }
}

impl<'a> Typer<'a> {
    pub fn new(
        def: &'static TableDef,
        binding: &'a Binding,
        file: &str,
        extract_number: u32,
    ) -> Self {
        Typer {
            def,
            binding,
            file: file.to_string(),
            extract_number,
            rejects: Vec::new(),
            stats: Stats {
                read: 0,
                written: 0,
                orphans: 0,
            },
            last: None,
        }
    }

    /// Parses an entity number, remembering the last one: child tables list ~10 rows per entity in
    /// a row, so most parses are a comparison of 12 or 13 bytes.
    fn entity(&mut self, v: &[u8], kind: Option<EntityKind>) -> Result<u64, NumberError> {
        if let Some(l) = &self.last {
            if l.kind == kind && l.is(v) {
                return Ok(l.number);
            }
        }
        let n = number::parse(v, kind)?;
        if v.len() <= 13 {
            let mut bytes = [0u8; 13];
            bytes[..v.len()].copy_from_slice(v);
            self.last = Some(LastEntity {
                bytes,
                len: v.len(),
                kind,
                number: n,
            });
        }
        Ok(n)
    }

    fn reject(&mut self, line: u64, reason: String, buf: &[u8], fields: &[(usize, usize)]) {
        let mut rec = csv::ByteRecord::new();
        for &(a, b) in fields {
            rec.push_field(&buf[a..b]);
        }
        self.rejects.push(Reject {
            extract_number: self.extract_number,
            table: self.def.name.to_string(),
            file: self.file.clone(),
            line,
            reason,
            raw: raw_text(&rec),
        });
    }

    /// Checks field `v` of column `ci`; `Err` is the reject reason. `utf8_checked`: the buffer
    /// was found valid UTF-8 as a whole. Dates are parsed into `date`; a number column gives its
    /// number, and whether it names the row's owner (an entity to look up in the owners' keys).
    fn check(
        &mut self,
        ci: usize,
        v: &[u8],
        utf8_checked: bool,
        date: &mut i32,
    ) -> Result<(u64, bool), String> {
        let c = &self.def.columns[ci];
        let header = c.header;
        if !utf8_checked {
            if let Err(e) = std::str::from_utf8(v) {
                return Err(format!(
                    "column {header}: invalid UTF-8 at byte {} of the value",
                    e.valid_up_to()
                ));
            }
        }
        let shown = || String::from_utf8_lossy(v);
        match c.ty {
            ColType::Code | ColType::Text => Ok((0, false)),
            ColType::Number(kind) if ci == 0 => {
                // The table's own key: checked, not looked up (duplicates are found by the caller).
                number::parse(v, Some(kind))
                    .map(|n| (n, false))
                    .map_err(|e| format!("column {header}: {:?}: {e}", shown()))
            }
            ColType::Number(kind) => self
                .entity(v, Some(kind))
                .map(|n| (n, true))
                .map_err(|e| format!("column {header}: {:?}: {e}", shown())),
            ColType::EntityNumber => self
                .entity(v, None)
                .map(|n| (n, true))
                .map_err(|e| format!("column {header}: {:?}: {e}", shown())),
            ColType::Date => match kbo::date::parse_dmy(v) {
                Some(d) => {
                    *date = d;
                    Ok((0, false))
                }
                None => Err(format!(
                    "column {header}: {:?} is not a valid dd-mm-yyyy date",
                    shown()
                )),
            },
        }
    }

    /// Types records `range` of `recs` (tokenized from `buf`; `text` is `buf` as far as the
    /// records go, when it is valid UTF-8); rejected rows go to the reject list. Every field of a
    /// row is checked before any is appended.
    #[allow(clippy::too_many_arguments)]
    pub fn type_records(
        &mut self,
        buf: &[u8],
        text: Option<&str>,
        recs: &Records,
        range: std::ops::Range<usize>,
        owners: &KeySet,
        own: &mut Option<KeySet>,
        schema: SchemaRef,
    ) -> Result<RecordBatch, ArrowError> {
        let ncols = self.def.columns.len();
        let n = range.len();
        let mut builders: Vec<Builder> = (0..ncols)
            .map(|ci| Builder::for_column(self.def, ci, n))
            .collect();
        let mut vat = (self.def.derives_vat()).then(|| StringBuilder::with_capacity(n, n * 12));
        // A row's dates, by column.
        let mut dates: Vec<i32> = vec![0; ncols];
        let positions = &self.binding.positions;
        let nullable: Vec<bool> = self.def.columns.iter().map(|c| c.nullable).collect();
        // A code or text field of a buffer already found valid UTF-8 has nothing left to check.
        let plain: Vec<bool> = self
            .def
            .columns
            .iter()
            .map(|c| text.is_some() && matches!(c.ty, ColType::Code | ColType::Text))
            .collect();
        // The columns a row's check has anything to do for (activity: its entity number only).
        let to_check: Vec<usize> = (0..ncols)
            .filter(|&ci| !(plain[ci] && nullable[ci]))
            .collect();
        // Rows are checked a block at a time, then the block's accepted rows appended column by
        // column (one builder at a time: no dispatch a value, and its records still in cache).
        let mut accepted: Vec<usize> = Vec::with_capacity(BLOCK_ROWS);
        // The owner numbers of the block's accepted rows, by their place in `accepted`: looked up
        // in `owners` (12.5 MB of bits) after the block, in a loop of independent loads, so the
        // cache misses of a register in no particular order overlap instead of stalling each row.
        let mut owned: Vec<(u32, u64)> = Vec::with_capacity(BLOCK_ROWS);
        let mut block_dates: Vec<Vec<i32>> = vec![Vec::new(); ncols];
        let is_date: Vec<bool> = (0..ncols)
            .map(|ci| matches!(kind(self.def, ci), Kind::Date))
            .collect();
        let mut from = range.start;
        while from < range.end {
            let to = (from + BLOCK_ROWS).min(range.end);
            accepted.clear();
            owned.clear();
            block_dates.iter_mut().for_each(Vec::clear);
            for r in from..to {
                self.stats.read += 1;
                let line = recs.line(r);
                let fields = recs.fields(r);
                if fields.len() != self.binding.width {
                    let reason = format!(
                        "the row has {} fields, the header has {}",
                        fields.len(),
                        self.binding.width
                    );
                    self.reject(line, reason, buf, fields);
                    continue;
                }
                // Every reject below this point gives back the row's owner numbers (truncate), so
                // only written rows count as orphans. (One labeled block with a single reject
                // site read better but cost 2–3 % of activity typing: measured, not kept.)
                let owned_before = owned.len();
                let mut key = 0;
                let mut failed = None;
                for &ci in &to_check {
                    let (a, b) = positions[ci]
                        .and_then(|p| fields.get(p).copied())
                        .unwrap_or((0, 0));
                    if a == b {
                        if !nullable[ci] {
                            failed = Some(format!(
                                "column {}: value missing",
                                self.def.columns[ci].header
                            ));
                            break;
                        }
                        continue;
                    }
                    if plain[ci] {
                        continue;
                    }
                    match self.check(ci, &buf[a..b], text.is_some(), &mut dates[ci]) {
                        Ok((k, owner)) => {
                            if owner {
                                owned.push((accepted.len() as u32, k));
                            }
                            if ci == 0 {
                                key = k;
                            }
                        }
                        Err(reason) => {
                            failed = Some(reason);
                            break;
                        }
                    }
                }
                if let Some(reason) = failed {
                    owned.truncate(owned_before);
                    self.reject(line, reason, buf, fields);
                    continue;
                }
                if self.def.unique_key {
                    // Column 0 is the checked, non-null key.
                    if !own.as_mut().is_none_or(|own| own.insert(key)) {
                        let reason = format!(
                            "column {}: duplicate key {} (the first row with this key is kept)",
                            self.def.columns[0].header,
                            number::display(key)
                        );
                        owned.truncate(owned_before);
                        self.reject(line, reason, buf, fields);
                        continue;
                    }
                    if let Some(vat) = vat.as_mut() {
                        vat.append_value(number::vat_number(key));
                    }
                }
                self.stats.written += 1;
                accepted.push(r);
                for (ci, d) in block_dates.iter_mut().enumerate() {
                    if is_date[ci] {
                        // A NULL date's day is not read.
                        d.push(dates[ci]);
                    }
                }
            }
            // A row is an orphan when any of its owners is missing (a row counted once).
            let mut last_orphan = u32::MAX;
            for &(row, n) in &owned {
                if !owners.contains(n) && row != last_orphan {
                    self.stats.orphans += 1;
                    last_orphan = row;
                }
            }
            for (ci, b) in builders.iter_mut().enumerate() {
                let span = |r: usize| -> Option<(usize, usize)> {
                    let (a, e) = positions[ci]
                        .and_then(|p| recs.fields(r).get(p).copied())
                        .unwrap_or((0, 0));
                    (a != e).then_some((a, e))
                };
                // Checked above: the buffer as a whole, or this field on its own. The dictionary
                // builders take bytes (made text once a distinct value): no char-boundary checks.
                let text_of = |(a, e): (usize, usize)| -> &str {
                    match text.and_then(|t| t.get(a..e)) {
                        Some(s) => s,
                        None => std::str::from_utf8(&buf[a..e]).unwrap_or_default(),
                    }
                };
                let bytes = |v: Option<(usize, usize)>| v.map(|(a, e)| &buf[a..e]);
                let rows = accepted.iter().map(|&r| span(r));
                match b {
                    Builder::Str(b) => rows.for_each(|v| match v {
                        Some(v) => b.append_value(text_of(v)),
                        None => b.append_null(),
                    }),
                    Builder::Code(b) => rows.for_each(|v| b.append_option(bytes(v))),
                    Builder::Runs(b) => rows.for_each(|v| b.append_option(bytes(v))),
                    Builder::Date(b) => {
                        for (v, &d) in rows.zip(&block_dates[ci]) {
                            match v {
                                Some(_) => b.append_value(d),
                                None => b.append_null(),
                            }
                        }
                    }
                }
            }
            from = to;
        }
        let mut cols: Vec<ArrayRef> = builders.into_iter().map(Builder::finish).collect();
        if let Some(mut vat) = vat {
            cols.push(Arc::new(vat.finish()));
        }
        RecordBatch::try_new(schema, cols)
    }

    pub fn finish(self) -> (Stats, Vec<Reject>) {
        (self.stats, self.rejects)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kbo::records::Tokenizer;
    use duckdb::arrow::array::{Array, AsArray};

    /// `input` tokenized in place, its columns bound by its header: (buffer, records, bytes the
    /// records use, binding).
    fn tokenized(def: &TableDef, mut buf: Vec<u8>) -> (Vec<u8>, Records, usize, Binding) {
        let mut recs = Records::default();
        let used = Tokenizer::default().tokenize(&mut buf, true, &mut recs);
        let header = recs.texts(0, &buf);
        let refs: Vec<&str> = header.iter().map(String::as_str).collect();
        let binding = kbo::bind(def.columns, &refs).unwrap_or_else(|c| panic!("{c}"));
        (buf, recs, used, binding)
    }

    /// Every data record of `recs` typed into one batch.
    fn typed(
        typer: &mut Typer,
        (buf, recs): (&[u8], &Records),
        text: Option<&str>,
        owners: &KeySet,
        own: &mut Option<KeySet>,
    ) -> RecordBatch {
        let schema = batch_schema(typer.def);
        typer
            .type_records(buf, text, recs, 1..recs.len(), owners, own, schema)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Over several blocks of rows, rejected rows anywhere: the written rows keep their order and
    /// values in every column (NULLs included), the rejects their lines; only written rows count
    /// as orphans (one rejected after its entity number was read).
    #[test]
    fn blocks_of_rows_keep_order_values_and_rejects() {
        let def = TableDef::by_name("activity").unwrap_or_else(|| unreachable!());
        let mut input = String::from(
            "\"EntityNumber\",\"ActivityGroup\",\"NaceVersion\",\"NaceCode\",\"Classification\"\n",
        )
        .into_bytes();
        let rows = 3 * BLOCK_ROWS + 17;
        let mut expected = Vec::new();
        let mut bad_lines = Vec::new();
        for i in 0..rows {
            let line = i as u64 + 2;
            let code = format!("{:05}", i % 1000);
            let class = if i % 5 == 0 { "" } else { "MAIN" };
            if i % 7 == 3 {
                // A bad check digit.
                input.extend_from_slice(
                    format!("\"0200.065.766\",\"001\",\"2008\",\"{code}\",\"MAIN\"\n").as_bytes(),
                );
                bad_lines.push(line);
            } else if i % 11 == 4 {
                // A short row.
                input.extend_from_slice(b"\"0200.065.765\",\"001\"\n");
                bad_lines.push(line);
            } else if i == 2 * BLOCK_ROWS - 1 {
                // Invalid UTF-8 in a column after the (valid, ownerless) entity number, in the
                // last row of a block.
                input.extend_from_slice(b"\"0200.065.765\",\"001\",\"2008\",\"4\xff\",\"MAIN\"\n");
                bad_lines.push(line);
            } else {
                input.extend_from_slice(
                    format!("\"0200.065.765\",\"001\",\"2008\",\"{code}\",{class}\n").as_bytes(),
                );
                expected.push((code, (!class.is_empty()).then(|| class.to_string())));
            }
        }
        let (buf, recs, used, binding) = tokenized(def, input);
        let text = std::str::from_utf8(&buf[..used]).ok();
        assert!(text.is_none(), "each field checked on its own");
        let mut typer = Typer::new(def, &binding, "activity.csv", 147);
        let batch = typed(&mut typer, (&buf, &recs), text, &KeySet::new(), &mut None);
        let strings = |c: usize| -> Vec<Option<String>> {
            let a = duckdb::arrow::compute::cast(batch.column(c), &DataType::Utf8)
                .unwrap_or_else(|e| panic!("{e}"));
            a.as_string::<i32>()
                .iter()
                .map(|v| v.map(str::to_string))
                .collect()
        };
        let got: Vec<(String, Option<String>)> = strings(3)
            .into_iter()
            .zip(strings(4))
            .map(|(c, k)| (c.unwrap_or_default(), k))
            .collect();
        assert_eq!(got, expected);
        assert!(strings(0)
            .iter()
            .all(|e| e.as_deref() == Some("0200.065.765")));
        let (stats, rejects) = typer.finish();
        // No owners given: every written row is an orphan, and no rejected one.
        assert_eq!(
            (stats.read, stats.written, stats.orphans),
            (rows as u64, expected.len() as u64, expected.len() as u64)
        );
        assert_eq!(
            rejects.iter().map(|r| r.line).collect::<Vec<_>>(),
            bad_lines
        );
    }

    /// Rejects come in row order, each with its row's first failing column as the reason, with
    /// or without the whole-buffer UTF-8 check; written rows, orphans and duplicates counted.
    #[test]
    fn rejects_in_row_order_with_the_first_failing_column() {
        let def = TableDef::by_name("establishment").unwrap_or_else(|| unreachable!());
        let input = "\"EstablishmentNumber\",\"StartDate\",\"EnterpriseNumber\"\n\
            \"2.000.000.438\",01-02-1995,\"0200.065.765\"\n\
            \"2.000.000.438\",01-02-1995,\"0403.170.701\"\n\
            \"2.000.000.933\",01-02-1995,\"0200.065.765\"\n\
            \"2.000.000.537\",01-02-1995\n\
            \"2.000.000.537\",31-02-2020,\"0200.065.765\"\n\
            \"2.000.000.636\",01-02-1995,\"0200.065.766\"\n\
            \"2.000.000.735\",31-02-2020,\"0200.065.766\"\n\
            \"2.000.000.834\",02-03-2001,\"0403.170.701\"\n\
            \"\",01-02-1995,\"0200.065.765\"\n";
        let (buf, recs, used, binding) = tokenized(def, input.as_bytes().to_vec());
        let mut owners = KeySet::new();
        owners.insert(number::parse(b"0200.065.765", None).unwrap_or_default());
        for text in [std::str::from_utf8(&buf[..used]).ok(), None] {
            let mut typer = Typer::new(def, &binding, "establishment.csv", 147);
            let mut own = Some(KeySet::new());
            let batch = typed(&mut typer, (&buf, &recs), text, &owners, &mut own);
            let numbers: Vec<&str> = batch
                .column(0)
                .as_string::<i32>()
                .iter()
                .flatten()
                .collect();
            assert_eq!(
                numbers,
                vec!["2.000.000.438", "2.000.000.933", "2.000.000.834"]
            );
            assert_eq!(batch.column(1).null_count(), 0);
            let (stats, rejects) = typer.finish();
            // The duplicate's missing enterprise is not counted (the row was rejected).
            assert_eq!((stats.read, stats.written, stats.orphans), (9, 3, 1));
            let got: Vec<(u64, &str)> = rejects
                .iter()
                .map(|r| (r.line, r.reason.split(':').next().unwrap_or("")))
                .collect();
            assert_eq!(
                got,
                vec![
                    (3, "column EstablishmentNumber"),
                    (5, "the row has 2 fields, the header has 3"),
                    (6, "column StartDate"),
                    (7, "column EnterpriseNumber"),
                    (8, "column StartDate"),
                    (10, "column EstablishmentNumber"),
                ]
            );
            assert!(rejects[0].reason.contains("duplicate key"));
            assert!(rejects[5].reason.contains("value missing"));
            assert_eq!(rejects[1].raw, "2.000.000.537,01-02-1995");
        }
    }
}

//! Rows → typed Arrow columns. Every field of a row is checked before any is appended, so a rejected
//! row leaves no trace in the batch.

use super::keys::KeySet;
use super::rejects::{raw_text, Reject};
use crate::kbo::number::{EntityKind, NumberError};
use crate::kbo::records::Records;
use crate::kbo::{self, number, Binding, ColType, TableDef};
use duckdb::arrow::array::{ArrayRef, Date32Builder, StringBuilder};
use duckdb::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use duckdb::arrow::error::ArrowError;
use duckdb::arrow::record_batch::RecordBatch;
use std::sync::Arc;

/// Arrow schema of a table's Parquet file: the columns of its definition (+ `vat_number` for
/// enterprise). Entity columns are non-nullable strings in display form; dates are Date32.
pub fn schema(def: &TableDef) -> SchemaRef {
    let mut fields: Vec<Field> = def
        .columns
        .iter()
        .map(|c| {
            let ty = if c.ty == ColType::Date {
                DataType::Date32
            } else {
                DataType::Utf8
            };
            Field::new(c.name, ty, c.nullable)
        })
        .collect();
    if def.derives_vat() {
        fields.push(Field::new("vat_number", DataType::Utf8, false));
    }
    Arc::new(Schema::new(fields))
}

enum Builder {
    Str(StringBuilder),
    Date(Date32Builder),
}

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
    orphan: bool,
}

/// A checked field, ready to append.
#[derive(Clone, Copy)]
enum Val<'r> {
    Null,
    Str(&'r str),
    Date(i32),
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
    /// a row, so most lookups are a 13-byte comparison. Returns (number, orphan).
    fn entity(
        &mut self,
        v: &[u8],
        kind: Option<EntityKind>,
        keys: &KeySet,
    ) -> Result<(u64, bool), NumberError> {
        if let Some(l) = &self.last {
            if l.kind == kind && &l.bytes[..l.len] == v {
                return Ok((l.number, l.orphan));
            }
        }
        let n = number::parse(v, kind)?;
        let orphan = !keys.contains(n);
        if v.len() <= 13 {
            let mut bytes = [0u8; 13];
            bytes[..v.len()].copy_from_slice(v);
            self.last = Some(LastEntity {
                bytes,
                len: v.len(),
                kind,
                number: n,
                orphan,
            });
        }
        Ok((n, orphan))
    }

    /// Checks one field; `Err` is the reject reason. The u64 is the parsed number of a number column.
    /// `checked` is the field as text when the whole buffer was found valid UTF-8.
    fn check<'r>(
        &mut self,
        ci: usize,
        v: &'r [u8],
        checked: Option<&'r str>,
        keys: &KeySet,
    ) -> Result<(Val<'r>, bool, u64), String> {
        let c = &self.def.columns[ci];
        if v.is_empty() {
            return if c.nullable {
                Ok((Val::Null, false, 0))
            } else {
                Err(format!("column {}: value missing", c.header))
            };
        }
        let header = c.header;
        let s = match checked {
            Some(s) => s,
            None => std::str::from_utf8(v).map_err(|e| {
                format!(
                    "column {header}: invalid UTF-8 at byte {} of the value",
                    e.valid_up_to()
                )
            })?,
        };
        match c.ty {
            ColType::Number(kind) if ci == 0 => {
                // The table's own key: checked, not looked up (duplicates are found by the caller).
                let n = number::parse(v, Some(kind))
                    .map_err(|e| format!("column {header}: {s:?}: {e}"))?;
                Ok((Val::Str(s), false, n))
            }
            ColType::Number(kind) => {
                let (n, orphan) = self
                    .entity(v, Some(kind), keys)
                    .map_err(|e| format!("column {header}: {s:?}: {e}"))?;
                Ok((Val::Str(s), orphan, n))
            }
            ColType::EntityNumber => {
                let (n, orphan) = self
                    .entity(v, None, keys)
                    .map_err(|e| format!("column {header}: {s:?}: {e}"))?;
                Ok((Val::Str(s), orphan, n))
            }
            ColType::Date => kbo::date::parse_dmy(v)
                .map(|d| (Val::Date(d), false, 0))
                .ok_or_else(|| format!("column {header}: {s:?} is not a valid dd-mm-yyyy date")),
            ColType::Code | ColType::Text => Ok((Val::Str(s), false, 0)),
        }
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

    /// Types records `range` of `recs` (tokenized from `buf`; `text` is `buf` as far as the
    /// records go, when it is valid UTF-8); rejected rows go to the reject list.
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
        let mut builders: Vec<Builder> = self
            .def
            .columns
            .iter()
            .map(|c| match c.ty {
                ColType::Date => Builder::Date(Date32Builder::with_capacity(n)),
                _ => Builder::Str(StringBuilder::with_capacity(n, n * 12)),
            })
            .collect();
        let mut vat = (self.def.derives_vat()).then(|| StringBuilder::with_capacity(n, n * 12));
        let mut vals: Vec<Val> = Vec::with_capacity(ncols);
        for r in range {
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
            vals.clear();
            let mut orphan = false;
            let mut key = 0;
            let mut failed = None;
            for ci in 0..ncols {
                let (a, b) = self.binding.positions[ci]
                    .and_then(|p| fields.get(p).copied())
                    .unwrap_or((0, 0));
                let checked = text.and_then(|t| t.get(a..b));
                match self.check(ci, &buf[a..b], checked, owners) {
                    Ok((val, o, n)) => {
                        orphan |= o;
                        if ci == 0 {
                            key = n;
                        }
                        vals.push(val);
                    }
                    Err(reason) => {
                        failed = Some(reason);
                        break;
                    }
                }
            }
            if let Some(reason) = failed {
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
                    self.reject(line, reason, buf, fields);
                    continue;
                }
                if let Some(vat) = vat.as_mut() {
                    vat.append_value(number::vat_number(key));
                }
            }
            self.stats.orphans += orphan as u64;
            self.stats.written += 1;
            for (b, v) in builders.iter_mut().zip(&vals) {
                match (b, *v) {
                    (Builder::Str(b), Val::Str(s)) => b.append_value(s),
                    (Builder::Str(b), _) => b.append_null(),
                    (Builder::Date(b), Val::Date(d)) => b.append_value(d),
                    (Builder::Date(b), _) => b.append_null(),
                }
            }
        }
        let mut cols: Vec<ArrayRef> = builders
            .into_iter()
            .map(|b| match b {
                Builder::Str(mut b) => Arc::new(b.finish()) as ArrayRef,
                Builder::Date(mut b) => Arc::new(b.finish()) as ArrayRef,
            })
            .collect();
        if let Some(mut vat) = vat {
            cols.push(Arc::new(vat.finish()));
        }
        RecordBatch::try_new(schema, cols)
    }

    pub fn finish(self) -> (Stats, Vec<Reject>) {
        (self.stats, self.rejects)
    }
}

//! Reading Parquet columns: a projection, optionally some text columns as dictionaries (keys into
//! their distinct values, no string materialised), one row group at a time for parallel readers;
//! and [`StrCol`], one accessor for every Arrow text layout.

use duckdb::arrow::array::{Array, AsArray, RecordBatch};
use duckdb::arrow::datatypes::{DataType, Field, Int32Type, Schema};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;
use parquet::file::metadata::PageIndexPolicy;
use std::path::Path;
use std::sync::Arc;

/// The Arrow schema of a Parquet file (as written: bce files carry it in their metadata).
pub fn schema_of(path: &Path) -> Result<duckdb::arrow::datatypes::SchemaRef, String> {
    let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let b = ParquetRecordBatchReaderBuilder::try_new(f).map_err(|e| e.to_string())?;
    Ok(b.schema().clone())
}

/// Every column of a Parquet file, all row groups.
pub fn read_all(path: &Path) -> Result<Vec<RecordBatch>, String> {
    let err = |e: String| format!("{}: {e}", path.display());
    let f = std::fs::File::open(path).map_err(|e| err(e.to_string()))?;
    ParquetRecordBatchReaderBuilder::try_new(f)
        .and_then(|b| b.with_batch_size(65_536).build())
        .map_err(|e| err(e.to_string()))?
        .map(|r| r.map_err(|e| err(e.to_string())))
        .collect()
}

/// The batches of some columns of a Parquet file (all row groups, or only `row_groups`).
pub fn read(
    path: &Path,
    columns: &[&str],
    row_groups: Option<Vec<usize>>,
) -> Result<Vec<RecordBatch>, String> {
    Opened::open(path)?.read(columns, &[], row_groups)
}

/// A Parquet file whose footer was parsed once, for readers of one row group at a time (a footer
/// grows with the row groups: parsing it per group would cost groups² in all).
#[derive(Clone)]
pub struct Opened {
    path: std::path::PathBuf,
    meta: ArrowReaderMetadata,
}

impl Opened {
    pub fn open(path: &Path) -> Result<Opened, String> {
        Opened::load(path, ArrowReaderOptions::new())
    }

    /// As [`Opened::open`], with the page indexes where the file has them (for a raw copy of its
    /// row groups).
    pub fn open_with_page_index(path: &Path) -> Result<Opened, String> {
        Opened::load(
            path,
            ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional),
        )
    }

    fn load(path: &Path, options: ArrowReaderOptions) -> Result<Opened, String> {
        let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let meta = ArrowReaderMetadata::load(&f, options)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Opened {
            path: path.to_path_buf(),
            meta,
        })
    }

    pub fn row_groups(&self) -> usize {
        self.meta.metadata().num_row_groups()
    }

    pub fn row_group_rows(&self, g: usize) -> u64 {
        self.meta.metadata().row_group(g).num_rows().max(0) as u64
    }

    pub fn metadata(&self) -> &ArrowReaderMetadata {
        &self.meta
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A reader builder over a file handle of its own, with the parsed footer.
    pub fn builder(&self) -> Result<ParquetRecordBatchReaderBuilder<std::fs::File>, String> {
        let f =
            std::fs::File::open(&self.path).map_err(|e| format!("{}: {e}", self.path.display()))?;
        Ok(ParquetRecordBatchReaderBuilder::new_with_metadata(
            f,
            self.meta.clone(),
        ))
    }

    /// Some columns (all row groups, or only `row_groups`), the text columns `dict` as
    /// dictionaries. Each call opens the file anew: clones of one `File` share their offset.
    pub fn read(
        &self,
        columns: &[&str],
        dict: &[&str],
        row_groups: Option<Vec<usize>>,
    ) -> Result<Vec<RecordBatch>, String> {
        let err = |e: String| format!("{}: {e}", self.path.display());
        let f = std::fs::File::open(&self.path).map_err(|e| err(e.to_string()))?;
        let meta = if dict.is_empty() {
            self.meta.clone()
        } else {
            let fields: Vec<Field> = self
                .meta
                .schema()
                .fields()
                .iter()
                .map(|fl| {
                    if dict.contains(&fl.name().as_str()) && fl.data_type() == &DataType::Utf8 {
                        Field::new(
                            fl.name(),
                            DataType::Dictionary(
                                Box::new(DataType::Int32),
                                Box::new(DataType::Utf8),
                            ),
                            fl.is_nullable(),
                        )
                    } else {
                        fl.as_ref().clone()
                    }
                })
                .collect();
            let options = ArrowReaderOptions::new().with_schema(Arc::new(Schema::new(fields)));
            ArrowReaderMetadata::try_new(self.meta.metadata().clone(), options)
                .map_err(|e| err(e.to_string()))?
        };
        let b = ParquetRecordBatchReaderBuilder::new_with_metadata(f, meta);
        let schema = b.parquet_schema();
        let idx: Vec<usize> = columns
            .iter()
            .map(|c| {
                (0..schema.num_columns())
                    .find(|i| schema.column(*i).name() == *c)
                    .ok_or_else(|| err(format!("no column {c}")))
            })
            .collect::<Result<_, String>>()?;
        let mask = ProjectionMask::leaves(schema, idx);
        let mut b = b.with_projection(mask).with_batch_size(65_536);
        if let Some(rg) = row_groups {
            b = b.with_row_groups(rg);
        }
        let reader = b.build().map_err(|e| err(e.to_string()))?;
        reader.map(|r| r.map_err(|e| err(e.to_string()))).collect()
    }
}

impl Opened {
    /// Calls `f` on the batches of row groups `groups`, in order, read one group at a time: a
    /// group's batches are dropped before the next group is read, so their memory is reused.
    /// (Many groups read as one set of 64 k-row batches are large fresh allocations; their page
    /// faults were ≈ 15 % of the score's CPU.)
    pub fn each_batch(
        &self,
        columns: &[&str],
        dict: &[&str],
        groups: impl IntoIterator<Item = usize>,
        mut f: impl FnMut(&RecordBatch) -> Result<(), String>,
    ) -> Result<(), String> {
        for g in groups {
            for b in self.read(columns, dict, Some(vec![g]))? {
                f(&b)?;
            }
        }
        Ok(())
    }
}

/// A column by name as strings (`None` for NULL).
pub fn strings<'a>(b: &'a RecordBatch, name: &str) -> Result<StrCol<'a>, String> {
    let c = b
        .column_by_name(name)
        .ok_or_else(|| format!("no column {name}"))?;
    match c.data_type() {
        DataType::Utf8 => Ok(StrCol::Utf8(c.as_string::<i32>())),
        DataType::LargeUtf8 => Ok(StrCol::Large(c.as_string::<i64>())),
        DataType::Utf8View => Ok(StrCol::View(c.as_string_view())),
        DataType::Dictionary(k, v) if **k == DataType::Int32 && **v == DataType::Utf8 => {
            let d = c
                .as_dictionary_opt::<Int32Type>()
                .ok_or_else(|| format!("column {name}: not a dictionary"))?;
            let values = d
                .values()
                .as_string_opt::<i32>()
                .ok_or_else(|| format!("column {name}: not text"))?;
            Ok(StrCol::Dict(d.keys(), values))
        }
        t => Err(format!("column {name} is {t}, not text")),
    }
}

pub enum StrCol<'a> {
    Utf8(&'a duckdb::arrow::array::StringArray),
    Large(&'a duckdb::arrow::array::LargeStringArray),
    View(&'a duckdb::arrow::array::StringViewArray),
    Dict(
        &'a duckdb::arrow::array::PrimitiveArray<Int32Type>,
        &'a duckdb::arrow::array::StringArray,
    ),
}

impl<'a> StrCol<'a> {
    pub fn get(&self, i: usize) -> Option<&'a str> {
        match self {
            StrCol::Utf8(a) => a.is_valid(i).then(|| a.value(i)),
            StrCol::Large(a) => a.is_valid(i).then(|| a.value(i)),
            StrCol::View(a) => a.is_valid(i).then(|| a.value(i)),
            StrCol::Dict(k, v) => k.is_valid(i).then(|| v.value(k.value(i) as usize)),
        }
    }
}

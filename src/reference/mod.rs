//! reference: `code.csv` → reference tables in nl/fr/de/en.
//!
//! Input: the code.csv bytes of the extract, plus the English NACE Rev. 2.1 titles embedded from
//! `data/nace-rev2.1-en.csv`. Output: `code` (as delivered), `nace_code`, `juridical_form`,
//! `juridical_situation`, `activity_group` as Parquet in the reference folder.
//! Invariants: every label row has a description in the asked language or says where it fell back
//! from (`fallback_lang`); code.csv has no English at all (kbo-open-data.md) and no German for NACE.

mod nace;

use crate::kbo::CODE_HEADER;
use duckdb::arrow::array::{ArrayRef, Int32Array, StringArray};
use duckdb::arrow::datatypes::{DataType, Field, Schema};
use duckdb::arrow::record_batch::RecordBatch;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{file}: line {line}: {msg}")]
    Parse {
        file: String,
        line: u64,
        msg: String,
    },
    #[error("{file}: line 1: the required column \"{column}\" is missing from the header (expected {expected})")]
    MissingColumn {
        file: String,
        column: String,
        expected: String,
    },
    #[error("{path}: {msg}")]
    Write { path: PathBuf, msg: String },
}

pub type Result<T> = std::result::Result<T, Error>;

/// One row of code.csv.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRow {
    pub category: String,
    pub code: String,
    pub language: String,
    pub description: String,
}

/// Parses code.csv (bound by header name). `file` names it in errors.
pub fn parse_code_csv(bytes: &[u8], file: &str) -> Result<Vec<CodeRow>> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes);
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| Error::Parse {
            file: file.into(),
            line: 1,
            msg: e.to_string(),
        })?
        .iter()
        .map(|s| s.to_string())
        .collect();
    let refs: Vec<&str> = header.iter().map(String::as_str).collect();
    let cols: Vec<crate::kbo::Column> = CODE_HEADER
        .iter()
        .map(|h| crate::kbo::Column {
            header: h,
            name: h,
            ty: crate::kbo::ColType::Text,
            required: true,
            nullable: true,
        })
        .collect();
    let b = crate::kbo::bind(&cols, &refs).map_err(|column| Error::MissingColumn {
        file: file.into(),
        column,
        expected: CODE_HEADER.join(", "),
    })?;
    let pos: Vec<usize> = b.positions.iter().map(|p| p.unwrap_or(0)).collect();
    let mut rows = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| Error::Parse {
            file: file.into(),
            line: e.position().map(|p| p.line()).unwrap_or(0),
            msg: format!("{e}; code.csv must be UTF-8 CSV"),
        })?;
        let get = |i: usize| rec.get(pos[i]).unwrap_or("").to_string();
        rows.push(CodeRow {
            category: get(0),
            code: get(1),
            language: get(2),
            description: get(3),
        });
    }
    Ok(rows)
}

/// The languages of the label tables, in output order.
pub const LANGS: [&str; 4] = ["en", "fr", "nl", "de"];

/// Labels of one category: code → (upper-case language → description).
pub type Labels = BTreeMap<String, BTreeMap<String, String>>;

pub fn labels(rows: &[CodeRow], category: &str) -> Labels {
    let mut m: Labels = BTreeMap::new();
    for r in rows.iter().filter(|r| r.category == category) {
        m.entry(r.code.clone())
            .or_default()
            .insert(r.language.to_ascii_uppercase(), r.description.clone());
    }
    m
}

/// The description of a code in `lang`, else the first of `fallbacks` that exists, with the
/// language it came from when it is not `lang`.
pub fn pick(
    by_lang: &BTreeMap<String, String>,
    lang: &str,
    english: Option<&str>,
) -> Option<(String, Option<&'static str>)> {
    if lang == "en" {
        if let Some(e) = english {
            return Some((e.to_string(), None));
        }
    } else if let Some(d) = by_lang.get(&lang.to_ascii_uppercase()) {
        return Some((d.clone(), None));
    }
    // Missing translation: French, then Dutch (api-v2.md: en → fr).
    for fb in ["fr", "nl"] {
        if let Some(d) = by_lang.get(&fb.to_ascii_uppercase()) {
            return Some((d.clone(), Some(fb)));
        }
    }
    None
}

/// English labels of the activity groups (code.csv has none; meanings from the KBO cookbook).
const ACTIVITY_GROUP_EN: [(&str, &str); 7] = [
    ("001", "VAT activities"),
    (
        "002",
        "EDRL activities (legal entities registered for non-commercial activities)",
    ),
    ("003", "Activities"),
    ("004", "Federal public service activities"),
    (
        "005",
        "RSZPPO/ONSSAPL activities (provincial and local public services' social security)",
    ),
    ("006", "RSZ/ONSS activities (employer)"),
    ("007", "Subsidised education activities"),
];

/// A (code, lang, description, fallback_lang) table for one category.
fn label_table(rows: &[CodeRow], category: &str, english: &[(&str, &str)]) -> Result<RecordBatch> {
    let labels = labels(rows, category);
    let (mut code, mut lang, mut desc, mut fb) = (vec![], vec![], vec![], vec![]);
    for (c, by_lang) in &labels {
        let en = english.iter().find(|(k, _)| k == c).map(|(_, v)| *v);
        for l in LANGS {
            if let Some((d, f)) = pick(by_lang, l, en) {
                code.push(c.clone());
                lang.push(l);
                desc.push(d);
                fb.push(f);
            }
        }
    }
    let schema = Schema::new(vec![
        Field::new("code", DataType::Utf8, false),
        Field::new("lang", DataType::Utf8, false),
        Field::new("description", DataType::Utf8, false),
        Field::new("fallback_lang", DataType::Utf8, true),
    ]);
    batch(
        schema,
        vec![
            Arc::new(StringArray::from(code)),
            Arc::new(StringArray::from(lang)),
            Arc::new(StringArray::from(desc)),
            Arc::new(StringArray::from(fb)),
        ],
    )
}

fn batch(schema: Schema, cols: Vec<ArrayRef>) -> Result<RecordBatch> {
    RecordBatch::try_new(Arc::new(schema), cols).map_err(|e| Error::Write {
        path: PathBuf::new(),
        msg: e.to_string(),
    })
}

fn code_table(rows: &[CodeRow]) -> Result<RecordBatch> {
    let schema = Schema::new(vec![
        Field::new("category", DataType::Utf8, false),
        Field::new("code", DataType::Utf8, false),
        Field::new("language", DataType::Utf8, false),
        Field::new("description", DataType::Utf8, true),
    ]);
    let col = |f: fn(&CodeRow) -> &str| {
        Arc::new(StringArray::from_iter_values(rows.iter().map(f))) as ArrayRef
    };
    batch(
        schema,
        vec![
            col(|r| &r.category),
            col(|r| &r.code),
            col(|r| &r.language),
            col(|r| &r.description),
        ],
    )
}

fn nace_table(rows: &[CodeRow]) -> Result<RecordBatch> {
    let n = nace::build(rows);
    let schema = Schema::new(vec![
        Field::new("version", DataType::Int32, false),
        Field::new("code", DataType::Utf8, false),
        Field::new("level", DataType::Int32, false),
        Field::new("parent", DataType::Utf8, true),
        Field::new("lang", DataType::Utf8, false),
        Field::new("description", DataType::Utf8, false),
        Field::new("fallback_lang", DataType::Utf8, true),
    ]);
    batch(
        schema,
        vec![
            Arc::new(Int32Array::from_iter_values(n.iter().map(|r| r.version))),
            Arc::new(StringArray::from_iter_values(
                n.iter().map(|r| r.code.as_str()),
            )),
            Arc::new(Int32Array::from_iter_values(n.iter().map(|r| r.level))),
            Arc::new(StringArray::from_iter(
                n.iter().map(|r| r.parent.as_deref()),
            )),
            Arc::new(StringArray::from_iter_values(n.iter().map(|r| r.lang))),
            Arc::new(StringArray::from_iter_values(
                n.iter().map(|r| r.description.as_str()),
            )),
            Arc::new(StringArray::from_iter(n.iter().map(|r| r.fallback_lang))),
        ],
    )
}

/// Rows per reference table, for reconciliation and the summary.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Report {
    pub code_rows_read: u64,
    pub tables: BTreeMap<String, u64>,
}

/// Writes every reference table into `dir` (each under a temporary name, then renamed).
pub fn build(code_csv: &[u8], file: &str, dir: &Path) -> Result<Report> {
    let rows = parse_code_csv(code_csv, file)?;
    let tables = [
        ("code", code_table(&rows)?),
        ("nace_code", nace_table(&rows)?),
        ("juridical_form", label_table(&rows, "JuridicalForm", &[])?),
        (
            "juridical_situation",
            label_table(&rows, "JuridicalSituation", &[])?,
        ),
        (
            "activity_group",
            label_table(&rows, "ActivityGroup", &ACTIVITY_GROUP_EN)?,
        ),
    ];
    std::fs::create_dir_all(dir).map_err(|e| Error::Write {
        path: dir.to_path_buf(),
        msg: e.to_string(),
    })?;
    let mut counts = BTreeMap::new();
    for (name, b) in tables {
        let path = dir.join(format!("{name}.parquet"));
        let tmp = dir.join(format!(".{name}.parquet.tmp"));
        crate::parquet_io::write_batches(&tmp, std::slice::from_ref(&b)).map_err(|msg| {
            Error::Write {
                path: tmp.clone(),
                msg,
            }
        })?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::Write {
            path: path.clone(),
            msg: e.to_string(),
        })?;
        counts.insert(name.to_string(), b.num_rows() as u64);
    }
    let report = Report {
        code_rows_read: rows.len() as u64,
        tables: counts,
    };
    let path = dir.join("manifest.json");
    let json = serde_json::to_vec_pretty(&report).map_err(|e| Error::Write {
        path: path.clone(),
        msg: e.to_string(),
    })?;
    std::fs::write(&path, json).map_err(|e| Error::Write {
        path,
        msg: e.to_string(),
    })?;
    Ok(report)
}

/// Reads the report written by [`build`].
pub fn read_report(dir: &Path) -> Result<Report> {
    let path = dir.join("manifest.json");
    let bytes = std::fs::read(&path).map_err(|e| Error::Write {
        path: path.clone(),
        msg: e.to_string(),
    })?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Write {
        path,
        msg: e.to_string(),
    })
}

//! score: a snapshot (+ filings, + change events) → payment-risk scores (spec/payment-risk.md).
//!
//! Input: a snapshot folder (Parquet), the reference folder (NACE sections), optionally a filings
//! CSV (`EnterpriseNumber, DepositDate, FiscalYearEnd, Model, Equity, TotalAssets, ProfitLoss,
//! Employees, CurrentAssets, ShortTermDebt`), and the events files of the published extracts.
//! Output: `payment_risk.parquet` (enterprise_number, score, category, model_version,
//! data_completeness, reasons: a list of {code, points, evidence}, highest points first), in the
//! snapshot's enterprise order.
//!
//! Columnar: [`inputs`] reads each input once into columns indexed by the enterprise's row (row
//! groups and filings blocks in parallel), then every enterprise is scored in parallel batches
//! (rayon; each row's reasons go into one reused text buffer) and the batches are encoded in
//! parallel. Every threshold and point is in
//! [`model::RULES`]; juridical situations are classed by the reviewed
//! `data/juridical_situation_risk.csv`. Invariants: one row per enterprise of the snapshot, plus
//! one per enterprise that left the register in the last 12 months; the points of the reasons add
//! up to the score; the same inputs give the same file, byte for byte.

mod explain;
pub mod inputs;
pub mod model;

pub use explain::{explain, render, Explained};
pub use model::{JS_CLASSES, MODEL_VERSION};

use crate::kbo::date::{self, Iso};
use crate::kbo::{forms, number};
use crate::parquet_io::parallel::ParallelWriter;
use duckdb::arrow::array::{
    ArrayBuilder, ArrayRef, Int32Builder, ListArray, RecordBatch, StringBuilder, StructArray,
};
use duckdb::arrow::buffer::{OffsetBuffer, ScalarBuffer};
use duckdb::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};
use inputs::{Accounts, Dense, Enterprises, EventFeatures, Stopped};
use model::{points, threshold, Situation};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("scoring {snapshot}: {source}")]
    Db {
        snapshot: PathBuf,
        source: duckdb::Error,
    },
    #[error("{path}: {msg}; the filings file must be a CSV with the header EnterpriseNumber,DepositDate,FiscalYearEnd,Model,Equity,TotalAssets,ProfitLoss,Employees,CurrentAssets,ShortTermDebt (dates dd-mm-yyyy)")]
    Filings { path: PathBuf, msg: String },
    #[error("{path}: {msg}")]
    Scores { path: PathBuf, msg: String },
}

pub type Result<T> = std::result::Result<T, Error>;

/// What a score run reads.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub snapshot: &'a Path,
    pub reference: &'a Path,
    /// ISO date of the snapshot.
    pub snapshot_date: &'a str,
    pub filings: Option<&'a Path>,
    /// The events files (`events.parquet`) that exist; those of the last 12 months count.
    pub events: &'a [PathBuf],
}

/// What a score run wrote, for the summary and the reconciliation.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Report {
    /// Rows in payment_risk.parquet.
    pub rows: u64,
    /// Of those, enterprises that left the register (scored by the KBO_STOPPED floor).
    pub stopped: u64,
    /// Rows per category (low, moderate, high, critical).
    pub categories: BTreeMap<&'static str, u64>,
    /// Rows per data_completeness.
    pub completeness: BTreeMap<&'static str, u64>,
    /// Filings rows skipped because they could not be read (each logged with line and column).
    pub filings_rejected: u64,
    /// Filings rows whose enterprise is not in the snapshot.
    pub filings_unmatched: u64,
}

impl Report {
    /// Adds the rows of another part of the same run.
    fn add(&mut self, other: Report) {
        self.rows += other.rows;
        self.stopped += other.stopped;
        for (k, v) in other.categories {
            *self.categories.entry(k).or_default() += v;
        }
        for (k, v) in other.completeness {
            *self.completeness.entry(k).or_default() += v;
        }
        self.filings_rejected += other.filings_rejected;
        self.filings_unmatched += other.filings_unmatched;
    }
}

/// One reason of a row being scored: a code of [`model::RULES`] (or a sector's
/// `SECTOR_<section>`), its points, and where its evidence is in [`Reasons::text`].
#[derive(Debug, Clone, Copy)]
struct Reason<'a> {
    code: &'a str,
    points: i32,
    evidence: (u32, u32),
}

/// The reasons of one row while it is scored. Codes are borrowed and the evidence is written
/// into one text buffer that the next row reuses: no allocation per reason (2 M enterprises have
/// 4.3 M reasons).
#[derive(Default)]
struct Reasons<'a> {
    text: String,
    list: Vec<Reason<'a>>,
}

impl<'a> Reasons<'a> {
    fn clear(&mut self) {
        self.text.clear();
        self.list.clear();
    }

    fn push(&mut self, code: &'a str, points: i32, evidence: std::fmt::Arguments) {
        use std::fmt::Write;
        let start = self.text.len() as u32;
        // Writing into a String cannot fail.
        let _ = self.text.write_fmt(evidence);
        self.list.push(Reason {
            code,
            points,
            evidence: (start, self.text.len() as u32),
        });
    }

    /// The points of the reasons pushed since there were `from` of them.
    fn sum_from(&self, from: usize) -> i32 {
        self.list[from..].iter().map(|r| r.points).sum()
    }

    fn evidence(&self, r: &Reason) -> &str {
        self.text
            .get(r.evidence.0 as usize..r.evidence.1 as usize)
            .unwrap_or("")
    }

    /// Highest points first, then by code (a row has each code once, so the order is total).
    fn sort(&mut self) {
        self.list
            .sort_unstable_by(|a, b| b.points.cmp(&a.points).then_with(|| a.code.cmp(b.code)));
    }
}

/// An optional extract number as text, empty when there is none.
struct OrEmpty(Option<i32>);

impl std::fmt::Display for OrEmpty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(v) => write!(f, "{v}"),
            None => Ok(()),
        }
    }
}

/// Everything the model reads, by enterprise row.
struct Features {
    e: Enterprises,
    establishments: Vec<u32>,
    main: Dense,
    /// The sector of each distinct main activity (by its id in `main`).
    sector: Vec<Option<inputs::Sector>>,
    filings: Option<inputs::Filings>,
    events: inputs::NumberMap<EventFeatures>,
    stopped: Vec<Stopped>,
    snapshot: i32,
}

/// Scores every enterprise of `inputs.snapshot` into `out` (payment_risk.parquet).
pub fn score(inputs: &Inputs, out: &Path, memory_limit: &str) -> Result<Report> {
    let snapshot = date::parse_iso(inputs.snapshot_date).ok_or_else(|| Error::Scores {
        path: inputs.snapshot.to_path_buf(),
        msg: format!("snapshot date {:?} is not yyyy-mm-dd", inputs.snapshot_date),
    })?;
    let t = std::time::Instant::now();
    let timed = |what: &str, t: std::time::Instant| {
        tracing::debug!(
            seconds = format!("{:.2}", t.elapsed().as_secs_f64()),
            what,
            "score input"
        );
    };
    let e = inputs::enterprises(inputs.snapshot)?;
    timed("enterprises", t);
    // The activity scan is the big read: it runs beside the others.
    let (main, rest) = rayon::join(
        || {
            let t = std::time::Instant::now();
            let m = inputs::main_activities(inputs.snapshot, &e);
            timed("main activities", t);
            m
        },
        || -> Result<_> {
            let t = std::time::Instant::now();
            let establishments = inputs::establishment_counts(inputs.snapshot, &e)?;
            let sections = inputs::sections(inputs.reference)?;
            timed("establishments, sections", t);
            let t = std::time::Instant::now();
            let filings = match inputs.filings {
                Some(p) => Some(inputs::filings(p, &e, snapshot)?),
                None => None,
            };
            timed("filings", t);
            let t = std::time::Instant::now();
            let (events, stopped) = inputs::events(
                inputs.events,
                inputs.snapshot_date,
                model::WINDOW_MONTHS,
                &e,
                memory_limit,
            )?;
            timed("events", t);
            Ok((establishments, sections, filings, events, stopped))
        },
    );
    let (establishments, sections, filings, events, stopped) = rest?;
    let main = main?;
    // The sector of each distinct main activity, found once (a few thousand, not 2 M).
    let sector = main
        .dict()
        .iter()
        .map(|a| sections.of(a.version_number(), a.code.as_str()).cloned())
        .collect();
    let f = Features {
        main,
        sector,
        e,
        establishments,
        filings,
        events,
        stopped,
        snapshot,
    };
    tracing::debug!(
        seconds = format!("{:.2}", t.elapsed().as_secs_f64()),
        "score inputs read"
    );
    if let Some(fl) = &f.filings {
        if fl.rejected > 0 {
            tracing::warn!(rows = fl.rejected, "filings rows skipped");
        }
    }

    // Rows in the snapshot's order (its enterprise table: sequential reads of every column),
    // then the stopped enterprises in number order.
    let order: Vec<Src> = (0..f.e.number.len())
        .map(Src::Enterprise)
        .chain((0..f.stopped.len()).map(Src::Stopped))
        .collect();

    let schema = schema();
    // Evidence is text with no statistics. It keeps its dictionary: most of it is a few phrases
    // ("no annual accounts, so no employee count"), and at 2 M companies the file is 16.9 MB with
    // it against 22.8 MB without, for the same time.
    let evidence = parquet::schema::types::ColumnPath::from(vec![
        "reasons".to_string(),
        "list".to_string(),
        "item".to_string(),
        "evidence".to_string(),
    ]);
    // Statistics (per row group) only where a filter can use them: the number and the score; the
    // repeating codes are unsorted, and per-page statistics of every string cost compares.
    use parquet::file::properties::EnabledStatistics;
    let mut props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap_or_default()))
        .set_created_by(format!("bce {}", env!("CARGO_PKG_VERSION")))
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_column_statistics_enabled(evidence, EnabledStatistics::None)
        .set_column_dictionary_enabled("enterprise_number".into(), false);
    for c in ["category", "model_version", "data_completeness"] {
        props = props.set_column_statistics_enabled(c.into(), EnabledStatistics::None);
    }
    for c in ["code", "points"] {
        let path = ["reasons", "list", "item", c].map(String::from).to_vec();
        props = props.set_column_statistics_enabled(path.into(), EnabledStatistics::None);
    }
    let props = props.build();
    let err = |e: parquet::errors::ParquetError| Error::Scores {
        path: out.to_path_buf(),
        msg: e.to_string(),
    };
    let fh = std::fs::File::create(out).map_err(|x| Error::Scores {
        path: out.to_path_buf(),
        msg: x.to_string(),
    })?;
    let mut writer = ParallelWriter::for_file(
        fh,
        schema.clone(),
        props,
        // Small row groups: the reasons are long text, and every row group in flight is memory.
        1 << 16,
    )
    .map_err(err)?;
    let mut report = Report {
        filings_rejected: f.filings.as_ref().map_or(0, |x| x.rejected),
        filings_unmatched: f.filings.as_ref().map_or(0, |x| x.unmatched),
        ..Report::default()
    };
    const CHUNK: usize = 1 << 15;
    for window in order.chunks(CHUNK * 2) {
        let batches: Vec<(RecordBatch, Report)> = window
            .par_chunks(CHUNK)
            .map(|rows| batch(rows, &f, inputs.filings.is_some(), &schema))
            .collect::<Result<_>>()?;
        for (b, r) in batches {
            report.add(r);
            writer.write(b).map_err(err)?;
        }
    }
    writer.close().map_err(err)?;
    Ok(report)
}

#[derive(Debug, Clone, Copy)]
enum Src {
    Enterprise(usize),
    Stopped(usize),
}

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("enterprise_number", DataType::Utf8, false),
        Field::new("score", DataType::Int32, false),
        Field::new("category", DataType::Utf8, false),
        Field::new("model_version", DataType::Utf8, false),
        Field::new("data_completeness", DataType::Utf8, false),
        Field::new(
            "reasons",
            DataType::List(Arc::new(Field::new("item", reason_type(), false))),
            false,
        ),
    ]))
}

fn reason_fields() -> Fields {
    Fields::from(vec![
        Field::new("code", DataType::Utf8, false),
        Field::new("points", DataType::Int32, false),
        Field::new("evidence", DataType::Utf8, false),
    ])
}

fn reason_type() -> DataType {
    DataType::Struct(reason_fields())
}

/// Scores a chunk of rows into one record batch.
fn batch(
    rows: &[Src],
    f: &Features,
    has_filings: bool,
    schema: &SchemaRef,
) -> Result<(RecordBatch, Report)> {
    let n = rows.len();
    let mut number = StringBuilder::with_capacity(n, n * 12);
    let mut score = Int32Builder::with_capacity(n);
    let mut category = StringBuilder::with_capacity(n, n * 8);
    let mut version = StringBuilder::with_capacity(n, n * 2);
    let mut completeness = StringBuilder::with_capacity(n, n * 20);
    // The reasons column: a list of structs, built from its three child columns and offsets.
    let (mut codes, mut pts, mut evidence) = (
        StringBuilder::with_capacity(n * 3, n * 40),
        Int32Builder::with_capacity(n * 3),
        StringBuilder::with_capacity(n * 3, n * 200),
    );
    let mut offsets: Vec<i32> = Vec::with_capacity(n + 1);
    offsets.push(0);
    // The rows of this batch only (filings counts stay 0).
    let mut tally = Report::default();
    let mut r = Reasons::default();
    for src in rows {
        r.clear();
        let shown;
        let (display, (s, complete)) = match *src {
            Src::Enterprise(i) => {
                shown = number::Shown::of(f.e.number[i]);
                (shown.as_str(), score_one(i, f, has_filings, &mut r))
            }
            Src::Stopped(j) => {
                tally.stopped += 1;
                let st = &f.stopped[j];
                (st.display.as_str(), score_stopped(st, &mut r))
            }
        };
        let cat = model::category(s);
        number.append_value(display);
        score.append_value(s);
        category.append_value(cat);
        version.append_value(MODEL_VERSION);
        completeness.append_value(complete);
        for x in &r.list {
            codes.append_value(x.code);
            pts.append_value(x.points);
            evidence.append_value(r.evidence(x));
        }
        offsets.push(pts.len() as i32);
        tally.rows += 1;
        *tally.categories.entry(cat).or_default() += 1;
        *tally.completeness.entry(complete).or_default() += 1;
    }
    let cols: Vec<ArrayRef> = vec![
        Arc::new(number.finish()),
        Arc::new(score.finish()),
        Arc::new(category.finish()),
        Arc::new(version.finish()),
        Arc::new(completeness.finish()),
        Arc::new(ListArray::new(
            Arc::new(Field::new("item", reason_type(), false)),
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            Arc::new(StructArray::new(
                reason_fields(),
                vec![
                    Arc::new(codes.finish()) as ArrayRef,
                    Arc::new(pts.finish()),
                    Arc::new(evidence.finish()),
                ],
                None,
            )),
            None,
        )),
    ];
    let b = RecordBatch::try_new(schema.clone(), cols).map_err(|e| Error::Scores {
        path: PathBuf::new(),
        msg: e.to_string(),
    })?;
    Ok((b, tally))
}

/// An enterprise that left the register: the KBO_STOPPED floor. Returns (score, completeness).
fn score_stopped(s: &Stopped, r: &mut Reasons) -> (i32, &'static str) {
    let p = const { points("KBO_STOPPED") };
    r.push(
        "KBO_STOPPED",
        p,
        format_args!(
            "left the active register in extract {} (snapshot {}); juridical situation then {}",
            s.extract_number,
            s.snapshot_date,
            s.juridical_situation.as_deref().unwrap_or("unknown")
        ),
    );
    (p, "register_only")
}

/// The model for one enterprise (spec/payment-risk.md "Floors" and "Points"): its reasons go
/// into `r`, sorted; returns (score, data_completeness).
fn score_one<'a>(
    i: usize,
    f: &'a Features,
    has_filings: bool,
    r: &mut Reasons<'a>,
) -> (i32, &'static str) {
    let e = &f.e;
    let snap = f.snapshot;
    let accounts: Option<&Accounts> = f.filings.as_ref().and_then(|x| x.of(i));
    let (y1, y2) = match accounts {
        Some([a, b]) => (a.as_ref(), b.as_ref()),
        None => (None, None),
    };
    let must_file = !e.natural_person[i] && forms::must_file_accounts(e.form[i].as_str());
    let start = e.start[i];
    let start_year = start.map(|s| date::civil_from_days(s).0);

    // Filing: fiscal years end on the month of the latest deposit (31 December when there is
    // none); the latest due one is the newest whose due date has passed; a fiscal year is due
    // only if it ends in a year after the start year (the first fiscal year).
    if must_file && has_filings {
        let month = y1.map_or(12, |y| date::civil_from_days(y.fye).1);
        let (sy, _, _) = date::civil_from_days(snap);
        let fyes = [0, 1, 2].map(|k| date::last_day(sy - k, month));
        let due = |fye: i32| date::add_months(fye, model::DUE_MONTHS);
        let due_fye = fyes
            .iter()
            .copied()
            .find(|x| due(*x) < snap)
            .unwrap_or(fyes[2]);
        let (dy, dm, _) = date::civil_from_days(due_fye);
        let prev_fye = date::last_day(dy - 1, dm);
        let is_due = |fye: i32| start_year.is_some_and(|s| date::civil_from_days(fye).0 > s);
        let covered = |fye: i32| y1.is_some_and(|y| y.fye >= fye - 31);
        let (due_latest, due_previous) = (is_due(due_fye), is_due(prev_fye));
        let (has_latest, has_previous) = (covered(due_fye), covered(prev_fye));
        if due_latest && !has_latest && due_previous && !has_previous {
            r.push(
                "ACC_MISSING_2Y",
                const { points("ACC_MISSING_2Y") },
                format_args!(
                    "no accounts deposited for the fiscal years ending {} and {} (due {} and {})",
                    Iso(prev_fye),
                    Iso(due_fye),
                    Iso(due(prev_fye)),
                    Iso(due(due_fye))
                ),
            );
        } else if due_latest && !has_latest {
            r.push(
                "ACC_MISSING",
                const { points("ACC_MISSING") },
                format_args!(
                    "no accounts deposited for the fiscal year ending {} (due {})",
                    Iso(due_fye),
                    Iso(due(due_fye))
                ),
            );
        } else if let Some(y) = y1 {
            let late = (y.deposited - due(y.fye)) as i64;
            let code = if late > model::VERY_LATE_DAYS {
                Some(("ACC_VERY_LATE", const { points("ACC_VERY_LATE") }))
            } else if (1..=model::LATE_DAYS).contains(&late) {
                Some(("ACC_LATE", const { points("ACC_LATE") }))
            } else {
                None
            };
            if let Some((code, p)) = code {
                r.push(
                    code,
                    p,
                    format_args!(
                        "accounts for the fiscal year ending {} deposited on {}, {late} days after the due date",
                        Iso(y.fye),
                        Iso(y.deposited)
                    ),
                );
            }
        }
    }

    // Financials, from the latest deposit.
    let fin_from = r.list.len();
    if let Some(y) = y1 {
        let ending = Iso(y.fye);
        if let Some(eq) = y.equity() {
            if (eq as f64) < const { threshold("FIN_NEGATIVE_EQUITY") } {
                r.push(
                    "FIN_NEGATIVE_EQUITY",
                    const { points("FIN_NEGATIVE_EQUITY") },
                    format_args!("equity {eq} EUR (fiscal year ending {ending})"),
                );
            } else if let Some(ta) = y.total_assets().filter(|t| *t > 0) {
                let ratio = eq as f64 / ta as f64;
                if ratio < const { threshold("FIN_LOW_SOLVENCY") } {
                    r.push(
                        "FIN_LOW_SOLVENCY",
                        const { points("FIN_LOW_SOLVENCY") },
                        format_args!(
                            "equity / total assets {:.1} % ({eq} / {ta} EUR, fiscal year ending {ending})",
                            100.0 * ratio
                        ),
                    );
                }
            }
        }
        if let Some(pl) = y
            .profit_loss()
            .filter(|p| (*p as f64) < const { threshold("FIN_LOSS") })
        {
            r.push(
                "FIN_LOSS",
                const { points("FIN_LOSS") },
                format_args!("loss of {} EUR (fiscal year ending {ending})", -pl),
            );
            if let Some((pl2, fye2)) = y2
                .and_then(|y| y.profit_loss().map(|p| (p, y.fye)))
                .filter(|(p, _)| (*p as f64) < const { threshold("FIN_LOSS_2Y") })
            {
                r.push(
                    "FIN_LOSS_2Y",
                    const { points("FIN_LOSS_2Y") },
                    format_args!(
                        "loss of {} EUR in the fiscal year before too (ending {})",
                        -pl2,
                        Iso(fye2)
                    ),
                );
            }
        }
        if let (Some(ca), Some(sd)) = (y.current_assets(), y.short_term_debt().filter(|d| *d > 0)) {
            let ratio = ca as f64 / sd as f64;
            if ratio < const { threshold("FIN_LOW_LIQUIDITY") } {
                r.push(
                    "FIN_LOW_LIQUIDITY",
                    const { points("FIN_LOW_LIQUIDITY") },
                    format_args!(
                        "current assets / short-term debt {ratio:.2} ({ca} / {sd} EUR, fiscal year ending {ending})"
                    ),
                );
            }
        }
    }
    let fin_sum = r.sum_from(fin_from);

    // Profile: age, size, sector.
    if let Some(s) = start {
        let age = (snap - s) as f64 / 365.25;
        if let Some((code, p, _)) = model::AGES.iter().find(|a| age < a.2) {
            r.push(
                code,
                *p,
                format_args!(
                    "started on {}, {age:.1} years before the snapshot of {}",
                    Iso(s),
                    Iso(snap)
                ),
            );
        }
    }
    let no_employees = ("SIZE_NO_EMPLOYEES", const { points("SIZE_NO_EMPLOYEES") });
    match y1.and_then(|y| y.employees().filter(|x| *x != 0.0).map(|x| (x, y.fye))) {
        None => match y1 {
            None => r.push(
                no_employees.0,
                no_employees.1,
                format_args!("no annual accounts, so no employee count"),
            ),
            Some(y) if y.employees().is_none() => r.push(
                no_employees.0,
                no_employees.1,
                format_args!(
                    "no employee count in the accounts of the fiscal year ending {}",
                    Iso(y.fye)
                ),
            ),
            Some(y) => r.push(
                no_employees.0,
                no_employees.1,
                format_args!(
                    "0 FTE in the accounts of the fiscal year ending {}",
                    Iso(y.fye)
                ),
            ),
        },
        Some((fte, fye)) => {
            if let Some((code, p, _)) = model::SIZES.iter().find(|s| fte < s.2) {
                r.push(
                    code,
                    *p,
                    format_args!("{fte:.1} FTE (fiscal year ending {})", Iso(fye)),
                );
            }
        }
    }
    if let Some((a, sec)) = f.main.id(i).and_then(|id| {
        let sec = f.sector.get(id)?.as_ref().filter(|s| s.points > 0)?;
        Some((f.main.dict().get(id)?, sec))
    }) {
        r.push(
            &sec.code,
            sec.points,
            format_args!(
                "main activity {} (NACE {}), section {}: {}",
                a.code, a.version, sec.section, sec.label
            ),
        );
    }

    // Register events of the window.
    let events_from = r.list.len();
    if let Some(ev) = f.events.get(&e.number[i]) {
        if ev.seat_moves as f64 >= const { threshold("EVT_SEAT_MOVED_2X") } {
            r.push(
                "EVT_SEAT_MOVED_2X",
                const { points("EVT_SEAT_MOVED_2X") },
                format_args!(
                    "the seat moved {} times in the last {} months (latest in extract {})",
                    ev.seat_moves,
                    model::WINDOW_MONTHS,
                    OrEmpty(ev.seat_moved_in)
                ),
            );
        } else if ev.seat_moves as f64 >= const { threshold("EVT_SEAT_MOVED") } {
            r.push(
                "EVT_SEAT_MOVED",
                const { points("EVT_SEAT_MOVED") },
                format_args!("the seat moved in extract {}", OrEmpty(ev.seat_moved_in)),
            );
        }
        if let Some(k) = ev.struck_off_in {
            r.push(
                "EVT_SEAT_STRUCK_OFF",
                const { points("EVT_SEAT_STRUCK_OFF") },
                format_args!("the seat address was struck off (extract {k})"),
            );
        }
        if let Some(k) = ev.renamed_in {
            r.push(
                "EVT_NAME_CHANGE",
                const { points("EVT_NAME_CHANGE") },
                format_args!(
                    "legal name changed in extract {k}: {}",
                    ev.rename.as_deref().unwrap_or("")
                ),
            );
        }
        if let Some(k) = ev.form_changed_in {
            r.push(
                "EVT_FORM_CHANGE",
                const { points("EVT_FORM_CHANGE") },
                format_args!("juridical form changed in extract {k} (now {})", e.form[i]),
            );
        }
        if ev.closed_count > 0 && f.establishments[i] == 0 {
            r.push(
                "EVT_ALL_ESTABLISHMENTS_CLOSED",
                const { points("EVT_ALL_ESTABLISHMENTS_CLOSED") },
                format_args!(
                    "{} establishment(s) closed (latest in extract {}), none left",
                    ev.closed_count,
                    OrEmpty(ev.closed_in)
                ),
            );
        }
    }
    let evt_sum = r.sum_from(events_from);

    // Juridical situation: JS_OTHER points, or a floor.
    let (class, description) = model::situation(e.situation[i].as_str());
    if class == Situation::Other {
        r.push(
            "JS_OTHER",
            const { points("JS_OTHER") },
            format_args!("juridical situation {} ({description})", e.situation[i]),
        );
    }
    let floor_rule = match class {
        Situation::Bankruptcy => Some(("JS_BANKRUPTCY", const { points("JS_BANKRUPTCY") })),
        Situation::Liquidation => Some(("JS_LIQUIDATION", const { points("JS_LIQUIDATION") })),
        Situation::Reorganisation => {
            Some(("JS_REORGANISATION", const { points("JS_REORGANISATION") }))
        }
        _ => None,
    };

    // Every component counts in full but financials and events, which are capped.
    let raw = r.sum_from(0) - fin_sum + fin_sum.min(model::CAP_FINANCIALS) - evt_sum
        + evt_sum.min(model::CAP_EVENTS);
    let capped = raw.min(model::CAP_TOTAL);
    let floor = floor_rule.map_or(0, |f| f.1);
    let score = capped.max(floor);
    // Caps and floors are reasons too, so that the points always add up to the score.
    if fin_sum > model::CAP_FINANCIALS {
        r.push(
            "CAP_FINANCIALS",
            model::CAP_FINANCIALS - fin_sum,
            format_args!(
                "financial points capped at {} (were {fin_sum})",
                model::CAP_FINANCIALS
            ),
        );
    }
    if evt_sum > model::CAP_EVENTS {
        r.push(
            "CAP_EVENTS",
            model::CAP_EVENTS - evt_sum,
            format_args!(
                "event points capped at {} (were {evt_sum})",
                model::CAP_EVENTS
            ),
        );
    }
    if raw > model::CAP_TOTAL {
        r.push(
            "CAP_TOTAL",
            model::CAP_TOTAL - raw,
            format_args!("points capped at {} (were {raw})", model::CAP_TOTAL),
        );
    }
    if let Some((code, _)) = floor_rule {
        r.push(
            code,
            (floor - capped).max(0),
            format_args!(
                "juridical situation {} ({description}): the score is at least {floor}",
                e.situation[i]
            ),
        );
    }
    r.sort();
    let completeness = if y1.is_some() {
        "register_and_accounts"
    } else if has_filings {
        "register_no_accounts"
    } else {
        "register_only"
    };
    (score, completeness)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reviewed classes cover every JuridicalSituation of the real code.csv, with the same
    /// French description (a changed label in a new code.csv must be reviewed again).
    #[test]
    fn every_juridical_situation_of_code_csv_is_classed() {
        let code = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/data/code.csv"))
            .unwrap_or_default();
        let mut real = BTreeMap::new();
        let mut rdr = csv::Reader::from_reader(code.as_bytes());
        for r in rdr.records().flatten() {
            if &r[0] == "JuridicalSituation" && &r[2] == "FR" {
                real.insert(r[1].to_string(), r[3].to_string());
            }
        }
        assert_eq!(real.len(), 40);
        let mut reviewed = BTreeMap::new();
        for l in JS_CLASSES.lines().skip(1) {
            let f: Vec<&str> = l.splitn(3, ',').collect();
            assert!(
                [
                    "normal",
                    "bankruptcy",
                    "liquidation",
                    "reorganisation",
                    "other"
                ]
                .contains(&f[1]),
                "{l}"
            );
            reviewed.insert(f[0].to_string(), f[2].to_string());
        }
        assert_eq!(reviewed, real);
        // The spec's classes: 010/012/013 liquidation, bankruptcy opened, reorganisation.
        let class = |c: &str| {
            JS_CLASSES
                .lines()
                .find(|l| l.starts_with(&format!("{c},")))
                .and_then(|l| l.split(',').nth(1))
                .unwrap_or("")
                .to_string()
        };
        for c in ["010", "012", "013"] {
            assert_eq!(class(c), "liquidation");
        }
        for c in ["048", "049", "050"] {
            assert_eq!(class(c), "bankruptcy");
        }
        assert_eq!(class("091"), "reorganisation");
        assert_eq!(class("000"), "normal");
    }
}

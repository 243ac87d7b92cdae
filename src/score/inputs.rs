//! What the model reads, as columns indexed by the enterprise's row in the snapshot's
//! enterprise table: the enterprise rows, establishment counts, the main activity and its NACE
//! section, the two latest fiscal years of accounts, and the register events of the window.
//! Parquet is read with parquet-rs, row groups in parallel (the main activities from the
//! snapshot's `main_activity.parquet`); the filings CSV through [`crate::filings`]; the events
//! (small) through DuckDB (`pipelines/score_events.sql`). Rows are found by enterprise number
//! through [`RowIndex`].

use super::{Error, Result};
use crate::kbo::{date, number};
use crate::parquet_io::read::{self as pq, StrCol};
use crate::sql::{quote, quote_path, statements};
use duckdb::arrow::array::{Array, AsArray, RecordBatch};
use duckdb::arrow::datatypes::Date32Type;
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub use crate::kbo::number::{NumberMap, RowIndex};

const EVENTS_SQL: &str = include_str!("../../pipelines/score_events.sql");

pub use crate::kbo::activity::{Code, Dense, MainActivities, MainActivity};

/// The snapshot's enterprise rows.
pub struct Enterprises {
    pub number: Vec<u64>,
    pub situation: Vec<Code>,
    pub natural_person: Vec<bool>,
    pub form: Vec<Code>,
    pub start: Vec<Option<i32>>,
    /// Rows by enterprise number.
    pub index: RowIndex,
}

fn pq_err(path: &Path) -> impl Fn(String) -> Error + '_ {
    move |msg| Error::Scores {
        path: path.to_path_buf(),
        msg,
    }
}

fn read(path: &Path, columns: &[&str], row_groups: Option<Vec<usize>>) -> Result<Vec<RecordBatch>> {
    pq::read(path, columns, row_groups).map_err(pq_err(path))
}

fn read_group(
    file: &pq::Opened,
    columns: &[&str],
    dict: &[&str],
    row_groups: Option<Vec<usize>>,
) -> Result<Vec<RecordBatch>> {
    file.read(columns, dict, row_groups)
        .map_err(pq_err(file.path()))
}

fn strings<'a>(b: &'a RecordBatch, name: &str, path: &Path) -> Result<StrCol<'a>> {
    pq::strings(b, name).map_err(pq_err(path))
}

pub fn enterprises(snapshot: &Path) -> Result<Enterprises> {
    let path = snapshot.join("enterprise.parquet");
    let cols = [
        "enterprise_number",
        "juridical_situation",
        "type_of_enterprise",
        "juridical_form",
        "start_date",
    ];
    type Part = (Vec<u64>, Vec<Code>, Vec<bool>, Vec<Code>, Vec<Option<i32>>);
    // Row groups in parallel, a few at a time, appended in order (only those few are held
    // twice).
    let opened = pq::Opened::open(&path).map_err(pq_err(&path))?;
    let n: usize = (0..opened.row_groups())
        .map(|g| opened.row_group_rows(g) as usize)
        .sum();
    let mut e = Enterprises {
        number: Vec::with_capacity(n),
        situation: Vec::with_capacity(n),
        natural_person: Vec::with_capacity(n),
        form: Vec::with_capacity(n),
        start: Vec::with_capacity(n),
        index: RowIndex::new(&[]),
    };
    let groups: Vec<usize> = (0..opened.row_groups()).collect();
    for wave in groups.chunks(rayon::current_num_threads().max(1) * 2) {
        let parts: Vec<Part> = wave
            .par_iter()
            .map(|g| -> Result<Part> {
                let mut p: Part = Default::default();
                for b in read_group(
                    &opened,
                    &cols,
                    &[
                        "juridical_situation",
                        "type_of_enterprise",
                        "juridical_form",
                    ],
                    Some(vec![*g]),
                )? {
                    let num = strings(&b, "enterprise_number", &path)?;
                    let sit = strings(&b, "juridical_situation", &path)?;
                    let typ = strings(&b, "type_of_enterprise", &path)?;
                    let form = strings(&b, "juridical_form", &path)?;
                    let start = b
                        .column_by_name("start_date")
                        .and_then(|c| c.as_primitive_opt::<Date32Type>())
                        .ok_or_else(|| pq_err(&path)("start_date is not a DATE".into()))?;
                    for i in 0..b.num_rows() {
                        let d = num.get(i).unwrap_or("");
                        // The snapshot holds checked numbers only; anything else is skipped.
                        let Ok(k) = number::parse(d.as_bytes(), None) else {
                            continue;
                        };
                        p.0.push(k);
                        p.1.push(Code::new(sit.get(i).unwrap_or("")));
                        p.2.push(typ.get(i) == Some("1"));
                        p.3.push(Code::new(form.get(i).unwrap_or("")));
                        p.4.push(start.is_valid(i).then(|| start.value(i)));
                    }
                }
                Ok(p)
            })
            .collect::<Result<_>>()?;
        for p in parts {
            e.number.extend(p.0);
            e.situation.extend(p.1);
            e.natural_person.extend(p.2);
            e.form.extend(p.3);
            e.start.extend(p.4);
        }
    }
    e.index = RowIndex::new(&e.number);
    Ok(e)
}

/// Establishments per enterprise row.
pub fn establishment_counts(snapshot: &Path, e: &Enterprises) -> Result<Vec<u32>> {
    let path = snapshot.join("establishment.parquet");
    let mut counts = vec![0u32; e.number.len()];
    let file = pq::Opened::open(&path).map_err(pq_err(&path))?;
    file.each_batch(&["enterprise_number"], &[], 0..file.row_groups(), |b| {
        let c = pq::strings(b, "enterprise_number")?;
        for i in 0..b.num_rows() {
            if let Some(k) = c
                .get(i)
                .and_then(|s| number::parse(s.as_bytes(), None).ok())
                .and_then(|k| e.index.get(k))
            {
                counts[k as usize] += 1;
            }
        }
        Ok(())
    })
    .map_err(pq_err(&path))?;
    Ok(counts)
}

/// Main activity per enterprise row, from the snapshot's `main_activity.parquet` (derived once
/// at ingest; crate::snapshot).
pub fn main_activities(snapshot: &Path, e: &Enterprises) -> Result<Dense> {
    let path = snapshot.join(crate::snapshot::MAIN_ACTIVITY);
    crate::snapshot::main_activity_by_key(&path, e.index.span(), e.number.len(), |n| e.index.get(n))
        .map_err(pq_err(&path))
}

/// The sector of a NACE division: its section, the section's English label, its points.
#[derive(Debug, Clone, PartialEq)]
pub struct Sector {
    /// The reason code, `SECTOR_<section>`.
    pub code: String,
    pub section: String,
    pub label: String,
    pub points: i32,
}

/// Sectors by (NACE version, division), as a direct index: 3 versions × 100 divisions.
pub struct Sections(Vec<Option<Sector>>);

fn version_slot(v: u16) -> Option<usize> {
    match v {
        2003 => Some(0),
        2008 => Some(1),
        2025 => Some(2),
        _ => None,
    }
}

impl Sections {
    /// The sector of a NACE code (its first two digits) in a version.
    pub fn of(&self, version: u16, code: &str) -> Option<&Sector> {
        let division: usize = code.get(..2)?.parse().ok()?;
        self.0
            .get(version_slot(version)? * 100 + division)?
            .as_ref()
    }
}

/// From the reference `nace_code` table: divisions (level 2) → section (their parent), sections
/// (level 1) → English label; points from [`super::model::SECTOR_POINTS`].
pub fn sections(reference: &Path) -> Result<Sections> {
    let path = reference.join("nace_code.parquet");
    let mut parent: Vec<(u16, usize, String)> = Vec::new();
    let mut label: HashMap<(u16, String), String> = HashMap::new();
    for b in read(
        &path,
        &["version", "code", "level", "parent", "lang", "description"],
        None,
    )? {
        let version = b
            .column_by_name("version")
            .and_then(|c| c.as_primitive_opt::<duckdb::arrow::datatypes::Int32Type>())
            .ok_or_else(|| pq_err(&path)("version is not an integer".into()))?;
        let level = b
            .column_by_name("level")
            .and_then(|c| c.as_primitive_opt::<duckdb::arrow::datatypes::Int32Type>())
            .ok_or_else(|| pq_err(&path)("level is not an integer".into()))?;
        let (code, par, lang, desc) = (
            strings(&b, "code", &path)?,
            strings(&b, "parent", &path)?,
            strings(&b, "lang", &path)?,
            strings(&b, "description", &path)?,
        );
        for i in 0..b.num_rows() {
            if lang.get(i) != Some("en") {
                continue;
            }
            let v = version.value(i) as u16;
            let c = code.get(i).unwrap_or("");
            match level.value(i) {
                1 => {
                    label.insert((v, c.to_string()), desc.get(i).unwrap_or("").to_string());
                }
                2 => {
                    if let (Some(p), Ok(d)) = (par.get(i), c.parse::<usize>()) {
                        parent.push((v, d, p.to_string()));
                    }
                }
                _ => {}
            }
        }
    }
    let mut v = vec![None; 300];
    for (version, division, section) in parent {
        let Some(slot) = version_slot(version).map(|s| s * 100 + division) else {
            continue;
        };
        let points = super::model::SECTOR_POINTS
            .iter()
            .find(|(ver, sec, _)| *ver == version && *sec == section)
            .map_or(0, |x| x.2);
        if let Some(x) = v.get_mut(slot) {
            *x = Some(Sector {
                code: format!("SECTOR_{section}"),
                label: label
                    .get(&(version, section.clone()))
                    .cloned()
                    .unwrap_or_default(),
                section,
                points,
            });
        }
    }
    Ok(Sections(v))
}

/// One fiscal year of accounts: its first deposit date, and the figures of its latest deposit.
/// 64 bytes (an `Option` per figure took 112): 2 M enterprises keep two each.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FiscalYear {
    pub fye: i32,
    pub deposited: i32,
    latest_deposit: i32,
    /// Equity, total assets, profit/loss, current assets, short-term debt; [`NONE`] when not given.
    amounts: [i64; 5],
    /// NaN when not given (a count read from the file is finite).
    employees: f64,
}

/// An amount not given (a file's -9223372036854775808 is rejected as not a number).
const NONE: i64 = i64::MIN;

impl FiscalYear {
    fn amount(&self, k: usize) -> Option<i64> {
        Some(self.amounts[k]).filter(|v| *v != NONE)
    }
    pub fn equity(&self) -> Option<i64> {
        self.amount(0)
    }
    pub fn total_assets(&self) -> Option<i64> {
        self.amount(1)
    }
    pub fn profit_loss(&self) -> Option<i64> {
        self.amount(2)
    }
    pub fn current_assets(&self) -> Option<i64> {
        self.amount(3)
    }
    pub fn short_term_debt(&self) -> Option<i64> {
        self.amount(4)
    }
    /// Average FTE employees.
    pub fn employees(&self) -> Option<f64> {
        Some(self.employees).filter(|v| !v.is_nan())
    }
}

/// The two latest fiscal years deposited by the snapshot date, newest first.
pub type Accounts = [Option<FiscalYear>; 2];

/// Accounts per enterprise row (`slot[i]` indexes `years`, u32::MAX for none), filings rows
/// skipped (each logged with its line and column).
pub struct Filings {
    pub slot: Vec<u32>,
    pub years: Vec<Accounts>,
    pub rejected: u64,
    pub unmatched: u64,
}

impl Filings {
    pub fn of(&self, row: usize) -> Option<&Accounts> {
        self.years.get(*self.slot.get(row)? as usize)
    }
}

/// Reads the filings CSV (crate::filings): deposits dated after `snapshot` are not known yet and
/// are left out. Numbers in any usual form (0200.065.765, 0200065765, BE0200065765). Blocks are
/// parsed in parallel and applied in file order, so a corrected deposit of the same fiscal year
/// still wins by its position.
pub fn filings(path: &Path, e: &Enterprises, snapshot: i32) -> Result<Filings> {
    let mut out = Filings {
        slot: vec![u32::MAX; e.number.len()],
        years: Vec::new(),
        rejected: 0,
        unmatched: 0,
    };
    crate::filings::read(
        path,
        |b| parse_filings_block(b, e, snapshot),
        |b: Block| {
            for (line, k, value, why) in b.rejects {
                out.rejected += 1;
                if out.rejected <= 20 {
                    tracing::warn!(
                        file = %path.display(),
                        line,
                        column = crate::filings::COLUMNS[k],
                        value = %value,
                        reason = why,
                        "filings row skipped; fix it and run `bce score` again"
                    );
                }
            }
            out.unmatched += b.unmatched;
            for (row, fy) in b.rows {
                let slot = &mut out.slot[row as usize];
                if *slot == u32::MAX {
                    *slot = out.years.len() as u32;
                    out.years.push([None, None]);
                }
                add(&mut out.years[*slot as usize], fy);
            }
        },
    )
    .map_err(|msg| Error::Filings {
        path: path.to_path_buf(),
        msg,
    })?;
    Ok(out)
}

/// What one block of the filings file gave: (enterprise row, fiscal year) in file order, rows
/// skipped (line, column, value, reason), rows of enterprises not in the snapshot.
#[derive(Default)]
struct Block {
    rows: Vec<(u32, FiscalYear)>,
    rejects: Vec<(u64, usize, String, &'static str)>,
    unmatched: u64,
}

fn parse_filings_block(
    block: &crate::filings::Block,
    e: &Enterprises,
    snapshot: i32,
) -> std::result::Result<Block, String> {
    let mut out = Block::default();
    block.for_each_record(|rec| {
        let line = rec.line;
        let field = |k: usize| rec.field(k);
        let mut reject = |k: usize, why: &'static str| {
            let value = String::from_utf8_lossy(field(k)).into_owned();
            out.rejects.push((line, k, value, why));
        };
        // The number in the register's display form, else in any form the VAT rules accept
        // (spec/vat.md).
        let n = number::parse(field(0), Some(number::EntityKind::Enterprise))
            .ok()
            .or_else(|| crate::vat::check(&String::from_utf8_lossy(field(0))).digits);
        let Some(n) = n else {
            reject(0, "not an enterprise number");
            return;
        };
        let Some(deposited) = date::parse_dmy(field(1)) else {
            reject(1, "not a date dd-mm-yyyy");
            return;
        };
        let Some(fye) = date::parse_dmy(field(2)) else {
            reject(2, "not a date dd-mm-yyyy");
            return;
        };
        let mut amounts = [NONE; 5];
        let mut bad = None;
        for (j, k) in [4usize, 5, 6, 8, 9].into_iter().enumerate() {
            let s = std::str::from_utf8(field(k)).unwrap_or("").trim();
            if s.is_empty() {
                continue;
            }
            match s.parse::<i64>() {
                // i64::MIN stands for "none" in FiscalYear.
                Ok(v) if v != NONE => amounts[j] = v,
                _ => bad = Some(k),
            }
        }
        let emp_s = std::str::from_utf8(field(7)).unwrap_or("").trim();
        let employees = if emp_s.is_empty() {
            f64::NAN
        } else {
            match emp_s.parse::<f64>() {
                Ok(v) if v.is_finite() => v,
                _ => {
                    bad = Some(7);
                    f64::NAN
                }
            }
        };
        if let Some(k) = bad {
            reject(k, "not a number");
            return;
        }
        if deposited > snapshot {
            return;
        }
        let Some(row) = e.index.get(n) else {
            out.unmatched += 1;
            return;
        };
        out.rows.push((
            row,
            FiscalYear {
                fye,
                deposited,
                latest_deposit: deposited,
                amounts,
                employees,
            },
        ));
    })?;
    Ok(out)
}

/// Keeps the two latest fiscal years; a second deposit for the same year keeps the first
/// deposit date (lateness) and the latest figures (a correction).
fn add(acc: &mut Accounts, fy: FiscalYear) {
    for y in acc.iter_mut().flatten() {
        if y.fye == fy.fye {
            if fy.latest_deposit >= y.latest_deposit {
                *y = FiscalYear {
                    deposited: y.deposited.min(fy.deposited),
                    ..fy
                };
            } else {
                y.deposited = y.deposited.min(fy.deposited);
            }
            return;
        }
    }
    match acc {
        [None, _] => acc[0] = Some(fy),
        [Some(a), _] if fy.fye > a.fye => {
            acc[1] = acc[0];
            acc[0] = Some(fy);
        }
        [Some(_), None] => acc[1] = Some(fy),
        [Some(_), Some(b)] if fy.fye > b.fye => acc[1] = Some(fy),
        _ => {}
    }
}

/// Register events of the window for one enterprise.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventFeatures {
    pub seat_moves: i32,
    pub seat_moved_in: Option<i32>,
    pub struck_off_in: Option<i32>,
    pub renamed_in: Option<i32>,
    pub rename: Option<String>,
    pub form_changed_in: Option<i32>,
    pub closed_count: i32,
    pub closed_in: Option<i32>,
}

/// An enterprise that left the register in the window.
#[derive(Debug, Clone, PartialEq)]
pub struct Stopped {
    pub number: u64,
    pub display: String,
    pub extract_number: i32,
    pub snapshot_date: String,
    pub juridical_situation: Option<String>,
}

/// Event features per enterprise number, and the enterprises that left the register (and are
/// not back in the snapshot).
pub fn events(
    files: &[PathBuf],
    snapshot_date: &str,
    window_months: u32,
    e: &Enterprises,
    memory_limit: &str,
) -> Result<(NumberMap<EventFeatures>, Vec<Stopped>)> {
    let mut features = NumberMap::default();
    let mut stopped = Vec::new();
    // Errors name the events folder (DIR/events/), where the files are.
    let folder = files
        .first()
        .and_then(|f| f.parent())
        .and_then(|p| p.parent())
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let files: Vec<String> = files
        .iter()
        .filter(|p| p.is_file())
        .map(|p| quote_path(p))
        .collect();
    if files.is_empty() {
        return Ok((features, stopped));
    }
    let db = |source| Error::Db {
        snapshot: folder.clone(),
        source,
    };
    let conn = duckdb::Connection::open_in_memory().map_err(db)?;
    conn.execute_batch(&format!(
        "SET memory_limit = {}; SET enable_progress_bar = false;
         CREATE TEMP TABLE events_in AS
         SELECT type, extract_number, snapshot_date, enterprise_number, establishment_number, data
         FROM read_parquet([{}]);",
        quote(memory_limit),
        files.join(", ")
    ))
    .map_err(db)?;
    let sql = EVENTS_SQL
        .replace("{snapshot_date}", &quote(snapshot_date))
        .replace("{window_months}", &window_months.to_string());
    for stmt in statements(&sql) {
        conn.execute_batch(stmt).map_err(db)?;
    }
    let mut st = conn
        .prepare(
            "SELECT enterprise_number, seat_moves, seat_moved_in, struck_off_in, renamed_in, rename,
                    form_changed_in, closed_count, closed_in FROM score_events",
        )
        .map_err(db)?;
    let rows = st
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                EventFeatures {
                    seat_moves: r.get(1)?,
                    seat_moved_in: r.get(2)?,
                    struck_off_in: r.get(3)?,
                    renamed_in: r.get(4)?,
                    rename: r.get(5)?,
                    form_changed_in: r.get(6)?,
                    closed_count: r.get(7)?,
                    closed_in: r.get(8)?,
                },
            ))
        })
        .map_err(db)?;
    for row in rows {
        let (n, f) = row.map_err(db)?;
        if let Ok(k) = number::parse(n.as_bytes(), None) {
            features.insert(k, f);
        }
    }
    let mut st = conn
        .prepare(
            "SELECT enterprise_number, extract_number, snapshot_date::VARCHAR, juridical_situation
             FROM stopped ORDER BY enterprise_number",
        )
        .map_err(db)?;
    let rows = st
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i32>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        })
        .map_err(db)?;
    for row in rows {
        let (n, x, d, js) = row.map_err(db)?;
        let Ok(k) = number::parse(n.as_bytes(), None) else {
            continue;
        };
        if !e.index.contains(k) {
            stopped.push(Stopped {
                number: k,
                display: n,
                extract_number: x,
                snapshot_date: d,
                juridical_situation: js,
            });
        }
    }
    Ok((features, stopped))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fy(fye: i32, dep: i32, equity: i64) -> FiscalYear {
        FiscalYear {
            fye,
            deposited: dep,
            latest_deposit: dep,
            amounts: [equity, NONE, NONE, NONE, NONE],
            employees: f64::NAN,
        }
    }

    #[test]
    fn the_two_latest_years_are_kept_and_corrections_keep_the_first_date() {
        let mut a: Accounts = [None, None];
        add(&mut a, fy(100, 300, 1));
        add(&mut a, fy(465, 700, 2));
        add(&mut a, fy(10, 200, 3)); // older than both: ignored
        add(&mut a, fy(465, 750, 4)); // a correction of 465
        add(&mut a, fy(465, 690, 5)); // an older deposit of 465 (first date only)
        assert_eq!(
            a[0].map(|y| (y.fye, y.deposited, y.equity())),
            Some((465, 690, Some(4)))
        );
        assert_eq!(a[1].map(|y| (y.fye, y.equity())), Some((100, Some(1))));
        add(&mut a, fy(830, 1000, 6));
        assert_eq!(a.map(|y| y.map(|y| y.fye)), [Some(830), Some(465)]);
    }
}

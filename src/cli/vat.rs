//! `bce vat validate`: numbers from the arguments, stdin, or a CSV column; results as a table,
//! JSON lines or CSV. Invalid numbers are answers (exit 0); only usage and I/O errors exit 2.

use anyhow::Context;
use bce::vat::{self, VatResult};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Validate Belgian VAT numbers (spec: vat.md).
    Validate(ValidateArgs),
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Jsonl,
    Csv,
}

#[derive(clap::Args, Debug)]
pub struct ValidateArgs {
    /// Numbers to validate; without them, one per line from stdin.
    pub numbers: Vec<String>,
    /// Output format (default: table on a terminal, jsonl otherwise).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// A CSV file whose column --column holds VAT numbers: written back with the result columns added.
    #[arg(long, requires = "column")]
    pub csv: Option<PathBuf>,
    /// The column of --csv holding the numbers.
    #[arg(long, requires = "csv")]
    pub column: Option<String>,
    /// Where to write the enriched CSV (default: stdout).
    #[arg(long, requires = "csv")]
    pub output: Option<PathBuf>,
    /// A published output folder: fills `found` and `active` from its warehouse.
    #[arg(long, env = "BCE_WAREHOUSE")]
    pub warehouse: Option<PathBuf>,
}

pub fn run(c: &Command) -> anyhow::Result<u8> {
    let Command::Validate(a) = c;
    if let (Some(file), Some(column)) = (&a.csv, &a.column) {
        return enrich_csv(a, file, column);
    }
    let inputs: Vec<String> = if a.numbers.is_empty() {
        std::io::stdin()
            .lock()
            .lines()
            .collect::<Result<_, _>>()
            .context("reading numbers from stdin")?
    } else {
        a.numbers.clone()
    };
    let mut results = vat::validate_batch(&inputs);
    fill_found(a, &mut results)?;
    let format = a.format.unwrap_or(if std::io::stdout().is_terminal() {
        Format::Table
    } else {
        Format::Jsonl
    });
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match format {
        Format::Jsonl => {
            for r in &results {
                serde_json::to_writer(&mut out, r)?;
                out.write_all(b"\n")?;
            }
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(header(a.warehouse.is_some()))?;
            for r in &results {
                w.write_record(fields(r, a.warehouse.is_some()))?;
            }
            w.flush()?;
            return Ok(0);
        }
        Format::Table => write_table(&mut out, &results, a.warehouse.is_some())?,
    }
    out.flush()?;
    Ok(0)
}

fn header(found: bool) -> Vec<&'static str> {
    let mut h = vec![
        "input",
        "normalized",
        "status",
        "reason",
        "enterprise_number",
        "formatted",
    ];
    if found {
        h.extend(["found", "active"]);
    }
    h
}

fn fields(r: &VatResult, found: bool) -> Vec<String> {
    let o = |s: &Option<String>| s.clone().unwrap_or_default();
    let b = |v: Option<bool>| v.map(|v| v.to_string()).unwrap_or_default();
    let mut f = vec![
        r.input.clone(),
        o(&r.normalized),
        r.status.as_str().to_string(),
        r.reason.map(|x| x.as_str().to_string()).unwrap_or_default(),
        o(&r.enterprise_number),
        o(&r.formatted),
    ];
    if found {
        f.extend([b(r.found), b(r.active)]);
    }
    f
}

fn write_table(out: &mut impl Write, results: &[VatResult], found: bool) -> std::io::Result<()> {
    let head = header(found);
    let rows: Vec<Vec<String>> = results.iter().map(|r| fields(r, found)).collect();
    let widths: Vec<usize> = (0..head.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([head[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<String>| -> String {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    writeln!(
        out,
        "{}",
        line(head.iter().map(|s| s.to_string()).collect())
    )?;
    for r in rows {
        writeln!(out, "{}", line(r))?;
    }
    Ok(())
}

/// `found` / `active` from the published warehouse (`--warehouse DIR`).
fn fill_found(a: &ValidateArgs, results: &mut [VatResult]) -> anyhow::Result<()> {
    let Some(dir) = &a.warehouse else {
        return Ok(());
    };
    let db = dir.join("warehouse.duckdb");
    if !db.is_file() {
        anyhow::bail!(
            "{}: no published warehouse; run `bce run EXTRACT --out {}` first",
            db.display(),
            dir.display()
        );
    }
    let numbers: Vec<String> = results
        .iter()
        .filter(|r| r.is_valid())
        .filter_map(|r| r.normalized.clone())
        .collect();
    let found = bce::warehouse::lookup_vat(&db, &numbers)?;
    for r in results.iter_mut() {
        let status = r
            .normalized
            .as_ref()
            .filter(|_| r.is_valid())
            .and_then(|n| found.get(n));
        r.found = Some(status.is_some());
        // The open data lists active entities only (Status AC).
        r.active = Some(status.is_some_and(|s| s == "AC"));
    }
    Ok(())
}

/// Adds the result columns to a CSV file (an onboarding-form export), keeping every other column.
fn enrich_csv(a: &ValidateArgs, file: &PathBuf, column: &str) -> anyhow::Result<u8> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(file)
        .with_context(|| format!("{}: cannot read", file.display()))?;
    let headers = rdr
        .headers()
        .with_context(|| format!("{}: line 1: no header row", file.display()))?
        .clone();
    let Some(pos) = headers.iter().position(|h| h == column) else {
        anyhow::bail!(
            "{}: line 1: no column named {column:?} (columns: {})",
            file.display(),
            headers.iter().collect::<Vec<_>>().join(", ")
        );
    };
    let mut records = Vec::new();
    for (i, r) in rdr.records().enumerate() {
        records.push(
            r.with_context(|| format!("{}: line {}: unreadable CSV row", file.display(), i + 2))?,
        );
    }
    let inputs: Vec<&str> = records.iter().map(|r| r.get(pos).unwrap_or("")).collect();
    let mut results = vat::validate_batch(&inputs);
    fill_found(a, &mut results)?;
    let sink: Box<dyn Write> = match &a.output {
        Some(p) => Box::new(
            std::fs::File::create(p).with_context(|| format!("{}: cannot write", p.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut w = csv::Writer::from_writer(sink);
    let mut head: Vec<String> = headers.iter().map(String::from).collect();
    head.extend(
        header(a.warehouse.is_some())
            .iter()
            .skip(1)
            .map(|h| format!("vat_{h}")),
    );
    w.write_record(&head)?;
    for (rec, res) in records.iter().zip(&results) {
        let mut row: Vec<String> = rec.iter().map(String::from).collect();
        row.resize(headers.len(), String::new());
        row.extend(fields(res, a.warehouse.is_some()).into_iter().skip(1));
        w.write_record(&row)?;
    }
    w.flush()?;
    Ok(0)
}

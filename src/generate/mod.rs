//! generate: synthetic KBO Full extracts at any scale, in the exact KBO format.
//!
//! Input: a number of enterprises, a seed, an extract number and a snapshot date. Output: a zip
//! `KboOpenData_<nnnn>_<yyyy>_<mm>_<dd>_Full.zip` (or a folder) with meta.csv, the real code.csv and
//! the seven data files. Invariants: deterministic — every enterprise is drawn from its own random
//! stream (seed, index), blocks are generated in parallel and written in order, and zip entries carry
//! a fixed timestamp, so the same options give byte-identical files on any number of threads;
//! every number has valid check digits; rows per enterprise follow the real register
//! (kbo-open-data.md "Real sizes").

pub mod filings;
mod model;
mod rng;
pub mod timeline;
mod update;
pub mod vat;
mod words;

pub use model::Catalog;
pub use rng::Rng;
pub use timeline::Timeline;

use crate::kbo::{self, ExtractType, Meta};
use crate::progress::Progress;
use rayon::prelude::*;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// The real code.csv of extract 147 (public open data), shipped with every generated extract.
pub static CODE_CSV: &[u8] = include_bytes!("../../data/code.csv");

/// Data files in the order the generator writes them.
pub const FILES: [&str; 7] = [
    "enterprise.csv",
    "establishment.csv",
    "denomination.csv",
    "address.csv",
    "contact.csv",
    "activity.csv",
    "branch.csv",
];

/// Enterprises per block: the unit of parallel work.
const BLOCK: u64 = 4096;
/// Largest supported count (the numbering scheme has room for 8 M enterprises).
pub const MAX_ENTERPRISES: u64 = 8_000_000;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: writing the zip: {msg}")]
    Zip { path: PathBuf, msg: String },
    #[error("--enterprises {0}: at most {MAX_ENTERPRISES} are supported")]
    TooMany(u64),
}

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, Clone)]
pub struct Options {
    pub enterprises: u64,
    pub seed: u64,
    pub extract_number: u32,
    /// Days since 1970-01-01.
    pub snapshot_date: i32,
    /// Write a folder instead of a zip.
    pub folder: bool,
    pub out: PathBuf,
    /// Daily Update extracts (and the Full extract of each day) to write after the Full one.
    pub updates: u32,
    /// Write the annual-account deposits (`filings.csv`).
    pub filings: bool,
}

/// The extract's file name (without `.zip`): the date in the name is the extract date, the day
/// after the snapshot (kbo-open-data.md "Extracts and names").
pub fn extract_name(extract_number: u32, snapshot_date: i32, ty: ExtractType) -> String {
    let (y, m, d) = kbo::date::civil_from_days(snapshot_date + 1);
    let kind = if ty == ExtractType::Full {
        "Full"
    } else {
        "Update"
    };
    format!("KboOpenData_{extract_number:04}_{y:04}_{m:02}_{d:02}_{kind}")
}

fn meta(opts: &Options, day: u32, extract_type: ExtractType) -> Meta {
    let snapshot = opts.snapshot_date + day as i32;
    Meta {
        snapshot_date: snapshot,
        extract_timestamp: format!("{} 07:40:18", kbo::date::format_dmy(snapshot + 1)),
        extract_type,
        extract_number: opts.extract_number + day,
        version: "1.0.0".into(),
    }
}

/// Generates the Full extract, then for each of `opts.updates` days the Update extract and the
/// Full extract of that day, and with `opts.filings` the deposits (`filings.csv`, and
/// `filings_<nnnn>.csv` with each Update day's new deposits). Returns the paths written, in order.
pub fn generate(opts: &Options, progress: &Progress) -> Result<Vec<PathBuf>> {
    if opts.enterprises > MAX_ENTERPRISES {
        return Err(Error::TooMany(opts.enterprises));
    }
    fs::create_dir_all(&opts.out).map_err(io_err(&opts.out))?;
    let g = Generator {
        opts,
        catalog: Catalog::from_code_csv(CODE_CSV),
        timeline: Timeline::new(opts.seed, opts.enterprises, opts.updates),
        progress,
    };
    let mut paths = vec![g.extract(0, ExtractType::Full)?];
    if opts.filings {
        paths.push(opts.out.join("filings.csv"));
    }
    for day in 1..=opts.updates {
        paths.push(g.extract(day, ExtractType::Update)?);
        paths.push(g.extract(day, ExtractType::Full)?);
    }
    if opts.filings && opts.updates > 0 {
        paths.extend(split_filings_by_day(opts)?);
    }
    Ok(paths)
}

/// Generates a Full extract only (no Updates, no filings); returns the path of the zip or folder.
pub fn generate_full(opts: &Options, progress: &Progress) -> Result<PathBuf> {
    let opts = Options {
        updates: 0,
        filings: false,
        ..opts.clone()
    };
    let paths = generate(&opts, progress)?;
    Ok(paths.into_iter().next().unwrap_or_default())
}

fn io_err(p: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = p.to_path_buf();
    move |source| Error::Io { path, source }
}

struct Generator<'a> {
    opts: &'a Options,
    catalog: Catalog,
    timeline: Timeline,
    progress: &'a Progress,
}

impl Generator<'_> {
    /// Writes one extract (a folder, or a zip built from a temporary folder).
    fn extract(&self, day: u32, ty: ExtractType) -> Result<PathBuf> {
        let opts = self.opts;
        let m = meta(opts, day, ty);
        let name = extract_name(m.extract_number, m.snapshot_date, ty);
        let folder = opts.out.join(if opts.folder {
            name.clone()
        } else {
            format!(".{name}.tmp-{}", std::process::id())
        });
        let _ = fs::remove_dir_all(&folder);
        fs::create_dir_all(&folder).map_err(io_err(&folder))?;
        let result = self.write_csvs(&folder, &m, day, ty).and_then(|names| {
            if opts.folder {
                return Ok(folder.clone());
            }
            let zip = opts.out.join(format!("{name}.zip"));
            zip_folder(&folder, &names, &zip, m.snapshot_date, self.progress)?;
            Ok(zip)
        });
        if !opts.folder || result.is_err() {
            let _ = fs::remove_dir_all(&folder);
        }
        tracing::info!(extract = %name, "generated");
        result
    }

    /// Writes meta.csv, code.csv and the data files into `dir`; returns the file names.
    fn write_csvs(&self, dir: &Path, m: &Meta, day: u32, ty: ExtractType) -> Result<Vec<String>> {
        fs::write(dir.join("meta.csv"), kbo::meta::render(m))
            .map_err(io_err(&dir.join("meta.csv")))?;
        fs::write(dir.join("code.csv"), CODE_CSV).map_err(io_err(&dir.join("code.csv")))?;
        let mut names = vec!["meta.csv".to_string(), "code.csv".to_string()];
        match ty {
            ExtractType::Full => names.extend(self.write_full(dir, day)?),
            ExtractType::Update => names.extend(self.write_update(dir, day)?),
        }
        Ok(names)
    }

    /// The data files of the Full extract of `day`: every enterprise that exists on that day.
    fn write_full(&self, dir: &Path, day: u32) -> Result<Vec<String>> {
        let opts = self.opts;
        let mut files = Vec::new();
        for f in FILES {
            let p = dir.join(f);
            let mut w = BufWriter::with_capacity(1 << 20, File::create(&p).map_err(io_err(&p))?);
            w.write_all(model::header(f).as_bytes())
                .map_err(io_err(&p))?;
            files.push((p, w));
        }
        // Deposits are day-independent: written once, with the Full extract of day 0.
        let horizon = (opts.filings && day == 0).then(|| opts.snapshot_date + opts.updates as i32);
        if horizon.is_some() {
            let p = opts.out.join("filings.csv");
            let mut w = BufWriter::with_capacity(1 << 20, File::create(&p).map_err(io_err(&p))?);
            w.write_all(filings::HEADER.as_bytes())
                .map_err(io_err(&p))?;
            files.push((p, w));
        }
        let created: Vec<u64> = self.timeline.created_by(day).collect();
        let blocks = opts.enterprises.div_ceil(BLOCK);
        let pb = self.progress.bytes("generate", 0);
        pb.set_length(opts.enterprises + created.len() as u64);
        pb.set_message(format!("enterprises, day {day}"));
        let window = (rayon::current_num_threads() as u64 * 4).max(1);
        let mut start = 0;
        // The base population in blocks, then the enterprises created since, as one more block.
        while start <= blocks {
            let end = (start + window).min(blocks + 1);
            let outs: Vec<model::BlockOut> = (start..end)
                .into_par_iter()
                .map(|b| {
                    let (s, t, tl) = (opts.seed, opts.snapshot_date, &self.timeline);
                    if b == blocks {
                        model::block(&self.catalog, s, created.iter().copied(), t, tl, day, None)
                    } else {
                        let lo = b * BLOCK;
                        let hi = (lo + BLOCK).min(opts.enterprises);
                        model::block(&self.catalog, s, lo..hi, t, tl, day, horizon)
                    }
                })
                .collect();
            for out in outs {
                for ((p, w), buf) in files.iter_mut().zip(out.files.iter()) {
                    w.write_all(buf).map_err(io_err(p))?;
                }
                pb.inc(out.enterprises);
            }
            tracing::debug!(blocks_done = end, blocks, "generating");
            start = end;
        }
        for (p, mut w) in files {
            w.flush().map_err(io_err(&p))?;
        }
        pb.finish_and_clear();
        Ok(FILES.iter().map(|f| f.to_string()).collect())
    }

    /// The data files of the Update extract of `day`: for each table, the keys of the entities whose
    /// rows changed (`<table>_delete.csv`) and all current rows of those entities
    /// (`<table>_insert.csv`), so that Full `day - 1` + this Update = Full `day`.
    fn write_update(&self, dir: &Path, day: u32) -> Result<Vec<String>> {
        let opts = self.opts;
        let touched = self.timeline.touched_on(day);
        let render = |i: u64, d: u32| {
            let (s, t, tl) = (opts.seed, opts.snapshot_date, &self.timeline);
            model::block(&self.catalog, s, std::iter::once(i), t, tl, d, None).files
        };
        let diffs: Vec<update::Diff> = touched
            .par_iter()
            .map(|&(i, cascade)| update::diff(&render(i, day - 1), &render(i, day), cascade))
            .collect();
        let mut names = Vec::new();
        for (t, f) in FILES.iter().enumerate() {
            let table = f.trim_end_matches(".csv");
            let mut del = update::delete_header(table).into_bytes();
            let mut ins = model::header(f).into_bytes();
            for d in &diffs {
                del.extend_from_slice(&d.deletes[t]);
                ins.extend_from_slice(&d.inserts[t]);
            }
            for (suffix, bytes) in [("delete", del), ("insert", ins)] {
                let n = format!("{table}_{suffix}.csv");
                let p = dir.join(&n);
                fs::write(&p, bytes).map_err(io_err(&p))?;
                names.push(n);
            }
        }
        Ok(names)
    }
}

/// Writes `filings_<extract number>.csv` for each Update day: the deposits dated that day.
fn split_filings_by_day(opts: &Options) -> Result<Vec<PathBuf>> {
    use std::io::BufRead;
    let src = opts.out.join("filings.csv");
    let reader = std::io::BufReader::new(File::open(&src).map_err(io_err(&src))?);
    let mut days: Vec<Vec<u8>> = vec![filings::HEADER.as_bytes().to_vec(); opts.updates as usize];
    for line in reader.lines().skip(1) {
        let line = line.map_err(io_err(&src))?;
        let deposit = line
            .split(',')
            .nth(1)
            .and_then(|d| kbo::date::parse_dmy(d.as_bytes()));
        if let Some(d) = deposit.map(|d| d - opts.snapshot_date) {
            if d >= 1 && d <= opts.updates as i32 {
                days[d as usize - 1].extend_from_slice(format!("{line}\n").as_bytes());
            }
        }
    }
    let mut paths = Vec::new();
    for (k, bytes) in days.into_iter().enumerate() {
        let p = opts.out.join(format!(
            "filings_{:04}.csv",
            opts.extract_number + k as u32 + 1
        ));
        fs::write(&p, bytes).map_err(io_err(&p))?;
        paths.push(p);
    }
    Ok(paths)
}

/// Zips the folder's CSV files (deflate, fixed timestamps) under a temporary name, then renames.
fn zip_folder(
    dir: &Path,
    names: &[String],
    zip_path: &Path,
    snapshot_date: i32,
    progress: &Progress,
) -> Result<()> {
    use zip::write::SimpleFileOptions;
    let zerr = |msg: String| Error::Zip {
        path: zip_path.to_path_buf(),
        msg,
    };
    let tmp = zip_path.with_extension("zip.tmp");
    let fh = File::create(&tmp).map_err(|source| Error::Io {
        path: tmp.clone(),
        source,
    })?;
    let mut zw = zip::ZipWriter::new(BufWriter::with_capacity(1 << 20, fh));
    let (y, m, d) = kbo::date::civil_from_days(snapshot_date + 1);
    let stamp =
        zip::DateTime::from_date_and_time(y.clamp(1980, 2107) as u16, m as u8, d as u8, 7, 40, 18)
            .map_err(|e| zerr(e.to_string()))?;
    let total: u64 = names
        .iter()
        .filter_map(|n| fs::metadata(dir.join(n)).ok())
        .map(|m| m.len())
        .sum();
    let pb = progress.bytes("zip", total);
    for n in names {
        let p = dir.join(n);
        let size = fs::metadata(&p)
            .map_err(|source| Error::Io {
                path: p.clone(),
                source,
            })?
            .len();
        let o = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .compression_level(Some(1))
            .last_modified_time(stamp)
            .unix_permissions(0o644)
            .large_file(size >= u32::MAX as u64);
        zw.start_file(n.as_str(), o)
            .map_err(|e| zerr(e.to_string()))?;
        let mut f = File::open(&p).map_err(|source| Error::Io {
            path: p.clone(),
            source,
        })?;
        let mut w = pb.wrap_write(&mut zw);
        std::io::copy(&mut f, &mut w).map_err(|source| Error::Io {
            path: p.clone(),
            source,
        })?;
    }
    let mut inner = zw.finish().map_err(|e| zerr(e.to_string()))?;
    inner.flush().map_err(|source| Error::Io {
        path: tmp.clone(),
        source,
    })?;
    drop(inner);
    fs::rename(&tmp, zip_path).map_err(|source| Error::Io {
        path: zip_path.to_path_buf(),
        source,
    })?;
    pb.finish_and_clear();
    Ok(())
}

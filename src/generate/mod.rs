//! generate: synthetic KBO Full extracts at any scale, in the exact KBO format.
//!
//! Input: a number of enterprises, a seed, an extract number and a snapshot date. Output: a zip
//! `KboOpenData_<nnnn>_<yyyy>_<mm>_<dd>_Full.zip` (or a folder) with meta.csv, the real code.csv and
//! the seven data files. Invariants: deterministic — every enterprise is drawn from its own random
//! stream (seed, index), blocks are generated in parallel and written in order, and zip entries carry
//! a fixed timestamp, so the same options give byte-identical files on any number of threads;
//! every number has valid check digits; rows per enterprise follow the real register
//! (kbo-open-data.md "Real sizes").

mod model;
mod rng;
pub mod vat;
mod words;

pub use model::Catalog;
pub use rng::Rng;

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

fn meta(opts: &Options) -> Meta {
    Meta {
        snapshot_date: opts.snapshot_date,
        extract_timestamp: format!("{} 07:40:18", kbo::date::format_dmy(opts.snapshot_date + 1)),
        extract_type: ExtractType::Full,
        extract_number: opts.extract_number,
        version: "1.0.0".into(),
    }
}

/// Generates a Full extract; returns the path of the zip or folder.
pub fn generate_full(opts: &Options, progress: &Progress) -> Result<PathBuf> {
    if opts.enterprises > MAX_ENTERPRISES {
        return Err(Error::TooMany(opts.enterprises));
    }
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| Error::Io { path: p, source }
    };
    fs::create_dir_all(&opts.out).map_err(io(&opts.out))?;
    let name = extract_name(opts.extract_number, opts.snapshot_date, ExtractType::Full);
    let folder = opts.out.join(if opts.folder {
        name.clone()
    } else {
        format!(".{name}.tmp-{}", std::process::id())
    });
    let _ = fs::remove_dir_all(&folder);
    fs::create_dir_all(&folder).map_err(io(&folder))?;
    let result = write_csvs(opts, &folder, progress).and_then(|()| {
        if opts.folder {
            return Ok(folder.clone());
        }
        let zip = opts.out.join(format!("{name}.zip"));
        zip_folder(&folder, &zip, opts.snapshot_date, progress)?;
        Ok(zip)
    });
    if !opts.folder || result.is_err() {
        let _ = fs::remove_dir_all(&folder);
    }
    result
}

/// Writes meta.csv, code.csv and the data files into `dir`.
fn write_csvs(opts: &Options, dir: &Path, progress: &Progress) -> Result<()> {
    let io = |p: PathBuf| move |source| Error::Io { path: p, source };
    let m = meta(opts);
    fs::write(dir.join("meta.csv"), kbo::meta::render(&m)).map_err(io(dir.join("meta.csv")))?;
    fs::write(dir.join("code.csv"), CODE_CSV).map_err(io(dir.join("code.csv")))?;
    let catalog = Catalog::from_code_csv(CODE_CSV);
    let mut files = Vec::new();
    for f in FILES {
        let p = dir.join(f);
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&p).map_err(io(p.clone()))?);
        w.write_all(model::header(f).as_bytes())
            .map_err(io(p.clone()))?;
        files.push((p, w));
    }
    let blocks = opts.enterprises.div_ceil(BLOCK);
    let pb = progress.bytes("generate", 0);
    pb.set_length(opts.enterprises);
    pb.set_message("enterprises");
    let window = (rayon::current_num_threads() as u64 * 4).max(1);
    let mut start = 0;
    while start < blocks {
        let end = (start + window).min(blocks);
        let outs: Vec<model::BlockOut> = (start..end)
            .into_par_iter()
            .map(|b| {
                let lo = b * BLOCK;
                let hi = (lo + BLOCK).min(opts.enterprises);
                model::block(&catalog, opts.seed, lo..hi, opts.snapshot_date)
            })
            .collect();
        for out in outs {
            for ((p, w), buf) in files.iter_mut().zip(out.files.iter()) {
                w.write_all(buf).map_err(io(p.clone()))?;
            }
            pb.inc(out.enterprises);
        }
        tracing::debug!(blocks_done = end, blocks, "generating");
        start = end;
    }
    for (p, mut w) in files {
        w.flush().map_err(io(p))?;
    }
    pb.finish_and_clear();
    Ok(())
}

/// Zips the folder's CSV files (deflate, fixed timestamps) under a temporary name, then renames.
fn zip_folder(dir: &Path, zip_path: &Path, snapshot_date: i32, progress: &Progress) -> Result<()> {
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
    let mut names = vec!["meta.csv", "code.csv"];
    names.extend(FILES);
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
        zw.start_file(n, o).map_err(|e| zerr(e.to_string()))?;
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

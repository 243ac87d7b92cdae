//! `bce generate`.

use bce::generate::{self, Options};
use bce::kbo::date;
use bce::progress::Progress;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Number of enterprises (the real register: about 1,940,000).
    #[arg(long, default_value_t = 1000)]
    pub enterprises: u64,
    /// Random seed: the same seed and options give byte-identical files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output folder.
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    /// Extract number written in meta.csv and the file name.
    #[arg(long, default_value_t = 147)]
    pub extract_number: u32,
    /// Snapshot date, dd-mm-yyyy or yyyy-mm-dd.
    #[arg(long, default_value = "11-10-2025")]
    pub snapshot_date: String,
    /// Write an unzipped folder instead of a zip.
    #[arg(long)]
    pub folder: bool,
    /// Also write the K following daily Update extracts and the Full extract of each day.
    #[arg(long, value_name = "K", default_value_t = 0)]
    pub updates: u32,
    /// Also write annual-account deposits: filings.csv (and filings_<nnnn>.csv per Update day).
    #[arg(long)]
    pub filings: bool,
}

fn parse_date(s: &str) -> Option<i32> {
    date::parse_dmy(s.as_bytes()).or_else(|| {
        let p: Vec<&str> = s.split('-').collect();
        (p.len() == 3 && p[0].len() == 4)
            .then(|| format!("{}-{}-{}", p[2], p[1], p[0]))
            .and_then(|d| date::parse_dmy(d.as_bytes()))
    })
}

pub fn run(a: &Args, verbose: bool, progress: &Progress) -> anyhow::Result<u8> {
    let Some(snapshot_date) = parse_date(&a.snapshot_date) else {
        anyhow::bail!(
            "--snapshot-date {:?}: expected dd-mm-yyyy or yyyy-mm-dd",
            a.snapshot_date
        );
    };
    let opts = Options {
        enterprises: a.enterprises,
        seed: a.seed,
        extract_number: a.extract_number,
        snapshot_date,
        folder: a.folder,
        out: a.out.clone(),
        updates: a.updates,
        filings: a.filings,
    };
    if verbose {
        eprintln!("effective configuration: {opts:?}");
    }
    let t = std::time::Instant::now();
    let paths = generate::generate(&opts, progress)?;
    tracing::info!(
        files = paths.len(),
        enterprises = a.enterprises,
        seconds = format!("{:.1}", t.elapsed().as_secs_f64()),
        "generated"
    );
    for p in paths {
        println!("{}", p.display());
    }
    Ok(0)
}

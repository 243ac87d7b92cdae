//! The `bce` command line: parses arguments, calls the library, maps outcomes to exit codes
//! (0 done or nothing to do, 1 the data failed a check, 2 usage, I/O or internal error).
#![forbid(unsafe_code)]

mod cli;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "bce",
    version,
    about = "Belgian company register (KBO/BCE Open Data) → Parquet snapshot → DuckDB warehouse"
)]
pub struct Cli {
    /// Log lines as text or JSON (one object per line, on stderr).
    #[arg(
        long,
        global = true,
        value_enum,
        env = "BCE_LOG_FORMAT",
        default_value = "text"
    )]
    pub log_format: LogFormat,
    /// More detail in the logs, and the effective configuration.
    #[arg(long, short, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(clap::Args, Debug, Clone)]
pub struct PipelineArgs {
    /// Output folder (warehouse.duckdb, snapshots/, reference/).
    #[arg(long, env = "BCE_OUT", default_value = "warehouse")]
    pub out: PathBuf,
    /// Rebuild even if this extract number is already published.
    #[arg(long)]
    pub force: bool,
    /// Validate and report; publish nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Largest share of a table's rows that may be rejected before the run fails (exit 1).
    #[arg(long, env = "BCE_MAX_REJECTS", default_value_t = 0.001)]
    pub max_rejects: f64,
    /// Data tables as views over the snapshot's Parquet files (fast, the default) or as native
    /// DuckDB tables (a self-contained file).
    #[arg(long, value_enum, env = "BCE_STORAGE", default_value = "views")]
    pub storage: bce::warehouse::Storage,
    /// DuckDB memory limit while building the warehouse.
    #[arg(long, env = "BCE_MEMORY_LIMIT", default_value = "1GB")]
    pub memory_limit: String,
    /// Annual-account deposits (CSV, payment-risk.md format): they feed the payment-risk scores,
    /// and new deposits become company.filing_deposited events.
    #[arg(long, env = "BCE_FILINGS")]
    pub filings: Option<PathBuf>,
    /// Rows per row group of the snapshot's Parquet tables (main_activity.parquet: an eighth). An
    /// Update copies the row groups it does not touch as they are, so smaller groups make Updates
    /// faster and files a little larger.
    #[arg(long, env = "BCE_ROW_GROUP_ROWS", default_value_t = bce::ingest::Options::default().row_group_rows)]
    pub row_group_rows: usize,
    /// Also write this run's change events as JSON lines to FILE.
    #[arg(long, value_name = "FILE")]
    pub events_jsonl: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// The nightly job: ingest (a Full extract, or an Update applied to the previous snapshot) →
    /// change events → payment-risk scores → publish DIR/warehouse.duckdb.
    Run {
        /// A KBO extract: KboOpenData_…_Full.zip or _Update.zip, or a folder of its CSV files.
        extract: PathBuf,
        #[command(flatten)]
        args: PipelineArgs,
    },
    /// Extract → snapshot (Parquet) + reference tables, without the warehouse.
    Ingest {
        extract: PathBuf,
        #[command(flatten)]
        args: PipelineArgs,
    },
    /// Publish the warehouse from the latest snapshot.
    Load {
        #[command(flatten)]
        args: PipelineArgs,
    },
    /// Payment-risk scores of the latest snapshot (then the warehouse is republished), or
    /// `bce score explain NUMBER`: one company's score and reasons.
    #[command(args_conflicts_with_subcommands = true)]
    Score {
        #[command(subcommand)]
        command: Option<cli::score::Command>,
        #[command(flatten)]
        args: PipelineArgs,
    },
    /// Write a synthetic KBO Full extract.
    Generate(cli::generate::Args),
    /// Belgian VAT numbers.
    Vat {
        #[command(subcommand)]
        command: cli::vat::Command,
    },
}

fn main() -> ExitCode {
    if let Some(msg) = cli::cpu::unsupported() {
        eprintln!("error: {msg}");
        return ExitCode::from(2);
    }
    let cli = Cli::parse();
    let progress = cli::init_logging(&cli);
    match cli::dispatch(&cli, &progress) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

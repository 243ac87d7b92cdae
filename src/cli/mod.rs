//! Subcommand handlers: turn parsed arguments into library calls and print results.

pub mod cpu;
pub mod generate;
pub mod score;
pub mod vat;

use crate::{Cli, Command, LogFormat, PipelineArgs};
use bce::clock::SystemClock;
use bce::progress::Progress;
use bce::run::{self, Config, Mode};
use std::io::IsTerminal;

/// Logs go to stderr: JSON lines, or text. On a terminal (text logs), progress bars are drawn and
/// only warnings are logged unless --verbose; elsewhere info lines are the progress report.
pub fn init_logging(cli: &Cli) -> Progress {
    let tty = std::io::stderr().is_terminal();
    let bars = tty && cli.log_format == LogFormat::Text;
    let default = if cli.verbose {
        "debug"
    } else if bars {
        "warn"
    } else {
        "info"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("BCE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("bce={default},warn")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.with_ansi(tty).init(),
    }
    Progress::new(bars)
}

fn config(args: &PipelineArgs) -> anyhow::Result<Config> {
    if !(0.0..=1.0).contains(&args.max_rejects) {
        anyhow::bail!(
            "--max-rejects {} must be a ratio between 0 and 1 (0.001 = 0.1 %)",
            args.max_rejects
        );
    }
    Ok(Config {
        out: args.out.clone(),
        force: args.force,
        dry_run: args.dry_run,
        max_rejects: args.max_rejects,
        memory_limit: args.memory_limit.clone(),
        storage: args.storage,
        ingest: bce::ingest::Options {
            row_group_rows: args.row_group_rows.max(1),
            ..Default::default()
        },
        filings: args.filings.clone(),
        events_jsonl: args.events_jsonl.clone(),
    })
}

pub fn dispatch(cli: &Cli, progress: &Progress) -> anyhow::Result<u8> {
    let clock = SystemClock;
    let summary = match &cli.command {
        Command::Run { extract, args } | Command::Ingest { extract, args } => {
            let cfg = config(args)?;
            if cli.verbose {
                eprintln!(
                    "effective configuration: extract={} {cfg:?}",
                    extract.display()
                );
            }
            let mode = if matches!(cli.command, Command::Run { .. }) {
                Mode::Run
            } else {
                Mode::Ingest
            };
            run::run_extract(extract, &cfg, mode, &clock, progress)?
        }
        Command::Load { args } => {
            let cfg = config(args)?;
            if cli.verbose {
                eprintln!("effective configuration: {cfg:?}");
            }
            run::load(&cfg, &clock, progress)?
        }
        Command::Score {
            command: Some(command),
            ..
        } => return score::run(command, cli.log_format),
        Command::Score {
            command: None,
            args,
        } => {
            let cfg = config(args)?;
            if cli.verbose {
                eprintln!("effective configuration: {cfg:?}");
            }
            run::score_published(&cfg, &clock, progress)?
        }
        Command::Generate(args) => return generate::run(args, cli.verbose, progress),
        Command::Vat { command } => return vat::run(command),
    };
    match cli.log_format {
        LogFormat::Json => println!("{}", serde_json::to_string(&summary)?),
        LogFormat::Text => print!("{}", run::render_summary(&summary)),
    }
    Ok(summary.exit_code())
}

//! `bce score explain NUMBER`: one company's payment-risk score, as a credit analyst reads it.

use crate::LogFormat;
use bce::run;
use std::path::PathBuf;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// One company's score, category and reasons (points and evidence), from the published scores.
    Explain {
        /// Enterprise number or VAT number: 0200.065.765, 0200065765, BE0200065765.
        number: String,
        /// Output folder of `bce run` (holds scores/ and warehouse.duckdb).
        #[arg(long, env = "BCE_OUT", default_value = "warehouse")]
        out: PathBuf,
    },
}

/// Exit 0 with the explanation; 1 when the enterprise is not scored; 2 on a bad number or no scores.
pub fn run(command: &Command, format: LogFormat) -> anyhow::Result<u8> {
    let Command::Explain { number, out } = command;
    match run::explain_score(out, number)? {
        Some(e) => {
            match format {
                LogFormat::Json => println!("{}", serde_json::to_string(&e)?),
                LogFormat::Text => print!("{}", bce::score::render(&e)),
            }
            Ok(0)
        }
        None => {
            eprintln!(
                "{number}: not in the published scores of {} (not an active enterprise in the latest snapshot, nor one that left the register in the last 12 months)",
                out.display()
            );
            Ok(1)
        }
    }
}

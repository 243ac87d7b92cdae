//! `bce`: KBO/BCE Open Data → validated Parquet snapshot → DuckDB warehouse.
//!
//! Stages (one module each, talking through files): [`ingest`] (extract → snapshot), [`reference`]
//! (code.csv → reference tables), [`diff`] (two snapshots → change events), [`score`] (snapshot
//! → payment-risk scores), [`warehouse`] (snapshot → DuckDB file), [`generate`] (synthetic
//! extracts). Shared modules: [`kbo`] (the format), [`vat`], [`snapshot`] (derived snapshot files
//! several stages read), [`parquet_io`], [`sql`]. [`run`] alone knows the order.
#![forbid(unsafe_code)]

pub mod clock;
pub mod diff;
pub mod filings;
pub mod generate;
pub mod ingest;
pub mod kbo;
pub mod parquet_io;
pub mod progress;
pub mod reference;
pub mod run;
pub mod score;
pub mod snapshot;
pub mod sql;
pub mod vat;
pub mod warehouse;

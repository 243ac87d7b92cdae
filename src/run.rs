//! run: the orchestration — the only place that knows the order of the stages.
//!
//! `bce run` = ingest → reference → warehouse build → reconciliation → publish, all staged in
//! `DIR/.staging-<n>-<pid>/` and moved into place at the end (the warehouse rename last: it is the
//! commit point). `bce ingest` stops after publishing the snapshot and reference tables; `bce load`
//! starts from the latest published snapshot. A failure at any point leaves the published files as
//! they were; a data check failure (rejects over the threshold, a reconciliation mismatch) keeps
//! what the operator needs to see under `DIR/failed/`.

use crate::clock::Clock;
use crate::diff;
use crate::ingest::{self, Manifest, TableReport};
use crate::kbo::{self, Extract, ExtractType, Meta};
use crate::progress::Progress;
use crate::reference;
use crate::score;
use crate::warehouse::{self, RunRecord};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Extract(#[from] kbo::extract::Error),
    #[error(transparent)]
    Ingest(#[from] ingest::Error),
    #[error(transparent)]
    Reference(#[from] reference::Error),
    #[error(transparent)]
    Warehouse(#[from] warehouse::Error),
    #[error("{file}: {msg}; the extract is not a valid KBO extract")]
    Meta { file: String, msg: String },
    #[error(transparent)]
    Diff(#[from] crate::diff::Error),
    #[error(transparent)]
    Score(#[from] score::Error),
    #[error("{number:?} is not an enterprise number ({reason}); give it as 0200.065.765, 0200065765 or BE0200065765")]
    BadNumber { number: String, reason: String },
    #[error("{path}: no payment-risk scores published; run `bce run EXTRACT --out {out}` or `bce score --out {out}` first")]
    NoScores { path: PathBuf, out: String },
    #[error("{extract} is Update {number}: it applies to snapshot {base}, and {out} holds no snapshot yet; run the Full extract first (`bce run KboOpenData_<nnnn>_…_Full.zip --out {out}`, any number up to {base}), then the Updates after it in order")]
    NoBase {
        extract: String,
        number: u32,
        base: u32,
        out: String,
    },
    #[error("{extract} is Update {number}: it applies to snapshot {base}, but the latest snapshot in {out} is {latest}; {advice}")]
    Gap {
        extract: String,
        number: u32,
        base: u32,
        latest: u32,
        out: String,
        advice: String,
    },
    #[error("{path}: another bce process is working on this folder (it holds the lock); wait for it to finish")]
    Locked { path: PathBuf },
    #[error("{path}: no published snapshot to load; run `bce ingest EXTRACT --out {out}` first")]
    NoSnapshot { path: PathBuf, out: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub type Result<T> = std::result::Result<T, Error>;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// ingest + load (`bce run`).
    Run,
    /// snapshot + reference only (`bce ingest`).
    Ingest,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub out: PathBuf,
    pub force: bool,
    pub dry_run: bool,
    /// Largest share of a table's rows that may be rejected (0.001 = 0.1 %).
    pub max_rejects: f64,
    /// DuckDB memory limit for the warehouse build.
    pub memory_limit: String,
    pub storage: warehouse::Storage,
    pub ingest: ingest::Options,
    /// Annual-account deposits (payment-risk.md format), for `company.filing_deposited`.
    pub filings: Option<PathBuf>,
    /// Also export this run's events as JSON lines.
    pub events_jsonl: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Published,
    NothingToDo,
    DryRun,
    FailedCheck,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    pub status: Status,
    pub extract_number: u32,
    pub snapshot_date: String,
    pub extract_type: String,
    pub tables: Vec<TableReport>,
    pub reference_rows: BTreeMap<String, u64>,
    /// Why the data failed a check (empty when it passed).
    pub problems: Vec<String>,
    pub seconds: f64,
    pub warehouse: Option<PathBuf>,
    /// Where the rejects of a failed run were kept.
    pub kept_at: Option<PathBuf>,
    /// Seconds per step (ingest, reference, diff, warehouse, publish).
    pub steps: BTreeMap<String, f64>,
    /// Events per type (empty when there was no previous snapshot to compare with).
    pub events: BTreeMap<String, u64>,
    /// The snapshot the events compare with.
    pub compared_with: Option<u32>,
    /// The payment-risk scores written (None when the step did not run).
    pub scores: Option<score::Report>,
}

impl Summary {
    pub fn exit_code(&self) -> u8 {
        if self.status == Status::FailedCheck {
            1
        } else {
            0
        }
    }
}

/// Holds `DIR/.lock` for the life of a run (released when dropped, or by the OS if killed).
struct Lock(#[allow(dead_code)] fs::File);

fn lock(out: &Path) -> Result<Lock> {
    let path = out.join(".lock");
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io(&path))?;
    match f.try_lock() {
        Ok(()) => Ok(Lock(f)),
        Err(fs::TryLockError::WouldBlock) => Err(Error::Locked { path }),
        Err(fs::TryLockError::Error(e)) => Err(Error::Io { path, source: e }),
    }
}

pub fn read_meta(extract: &Extract) -> Result<Meta> {
    let bytes = extract.read_all("meta.csv")?;
    kbo::meta::parse(&bytes).map_err(|msg| Error::Meta {
        file: extract.locate("meta.csv"),
        msg,
    })
}

/// Removes staging folders left by runs that were killed (we hold the lock, so none is live).
fn clean_stale(out: &Path) {
    for dir in [
        out.to_path_buf(),
        out.join("snapshots"),
        out.join("events"),
        out.join("scores"),
    ] {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(".staging-")
                || name.starts_with(".old-")
                || name.ends_with(".duckdb.tmp")
            {
                let _ = fs::remove_dir_all(e.path()).or_else(|_| fs::remove_file(e.path()));
            }
        }
    }
}

/// Replaces `dest` (a folder) by `src`: the old one is moved aside, then removed.
fn replace_dir(src: &Path, dest: &Path) -> Result<()> {
    let parent = dest.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(io(parent))?;
    let old = parent.join(format!(
        ".old-{}-{}",
        dest.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    let had_old = dest.exists();
    if had_old {
        fs::rename(dest, &old).map_err(io(dest))?;
    }
    fs::rename(src, dest).map_err(io(dest))?;
    if had_old {
        let _ = fs::remove_dir_all(&old);
    }
    Ok(())
}

fn append_run(out: &Path, r: &RunRecord) -> Result<()> {
    let path = out.join("runs.jsonl");
    let mut line = serde_json::to_string(r).map_err(|e| Error::Io {
        path: path.clone(),
        source: e.into(),
    })?;
    line.push('\n');
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(io(&path))?;
    // One write call: a line is appended whole or not at all.
    f.write_all(line.as_bytes()).map_err(io(&path))
}

/// The run history (lines that cannot be read are skipped with a warning).
pub fn read_runs(out: &Path) -> Vec<RunRecord> {
    let Ok(text) = fs::read_to_string(out.join("runs.jsonl")) else {
        return Vec::new();
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .filter_map(|(i, l)| match serde_json::from_str(l) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::warn!(line = i + 1, error = %e, "runs.jsonl: unreadable line skipped");
                None
            }
        })
        .collect()
}

fn record(
    run_id: &str,
    meta_manifest: &Manifest,
    started_at: &str,
    finished_at: &str,
    status: &str,
) -> RunRecord {
    let per = |f: fn(&TableReport) -> u64| {
        meta_manifest
            .tables
            .iter()
            .map(|t| (t.table.clone(), f(t)))
            .collect()
    };
    RunRecord {
        run_id: run_id.to_string(),
        extract_number: meta_manifest.extract_number,
        snapshot_date: meta_manifest.snapshot_date.clone(),
        extract_type: meta_manifest.extract_type.as_str().to_string(),
        started_at: started_at.to_string(),
        finished_at: finished_at.to_string(),
        status: status.to_string(),
        rows_read: per(|t| t.rows_read),
        rows_written: per(|t| t.rows_written),
        rows_rejected: per(|t| t.rows_rejected),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

/// Tables whose rejects exceed the threshold.
fn reject_problems(m: &Manifest, max: f64) -> Vec<String> {
    m.tables
        .iter()
        .filter(|t| t.rows_rejected as f64 > max * t.rows_read as f64)
        .map(|t| {
            format!(
                "{}: {} of {} rows rejected ({:.3} %), above the limit of {:.3} % (--max-rejects {})",
                t.file,
                t.rows_rejected,
                t.rows_read,
                100.0 * t.rows_rejected as f64 / t.rows_read.max(1) as f64,
                100.0 * max,
                max
            )
        })
        .collect()
}

/// Every table: CSV data rows = Parquet rows + rejects = warehouse rows (warehouse.md).
pub fn reconcile(
    m: &Manifest,
    snapshot: &Path,
    reference: &reference::Report,
    reference_dir: &Path,
    counts: &BTreeMap<String, u64>,
) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    for t in &m.tables {
        let pq = warehouse::parquet_rows(&snapshot.join(format!("{}.parquet", t.table)))?;
        let wh = counts.get(&t.table).copied().unwrap_or(0);
        let rej = counts
            .get(&format!("rejects.{}", t.table))
            .copied()
            .unwrap_or(0);
        // An Update: its files' rows = inserted + rejected, and base − removed + inserted = written.
        let read_ok = match &t.update {
            None => t.rows_read == pq + t.rows_rejected,
            Some(u) => {
                t.rows_read == u.inserted_rows + u.delete_keys + t.rows_rejected
                    && u.base_rows - u.removed_rows.min(u.base_rows) + u.inserted_rows == pq
            }
        };
        if !read_ok || pq != wh || rej != t.rows_rejected {
            problems.push(format!(
                "{}: {} data rows in {} but {} in Parquet + {} rejected ({} in the rejects table), {} in the warehouse",
                t.table, t.rows_read, t.file, pq, t.rows_rejected, rej, wh
            ));
        }
    }
    let pq = warehouse::parquet_rows(&reference_dir.join("code.parquet"))?;
    let wh = counts.get("code").copied().unwrap_or(0);
    if reference.code_rows_read != pq || pq != wh {
        problems.push(format!(
            "code: {} data rows in code.csv, {} in Parquet, {} in the warehouse",
            reference.code_rows_read, pq, wh
        ));
    }
    Ok(problems)
}

/// Latest published snapshot folder (highest extract number with a manifest).
pub fn latest_snapshot(out: &Path) -> Option<(u32, PathBuf)> {
    fs::read_dir(out.join("snapshots"))
        .ok()?
        .flatten()
        .filter_map(|e| {
            let n: u32 = e.file_name().to_str()?.parse().ok()?;
            e.path()
                .join("manifest.json")
                .is_file()
                .then(|| (n, e.path()))
        })
        .max_by_key(|(n, _)| *n)
}

/// Scores: one row per enterprise of the snapshot plus the stopped ones, all in the warehouse.
fn reconcile_scores(
    m: &Manifest,
    r: &score::Report,
    counts: &BTreeMap<String, u64>,
) -> Vec<String> {
    let enterprises = m
        .tables
        .iter()
        .find(|t| t.table == "enterprise")
        .map_or(0, |t| t.rows_written);
    let wh = counts.get("payment_risk").copied().unwrap_or(0);
    if r.rows != enterprises + r.stopped || wh != r.rows {
        vec![format!(
            "payment_risk: {} rows scored for {} enterprises + {} that left the register, {} in the warehouse",
            r.rows, enterprises, r.stopped, wh
        )]
    } else {
        Vec::new()
    }
}

/// The published events files (`DIR/events/<n>/events.parquet`), in extract order, except `skip`.
pub fn published_events(out: &Path, skip: Option<u32>) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(out.join("events")) else {
        return Vec::new();
    };
    let mut v: Vec<(u32, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let n: u32 = e.file_name().to_str()?.parse().ok()?;
            let f = e.path().join("events.parquet");
            (f.is_file() && Some(n) != skip).then_some((n, f))
        })
        .collect();
    v.sort();
    v.into_iter().map(|(_, p)| p).collect()
}

/// The snapshot this extract's events compare with: for an Update, snapshot N−1, which must exist
/// (Updates apply in order without gaps); for a Full, the latest snapshot before it, if any.
fn base_snapshot(out: &Path, extract: &Extract, meta: &Meta) -> Result<Option<(u32, PathBuf)>> {
    let n = meta.extract_number;
    let before = fs::read_dir(out.join("snapshots"))
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let k: u32 = e.file_name().to_str()?.parse().ok()?;
            (k < n && e.path().join("manifest.json").is_file()).then(|| (k, e.path()))
        })
        .max_by_key(|(k, _)| *k);
    if meta.extract_type == ExtractType::Full {
        return Ok(before);
    }
    let base = n.saturating_sub(1);
    let latest = latest_snapshot(out).map(|(k, _)| k);
    match (before, latest) {
        (Some((k, dir)), Some(l)) if k == base && l <= n => Ok(Some((k, dir))),
        (_, None) => Err(Error::NoBase {
            extract: extract.display_name(),
            number: n,
            base,
            out: out.display().to_string(),
        }),
        (_, Some(latest)) => Err(Error::Gap {
            extract: extract.display_name(),
            number: n,
            base,
            latest,
            out: out.display().to_string(),
            advice: if latest > n {
                format!("Update {n} is older than snapshot {latest}: there is nothing to apply")
            } else {
                format!(
                    "apply Updates {}–{base} first, or run a Full extract numbered {base} (KboOpenData_{base:04}_…_Full.zip) and then this Update",
                    latest + 1
                )
            },
        }),
    }
}

/// `bce run` / `bce ingest` on one extract.
pub fn run_extract(
    extract_path: &Path,
    cfg: &Config,
    mode: Mode,
    clock: &dyn Clock,
    progress: &Progress,
) -> Result<Summary> {
    let t0 = Instant::now();
    let started_at = clock.now_rfc3339();
    let run_id = format!("run_{}_{}", clock.now(), std::process::id());
    fs::create_dir_all(&cfg.out).map_err(io(&cfg.out))?;
    let _lock = lock(&cfg.out)?;
    let extract = Extract::open(extract_path)?;
    let meta = read_meta(&extract)?;
    tracing::info!(
        extract = %extract.display_name(),
        extract_number = meta.extract_number,
        snapshot_date = %kbo::date::format_iso(meta.snapshot_date),
        extract_type = meta.extract_type.as_str(),
        "extract opened"
    );
    let live = cfg.out.join("warehouse.duckdb");
    let already = match mode {
        Mode::Run => {
            warehouse::published(&live).is_some_and(|p| p.extract_number == meta.extract_number)
        }
        Mode::Ingest => cfg
            .out
            .join("snapshots")
            .join(meta.extract_number.to_string())
            .join("manifest.json")
            .is_file(),
    };
    if already && !cfg.force && !cfg.dry_run {
        tracing::info!(
            extract_number = meta.extract_number,
            "already published: nothing to do (use --force to rebuild)"
        );
        return Ok(Summary {
            status: Status::NothingToDo,
            extract_number: meta.extract_number,
            snapshot_date: kbo::date::format_iso(meta.snapshot_date),
            extract_type: meta.extract_type.as_str().into(),
            tables: Vec::new(),
            reference_rows: BTreeMap::new(),
            problems: Vec::new(),
            seconds: t0.elapsed().as_secs_f64(),
            warehouse: Some(live),
            kept_at: None,
            steps: BTreeMap::new(),
            events: BTreeMap::new(),
            compared_with: None,
            scores: None,
        });
    }
    let base = base_snapshot(&cfg.out, &extract, &meta)?;
    let staging = cfg.out.join(format!(
        ".staging-{}-{}",
        meta.extract_number,
        std::process::id()
    ));
    clean_stale(&cfg.out);
    let result = staged(
        &extract,
        &meta,
        base.as_ref(),
        cfg,
        mode,
        clock,
        progress,
        &staging,
        &run_id,
        &started_at,
        t0,
    );
    let _ = fs::remove_dir_all(&staging);
    result
}

#[allow(clippy::too_many_arguments)]
fn staged(
    extract: &Extract,
    meta: &Meta,
    base: Option<&(u32, PathBuf)>,
    cfg: &Config,
    mode: Mode,
    clock: &dyn Clock,
    progress: &Progress,
    staging: &Path,
    run_id: &str,
    started_at: &str,
    t0: Instant,
) -> Result<Summary> {
    let mut steps = BTreeMap::new();
    let snap = staging.join("snapshot");
    let refdir = staging.join("reference");
    fs::create_dir_all(&snap).map_err(io(&snap))?;

    let t = Instant::now();
    let (manifest, _rejects) = match (meta.extract_type, base) {
        (ExtractType::Update, Some((_, base_dir))) => ingest::ingest_update(
            extract,
            meta,
            base_dir,
            &snap,
            &cfg.ingest,
            progress,
            &clock.now_rfc3339(),
        )?,
        _ => ingest::ingest_full(
            extract,
            meta,
            &snap,
            &cfg.ingest,
            progress,
            &clock.now_rfc3339(),
        )?,
    };
    steps.insert("ingest".to_string(), t.elapsed().as_secs_f64());

    let t = Instant::now();
    let code = extract.read_all("code.csv")?;
    let reference = reference::build(&code, &extract.locate("code.csv"), &refdir)?;
    steps.insert("reference".to_string(), t.elapsed().as_secs_f64());

    // Events: the previous snapshot (the Update's base, or the latest before this Full) vs this one.
    let t = Instant::now();
    let events_dir = staging.join("events");
    fs::create_dir_all(&events_dir).map_err(io(&events_dir))?;
    let events_file = events_dir.join("events.parquet");
    let events = match base {
        Some((_, prev)) => {
            let prev_manifest = ingest::read_manifest(prev)?;
            let sp = progress.spinner("diff");
            // An Update applied: compare only the entities it touched, whose rows before and
            // after the apply ingest kept in update/before/ and update/after/ (every other
            // entity has the same rows on both sides by construction).
            let (before, after) = (snap.join("update/before"), snap.join("update/after"));
            let (from, to) = if meta.extract_type == ExtractType::Update && after.is_dir() {
                (before.as_path(), after.as_path())
            } else {
                (prev.as_path(), snap.as_path())
            };
            let counts = diff::diff(
                from,
                to,
                &refdir,
                cfg.filings.as_deref(),
                &diff::Target {
                    extract_number: meta.extract_number,
                    snapshot_date: &manifest.snapshot_date,
                    previous_snapshot_date: &prev_manifest.snapshot_date,
                    created_at: &clock.now_rfc3339(),
                },
                &events_file,
                &cfg.memory_limit,
            );
            sp.finish_and_clear();
            counts?.0
        }
        None => {
            diff::write_empty(&events_file)?;
            BTreeMap::new()
        }
    };
    steps.insert("diff".to_string(), t.elapsed().as_secs_f64());

    // Payment-risk scores (`bce run`; `bce ingest` stops at the snapshot): the events of every
    // published extract and this one's, the model takes those of the last 12 months.
    let mut event_files = published_events(&cfg.out, Some(meta.extract_number));
    event_files.push(events_file.clone());
    let scores_dir = staging.join("scores");
    let scores_file = scores_dir.join("payment_risk.parquet");
    let scores = if mode == Mode::Run {
        let t = Instant::now();
        fs::create_dir_all(&scores_dir).map_err(io(&scores_dir))?;
        let sp = progress.spinner("score");
        let report = score::score(
            &score::Inputs {
                snapshot: &snap,
                reference: &refdir,
                snapshot_date: &manifest.snapshot_date,
                filings: cfg.filings.as_deref(),
                events: &event_files,
            },
            &scores_file,
            &cfg.memory_limit,
        );
        sp.finish_and_clear();
        steps.insert("score".to_string(), t.elapsed().as_secs_f64());
        Some(report?)
    } else {
        None
    };

    let mut summary = Summary {
        status: Status::Published,
        extract_number: meta.extract_number,
        snapshot_date: manifest.snapshot_date.clone(),
        extract_type: meta.extract_type.as_str().into(),
        tables: manifest.tables.clone(),
        reference_rows: reference.tables.clone(),
        problems: reject_problems(&manifest, cfg.max_rejects),
        seconds: 0.0,
        warehouse: None,
        kept_at: None,
        steps,
        events,
        compared_with: base.map(|b| b.0),
        scores: scores.clone(),
    };

    let built = staging.join("warehouse.duckdb");
    if mode == Mode::Run && summary.problems.is_empty() {
        let t = Instant::now();
        let sp = progress.spinner("warehouse");
        let current = record(
            run_id,
            &manifest,
            started_at,
            &clock.now_rfc3339(),
            if cfg.dry_run { "dry_run" } else { "published" },
        );
        let runs = read_runs(&cfg.out);
        let counts = warehouse::build(
            &built,
            &warehouse::Inputs {
                snapshot: &snap,
                reference: &refdir,
                events: &event_files,
                scores: scores.as_ref().map(|_| scores_file.as_path()),
                runs: &runs,
                current: &current,
            },
            cfg.storage,
            &cfg.memory_limit,
        );
        sp.finish_and_clear();
        let counts = counts?;
        summary
            .steps
            .insert("warehouse".to_string(), t.elapsed().as_secs_f64());
        summary
            .problems
            .extend(reconcile(&manifest, &snap, &reference, &refdir, &counts)?);
        if let Some(r) = &scores {
            summary
                .problems
                .extend(reconcile_scores(&manifest, r, &counts));
        }
    }

    let finish = |summary: &mut Summary, status: &str| -> Result<()> {
        summary.seconds = t0.elapsed().as_secs_f64();
        append_run(
            &cfg.out,
            &record(run_id, &manifest, started_at, &clock.now_rfc3339(), status),
        )
    };

    if !summary.problems.is_empty() {
        // Keep the rejects and the manifest where the operator can look at them; publish nothing.
        let kept = cfg
            .out
            .join("failed")
            .join(format!("{}-{}", meta.extract_number, clock.now()));
        fs::create_dir_all(&kept).map_err(io(&kept))?;
        for f in ["rejects.parquet", "manifest.json"] {
            let _ = fs::rename(snap.join(f), kept.join(f));
        }
        summary.status = Status::FailedCheck;
        summary.kept_at = Some(kept);
        for p in &summary.problems {
            tracing::error!(problem = %p, "data check failed: nothing published");
        }
        finish(&mut summary, "failed_check")?;
        return Ok(summary);
    }
    if cfg.dry_run {
        summary.status = Status::DryRun;
        summary.seconds = t0.elapsed().as_secs_f64();
        return Ok(summary);
    }

    let t = Instant::now();
    let published_snapshot = cfg
        .out
        .join("snapshots")
        .join(meta.extract_number.to_string());
    replace_dir(&snap, &published_snapshot)?;
    replace_dir(&refdir, &cfg.out.join("reference"))?;
    let published_events_dir = cfg.out.join("events").join(meta.extract_number.to_string());
    replace_dir(&events_dir, &published_events_dir)?;
    let published_scores = cfg.out.join("scores").join(meta.extract_number.to_string());
    if scores.is_some() {
        replace_dir(&scores_dir, &published_scores)?;
    }
    if mode == Mode::Run {
        if cfg.storage == warehouse::Storage::Views {
            warehouse::repoint_views(
                &built,
                &published_snapshot,
                scores
                    .as_ref()
                    .map(|_| published_scores.join("payment_risk.parquet"))
                    .as_deref(),
            )?;
        }
        let live = cfg.out.join("warehouse.duckdb");
        warehouse::publish(&built, &live)?;
        summary.warehouse = Some(live);
    }
    summary
        .steps
        .insert("publish".to_string(), t.elapsed().as_secs_f64());
    if let Some(jsonl) = &cfg.events_jsonl {
        let n = diff::export_jsonl(&[published_events_dir.join("events.parquet")], jsonl)?;
        tracing::info!(path = %jsonl.display(), events = n, "events exported");
    }
    finish(
        &mut summary,
        if mode == Mode::Run {
            "published"
        } else {
            "ingested"
        },
    )?;
    Ok(summary)
}

/// `bce load`: publishes the warehouse from the latest published snapshot and reference tables.
pub fn load(cfg: &Config, clock: &dyn Clock, progress: &Progress) -> Result<Summary> {
    let t0 = Instant::now();
    fs::create_dir_all(&cfg.out).map_err(io(&cfg.out))?;
    let _lock = lock(&cfg.out)?;
    let (n, snap) = latest(&cfg.out)?;
    load_locked(cfg, clock, progress, t0, n, &snap, None)
}

/// The latest published snapshot, with its derived files (a snapshot of an earlier bce gets them).
fn latest(out: &Path) -> Result<(u32, PathBuf)> {
    let (n, snap) = latest_snapshot(out).ok_or_else(|| Error::NoSnapshot {
        path: out.join("snapshots"),
        out: out.display().to_string(),
    })?;
    ingest::derived::ensure(&snap).map_err(|msg| ingest::Error::Parquet {
        path: snap.join(ingest::derived::MAIN_ACTIVITY),
        msg,
    })?;
    Ok((n, snap))
}

/// `bce score`: scores the latest published snapshot (with `cfg.filings` and the published
/// events), publishes `DIR/scores/<n>/`, then the warehouse as `bce load` does.
pub fn score_published(cfg: &Config, clock: &dyn Clock, progress: &Progress) -> Result<Summary> {
    let t0 = Instant::now();
    fs::create_dir_all(&cfg.out).map_err(io(&cfg.out))?;
    let _lock = lock(&cfg.out)?;
    let (n, snap) = latest(&cfg.out)?;
    let manifest = ingest::read_manifest(&snap)?;
    clean_stale(&cfg.out);
    let staging = cfg
        .out
        .join(format!(".staging-score-{n}-{}", std::process::id()));
    fs::create_dir_all(&staging).map_err(io(&staging))?;
    let sp = progress.spinner("score");
    let report = score::score(
        &score::Inputs {
            snapshot: &snap,
            reference: &cfg.out.join("reference"),
            snapshot_date: &manifest.snapshot_date,
            filings: cfg.filings.as_deref(),
            events: &published_events(&cfg.out, None),
        },
        &staging.join("payment_risk.parquet"),
        &cfg.memory_limit,
    );
    sp.finish_and_clear();
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            let _ = fs::remove_dir_all(&staging);
            return Err(e.into());
        }
    };
    let t = t0.elapsed().as_secs_f64();
    if cfg.dry_run {
        let _ = fs::remove_dir_all(&staging);
    } else {
        replace_dir(&staging, &cfg.out.join("scores").join(n.to_string()))?;
    }
    let mut summary = load_locked(cfg, clock, progress, t0, n, &snap, Some(report))?;
    summary.steps.insert("score".to_string(), t);
    Ok(summary)
}

/// The published score of one enterprise (`bce score explain`).
pub fn explain_score(out: &Path, number: &str) -> Result<Option<score::Explained>> {
    let c = crate::vat::check(number);
    let Some(display) = c.enterprise_number() else {
        return Err(Error::BadNumber {
            number: number.to_string(),
            reason: c
                .reason
                .map(|r| r.as_str().replace('_', " "))
                .unwrap_or_else(|| "not valid".into()),
        });
    };
    let Some((n, snap)) = latest_snapshot(out).filter(|(n, _)| {
        out.join(format!("scores/{n}/payment_risk.parquet"))
            .is_file()
    }) else {
        return Err(Error::NoScores {
            path: out.join("scores"),
            out: out.display().to_string(),
        });
    };
    let manifest = ingest::read_manifest(&snap)?;
    Ok(score::explain(
        &out.join(format!("scores/{n}/payment_risk.parquet")),
        Some(&out.join("warehouse.duckdb")),
        &display,
        n,
        &manifest.snapshot_date,
    )?)
}

fn load_locked(
    cfg: &Config,
    clock: &dyn Clock,
    progress: &Progress,
    t0: Instant,
    n: u32,
    snap: &Path,
    scored: Option<score::Report>,
) -> Result<Summary> {
    let started_at = clock.now_rfc3339();
    let run_id = format!("run_{}_{}", clock.now(), std::process::id());
    let snap = snap.to_path_buf();
    let manifest = ingest::read_manifest(&snap)?;
    let scores_file = cfg.out.join(format!("scores/{n}/payment_risk.parquet"));
    let scores_file = scores_file.is_file().then_some(scores_file);
    let refdir = cfg.out.join("reference");
    let reference = reference::read_report(&refdir)?;
    clean_stale(&cfg.out);
    let built = cfg
        .out
        .join(format!(".staging-{n}-{}.duckdb.tmp", std::process::id()));
    let current = record(
        &run_id,
        &manifest,
        &started_at,
        &clock.now_rfc3339(),
        "published",
    );
    let sp = progress.spinner("warehouse");
    let (events, runs) = (published_events(&cfg.out, None), read_runs(&cfg.out));
    let counts = warehouse::build(
        &built,
        &warehouse::Inputs {
            snapshot: &snap,
            reference: &refdir,
            events: &events,
            scores: scores_file.as_deref(),
            runs: &runs,
            current: &current,
        },
        cfg.storage,
        &cfg.memory_limit,
    );
    sp.finish_and_clear();
    let result = counts.map_err(Error::from).and_then(|counts| {
        let mut p = reconcile(&manifest, &snap, &reference, &refdir, &counts)?;
        if let Some(f) = &scores_file {
            let rows = warehouse::parquet_rows(f)?;
            let wh = counts.get("payment_risk").copied().unwrap_or(0);
            if rows != wh {
                p.push(format!(
                    "payment_risk: {rows} rows in {} but {wh} in the warehouse",
                    f.display()
                ));
            }
        }
        Ok(p)
    });
    let problems = match result {
        Ok(p) => p,
        Err(e) => {
            let _ = fs::remove_file(&built);
            return Err(e);
        }
    };
    let mut summary = Summary {
        status: Status::Published,
        extract_number: n,
        snapshot_date: manifest.snapshot_date.clone(),
        extract_type: manifest.extract_type.as_str().into(),
        tables: manifest.tables.clone(),
        reference_rows: reference.tables.clone(),
        problems,
        seconds: 0.0,
        warehouse: None,
        kept_at: None,
        steps: BTreeMap::new(),
        events: BTreeMap::new(),
        compared_with: None,
        scores: scored,
    };
    if summary.problems.is_empty() && !cfg.dry_run {
        let live = cfg.out.join("warehouse.duckdb");
        warehouse::publish(&built, &live)?;
        summary.warehouse = Some(live);
    } else {
        let _ = fs::remove_file(&built);
        summary.status = if summary.problems.is_empty() {
            Status::DryRun
        } else {
            Status::FailedCheck
        };
    }
    summary.seconds = t0.elapsed().as_secs_f64();
    let status = match summary.status {
        Status::Published => "published",
        Status::FailedCheck => "failed_check",
        _ => "dry_run",
    };
    append_run(
        &cfg.out,
        &record(
            &run_id,
            &manifest,
            &started_at,
            &clock.now_rfc3339(),
            status,
        ),
    )?;
    Ok(summary)
}

/// The end-of-run summary for a person.
pub fn render_summary(s: &Summary) -> String {
    let mut out = String::new();
    let verdict = match s.status {
        Status::Published => "published",
        Status::NothingToDo => "already published: nothing to do (use --force to rebuild)",
        Status::DryRun => "dry run: validated, nothing published",
        Status::FailedCheck => "FAILED a data check: nothing published",
    };
    out.push_str(&format!(
        "extract {} ({} {}): {verdict}\n",
        s.extract_number, s.extract_type, s.snapshot_date
    ));
    if !s.tables.is_empty() {
        out.push_str(&format!(
            "{:<14} {:>12} {:>12} {:>9} {:>9} {:>8}\n",
            "table", "rows read", "written", "rejected", "orphans", "seconds"
        ));
        for t in &s.tables {
            out.push_str(&format!(
                "{:<14} {:>12} {:>12} {:>9} {:>9} {:>8.2}\n",
                t.table, t.rows_read, t.rows_written, t.rows_rejected, t.orphan_rows, t.seconds
            ));
        }
        let rej: u64 = s.tables.iter().map(|t| t.rows_rejected).sum();
        let read: u64 = s.tables.iter().map(|t| t.rows_read).sum();
        let written: u64 = s.tables.iter().map(|t| t.rows_written).sum();
        out.push_str(&format!(
            "{:<14} {:>12} {:>12} {:>9}\n",
            "total", read, written, rej
        ));
        if s.extract_type == "update" {
            out.push_str("(an Update: rows read are its insert and delete files; written, the new snapshot)\n");
        }
    }
    for p in &s.problems {
        out.push_str(&format!("problem: {p}\n"));
    }
    if let Some(k) = &s.kept_at {
        out.push_str(&format!("rejects and manifest kept in {}\n", k.display()));
    }
    if let Some(prev) = s.compared_with {
        let total: u64 = s.events.values().sum();
        let per: Vec<String> = s.events.iter().map(|(k, v)| format!("{k} {v}")).collect();
        out.push_str(&format!(
            "events since snapshot {prev}: {total}{}{}\n",
            if per.is_empty() { "" } else { " (" },
            if per.is_empty() {
                String::new()
            } else {
                per.join(", ") + ")"
            }
        ));
    }
    if let Some(r) = &s.scores {
        let pct = |c: &str| {
            let n = r.categories.get(c).copied().unwrap_or(0);
            format!("{c} {n} ({:.1} %)", 100.0 * n as f64 / r.rows.max(1) as f64)
        };
        out.push_str(&format!(
            "payment risk ({} scored{}): {}\n",
            r.rows,
            if r.stopped > 0 {
                format!(", {} left the register", r.stopped)
            } else {
                String::new()
            },
            ["low", "moderate", "high", "critical"].map(pct).join(", ")
        ));
        if r.filings_rejected > 0 {
            out.push_str(&format!(
                "filings: {} rows skipped (see the warnings: line and column)\n",
                r.filings_rejected
            ));
        }
    }
    if let Some(w) = &s.warehouse {
        out.push_str(&format!("warehouse: {}\n", w.display()));
    }
    let steps: Vec<String> = s
        .steps
        .iter()
        .map(|(k, v)| format!("{k} {v:.1}s"))
        .collect();
    out.push_str(&format!("time: {:.1}s ({})\n", s.seconds, steps.join(", ")));
    out
}

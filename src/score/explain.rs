//! One company's score, read back from a published `payment_risk.parquet` and rendered for a
//! credit analyst: the verdict first, then each reason with its points and evidence.

use super::{Error, Result};
use crate::sql::quote_path;
use duckdb::Connection;
use serde::Serialize;
use std::path::Path;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Reason {
    pub code: String,
    pub points: i32,
    pub evidence: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Explained {
    pub enterprise_number: String,
    pub score: i32,
    pub category: String,
    pub model_version: String,
    pub data_completeness: String,
    pub reasons: Vec<Reason>,
    /// From the warehouse's `companies` view, when it can be read.
    pub name: Option<String>,
    pub juridical_form: Option<String>,
    pub juridical_situation: Option<String>,
    pub extract_number: u32,
    pub snapshot_date: String,
}

/// The score of `enterprise_number` (display form) in `scores` (payment_risk.parquet); the name
/// and labels from `warehouse` when given. `None` when the enterprise is not scored.
pub fn explain(
    scores: &Path,
    warehouse: Option<&Path>,
    enterprise_number: &str,
    extract_number: u32,
    snapshot_date: &str,
) -> Result<Option<Explained>> {
    let fail = |e: duckdb::Error| Error::Scores {
        path: scores.to_path_buf(),
        msg: e.to_string(),
    };
    let conn = Connection::open_in_memory().map_err(fail)?;
    let mut st = conn
        .prepare(&format!(
            "SELECT score, category, model_version, data_completeness,
                    to_json(reasons)::VARCHAR
             FROM read_parquet({}) WHERE enterprise_number = ?",
            quote_path(scores)
        ))
        .map_err(fail)?;
    let mut rows = st.query([enterprise_number]).map_err(fail)?;
    let Some(r) = rows.next().map_err(fail)? else {
        return Ok(None);
    };
    let reasons_json: String = r.get(4).map_err(fail)?;
    let reasons: Vec<Reason> = serde_json::from_str::<Vec<serde_json::Value>>(&reasons_json)
        .map_err(|e| Error::Scores {
            path: scores.to_path_buf(),
            msg: format!("reasons of {enterprise_number}: {e}"),
        })?
        .into_iter()
        .map(|v| Reason {
            code: v["code"].as_str().unwrap_or_default().to_string(),
            points: v["points"].as_i64().unwrap_or_default() as i32,
            evidence: v["evidence"].as_str().unwrap_or_default().to_string(),
        })
        .collect();
    let mut out = Explained {
        enterprise_number: enterprise_number.to_string(),
        score: r.get(0).map_err(fail)?,
        category: r.get(1).map_err(fail)?,
        model_version: r.get(2).map_err(fail)?,
        data_completeness: r.get(3).map_err(fail)?,
        reasons,
        name: None,
        juridical_form: None,
        juridical_situation: None,
        extract_number,
        snapshot_date: snapshot_date.to_string(),
    };
    if let Some(w) = warehouse.filter(|w| w.is_file()) {
        // Labels are a courtesy: a warehouse that cannot be read leaves them out.
        if let Ok(Some((name, form, situation))) = labels(w, enterprise_number) {
            out.name = name;
            out.juridical_form = form;
            out.juridical_situation = situation;
        }
    }
    Ok(Some(out))
}

type Labels = (Option<String>, Option<String>, Option<String>);

fn labels(warehouse: &Path, enterprise_number: &str) -> duckdb::Result<Option<Labels>> {
    let conn = Connection::open_in_memory()?;
    conn.execute_batch(&format!(
        "ATTACH {} AS w (READ_ONLY)",
        quote_path(warehouse)
    ))?;
    let mut st = conn.prepare(
        "SELECT name, juridical_form || ' ' || coalesce(juridical_form_label, ''),
                juridical_situation || ' ' || coalesce(juridical_situation_label, '')
         FROM w.companies WHERE enterprise_number = ?",
    )?;
    let mut rows = st.query([enterprise_number])?;
    match rows.next()? {
        Some(r) => Ok(Some((r.get(0)?, r.get(1)?, r.get(2)?))),
        None => Ok(None),
    }
}

/// The analyst's view: verdict, context, then one line per reason (points, code, evidence).
pub fn render(e: &Explained) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "{}{}\n",
        e.enterprise_number,
        e.name
            .as_deref()
            .map(|n| format!("  {n}"))
            .unwrap_or_default()
    ));
    if let Some(f) = &e.juridical_form {
        s.push_str(&format!("  juridical form       {}\n", f.trim()));
    }
    if let Some(j) = &e.juridical_situation {
        s.push_str(&format!("  juridical situation  {}\n", j.trim()));
    }
    s.push_str(&format!(
        "\npayment risk {} / 100: {}   (model {}, snapshot {} of {}, {})\n",
        e.score,
        e.category.to_uppercase(),
        e.model_version,
        e.extract_number,
        e.snapshot_date,
        e.data_completeness.replace('_', " ")
    ));
    if e.reasons.is_empty() {
        s.push_str("\nno risk signal: every component scored 0\n");
        return s;
    }
    s.push_str("\n points  reason                          evidence\n");
    for r in &e.reasons {
        s.push_str(&format!(
            " {:>+6}  {:<30}  {}\n",
            r.points, r.code, r.evidence
        ));
    }
    let total: i32 = e.reasons.iter().map(|r| r.points).sum();
    s.push_str(&format!(" {:>6}  = score\n", total));
    s.push_str(
        "\ncategories: low 0–24 · moderate 25–49 · high 50–74 · critical 75–100; higher is riskier\n",
    );
    s
}

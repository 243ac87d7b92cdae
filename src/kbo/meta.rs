//! `meta.csv`: `"Variable","Value"` rows — SnapshotDate, ExtractTimestamp, ExtractType, ExtractNumber,
//! Version (kbo-open-data.md). Trusted over the zip's file name.

use super::date;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExtractType {
    Full,
    Update,
}

impl ExtractType {
    pub fn as_str(self) -> &'static str {
        match self {
            ExtractType::Full => "full",
            ExtractType::Update => "update",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    pub snapshot_date: i32,
    pub extract_timestamp: String,
    pub extract_type: ExtractType,
    pub extract_number: u32,
    pub version: String,
}

/// Parses meta.csv; the error says which line and what to do.
pub fn parse(bytes: &[u8]) -> Result<Meta, String> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes);
    let (mut snapshot, mut ts, mut ty, mut num, mut version) = (None, None, None, None, None);
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| format!("line {}: {e}", i + 2))?;
        let (Some(var), Some(val)) = (rec.get(0), rec.get(1)) else {
            return Err(format!(
                "line {}: expected two fields \"Variable\",\"Value\"",
                i + 2
            ));
        };
        let line = i + 2;
        match var.trim() {
            "SnapshotDate" => {
                snapshot = Some(date::parse_dmy(val.trim().as_bytes()).ok_or_else(|| {
                    format!("line {line}: SnapshotDate {val:?} is not a dd-mm-yyyy date")
                })?)
            }
            "ExtractTimestamp" => ts = Some(val.trim().to_string()),
            "ExtractType" => {
                ty = Some(match val.trim().to_ascii_lowercase().as_str() {
                    "full" => ExtractType::Full,
                    "update" => ExtractType::Update,
                    other => {
                        return Err(format!(
                            "line {line}: ExtractType {other:?} is neither full nor update"
                        ))
                    }
                })
            }
            "ExtractNumber" => {
                num =
                    Some(val.trim().parse::<u32>().map_err(|_| {
                        format!("line {line}: ExtractNumber {val:?} is not a number")
                    })?)
            }
            "Version" => version = Some(val.trim().to_string()),
            _ => {}
        }
    }
    let missing = |what: &str| format!("variable {what} is missing");
    Ok(Meta {
        snapshot_date: snapshot.ok_or_else(|| missing("SnapshotDate"))?,
        extract_timestamp: ts.unwrap_or_default(),
        extract_type: ty.ok_or_else(|| missing("ExtractType"))?,
        extract_number: num.ok_or_else(|| missing("ExtractNumber"))?,
        version: version.unwrap_or_default(),
    })
}

/// Writes meta.csv as KBO does.
pub fn render(m: &Meta) -> String {
    format!(
        "\"Variable\",\"Value\"\n\"SnapshotDate\",\"{}\"\n\"ExtractTimestamp\",\"{}\"\n\"ExtractType\",\"{}\"\n\"ExtractNumber\",\"{}\"\n\"Version\",\"{}\"\n",
        date::format_dmy(m.snapshot_date),
        m.extract_timestamp,
        m.extract_type.as_str(),
        m.extract_number,
        m.version
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_meta_round_trips() {
        let real = "\"Variable\",\"Value\"\n\"SnapshotDate\",\"11-10-2025\"\n\"ExtractTimestamp\",\"12-10-2025 07:40:18\"\n\"ExtractType\",\"full\"\n\"ExtractNumber\",\"147\"\n\"Version\",\"1.0.0\"\n";
        let m = parse(real.as_bytes()).unwrap();
        assert_eq!(m.extract_number, 147);
        assert_eq!(m.extract_type, ExtractType::Full);
        assert_eq!(date::format_dmy(m.snapshot_date), "11-10-2025");
        assert_eq!(render(&m), real);
    }

    #[test]
    fn bad_meta_names_the_line() {
        let e = parse(b"\"Variable\",\"Value\"\n\"ExtractNumber\",\"x\"\n").unwrap_err();
        assert!(e.contains("line 2"), "{e}");
    }
}

//! NACE codes of the three versions in code.csv (Nace2003, Nace2008, Nace2025), with their level,
//! parent and labels in en/fr/nl/de.
//!
//! code.csv writes codes without dots: section letter, 2-digit division, 3-digit group, 4-digit
//! class, and Belgian 5- and 7-digit refinements (kbo-open-data.md). English exists for NACE 2025
//! only (NACE Rev. 2.1 = NACE-BEL 2025 down to the class; 5- and 7-digit codes take their class's
//! title); elsewhere the label falls back to French.

use super::{labels, pick, CodeRow, LANGS};
use std::collections::HashMap;

static NACE_EN: &str = include_str!("../../data/nace-rev2.1-en.csv");

pub struct NaceRow {
    pub version: i32,
    pub code: String,
    pub level: i32,
    pub parent: Option<String>,
    pub lang: &'static str,
    pub description: String,
    pub fallback_lang: Option<&'static str>,
}

/// Sections of NACE Rev. 2 (NACE-BEL 2008) by division range.
const SECTIONS_2008: &[(u32, u32, &str)] = &[
    (1, 3, "A"),
    (5, 9, "B"),
    (10, 33, "C"),
    (35, 35, "D"),
    (36, 39, "E"),
    (41, 43, "F"),
    (45, 47, "G"),
    (49, 53, "H"),
    (55, 56, "I"),
    (58, 63, "J"),
    (64, 66, "K"),
    (68, 68, "L"),
    (69, 75, "M"),
    (77, 82, "N"),
    (84, 84, "O"),
    (85, 85, "P"),
    (86, 88, "Q"),
    (90, 93, "R"),
    (94, 96, "S"),
    (97, 98, "T"),
    (99, 99, "U"),
];

/// Sections of NACE Rev. 1.1 (NACE-BEL 2003) by division range.
const SECTIONS_2003: &[(u32, u32, &str)] = &[
    (1, 2, "A"),
    (5, 5, "B"),
    (10, 14, "C"),
    (15, 37, "D"),
    (40, 41, "E"),
    (45, 45, "F"),
    (50, 52, "G"),
    (55, 55, "H"),
    (60, 64, "I"),
    (65, 67, "J"),
    (70, 74, "K"),
    (75, 75, "L"),
    (80, 80, "M"),
    (85, 85, "N"),
    (90, 93, "O"),
    (95, 97, "P"),
    (99, 99, "Q"),
];

/// English titles of NACE Rev. 2.1 keyed by code without dots, and each division's section.
pub fn english() -> (HashMap<String, String>, HashMap<String, String>) {
    let mut titles = HashMap::new();
    let mut sections = HashMap::new();
    let mut rdr = csv::Reader::from_reader(NACE_EN.as_bytes());
    for rec in rdr.records().flatten() {
        let (Some(code), Some(parent), Some(level), Some(title)) =
            (rec.get(0), rec.get(1), rec.get(2), rec.get(3))
        else {
            continue;
        };
        let key = code.replace('.', "");
        if level == "2" {
            sections.insert(key.clone(), parent.to_string());
        }
        titles.insert(key, title.to_string());
    }
    (titles, sections)
}

/// Level and parent of a code (digits only, or a section letter).
pub fn level_and_parent(
    version: i32,
    code: &str,
    sections_2025: &HashMap<String, String>,
) -> (i32, Option<String>) {
    let n = code.len() as i32;
    if code.chars().all(|c| c.is_ascii_alphabetic()) {
        return (1, None);
    }
    let parent = match code.len() {
        2 => {
            let div: u32 = code.parse().unwrap_or(0);
            match version {
                2025 => sections_2025.get(code).cloned(),
                2008 => SECTIONS_2008
                    .iter()
                    .find(|(a, b, _)| (*a..=*b).contains(&div))
                    .map(|s| s.2.to_string()),
                _ => SECTIONS_2003
                    .iter()
                    .find(|(a, b, _)| (*a..=*b).contains(&div))
                    .map(|s| s.2.to_string()),
            }
        }
        3..=5 => Some(code[..code.len() - 1].to_string()),
        7 => Some(code[..5].to_string()),
        _ => None,
    };
    (n, parent)
}

pub fn build(rows: &[CodeRow]) -> Vec<NaceRow> {
    let (titles, sections) = english();
    let mut out = Vec::new();
    for (version, category) in [(2003, "Nace2003"), (2008, "Nace2008"), (2025, "Nace2025")] {
        for (code, by_lang) in labels(rows, category) {
            let (level, parent) = level_and_parent(version, &code, &sections);
            let en = (version == 2025)
                .then(|| titles.get(&code[..code.len().min(4)]))
                .flatten()
                .map(String::as_str);
            for lang in LANGS {
                if let Some((description, fallback_lang)) = pick(&by_lang, lang, en) {
                    out.push(NaceRow {
                        version,
                        code: code.clone(),
                        level,
                        parent: parent.clone(),
                        lang,
                        description,
                        fallback_lang,
                    });
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_parents() {
        let (_, s) = english();
        assert_eq!(
            level_and_parent(2025, "0111001", &s),
            (7, Some("01110".into()))
        );
        assert_eq!(
            level_and_parent(2025, "01110", &s),
            (5, Some("0111".into()))
        );
        assert_eq!(level_and_parent(2025, "0111", &s), (4, Some("011".into())));
        assert_eq!(level_and_parent(2025, "01", &s), (2, Some("A".into())));
        assert_eq!(level_and_parent(2008, "62", &s), (2, Some("J".into())));
        assert_eq!(level_and_parent(2003, "72", &s), (2, Some("K".into())));
        assert_eq!(level_and_parent(2025, "A", &s), (1, None));
    }
}

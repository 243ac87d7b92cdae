//! The payment-risk model v1 (spec/payment-risk.md): every threshold and every point in one
//! table, [`RULES`], plus the per-section [`SECTOR_POINTS`]. Nothing else in the code holds a
//! number of the model; [`Model`] only looks the rules up once, by code.

/// One rule: its reason code, the component it belongs to, its points (for a floor: the lowest
/// score; for a cap: the most points counted) and its threshold where it has one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    pub code: &'static str,
    pub component: &'static str,
    pub points: i32,
    pub threshold: Option<f64>,
    pub rule: &'static str,
}

const fn r(
    code: &'static str,
    component: &'static str,
    points: i32,
    threshold: Option<f64>,
    rule: &'static str,
) -> Rule {
    Rule {
        code,
        component,
        points,
        threshold,
        rule,
    }
}

pub const MODEL_VERSION: &str = "v1";

#[rustfmt::skip]
pub const RULES: &[Rule] = &[
    // Floors: the final score is at least this (juridical situation classes: data/juridical_situation_risk.csv).
    r("JS_BANKRUPTCY",       "floor",      95, None,       "bankruptcy opened"),
    r("JS_LIQUIDATION",      "floor",      85, None,       "dissolution or liquidation"),
    r("JS_REORGANISATION",   "floor",      75, None,       "judicial reorganisation or suspension of payment"),
    r("KBO_STOPPED",         "floor",      80, None,       "left the active register (known from an earlier snapshot)"),
    r("JS_OTHER",            "situation",  15, None,       "another non-normal juridical situation"),
    // Filing: only forms that must file (kbo::forms), never natural persons. Due threshold months
    // after the fiscal year's end; late = days after the due date.
    r("ACC_DUE_MONTHS",      "filing",      0, Some(7.0),  "months after the fiscal year end the accounts are due"),
    r("ACC_MISSING",         "filing",     20, None,       "accounts of the latest due fiscal year not deposited"),
    r("ACC_MISSING_2Y",      "filing",     30, None,       "accounts of the two latest due fiscal years not deposited"),
    r("ACC_LATE",            "filing",      4, Some(60.0), "latest accounts deposited 1 to threshold days late"),
    r("ACC_VERY_LATE",       "filing",      8, Some(60.0), "latest accounts deposited more than threshold days late"),
    // Financials, from the latest deposit; their sum is capped.
    r("FIN_NEGATIVE_EQUITY", "financials", 20, Some(0.0),  "equity below threshold"),
    r("FIN_LOW_SOLVENCY",    "financials",  8, Some(0.10), "equity / total assets below threshold"),
    r("FIN_LOSS",            "financials",  5, Some(0.0),  "a loss in the latest fiscal year"),
    r("FIN_LOSS_2Y",         "financials",  5, Some(0.0),  "a loss in the fiscal year before too"),
    r("FIN_LOW_LIQUIDITY",   "financials",  5, Some(1.0),  "current assets / short-term debt below threshold"),
    r("CAP_FINANCIALS",      "cap",        35, None,       "financial points above this are not counted"),
    // Age: years from the start date to the snapshot date, below threshold.
    r("AGE_LT_1Y",           "age",        15, Some(1.0),  "younger than 1 year"),
    r("AGE_1_2Y",            "age",        12, Some(2.0),  "1 to 2 years old"),
    r("AGE_2_3Y",            "age",         8, Some(3.0),  "2 to 3 years old"),
    r("AGE_3_5Y",            "age",         4, Some(5.0),  "3 to 5 years old"),
    // Size: average FTE employees of the latest deposit, below threshold.
    r("SIZE_NO_EMPLOYEES",   "size",        6, None,       "no employees known (no count, or 0 FTE)"),
    r("SIZE_LT_5_FTE",       "size",        4, Some(5.0),  "fewer than 5 FTE"),
    r("SIZE_5_49_FTE",       "size",        2, Some(50.0), "5 to 49 FTE"),
    // Register events of the last threshold months (from the change events); their sum is capped.
    r("EVT_WINDOW_MONTHS",   "events",      0, Some(12.0), "months of change events that count"),
    r("EVT_SEAT_MOVED",      "events",      4, Some(1.0),  "the seat moved once"),
    r("EVT_SEAT_MOVED_2X",   "events",      8, Some(2.0),  "the seat moved threshold times or more"),
    r("EVT_SEAT_STRUCK_OFF", "events",     15, None,       "the seat address was struck off"),
    r("EVT_NAME_CHANGE",     "events",      3, None,       "the legal name changed"),
    r("EVT_FORM_CHANGE",     "events",      2, None,       "the juridical form changed"),
    r("EVT_ALL_ESTABLISHMENTS_CLOSED", "events", 5, None,  "establishments closed and none left"),
    r("CAP_EVENTS",          "cap",        20, None,       "event points above this are not counted"),
    r("CAP_TOTAL",           "cap",       100, None,       "the sum of points is capped"),
    // Categories: the lowest score of each.
    r("CATEGORY_MODERATE",   "category",   25, None,       "moderate from this score"),
    r("CATEGORY_HIGH",       "category",   50, None,       "high from this score"),
    r("CATEGORY_CRITICAL",   "category",   75, None,       "critical from this score"),
];

/// Sector (reason `SECTOR_<section>`): points by the main activity's NACE section, per NACE
/// version (the section letters differ between versions). Provisional: ordered by the sectors
/// with the most bankruptcies in Belgium (hospitality, construction, transport, trade, support
/// services); 0 elsewhere until failure rates are measured on past snapshots.
#[rustfmt::skip]
pub const SECTOR_POINTS: &[(u16, &str, i32)] = &[
    (2025, "I", 8), (2025, "F", 6), (2025, "H", 5), (2025, "G", 4), (2025, "O", 4), (2025, "S", 3), (2025, "T", 3),
    (2008, "I", 8), (2008, "F", 6), (2008, "H", 5), (2008, "G", 4), (2008, "N", 4), (2008, "R", 3), (2008, "S", 3),
    (2003, "H", 8), (2003, "F", 6), (2003, "I", 5), (2003, "G", 4), (2003, "O", 3),
];

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// A rule by its code. `const`: the code reads `const { points("X") }`, so a code missing from
/// the table fails the build, and the hot loop reads constants, not the table.
pub const fn rule(code: &str) -> Rule {
    let mut i = 0;
    while i < RULES.len() {
        if same(RULES[i].code, code) {
            return RULES[i];
        }
        i += 1;
    }
    panic!("no such rule in RULES")
}

pub const fn points(code: &str) -> i32 {
    rule(code).points
}

pub const fn threshold(code: &str) -> f64 {
    match rule(code).threshold {
        Some(t) => t,
        None => panic!("this rule has no threshold"),
    }
}

/// The category of a score.
pub fn category(score: i32) -> &'static str {
    if score >= const { points("CATEGORY_CRITICAL") } {
        "critical"
    } else if score >= const { points("CATEGORY_HIGH") } {
        "high"
    } else if score >= const { points("CATEGORY_MODERATE") } {
        "moderate"
    } else {
        "low"
    }
}

/// The class of a juridical situation: bankruptcy, liquidation, reorganisation, other, normal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Situation {
    Normal,
    Bankruptcy,
    Liquidation,
    Reorganisation,
    Other,
}

/// code, class, description_fr — reviewed against the real code.csv (test in mod.rs).
pub const JS_CLASSES: &str = include_str!("../../data/juridical_situation_risk.csv");

/// The reviewed table, parsed once: (code, class, French description).
static CLASSES: std::sync::LazyLock<Vec<(&'static str, Situation, &'static str)>> =
    std::sync::LazyLock::new(|| {
        JS_CLASSES
            .lines()
            .skip(1)
            .filter_map(|l| {
                let mut f = l.splitn(3, ',');
                let code = f.next()?;
                let class = match f.next()? {
                    "normal" => Situation::Normal,
                    "bankruptcy" => Situation::Bankruptcy,
                    "liquidation" => Situation::Liquidation,
                    "reorganisation" => Situation::Reorganisation,
                    _ => Situation::Other,
                };
                Some((code, class, f.next().unwrap_or("")))
            })
            .collect()
    });

/// (class, French description) of a juridical situation code; an unknown non-normal code is
/// `Other` (spec: "other non-normal situation").
pub fn situation(code: &str) -> (Situation, &'static str) {
    // Codes are three digits: a direct index, built once.
    static BY_NUMBER: std::sync::LazyLock<Vec<Option<(Situation, &'static str)>>> =
        std::sync::LazyLock::new(|| {
            let mut v = vec![None; 1000];
            for (code, class, desc) in CLASSES.iter() {
                if let Some(slot) = code.parse::<usize>().ok().and_then(|n| v.get_mut(n)) {
                    *slot = Some((*class, *desc));
                }
            }
            v
        });
    let known = (code.len() == 3)
        .then(|| code.parse::<usize>().ok())
        .flatten()
        .and_then(|n| BY_NUMBER.get(n).copied().flatten());
    match known {
        Some(c) => c,
        None if code == "000" => (Situation::Normal, ""),
        None => (Situation::Other, "unknown code"),
    }
}

/// The model's numbers that the scoring loop reads, as constants.
pub const DUE_MONTHS: u32 = threshold("ACC_DUE_MONTHS") as u32;
pub const LATE_DAYS: i64 = threshold("ACC_LATE") as i64;
pub const VERY_LATE_DAYS: i64 = threshold("ACC_VERY_LATE") as i64;
pub const WINDOW_MONTHS: u32 = threshold("EVT_WINDOW_MONTHS") as u32;
pub const CAP_FINANCIALS: i32 = points("CAP_FINANCIALS");
pub const CAP_EVENTS: i32 = points("CAP_EVENTS");
pub const CAP_TOTAL: i32 = points("CAP_TOTAL");

/// Age bands, youngest first: (code, points, upper bound in years).
pub const AGES: [(&str, i32, f64); 4] = [
    ("AGE_LT_1Y", points("AGE_LT_1Y"), threshold("AGE_LT_1Y")),
    ("AGE_1_2Y", points("AGE_1_2Y"), threshold("AGE_1_2Y")),
    ("AGE_2_3Y", points("AGE_2_3Y"), threshold("AGE_2_3Y")),
    ("AGE_3_5Y", points("AGE_3_5Y"), threshold("AGE_3_5Y")),
];

/// Size bands, smallest first: (code, points, upper bound in FTE).
pub const SIZES: [(&str, i32, f64); 2] = [
    (
        "SIZE_LT_5_FTE",
        points("SIZE_LT_5_FTE"),
        threshold("SIZE_LT_5_FTE"),
    ),
    (
        "SIZE_5_49_FTE",
        points("SIZE_5_49_FTE"),
        threshold("SIZE_5_49_FTE"),
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_the_spec_numbers_hold() {
        let mut codes: Vec<&str> = RULES.iter().map(|r| r.code).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), RULES.len());
        assert_eq!(points("JS_BANKRUPTCY"), 95);
        assert_eq!(points("JS_LIQUIDATION"), 85);
        assert_eq!(points("JS_REORGANISATION"), 75);
        assert_eq!(points("KBO_STOPPED"), 80);
        assert_eq!(points("CAP_FINANCIALS"), 35);
        assert_eq!(points("CAP_EVENTS"), 20);
        assert_eq!((category(24), category(25)), ("low", "moderate"));
        assert_eq!((category(49), category(50)), ("moderate", "high"));
        assert_eq!((category(74), category(75)), ("high", "critical"));
        assert_eq!(category(100), "critical");
        assert!(SECTOR_POINTS.iter().all(|s| (0..=10).contains(&s.2)));
        assert_eq!(situation("777").0, Situation::Other);
        assert_eq!(situation("000").0, Situation::Normal);
        assert_eq!(situation("050").0, Situation::Bankruptcy);
    }
}

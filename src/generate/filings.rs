//! Synthetic annual-account deposits (payment-risk.md "Filings input"): one row per deposit, for the
//! enterprises whose juridical form must file (never natural persons), fiscal years ending on
//! 31 December (80 %) or another quarter's end, due 7 months later.
//!
//! Rates: most companies file on time; a "poorly disciplined" sixth file late or not at all, so
//! the latest due year is missing for about 8 % and two years for about 3 %; about 10 % have
//! negative equity and a quarter report a loss (losses persist from year to year).
//! Every deposit dated up to the horizon (the last generated snapshot date) is written.

use super::model::Base;
use super::rng::Rng;
use crate::kbo::{date, forms};

pub const HEADER: &str = "\"EnterpriseNumber\",\"DepositDate\",\"FiscalYearEnd\",\"Model\",\"Equity\",\"TotalAssets\",\"ProfitLoss\",\"Employees\",\"CurrentAssets\",\"ShortTermDebt\"\n";

/// Seven months after the fiscal year's end (payment-risk.md): 31-12-Y is due 31-07-(Y+1).
pub fn due_date(fiscal_year_end: i32) -> i32 {
    date::add_months(fiscal_year_end, 7)
}

/// Appends enterprise `i`'s deposits dated up to `horizon`.
pub fn deposits(buf: &mut Vec<u8>, seed: u64, i: u64, base: &Base, snapshot: i32, horizon: i32) {
    if base.natural || !forms::must_file_accounts(&base.form) {
        return;
    }
    let mut rng = Rng::new(seed ^ 0x6669_6c69_6e67_7321, i);
    let poor = rng.chance(0.16);
    let (start_year, _, _) = date::civil_from_days(base.start);
    let (snap_year, _, _) = date::civil_from_days(snapshot);
    // Size and health of the company, drifting a little each year.
    let assets0 = (11.5 + 1.6 * normal(&mut rng)).exp();
    let employees0 = if rng.chance(0.45) {
        0.0
    } else {
        (0.8 + 1.3 * normal(&mut rng)).exp()
    };
    let solvency0 = 0.32 + 0.3 * normal(&mut rng) - if poor { 0.15 } else { 0.0 };
    let margin0 = 0.03 + 0.05 * normal(&mut rng) - if poor { 0.04 } else { 0.0 };
    // Most fiscal years follow the calendar year; the others end on a quarter's last day.
    let month = *rng.weighted(&[(80.0, 12u32), (8.0, 6), (6.0, 3), (6.0, 9)]);
    for year in (start_year + 1).max(snap_year - 4)..=snap_year {
        let fye = date::days_from_civil(year, month, date::days_in_month(year, month));
        let due = due_date(fye);
        let drift = 1.0 + 0.1 * normal(&mut rng);
        let r = rng.unit();
        let deposit = if poor {
            match r {
                r if r < 0.35 => None,
                r if r < 0.55 => Some(due + 1 + rng.below(60) as i32),
                r if r < 0.75 => Some(due + 61 + rng.below(240) as i32),
                _ => Some(due - rng.below(90) as i32),
            }
        } else {
            match r {
                r if r < 0.02 => None,
                r if r < 0.07 => Some(due + 1 + rng.below(60) as i32),
                r if r < 0.08 => Some(due + 61 + rng.below(240) as i32),
                _ => Some(due - rng.below(120) as i32),
            }
        };
        let Some(deposit) = deposit.filter(|d| *d <= horizon && *d > fye) else {
            continue;
        };
        let assets = (assets0 * drift).round().max(1000.0);
        let equity = (assets * (solvency0 + 0.05 * normal(&mut rng))).round();
        let profit = (assets * (margin0 + 0.03 * normal(&mut rng))).round();
        let employees = employees0 * (1.0 + 0.1 * normal(&mut rng)).max(0.0);
        let current = (assets * (0.2 + 0.6 * rng.unit())).round();
        let debt = (assets * (0.1 + 0.5 * rng.unit()) + (-equity).max(0.0) * 0.5).round();
        let model = if employees > 50.0 || assets > 6_000_000.0 {
            "VOL"
        } else if employees > 10.0 || assets > 450_000.0 {
            "VKT"
        } else {
            "MIC"
        };
        let emp = if employees == 0.0 && rng.chance(0.5) {
            String::new() // not reported
        } else {
            format!("{employees:.1}")
        };
        buf.extend_from_slice(
            format!(
                "\"{}\",{},{},\"{model}\",{equity},{assets},{profit},{emp},{current},{debt}\n",
                base.number,
                date::format_dmy(deposit),
                date::format_dmy(fye),
            )
            .as_bytes(),
        );
    }
}

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut Rng) -> f64 {
    let u1 = 1.0 - rng.unit();
    let u2 = rng.unit();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_seven_months_after_year_end() {
        let fye = date::days_from_civil(2024, 12, 31);
        assert_eq!(due_date(fye), date::days_from_civil(2025, 7, 31));
        let fye = date::days_from_civil(2024, 6, 30);
        assert_eq!(due_date(fye), date::days_from_civil(2025, 1, 30));
    }

    #[test]
    fn natural_persons_and_non_filing_forms_have_no_deposits() {
        let snap = date::days_from_civil(2025, 10, 11);
        let mut buf = Vec::new();
        let mut base = Base {
            number: "0200.065.765".into(),
            natural: true,
            form: String::new(),
            start: date::days_from_civil(2000, 1, 1),
        };
        deposits(&mut buf, 1, 1, &base, snap, snap);
        base.natural = false;
        base.form = "011".into();
        deposits(&mut buf, 1, 1, &base, snap, snap);
        assert!(buf.is_empty());
        base.form = "610".into();
        for i in 0..50 {
            deposits(&mut buf, 1, i, &base, snap, snap);
        }
        assert!(buf.len() > 1000);
    }
}

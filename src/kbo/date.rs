//! KBO dates: `dd-mm-yyyy` (unquoted in the files), typed as days since 1970-01-01 (Arrow Date32,
//! DuckDB DATE). Calendar arithmetic from Howard Hinnant's `days_from_civil`, so no date crate is needed.

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = (y - era * 400) as u32;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe as i32 - 719_468
}

/// (year, month, day) of a day number.
pub fn civil_from_days(z: i32) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = (z - era * 146_097) as u32;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe as i32 + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

pub fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// The same day `months` later, clamped to the month's last day (31-12-2024 + 7 = 31-07-2025,
/// 30-06-2024 + 7 = 30-01-2025): how accounts fall due after a fiscal year's end.
pub fn add_months(days: i32, months: u32) -> i32 {
    let (y, m, d) = civil_from_days(days);
    let total = m - 1 + months;
    let (y2, m2) = (y + (total / 12) as i32, total % 12 + 1);
    days_from_civil(y2, m2, d.min(days_in_month(y2, m2)))
}

/// The last day of a month.
pub fn last_day(y: i32, m: u32) -> i32 {
    days_from_civil(y, m, days_in_month(y, m))
}

/// Parses `yyyy-mm-dd` (ISO 8601, as in manifest.json).
pub fn parse_iso(s: &str) -> Option<i32> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    parse_dmy(format!("{}-{}-{}", &s[8..10], &s[5..7], &s[0..4]).as_bytes())
}

/// Parses `dd-mm-yyyy`; `None` for anything else, including impossible dates such as 31-02-2020.
pub fn parse_dmy(s: &[u8]) -> Option<i32> {
    if s.len() != 10 || s[2] != b'-' || s[5] != b'-' {
        return None;
    }
    let num = |r: &[u8]| -> Option<u32> {
        r.iter().try_fold(0u32, |acc, &b| {
            b.is_ascii_digit().then(|| acc * 10 + (b - b'0') as u32)
        })
    };
    let d = num(&s[0..2])?;
    let m = num(&s[3..5])?;
    let y = num(&s[6..10])? as i32;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) || y < 1000 {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// `dd-mm-yyyy` of a day number (the KBO form).
pub fn format_dmy(days: i32) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{d:02}-{m:02}-{y:04}")
}

/// `yyyy-mm-dd` of a day number (ISO 8601).
pub fn format_iso(days: i32) -> String {
    Iso(days).to_string()
}

/// A day number shown as `yyyy-mm-dd`, written without allocating (evidence texts of the
/// score hold millions of dates).
#[derive(Debug, Clone, Copy)]
pub struct Iso(pub i32);

impl std::fmt::Display for Iso {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (y, m, d) = civil_from_days(self.0);
        if !(0..=9999).contains(&y) {
            return write!(f, "{y:04}-{m:02}-{d:02}");
        }
        let (y, m, d) = (y as u32, m, d);
        let b = [
            b'0' + (y / 1000) as u8,
            b'0' + (y / 100 % 10) as u8,
            b'0' + (y / 10 % 10) as u8,
            b'0' + (y % 10) as u8,
            b'-',
            b'0' + (m / 10) as u8,
            b'0' + (m % 10) as u8,
            b'-',
            b'0' + (d / 10) as u8,
            b'0' + (d % 10) as u8,
        ];
        f.write_str(std::str::from_utf8(&b).unwrap_or(""))
    }
}

/// `yyyy-mm-ddThh:mm:ssZ` of unix seconds.
pub fn format_rfc3339(unix_seconds: i64) -> String {
    let days = unix_seconds.div_euclid(86_400) as i32;
    let secs = unix_seconds.rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        format_iso(days),
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_dates() {
        assert_eq!(parse_dmy(b"01-01-1970"), Some(0));
        assert_eq!(parse_dmy(b"09-08-1960"), Some(days_from_civil(1960, 8, 9)));
        assert_eq!(parse_dmy(b"29-02-2020"), Some(days_from_civil(2020, 2, 29)));
        assert_eq!(parse_dmy(b"31-02-2020"), None);
        assert_eq!(parse_dmy(b"29-02-2021"), None);
        assert_eq!(parse_dmy(b"2020-02-01"), None);
        assert_eq!(parse_dmy(b"1-1-2020"), None);
        assert_eq!(format_rfc3339(1_649_367_553), "2022-04-07T21:39:13Z");
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(days in -25_000i32..60_000) {
            prop_assert_eq!(parse_dmy(format_dmy(days).as_bytes()), Some(days));
        }

        /// The allocation-free ISO form is the formatted one.
        #[test]
        fn iso_is_the_padded_civil_date(days in -800_000i32..3_000_000) {
            let (y, m, d) = civil_from_days(days);
            prop_assert_eq!(Iso(days).to_string(), format!("{y:04}-{m:02}-{d:02}"));
        }
    }
}

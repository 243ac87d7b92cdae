//! Belgian VAT numbers: normalization and validation exactly as `spec/vat.md` says. Pure: no I/O.
//!
//! Input: any string. Output: a [`VatResult`] (status valid / invalid / bad_format, a reason, the
//! normalized `BE0428759497`, the enterprise number `0428.759.497`). Never panics.
//! Stricter than python-stdnum in two places, on purpose (vat.md rules 5 and 6): a number starting
//! with 2–9 is `bad_format`, and only the check digits `97 - (first 8 mod 97)` are valid.

use crate::kbo::number;
use rayon::prelude::*;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Valid,
    Invalid,
    BadFormat,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Valid => "valid",
            Status::Invalid => "invalid",
            Status::BadFormat => "bad_format",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Checksum,
    Length,
    Characters,
    FirstDigit,
    EstablishmentNumber,
    Empty,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Checksum => "checksum",
            Reason::Length => "length",
            Reason::Characters => "characters",
            Reason::FirstDigit => "first_digit",
            Reason::EstablishmentNumber => "establishment_number",
            Reason::Empty => "empty",
        }
    }
}

/// The answer for one input (vat.md "Result"); `found`/`active` are filled by callers that have a
/// published snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VatResult {
    pub input: String,
    pub normalized: Option<String>,
    pub status: Status,
    pub reason: Option<Reason>,
    pub enterprise_number: Option<String>,
    pub formatted: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

impl VatResult {
    pub fn is_valid(&self) -> bool {
        self.status == Status::Valid
    }
    /// The 10 digits as a number, when the input was not bad_format.
    pub fn digits(&self) -> Option<u64> {
        self.normalized
            .as_deref()
            .and_then(|n| n.get(2..))
            .and_then(|d| d.parse().ok())
    }
}

/// Unicode characters python-stdnum's `clean()` maps to an ASCII digit or separator
/// (stdnum/util.py `_char_map`), sorted by code point for binary search.
const CHAR_MAP: &[(char, u8)] = &[
    ('\u{a0}', b' '),
    ('\u{af}', b'-'),
    ('\u{b7}', b'.'),
    ('\u{2d7}', b'-'),
    ('\u{2d9}', b'.'),
    ('\u{387}', b'.'),
    ('\u{58a}', b'-'),
    ('\u{5be}', b'-'),
    ('\u{6d4}', b'.'),
    ('\u{701}', b'.'),
    ('\u{702}', b'.'),
    ('\u{830}', b'.'),
    ('\u{83c}', b'/'),
    ('\u{f0b}', b'.'),
    ('\u{f0c}', b'.'),
    ('\u{1680}', b'-'),
    ('\u{16eb}', b'.'),
    ('\u{180a}', b'-'),
    ('\u{2000}', b' '),
    ('\u{2001}', b' '),
    ('\u{2002}', b' '),
    ('\u{2003}', b' '),
    ('\u{2004}', b' '),
    ('\u{2005}', b' '),
    ('\u{2006}', b' '),
    ('\u{2007}', b' '),
    ('\u{2008}', b' '),
    ('\u{2009}', b' '),
    ('\u{200a}', b' '),
    ('\u{2010}', b'-'),
    ('\u{2011}', b'-'),
    ('\u{2012}', b'-'),
    ('\u{2013}', b'-'),
    ('\u{2014}', b'-'),
    ('\u{2015}', b'-'),
    ('\u{2022}', b'.'),
    ('\u{2024}', b'.'),
    ('\u{2027}', b'.'),
    ('\u{202f}', b' '),
    ('\u{203e}', b'-'),
    ('\u{2043}', b'-'),
    ('\u{2044}', b'/'),
    ('\u{205f}', b' '),
    ('\u{207b}', b'-'),
    ('\u{208b}', b'-'),
    ('\u{2212}', b'-'),
    ('\u{2215}', b'/'),
    ('\u{2219}', b'.'),
    ('\u{22c5}', b'.'),
    ('\u{23af}', b'-'),
    ('\u{23ba}', b'-'),
    ('\u{23bb}', b'-'),
    ('\u{23bc}', b'-'),
    ('\u{23bd}', b'-'),
    ('\u{23e4}', b'-'),
    ('\u{27cb}', b'/'),
    ('\u{29f8}', b'/'),
    ('\u{2e31}', b'.'),
    ('\u{2e33}', b'.'),
    ('\u{3000}', b' '),
    ('\u{3002}', b'.'),
    ('\u{30fb}', b'.'),
    ('\u{fbb2}', b'.'),
    ('\u{fbb3}', b'.'),
    ('\u{fe52}', b'.'),
    ('\u{fe63}', b'-'),
    ('\u{ff0d}', b'-'),
    ('\u{ff0e}', b'.'),
    ('\u{ff0f}', b'/'),
    ('\u{ff10}', b'0'),
    ('\u{ff11}', b'1'),
    ('\u{ff12}', b'2'),
    ('\u{ff13}', b'3'),
    ('\u{ff14}', b'4'),
    ('\u{ff15}', b'5'),
    ('\u{ff16}', b'6'),
    ('\u{ff17}', b'7'),
    ('\u{ff18}', b'8'),
    ('\u{ff19}', b'9'),
    ('\u{ff65}', b'.'),
    ('\u{ffe3}', b'-'),
    ('\u{10101}', b'.'),
    ('\u{1091f}', b'.'),
    ('\u{10a50}', b'.'),
    ('\u{1d7ce}', b'0'),
    ('\u{1d7cf}', b'1'),
    ('\u{1d7d0}', b'2'),
    ('\u{1d7d1}', b'3'),
    ('\u{1d7d2}', b'4'),
    ('\u{1d7d3}', b'5'),
    ('\u{1d7d4}', b'6'),
    ('\u{1d7d5}', b'7'),
    ('\u{1d7d6}', b'8'),
    ('\u{1d7d7}', b'9'),
    ('\u{1d7d8}', b'0'),
    ('\u{1d7d9}', b'1'),
    ('\u{1d7da}', b'2'),
    ('\u{1d7db}', b'3'),
    ('\u{1d7dc}', b'4'),
    ('\u{1d7dd}', b'5'),
    ('\u{1d7de}', b'6'),
    ('\u{1d7df}', b'7'),
    ('\u{1d7e0}', b'8'),
    ('\u{1d7e1}', b'9'),
    ('\u{1d7e2}', b'0'),
    ('\u{1d7e3}', b'1'),
    ('\u{1d7e4}', b'2'),
    ('\u{1d7e5}', b'3'),
    ('\u{1d7e6}', b'4'),
    ('\u{1d7e7}', b'5'),
    ('\u{1d7e8}', b'6'),
    ('\u{1d7e9}', b'7'),
    ('\u{1d7ea}', b'8'),
    ('\u{1d7eb}', b'9'),
    ('\u{1d7ec}', b'0'),
    ('\u{1d7ed}', b'1'),
    ('\u{1d7ee}', b'2'),
    ('\u{1d7ef}', b'3'),
    ('\u{1d7f0}', b'4'),
    ('\u{1d7f1}', b'5'),
    ('\u{1d7f2}', b'6'),
    ('\u{1d7f3}', b'7'),
    ('\u{1d7f4}', b'8'),
    ('\u{1d7f5}', b'9'),
    ('\u{1d7f6}', b'0'),
    ('\u{1d7f7}', b'1'),
    ('\u{1d7f8}', b'2'),
    ('\u{1d7f9}', b'3'),
    ('\u{1d7fa}', b'4'),
    ('\u{1d7fb}', b'5'),
    ('\u{1d7fc}', b'6'),
    ('\u{1d7fd}', b'7'),
    ('\u{1d7fe}', b'8'),
    ('\u{1d7ff}', b'9'),
];

/// Rule 1: maps a Unicode digit, space, dash, dot or slash to its ASCII form; any other non-ASCII
/// character becomes `0xFF`, which is never a digit nor a separator.
fn ascii_byte(c: char) -> u8 {
    if c.is_ascii() {
        return (c as u8).to_ascii_uppercase();
    }
    match CHAR_MAP.binary_search_by(|(k, _)| k.cmp(&c)) {
        Ok(i) => CHAR_MAP[i].1,
        Err(_) => 0xFF,
    }
}

/// The verdict on one input without its strings: what a column of millions needs (`Copy`, no
/// allocation). [`VatResult`] adds the strings for people and JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Check {
    pub status: Status,
    pub reason: Option<Reason>,
    /// The 10 digits as a number; `None` when bad_format.
    pub digits: Option<u64>,
}

impl Check {
    pub fn is_valid(&self) -> bool {
        self.status == Status::Valid
    }
    /// `BE0428759497`.
    pub fn normalized(&self) -> Option<String> {
        self.digits.map(number::vat_number)
    }
    /// `0428.759.497`, only when valid.
    pub fn enterprise_number(&self) -> Option<String> {
        self.digits.filter(|_| self.is_valid()).map(number::display)
    }
    /// `BE 0428.759.497`.
    pub fn formatted(&self) -> Option<String> {
        self.digits.map(|n| format!("BE {}", number::display(n)))
    }
}

/// Rules 1–7 in one pass over the input, without allocating.
pub fn check(input: &str) -> Check {
    let bad = |reason| Check {
        status: Status::BadFormat,
        reason: Some(reason),
        digits: None,
    };
    // Rules 1–2: the compact form. Its first 16 bytes are kept (enough for `BE`, `(0)` and 10
    // digits); past them only the length and whether a non-digit appeared matter.
    let mut buf = [0u8; 16];
    let mut len = 0usize;
    let mut overflow_nondigit = false;
    for c in input.trim().chars() {
        let b = ascii_byte(c);
        if matches!(b, b' ' | b'\t' | b'.' | b'-' | b'/') {
            continue;
        }
        if len < buf.len() {
            buf[len] = b;
        } else if !b.is_ascii_digit() {
            overflow_nondigit = true;
        }
        len += 1;
    }
    // Rule 3: one optional `BE`, then `(0)` for a leading zero.
    let mut start = 0;
    if len >= 2 && buf[..2] == *b"BE" {
        start = 2;
    }
    let mut zero_paren = false;
    if len >= start + 3 && buf[start..start + 3] == *b"(0)" {
        zero_paren = true;
        start += 3;
    }
    let kept = &buf[start..len.min(buf.len())];
    let digits_len = len - start + usize::from(zero_paren);
    if digits_len == 0 {
        return bad(Reason::Empty);
    }
    if overflow_nondigit || !kept.iter().all(u8::is_ascii_digit) {
        return bad(Reason::Characters);
    }
    // Rule 4: 9 or 10 digits; 9 is the old format, padded with a leading 0.
    if digits_len != 9 && digits_len != 10 {
        return bad(Reason::Length);
    }
    let n = kept
        .iter()
        .fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0'));
    if n == 0 {
        // Rule 7: an all-zero number is a placeholder, not a number.
        return bad(Reason::Empty);
    }
    if n >= 2_000_000_000 {
        // Rule 5: 2–8 are establishment units, 9 branches; neither is a VAT number.
        let reason = if number::mod97_ok(n) && n < 9_000_000_000 {
            Reason::EstablishmentNumber
        } else {
            Reason::FirstDigit
        };
        return bad(reason);
    }
    // Rule 6: only the check digits that are issued.
    let ok = number::mod97_ok(n);
    Check {
        status: if ok { Status::Valid } else { Status::Invalid },
        reason: (!ok).then_some(Reason::Checksum),
        digits: Some(n),
    }
}

impl VatResult {
    /// The full answer for `input`, from its [`Check`].
    pub fn new(input: &str, c: Check) -> VatResult {
        VatResult {
            input: input.to_string(),
            normalized: c.normalized(),
            status: c.status,
            reason: c.reason,
            enterprise_number: c.enterprise_number(),
            formatted: c.formatted(),
            found: None,
            active: None,
        }
    }
}

/// Validates one VAT number (vat.md rules 1–7).
pub fn validate(input: &str) -> VatResult {
    VatResult::new(input, check(input))
}

/// Checks a column of numbers in parallel, keeping their order (the columnar path).
pub fn check_batch<S: AsRef<str> + Sync>(inputs: &[S]) -> Vec<Check> {
    inputs
        .par_iter()
        .with_min_len(4096)
        .map(|s| check(s.as_ref()))
        .collect()
}

/// Validates many numbers in parallel into full results, keeping their order.
pub fn validate_batch<S: AsRef<str> + Sync>(inputs: &[S]) -> Vec<VatResult> {
    inputs
        .par_iter()
        .with_min_len(4096)
        .map(|s| validate(s.as_ref()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn status(s: &str) -> (Status, Option<Reason>) {
        let r = validate(s);
        (r.status, r.reason)
    }

    #[test]
    fn spec_vectors_valid() {
        for s in [
            "BE0428759497",
            "BE 428759497",
            "be0428.759.497",
            "0428-759-497",
            "(0)428759497",
            "BE１００１６８６６３３",
            "BE1001686633",
            "BE1006872569",
        ] {
            assert_eq!(status(s), (Status::Valid, None), "{s}");
        }
        let r = validate("be0428.759.497");
        assert_eq!(r.normalized.as_deref(), Some("BE0428759497"));
        assert_eq!(r.enterprise_number.as_deref(), Some("0428.759.497"));
        assert_eq!(r.formatted.as_deref(), Some("BE 0428.759.497"));
    }

    #[test]
    fn spec_vectors_invalid_and_bad_format() {
        assert_eq!(
            status("BE0428759400"),
            (Status::Invalid, Some(Reason::Checksum))
        );
        assert_eq!(
            status("BE0431150351"),
            (Status::Invalid, Some(Reason::Checksum))
        );
        assert_eq!(validate("BE0428759400").enterprise_number, None);
        assert_eq!(
            status("BE2000000339"),
            (Status::BadFormat, Some(Reason::EstablishmentNumber))
        );
        for s in [
            "BE0000000000",
            "BE000000000",
            "000000",
            "BE",
            "",
            "BE04287594977",
            "NL0428759497",
            "BE0428,759,497",
            "BE BE0428759497",
        ] {
            assert_eq!(validate(s).status, Status::BadFormat, "{s:?}");
            assert_eq!(validate(s).normalized, None, "{s:?}");
        }
        assert_eq!(status(""), (Status::BadFormat, Some(Reason::Empty)));
        assert_eq!(
            status("BE04287594977"),
            (Status::BadFormat, Some(Reason::Length))
        );
        assert_eq!(
            status("NL0428759497"),
            (Status::BadFormat, Some(Reason::Characters))
        );
        assert_eq!(
            status("BE2000000338"),
            (Status::BadFormat, Some(Reason::FirstDigit))
        );
    }

    #[test]
    fn unicode_separators() {
        // No-break space, en dash, full-width full stop, fraction slash, ideographic space.
        for s in [
            "BE\u{a0}0428\u{2013}759\u{ff0e}497",
            "0428\u{2044}759\u{2044}497",
            "\u{3000}BE0428759497\t",
        ] {
            assert_eq!(status(s), (Status::Valid, None), "{s:?}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(s in ".*") {
            let _ = validate(&s);
        }

        #[test]
        fn every_issued_number_is_valid(base in 0u32..20_000_000) {
            let n = number::with_check_digits(base);
            prop_assume!(n != 0);
            let r = validate(&number::display(n));
            prop_assert!(r.is_valid());
            prop_assert_eq!(r.digits(), Some(n));
        }
    }
}

//! Synthetic VAT-number inputs, as people type them: valid numbers in every formatting vat.md
//! accepts, wrong check digits (00, 98 and 99 among them), establishment numbers, wrong lengths and
//! junk. Used by the differential test against python-stdnum and by the throughput benchmark.

use super::Rng;
use crate::kbo::number;

/// A valid 10-digit number in one of the formattings the spec accepts.
pub fn formatted(n: u64, style: u64) -> String {
    let d = format!("{n:010}");
    let dotted = format!("{}.{}.{}", &d[0..4], &d[4..7], &d[7..10]);
    let full_width: String = d
        .chars()
        .map(|c| char::from_u32(c as u32 - '0' as u32 + 0xFF10).unwrap_or(c))
        .collect();
    match style % 14 {
        0 => format!("BE{d}"),
        1 => format!("BE {dotted}"),
        2 => format!("be{dotted}"),
        3 => format!("{}-{}-{}", &d[0..4], &d[4..7], &d[7..10]),
        4 => d.clone(),
        5 if d.starts_with('0') => format!("BE {}", &d[1..]), // the old 9-digit form
        6 if d.starts_with('0') => format!("(0){}", &d[1..]), // (0) for the leading zero
        7 => format!("BE{full_width}"),                       // full-width digits
        8 => format!(
            "BE\u{a0}{}\u{2013}{}\u{2013}{}",
            &d[0..4],
            &d[4..7],
            &d[7..10]
        ), // no-break space, en dash
        9 => format!("  {d}  "),
        10 => format!("{}/{}/{}", &d[0..4], &d[4..7], &d[7..10]),
        11 => format!("Be {}\u{ff0e}{}\u{ff0e}{}", &d[0..4], &d[4..7], &d[7..10]), // full-width full stop
        12 => format!("\tBE{d}"),
        _ => format!("BE.{dotted}"),
    }
}

/// `count` inputs drawn from `seed`: 40 % valid, 20 % wrong check digits, 10 % near the check-digit
/// edge cases, 10 % establishment numbers, 10 % wrong lengths, 10 % junk.
pub fn inputs(count: usize, seed: u64) -> Vec<String> {
    let mut rng = Rng::new(seed, 0);
    let mut out = Vec::with_capacity(count);
    let junk_alphabet: Vec<char> = "BE0123456789 .-/,()xNLbe\u{a0}１".chars().collect();
    while out.len() < count {
        let kind = rng.below(10);
        let base = rng.below(20_000_000) as u32;
        let s = match kind {
            // Valid enterprise numbers, every formatting.
            0..=3 => formatted(number::with_check_digits(base), rng.below(14)),
            // Wrong check digits (00, 98 and 99 among them).
            4 | 5 => {
                let last = if rng.chance(0.3) {
                    [0u64, 98, 99][rng.below(3) as usize]
                } else {
                    rng.below(100)
                };
                formatted(base as u64 * 100 + last, rng.below(14))
            }
            // Bases that are multiples of 97 or leave 95/96: where stdnum's looser rule bites.
            6 => {
                let b = (base / 97) * 97 + [0, 95, 96][rng.below(3) as usize];
                let n = b as u64 * 100 + [0u64, 97, 1, 98, 2, 99][rng.below(6) as usize];
                formatted(n.min(9_999_999_999), rng.below(5))
            }
            // Establishment numbers (first digit 2–8) and other first digits.
            7 => {
                let b = 20_000_000 + rng.below(80_000_000) as u32;
                formatted(number::with_check_digits(b), rng.below(5))
            }
            // Wrong lengths.
            8 => {
                let len = [1, 5, 8, 11, 12, 13][rng.below(6) as usize];
                let digits: String = (0..len)
                    .map(|_| char::from(b'0' + rng.below(10) as u8))
                    .collect();
                format!("BE{digits}")
            }
            // Junk.
            _ => (0..rng.below(16))
                .map(|_| *rng.pick(&junk_alphabet))
                .collect(),
        };
        out.push(s);
    }
    out
}

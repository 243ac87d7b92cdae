//! KBO entity numbers: enterprise `0200.065.765`, establishment `2.000.000.339`, branch `9.000.006.626`.
//!
//! All three are 10 digits whose last two are `97 - (first 8 digits mod 97)` (Cookbook KBO Open Data;
//! kbo-open-data.md "Numbers"). Enterprise numbers start with 0 or 1, establishment numbers with 2–8,
//! branch ids with 9.

use std::fmt;

/// What kind of entity a 10-digit number designates, by its first digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityKind {
    Enterprise,
    Establishment,
    Branch,
}

/// Why a number was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NumberError {
    Format,
    FirstDigit,
    Checksum,
}

impl fmt::Display for NumberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NumberError::Format => "bad format",
            NumberError::FirstDigit => "wrong first digit for this kind of number",
            NumberError::Checksum => "check digits are not 97 - (first 8 digits mod 97)",
        })
    }
}

/// The check digits for an 8-digit base.
pub fn check_digits(base: u32) -> u32 {
    97 - (base % 97)
}

/// True when the last two digits of a 10-digit number match its base (mod 97).
pub fn mod97_ok(n: u64) -> bool {
    let base = (n / 100) as u32;
    (n % 100) as u32 == check_digits(base)
}

/// The full 10-digit number for an 8-digit base.
pub fn with_check_digits(base: u32) -> u64 {
    base as u64 * 100 + check_digits(base) as u64
}

pub fn kind_of(n: u64) -> EntityKind {
    match n / 1_000_000_000 {
        0 | 1 => EntityKind::Enterprise,
        9 => EntityKind::Branch,
        _ => EntityKind::Establishment,
    }
}

/// Parses the KBO display form of a number of the given kind (`None` = any kind, as in the
/// `EntityNumber` column of the child tables) and checks its check digits.
pub fn parse(s: &[u8], expect: Option<EntityKind>) -> Result<u64, NumberError> {
    // The ten digits around the dots, at fixed places: a loop the compiler unrolls.
    let n = match s {
        [a, b, c, d, b'.', e, f, g, b'.', h, i, j] => {
            ten_digits([*a, *b, *c, *d, *e, *f, *g, *h, *i, *j])?
        }
        [a, b'.', b, c, d, b'.', e, f, g, b'.', h, i, j] => {
            ten_digits([*a, *b, *c, *d, *e, *f, *g, *h, *i, *j])?
        }
        _ => return Err(NumberError::Format),
    };
    let kind = kind_of(n);
    // 12 characters only for enterprise numbers, 13 only for the others.
    if (s.len() == 12) != (kind == EntityKind::Enterprise) {
        return Err(NumberError::FirstDigit);
    }
    if let Some(k) = expect {
        if k != kind {
            return Err(NumberError::FirstDigit);
        }
    }
    if !mod97_ok(n) {
        return Err(NumberError::Checksum);
    }
    Ok(n)
}

#[inline]
fn ten_digits(d: [u8; 10]) -> Result<u64, NumberError> {
    let mut n: u64 = 0;
    for b in d {
        let x = b.wrapping_sub(b'0');
        if x > 9 {
            return Err(NumberError::Format);
        }
        n = n * 10 + x as u64;
    }
    Ok(n)
}

/// The KBO display form: `0200.065.765` for enterprises, `2.000.000.339` for the others.
pub fn display(n: u64) -> String {
    Shown::of(n).as_str().to_string()
}

/// The display form of a number on the stack (no allocation: the score writes 2 M of them).
pub struct Shown {
    buf: [u8; 13],
    len: usize,
}

impl Shown {
    pub fn of(n: u64) -> Shown {
        // Two independent halves of five digits (shorter chains of divisions), then the digits
        // copied around the dots at fixed places.
        let x = n % 10_000_000_000;
        let (mut hi, mut lo) = (x / 100_000, x % 100_000);
        let mut d = [0u8; 10];
        for i in (0..5).rev() {
            d[i] = b'0' + (hi % 10) as u8;
            d[i + 5] = b'0' + (lo % 10) as u8;
            hi /= 10;
            lo /= 10;
        }
        let mut buf = [b'.'; 13];
        let len = if kind_of(n) == EntityKind::Enterprise {
            // dddd.ddd.ddd
            buf[..4].copy_from_slice(&d[..4]);
            buf[5..8].copy_from_slice(&d[4..7]);
            buf[9..12].copy_from_slice(&d[7..]);
            12
        } else {
            // d.ddd.ddd.ddd
            buf[0] = d[0];
            buf[2..5].copy_from_slice(&d[1..4]);
            buf[6..9].copy_from_slice(&d[4..7]);
            buf[10..13].copy_from_slice(&d[7..]);
            13
        };
        Shown { buf, len }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

/// The VAT number of an enterprise: `BE` + its 10 digits (vat.md).
pub fn vat_number(n: u64) -> String {
    format!("BE{n:010}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn real_numbers() {
        assert_eq!(parse(b"0200.065.765", None), Ok(200065765));
        assert_eq!(
            parse(b"0200.065.765", Some(EntityKind::Enterprise)),
            Ok(200065765)
        );
        assert_eq!(
            parse(b"2.000.000.339", Some(EntityKind::Establishment)),
            Ok(2000000339)
        );
        assert_eq!(
            parse(b"9.000.006.626", Some(EntityKind::Branch)),
            Ok(9000006626)
        );
        assert_eq!(parse(b"1001.686.633", None), Ok(1001686633));
        assert_eq!(parse(b"0200.065.766", None), Err(NumberError::Checksum));
        assert_eq!(parse(b"0200065765", None), Err(NumberError::Format));
        assert_eq!(
            parse(b"2.000.000.339", Some(EntityKind::Enterprise)),
            Err(NumberError::FirstDigit)
        );
        assert_eq!(parse(b"2000.000.339", None), Err(NumberError::FirstDigit));
        assert_eq!(parse(b"0200.O65.765", None), Err(NumberError::Format));
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(base in 0u32..100_000_000) {
            let n = with_check_digits(base);
            prop_assert_eq!(parse(display(n).as_bytes(), Some(kind_of(n))), Ok(n));
            let d = format!("{n:010}");
            let dotted = if kind_of(n) == EntityKind::Enterprise {
                format!("{}.{}.{}", &d[0..4], &d[4..7], &d[7..10])
            } else {
                format!("{}.{}.{}.{}", &d[0..1], &d[1..4], &d[4..7], &d[7..10])
            };
            prop_assert_eq!(display(n), dotted);
        }

        /// The row index answers as a hash map of the same rows would, for numbers in the
        /// table, numbers beside it, and numbers with wrong check digits.
        #[test]
        fn row_index_agrees_with_a_hash_map(
            bases in proptest::collection::vec(0u32..200_000, 0..200),
            probes in proptest::collection::vec(0u64..20_000_000, 0..200),
        ) {
            let numbers: Vec<u64> = bases.iter().map(|b| with_check_digits(*b)).collect();
            let idx = RowIndex::new(&numbers);
            let mut map = std::collections::HashMap::new();
            for (i, n) in numbers.iter().enumerate() {
                map.insert(*n, i as u32);
            }
            for n in numbers.iter().chain(&probes) {
                prop_assert_eq!(idx.get(*n), map.get(n).copied());
                // Nothing outside the span has a row.
                prop_assert!(idx.span().contains(n) || idx.get(*n).is_none());
            }
            prop_assert!(numbers.iter().all(|n| idx.span().contains(n)));
        }

        #[test]
        fn parse_never_panics(s in proptest::collection::vec(any::<u8>(), 0..16)) {
            let _ = parse(&s, None);
        }
    }
}

/// Parses the entity numbers of rows that come grouped by entity (the register lists child rows
/// so): each run of the same text is parsed once. Any kind of number, as [`parse`] with `None`.
#[derive(Default)]
pub struct RunParser {
    last: Vec<u8>,
    value: Option<u64>,
}

impl RunParser {
    pub fn parse(&mut self, s: &str) -> Option<u64> {
        if self.last != s.as_bytes() {
            self.last.clear();
            self.last.extend_from_slice(s.as_bytes());
            self.value = parse(s.as_bytes(), None).ok();
        }
        self.value
    }
}

/// Rows of a table by entity number: one `u32` per 8-digit base between the smallest and the
/// largest base of the table (a mod-97-checked number is determined by its base). One memory
/// access a lookup, and inputs in number order read it front to back, where a hash map costs two
/// random accesses (the enterprise table of a generated extract is not in number order). At 2 M
/// enterprises over bases 2–10.5 M: 34 MB, about the hash map's size.
pub struct RowIndex {
    min: u64,
    rows: Vec<u32>,
}

impl RowIndex {
    /// The index of `numbers` (row i holds numbers[i]); numbers that fail mod 97 are left out,
    /// and of two equal numbers the later row wins.
    pub fn new(numbers: &[u64]) -> RowIndex {
        let bases = || numbers.iter().filter(|n| mod97_ok(**n)).map(|n| n / 100);
        let (Some(min), Some(max)) = (bases().min(), bases().max()) else {
            return RowIndex {
                min: 0,
                rows: Vec::new(),
            };
        };
        let mut rows = vec![u32::MAX; (max - min + 1) as usize];
        for (i, n) in numbers.iter().enumerate() {
            if mod97_ok(*n) {
                rows[(n / 100 - min) as usize] = i as u32;
            }
        }
        RowIndex { min, rows }
    }

    /// The row of number `n`, if the table has it.
    pub fn get(&self, n: u64) -> Option<u32> {
        if !mod97_ok(n) {
            return None;
        }
        let at = (n / 100).checked_sub(self.min)?;
        self.rows
            .get(at as usize)
            .copied()
            .filter(|r| *r != u32::MAX)
    }

    pub fn contains(&self, n: u64) -> bool {
        self.get(n).is_some()
    }

    /// The numbers the index could hold (none when it is empty): no number outside has a row.
    pub fn span(&self) -> std::ops::RangeInclusive<u64> {
        match self.rows.len() as u64 {
            0 => std::ops::RangeInclusive::new(1, 0),
            len => self.min * 100..=(self.min + len) * 100 - 1,
        }
    }
}

/// A fast hasher for entity numbers (already well spread integers).
#[derive(Default)]
pub struct NumberHasher(u64);

impl std::hash::Hasher for NumberHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ *b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (n ^ (n >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A hash map keyed by entity numbers.
pub type NumberMap<V> =
    std::collections::HashMap<u64, V, std::hash::BuildHasherDefault<NumberHasher>>;

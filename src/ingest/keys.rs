//! The set of entity numbers seen in an extract, as one bit per 8-digit base (10^8 bits = 12.5 MB).
//! A mod-97-checked number is determined by its base, so the bit is exact.

#[derive(Clone)]
pub struct KeySet {
    bits: Vec<u64>,
}

impl Default for KeySet {
    fn default() -> Self {
        Self::new()
    }
}

impl KeySet {
    pub fn new() -> KeySet {
        KeySet {
            bits: vec![0; 100_000_000 / 64 + 1],
        }
    }

    /// Inserts a 10-digit number; false if it was already there.
    pub fn insert(&mut self, n: u64) -> bool {
        let base = (n / 100) as usize;
        let (w, b) = (base / 64, base % 64);
        let had = self.bits[w] >> b & 1 == 1;
        self.bits[w] |= 1 << b;
        !had
    }

    /// Adds every number of `other`.
    pub fn union(&mut self, other: &KeySet) {
        for (a, b) in self.bits.iter_mut().zip(&other.bits) {
            *a |= b;
        }
    }

    /// True when some number of the set lies in `lo..=hi` (10-digit numbers; one pass over the
    /// words of that range).
    pub fn any_in(&self, lo: u64, hi: u64) -> bool {
        let (lo, hi) = ((lo / 100) as usize, (hi / 100) as usize);
        if lo > hi || lo / 64 >= self.bits.len() {
            return false;
        }
        let (wl, wh) = (lo / 64, (hi / 64).min(self.bits.len() - 1));
        (wl..=wh).any(|w| {
            let mut m = self.bits[w];
            if w == wl {
                m &= u64::MAX << (lo % 64);
            }
            if w == hi / 64 {
                m &= u64::MAX >> (63 - hi % 64);
            }
            m != 0
        })
    }

    pub fn contains(&self, n: u64) -> bool {
        let base = (n / 100) as usize;
        self.bits[base / 64] >> (base % 64) & 1 == 1
    }
}

#[cfg(test)]
mod tests {
    use super::KeySet;
    use proptest::prelude::*;

    proptest! {
        /// any_in agrees with a scan of the inserted numbers.
        #[test]
        fn any_in_is_a_range_query(keys in proptest::collection::vec(0u64..20_000, 0..20), lo in 0u64..20_000, len in 0u64..5_000) {
            let mut s = KeySet::new();
            let nums: Vec<u64> = keys.iter().map(|b| b * 100 + 97 - b % 97).collect();
            for n in &nums { s.insert(*n); }
            let (lo, hi) = (lo * 100, (lo + len) * 100 + 99);
            prop_assert_eq!(s.any_in(lo, hi), nums.iter().any(|n| (lo..=hi).contains(n)));
        }
    }
}

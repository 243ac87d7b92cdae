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

    pub fn contains(&self, n: u64) -> bool {
        let base = (n / 100) as usize;
        self.bits[base / 64] >> (base % 64) & 1 == 1
    }
}

//! The main activity of an entity: among its activity rows classified `MAIN`, the newest NACE
//! version, then the lowest activity group (001, the VAT activities, first), then the lowest code
//! (kbo-open-data.md: an entity has MAIN rows per NACE version and activity group). The `companies`
//! view and the payment-risk sector read it; it is derived once per snapshot
//! (`main_activity.parquet`, written by `ingest`).
//!
//! Pure: [`MainActivities`] takes rows in any order and gives the same result; versions compare as
//! text (they are four-digit years), as the SQL `ORDER BY nace_version DESC` did.

use std::collections::HashMap;

/// A short code (juridical form or situation, NACE code or version, activity group: at most 7
/// characters in the register) stored inline, so that millions of them cost no allocation.
#[derive(Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Code {
    len: u8,
    bytes: [u8; 15],
}

impl Code {
    /// Longer text is cut at 15 bytes (on a character boundary); no register code is that long.
    pub fn new(s: &str) -> Code {
        let mut c = Code::default();
        let mut n = s.len().min(15);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        c.bytes[..n].copy_from_slice(&s.as_bytes()[..n]);
        c.len = n as u8;
        c
    }
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }

    /// The code's bytes: they order as its text does, without a UTF-8 check.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    /// No code (the column was NULL): cheaper than `as_str().is_empty()`, which checks UTF-8.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl PartialOrd for Code {
    fn partial_cmp(&self, o: &Code) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for Code {
    fn cmp(&self, o: &Code) -> std::cmp::Ordering {
        self.as_bytes().cmp(o.as_bytes())
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

/// One MAIN activity row's NACE version, activity group and code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MainActivity {
    pub version: Code,
    pub group: Code,
    pub code: Code,
}

/// One multiply-rotate pass over the six words of the three codes (the dictionary of distinct
/// main activities is looked up once per entity: SipHash over 48 bytes was a measurable share of
/// the activity table's ingest).
impl std::hash::Hash for MainActivity {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let mut h = 0u64;
        for c in [&self.version, &self.group, &self.code] {
            let (a, b) = c.bytes.split_at(8);
            let lo = u64::from_le_bytes(a.try_into().unwrap_or([0; 8]));
            let mut hi = [0u8; 8];
            hi[..7].copy_from_slice(b);
            hi[7] = c.len;
            for w in [lo, u64::from_le_bytes(hi)] {
                h = (h ^ w).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
            }
        }
        state.write_u64(h);
    }
}

impl MainActivity {
    pub fn new(version: &str, group: &str, code: &str) -> MainActivity {
        MainActivity {
            version: Code::new(version),
            group: Code::new(group),
            code: Code::new(code),
        }
    }

    /// True when `self` wins over `o` as an entity's main activity.
    pub fn better_than(&self, o: &MainActivity) -> bool {
        (std::cmp::Reverse(&self.version), &self.group, &self.code)
            < (std::cmp::Reverse(&o.version), &o.group, &o.code)
    }

    /// The NACE version as a number (0 when it is not one).
    pub fn version_number(&self) -> u16 {
        self.version.as_str().parse().unwrap_or(0)
    }
}

/// The main activity of every entity seen. Rows of one entity usually come together (the
/// register lists them so): the current entity's best is kept inline and compared as text, and
/// only when the next entity starts does it go, as an id into a small dictionary of distinct
/// (version, group, code), onto a list — 16 bytes an entity. An entity met again later (rows out
/// of order, or split between accumulators) is settled when the list is sorted.
#[derive(Default)]
pub struct MainActivities {
    distinct: Distinct,
    runs: Vec<(u64, u32)>,
    current: Option<(u64, MainActivity)>,
}

/// The distinct main activities seen, each with an id: its place in the list.
#[derive(Default)]
pub struct Distinct {
    dict: Vec<MainActivity>,
    ids:
        HashMap<MainActivity, u32, std::hash::BuildHasherDefault<crate::kbo::number::NumberHasher>>,
}

impl Distinct {
    /// The id of `m`, given it now if it is new.
    pub fn id(&mut self, m: MainActivity) -> u32 {
        if let Some(id) = self.ids.get(&m) {
            return *id;
        }
        let id = self.dict.len() as u32;
        self.dict.push(m);
        self.ids.insert(m, id);
        id
    }

    /// The ids in `self` of the main activities of `other`, by their ids there.
    pub fn remap(&mut self, other: &Distinct) -> Vec<u32> {
        other.dict.iter().map(|m| self.id(*m)).collect()
    }
}

impl MainActivities {
    pub fn new() -> MainActivities {
        MainActivities::default()
    }

    /// One activity row; rows not classified `MAIN` are ignored.
    pub fn observe(
        &mut self,
        entity: u64,
        classification: &str,
        version: &str,
        group: &str,
        code: &str,
    ) {
        if classification == "MAIN" {
            self.add(entity, MainActivity::new(version, group, code));
        }
    }

    /// A main activity of `entity`: a MAIN row's, or one already chosen (a row of
    /// `main_activity.parquet`); the best of an entity's wins.
    pub fn add(&mut self, entity: u64, m: MainActivity) {
        match &mut self.current {
            Some((e, best)) if *e == entity => {
                if m.better_than(best) {
                    *best = m;
                }
            }
            _ => {
                self.settle();
                self.current = Some((entity, m));
            }
        }
    }

    /// Puts the current entity onto the list.
    fn settle(&mut self) {
        if let Some((e, m)) = self.current.take() {
            let id = self.distinct.id(m);
            self.runs.push((e, id));
        }
    }

    /// Adds what another accumulator saw (rows of one entity may be split between them).
    pub fn merge(&mut self, mut other: MainActivities) {
        self.settle();
        other.settle();
        let remap = self.distinct.remap(&other.distinct);
        self.runs
            .extend(other.runs.iter().map(|(e, id)| (*e, remap[*id as usize])));
    }

    /// Every entity's main activity, in number order.
    pub fn into_sorted(mut self) -> Sorted {
        self.settle();
        let dict = self.distinct.dict;
        // Any order of an entity's runs: the best of them wins (`better_than` is a total order
        // of the distinct main activities).
        self.runs.sort_unstable_by_key(|(e, _)| *e);
        let mut rows: Vec<(u64, u32)> = Vec::with_capacity(self.runs.len());
        for (e, id) in self.runs {
            match rows.last_mut() {
                Some((le, lid)) if *le == e => {
                    if dict[id as usize].better_than(&dict[*lid as usize]) {
                        *lid = id;
                    }
                }
                _ => rows.push((e, id)),
            }
        }
        Sorted { dict, rows }
    }
}

/// Main activities by entity, in number order, 16 bytes an entity (an id into the distinct ones).
pub struct Sorted {
    dict: Vec<MainActivity>,
    rows: Vec<(u64, u32)>,
}

impl Sorted {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (u64, MainActivity)> + '_ {
        self.rows
            .iter()
            .map(|(e, id)| (*e, self.dict[*id as usize]))
    }

    /// By a dense key (the rows were keyed 0..n, say a table's rows): 4 bytes a key; keys from
    /// `n` on are left out.
    pub fn into_dense(self, n: usize) -> Dense {
        let mut ids = vec![u32::MAX; n];
        for (k, id) in self.rows {
            if let Some(slot) = ids.get_mut(k as usize) {
                *slot = id;
            }
        }
        Dense {
            dict: self.dict,
            ids,
        }
    }
}

/// Main activities by a dense key (see [`Sorted::into_dense`]).
pub struct Dense {
    dict: Vec<MainActivity>,
    ids: Vec<u32>,
}

impl Dense {
    /// Keys `0..n` from parts, each a [`Distinct`] and (key, id there) pairs of keys that have one
    /// main activity (a later part's pair wins); keys from `n` on are left out.
    pub fn from_parts(parts: Vec<(Distinct, Vec<(u32, u32)>)>, n: usize) -> Dense {
        let mut all = Distinct::default();
        let mut ids = vec![u32::MAX; n];
        for (d, rows) in parts {
            let remap = all.remap(&d);
            for (k, id) in rows {
                if let Some(slot) = ids.get_mut(k as usize) {
                    *slot = remap[id as usize];
                }
            }
        }
        Dense {
            dict: all.dict,
            ids,
        }
    }

    pub fn get(&self, k: usize) -> Option<&MainActivity> {
        self.dict.get(self.id(k)?)
    }

    /// Key `k`'s id into [`Dense::dict`], if it has a main activity.
    pub fn id(&self, k: usize) -> Option<usize> {
        let id = *self.ids.get(k)?;
        (id != u32::MAX).then_some(id as usize)
    }

    /// The distinct main activities.
    pub fn dict(&self) -> &[MainActivity] {
        &self.dict
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn newest_version_then_group_then_code() {
        let mut m = MainActivities::new();
        m.observe(1, "MAIN", "2008", "001", "01110");
        m.observe(1, "MAIN", "2025", "006", "4711001");
        m.observe(1, "MAIN", "2025", "001", "4711002");
        m.observe(1, "SECO", "2025", "001", "0000001");
        m.observe(2, "SECO", "2025", "001", "0000001");
        let v: Vec<_> = m.into_sorted().iter().collect();
        assert_eq!(v, vec![(1, MainActivity::new("2025", "001", "4711002"))]);
    }

    proptest! {
        /// Any order of the rows gives the main activity of a sort of each entity's MAIN rows.
        #[test]
        fn the_order_of_rows_does_not_matter(
            rows in proptest::collection::vec(
                (0u64..6, prop::sample::select(vec!["MAIN", "SECO", "ANCI"]),
                 prop::sample::select(vec!["2003", "2008", "2025"]),
                 prop::sample::select(vec!["001", "003", "006"]),
                 prop::sample::select(vec!["01110", "4711001", "62010"])),
                0..40),
            split in 0usize..40,
        ) {
            let mut expected: Vec<(u64, MainActivity)> = Vec::new();
            for e in 0..6u64 {
                let mut mains: Vec<MainActivity> = rows
                    .iter()
                    .filter(|r| r.0 == e && r.1 == "MAIN")
                    .map(|r| MainActivity::new(r.2, r.3, r.4))
                    .collect();
                mains.sort_by(|a, b| {
                    (std::cmp::Reverse(a.version), a.group, a.code)
                        .cmp(&(std::cmp::Reverse(b.version), b.group, b.code))
                });
                if let Some(m) = mains.first() {
                    expected.push((e, *m));
                }
            }
            // Rows in the given order, split between two accumulators and merged.
            let split = split.min(rows.len());
            let (mut a, mut b) = (MainActivities::new(), MainActivities::new());
            for r in &rows[..split] {
                a.observe(r.0, r.1, r.2, r.3, r.4);
            }
            for r in &rows[split..] {
                b.observe(r.0, r.1, r.2, r.3, r.4);
            }
            a.merge(b);
            prop_assert_eq!(a.into_sorted().iter().collect::<Vec<_>>(), expected);
        }
    }
}

//! The register's life after the Full extract: which enterprise changes on which day, and how.
//!
//! Day 0 is the Full extract's snapshot; days 1..=K are the following daily Updates. The schedule is
//! a pure function of (seed, enterprises, K): each day draws its own mix from its own random stream,
//! so day d's changes do not depend on K. An enterprise's rows on day D are a function of (seed, its
//! index, its changes up to D) only — which is what lets the generator write Full D for everyone and
//! Update D from the few enterprises touched on day D.

use super::rng::Rng;
use std::collections::HashMap;

/// One change to one enterprise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Registered on this day (new enterprises only).
    Created,
    /// Left the register: all its rows go. `cascade: false` writes the enterprise and establishment
    /// deletes but not the deletes of its address and activity rows (kbo-open-data.md: "Deletes do
    /// not always cascade").
    Stopped { cascade: bool },
    /// A new legal name (denomination type 001).
    Renamed,
    /// The registered seat moved to another address.
    SeatMoved,
    /// The seat address was struck off (DateStrikingOff set to the day).
    SeatStruckOff,
    /// Main and secondary NACE activities redrawn.
    NaceChanged,
    /// New juridical situation.
    Situation(&'static str),
    /// New juridical form.
    Form(&'static str),
    /// A new establishment unit.
    EstablishmentOpened,
    /// The most recent open establishment unit closes.
    EstablishmentClosed,
}

/// Changes per day per 2,000,000 enterprises — about 1,100 changed rows a day, the real register's
/// daily Update (kbo-open-data.md). Every kind happens at least once a day, even in small extracts.
const DAILY_PER_2M: &[(u64, Kind)] = &[
    (24, Kind::Created),
    (18, Kind::Stopped),
    (36, Kind::Renamed),
    (36, Kind::SeatMoved),
    (6, Kind::SeatStruckOff),
    (16, Kind::NaceChanged),
    (15, Kind::Situation),
    (4, Kind::Form),
    (15, Kind::EstablishmentOpened),
    (15, Kind::EstablishmentClosed),
];

#[derive(Debug, Clone, Copy)]
enum Kind {
    Created,
    Stopped,
    Renamed,
    SeatMoved,
    SeatStruckOff,
    NaceChanged,
    Situation,
    Form,
    EstablishmentOpened,
    EstablishmentClosed,
}

/// Situations entered during the period: liquidation, bankruptcy, reorganisation, judicial
/// dissolution, and back to normal.
const SITUATIONS: &[(f64, &str)] = &[
    (30.0, "012"),
    (25.0, "050"),
    (15.0, "091"),
    (10.0, "013"),
    (20.0, "000"),
];
const FORMS: &[(f64, &str)] = &[(60.0, "610"), (25.0, "014"), (15.0, "706")];

/// Index of the first enterprise created after the Full extract (their numbers start with 1).
pub const FIRST_NEW: u64 = super::MAX_ENTERPRISES;

#[derive(Debug, Clone, Default)]
pub struct Timeline {
    pub days: u32,
    /// Enterprise index → its changes, in day order.
    changes: HashMap<u64, Vec<(u32, Change)>>,
    /// Enterprises created during the period: index (from [`FIRST_NEW`]) and day.
    created: Vec<(u64, u32)>,
}

impl Timeline {
    /// No changes: the Full extract only.
    pub fn none() -> Timeline {
        Timeline::default()
    }

    pub fn new(seed: u64, enterprises: u64, days: u32) -> Timeline {
        let mut t = Timeline {
            days,
            ..Timeline::default()
        };
        let mut stopped: HashMap<u64, u32> = HashMap::new();
        for day in 1..=days {
            let mut rng = Rng::new(seed ^ 0x7469_6d65_6c69_6e65, u64::from(day));
            for &(per_2m, kind) in DAILY_PER_2M {
                let count = (per_2m * enterprises).div_ceil(2_000_000).max(1);
                for _ in 0..count {
                    if let Kind::Created = kind {
                        let i = FIRST_NEW + t.created.len() as u64;
                        t.created.push((i, day));
                        t.changes.entry(i).or_default().push((day, Change::Created));
                        continue;
                    }
                    if enterprises == 0 {
                        continue;
                    }
                    // An enterprise that has stopped does not change any more; retry a few times.
                    let Some(i) = (0..8)
                        .map(|_| rng.below(enterprises))
                        .find(|i| !stopped.contains_key(i))
                    else {
                        continue;
                    };
                    let change = match kind {
                        Kind::Created => continue,
                        Kind::Stopped => {
                            stopped.insert(i, day);
                            Change::Stopped {
                                cascade: !rng.chance(0.3),
                            }
                        }
                        Kind::Renamed => Change::Renamed,
                        Kind::SeatMoved => Change::SeatMoved,
                        Kind::SeatStruckOff => Change::SeatStruckOff,
                        Kind::NaceChanged => Change::NaceChanged,
                        Kind::Situation => Change::Situation(rng.weighted::<&str>(SITUATIONS)),
                        Kind::Form => Change::Form(rng.weighted::<&str>(FORMS)),
                        Kind::EstablishmentOpened => Change::EstablishmentOpened,
                        Kind::EstablishmentClosed => Change::EstablishmentClosed,
                    };
                    t.changes.entry(i).or_default().push((day, change));
                }
            }
        }
        t
    }

    /// Enterprise `i`'s state on `day`.
    pub fn state(&self, i: u64, day: u32) -> State {
        let mut s = State::default();
        let Some(changes) = self.changes.get(&i) else {
            return s;
        };
        for &(d, c) in changes.iter().filter(|(d, _)| *d <= day) {
            match c {
                Change::Created => s.created = Some(d),
                Change::Stopped { .. } => s.stopped = true,
                Change::Renamed => s.renamed = Some(d),
                Change::SeatMoved => s.seat_moved = Some(d),
                Change::SeatStruckOff => s.struck_off = Some(d),
                Change::NaceChanged => s.nace = Some(d),
                Change::Situation(x) => s.situation = Some(x),
                Change::Form(x) => s.form = Some(x),
                Change::EstablishmentOpened => s.opened.push(d),
                Change::EstablishmentClosed => s.closed += 1,
            }
        }
        // Not yet registered on this day.
        if self.created.iter().any(|&(j, d)| j == i && d > day) {
            s.stopped = true;
        }
        s
    }

    /// Whether enterprise `i`'s rows exist on `day`.
    pub fn exists(&self, i: u64, day: u32) -> bool {
        match self.changes.get(&i) {
            None => i < FIRST_NEW,
            Some(cs) => {
                let created = cs.iter().find(|(_, c)| *c == Change::Created).map(|x| x.0);
                let stopped = cs
                    .iter()
                    .find(|(_, c)| matches!(c, Change::Stopped { .. }))
                    .map(|x| x.0);
                created.is_none_or(|d| d <= day) && stopped.is_none_or(|d| d > day)
            }
        }
    }

    /// Enterprises created up to `day` (indices from [`FIRST_NEW`], in creation order).
    pub fn created_by(&self, day: u32) -> impl Iterator<Item = u64> + '_ {
        self.created
            .iter()
            .filter(move |(_, d)| *d <= day)
            .map(|(i, _)| *i)
    }

    /// Enterprises touched on `day`, sorted, and whether each stop cascades.
    pub fn touched_on(&self, day: u32) -> Vec<(u64, bool)> {
        let mut v: Vec<(u64, bool)> = self
            .changes
            .iter()
            .filter_map(|(i, cs)| {
                let today: Vec<_> = cs.iter().filter(|(d, _)| *d == day).collect();
                (!today.is_empty()).then(|| {
                    let cascade = !today
                        .iter()
                        .any(|(_, c)| *c == Change::Stopped { cascade: false });
                    (*i, cascade)
                })
            })
            .collect();
        v.sort_unstable();
        v
    }
}

/// What has happened to one enterprise up to a day: the overrides the renderer applies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    pub created: Option<u32>,
    pub stopped: bool,
    pub renamed: Option<u32>,
    pub seat_moved: Option<u32>,
    pub struck_off: Option<u32>,
    pub nace: Option<u32>,
    pub situation: Option<&'static str>,
    pub form: Option<&'static str>,
    /// Days on which establishments opened.
    pub opened: Vec<u32>,
    /// How many establishments closed.
    pub closed: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_is_deterministic_and_prefix_stable() {
        let a = Timeline::new(5, 10_000, 3);
        let b = Timeline::new(5, 10_000, 5);
        for day in 1..=3 {
            assert_eq!(a.touched_on(day), b.touched_on(day));
        }
        assert!(!a.touched_on(1).is_empty());
        assert_eq!(a.created_by(3).count(), 3);
    }

    #[test]
    fn stopped_enterprises_disappear_and_new_ones_appear() {
        let t = Timeline::new(9, 1000, 4);
        let (i, d) = t
            .changes
            .iter()
            .find_map(|(i, cs)| {
                cs.iter()
                    .find(|(_, c)| matches!(c, Change::Stopped { .. }))
                    .map(|(d, _)| (*i, *d))
            })
            .unwrap();
        assert!(t.exists(i, d - 1) && !t.exists(i, d));
        let new = t.created_by(1).next().unwrap();
        assert!(!t.exists(new, 0) && t.exists(new, 1));
        assert!(t.state(new, 0).stopped);
    }
}

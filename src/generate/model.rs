//! One synthetic enterprise with its establishments, branches, names, addresses, contacts and
//! activities, rendered as KBO CSV rows. Shares follow kbo-open-data.md "Real sizes":
//! per enterprise 0.86 establishments, 1.71 denominations, 1.47 addresses, 0.36 contacts,
//! 18.7 activities, 0.004 branches; 40 % natural persons without an address.

use super::rng::Rng;
use super::timeline::{State, Timeline, FIRST_NEW};
use super::words::*;
use crate::kbo::{date, number};

/// Codes drawn from code.csv.
pub struct Catalog {
    /// NACE codes of 5 and 7 digits for 2003, 2008, 2025.
    pub nace: [Vec<String>; 3],
    pub juridical_forms: Vec<String>,
}

impl Catalog {
    pub fn from_code_csv(bytes: &[u8]) -> Catalog {
        let mut nace: [Vec<String>; 3] = Default::default();
        let mut forms = Vec::new();
        let mut rdr = csv::Reader::from_reader(bytes);
        for rec in rdr.records().flatten() {
            let (Some(cat), Some(code), Some(lang)) = (rec.get(0), rec.get(1), rec.get(2)) else {
                continue;
            };
            if lang != "FR" {
                continue;
            }
            let slot = match cat {
                "Nace2003" => Some(0),
                "Nace2008" => Some(1),
                "Nace2025" => Some(2),
                "JuridicalForm" => {
                    forms.push(code.to_string());
                    None
                }
                _ => None,
            };
            if let Some(s) = slot {
                if code.len() == 5 || code.len() == 7 {
                    nace[s].push(code.to_string());
                }
            }
        }
        Catalog {
            nace,
            juridical_forms: forms,
        }
    }
}

pub fn header(file: &str) -> String {
    let h = match file {
        "enterprise.csv" => {
            r#""EnterpriseNumber","Status","JuridicalSituation","TypeOfEnterprise","JuridicalForm","JuridicalFormCAC","StartDate""#
        }
        "establishment.csv" => r#""EstablishmentNumber","StartDate","EnterpriseNumber""#,
        "denomination.csv" => r#""EntityNumber","Language","TypeOfDenomination","Denomination""#,
        "address.csv" => {
            r#""EntityNumber","TypeOfAddress","CountryNL","CountryFR","Zipcode","MunicipalityNL","MunicipalityFR","StreetNL","StreetFR","HouseNumber","Box","ExtraAddressInfo","DateStrikingOff""#
        }
        "contact.csv" => r#""EntityNumber","EntityContact","ContactType","Value""#,
        "activity.csv" => {
            r#""EntityNumber","ActivityGroup","NaceVersion","NaceCode","Classification""#
        }
        _ => r#""Id","StartDate","EnterpriseNumber""#,
    };
    format!("{h}\n")
}

/// The rows of a block of enterprises, one buffer per file in [`super::FILES`] order.
pub struct BlockOut {
    /// The seven data files, then filings.csv.
    pub files: [Vec<u8>; 8],
    pub enterprises: u64,
}

const ENT: usize = 0;
const EST: usize = 1;
const DEN: usize = 2;
const ADR: usize = 3;
const CON: usize = 4;
const ACT: usize = 5;
const BRA: usize = 6;
const FIL: usize = 7;

/// Row writer: text fields quoted (embedded quotes doubled), dates unquoted, NULL text as `""`
/// and NULL dates as nothing — both NULL forms of the real files.
struct Row<'a>(&'a mut Vec<u8>, bool);

impl<'a> Row<'a> {
    fn new(buf: &'a mut Vec<u8>) -> Self {
        Row(buf, true)
    }
    fn sep(&mut self) {
        if !self.1 {
            self.0.push(b',');
        }
        self.1 = false;
    }
    fn q(mut self, s: &str) -> Self {
        self.sep();
        self.0.push(b'"');
        for &b in s.as_bytes() {
            if b == b'"' {
                self.0.push(b'"');
            }
            self.0.push(b);
        }
        self.0.push(b'"');
        self
    }
    fn date(mut self, d: Option<i32>) -> Self {
        self.sep();
        if let Some(d) = d {
            self.0.extend_from_slice(date::format_dmy(d).as_bytes());
        }
        self
    }
    fn end(self) {
        self.0.push(b'\n');
    }
}

/// Enterprise i's 10-digit number: mostly 0200.000.000–0999.999.999 (scrambled), every 20th one a
/// number starting with 1 (issued since 2023).
pub fn enterprise_number(i: u64) -> u64 {
    let base = if i >= FIRST_NEW {
        // Registered after the Full extract: after every number of the base population.
        10_400_000 + (i - FIRST_NEW)
    } else if i % 20 == 19 {
        10_000_000 + i / 20
    } else {
        2_000_000 + (i * 2_654_435_761) % 8_000_000
    };
    number::with_check_digits(base as u32)
}

pub fn establishment_number(i: u64, k: u64) -> u64 {
    number::with_check_digits((20_000_000 + i * 8 + k) as u32)
}

pub fn branch_number(i: u64) -> u64 {
    number::with_check_digits((90_000_000 + i) as u32)
}

const SITUATIONS: &[(f64, &str)] = &[
    (92.0, "000"),
    (2.4, "012"),
    (0.6, "010"),
    (0.3, "013"),
    (1.0, "050"),
    (0.2, "048"),
    (0.1, "049"),
    (0.4, "091"),
    (0.1, "040"),
    (1.2, "090"),
    (0.8, "100"),
    (0.4, "020"),
    (0.3, "021"),
    (0.2, "001"),
];

const FORMS: &[(f64, &str)] = &[
    (36.0, "610"),
    (14.0, "014"),
    (10.0, "015"),
    (13.0, "017"),
    (3.0, "706"),
    (2.0, "030"),
    (1.5, "008"),
    (1.5, "011"),
];

fn pick_form(rng: &mut Rng, cat: &Catalog) -> String {
    if rng.chance(0.19) && !cat.juridical_forms.is_empty() {
        return rng.pick(&cat.juridical_forms).clone();
    }
    rng.weighted(FORMS).to_string()
}

fn company_name(rng: &mut Rng, lang: u8) -> String {
    if rng.chance(0.03) {
        return rng.pick(TRICKY_NAMES).to_string();
    }
    let word = match lang {
        1 => rng.pick(COMPANY_WORDS_FR),
        3 => rng.pick(COMPANY_WORDS_DE),
        _ => rng.pick(COMPANY_WORDS_NL),
    };
    format!(
        "{word} {} {}",
        rng.pick(LAST_NAMES),
        rng.pick(COMPANY_TAILS)
    )
}

fn person_name(rng: &mut Rng) -> String {
    format!("{}, {}", rng.pick(LAST_NAMES), rng.pick(FIRST_NAMES))
}

struct Place {
    zip: &'static str,
    mun_nl: &'static str,
    mun_fr: &'static str,
    lang: u8,
}

fn place(rng: &mut Rng) -> Place {
    let m = rng.pick(MUNICIPALITIES);
    Place {
        zip: m.0,
        mun_nl: m.1,
        mun_fr: m.2,
        lang: m.3,
    }
}

fn address(
    buf: &mut Vec<u8>,
    rng: &mut Rng,
    entity: &str,
    kind: &str,
    p: &Place,
    struck_off: Option<i32>,
) {
    let (nl, fr) = match p.lang {
        1 => {
            let s = *rng.pick(STREETS_FR);
            (s, s)
        }
        3 => {
            let s = *rng.pick(STREETS_DE);
            (s, s)
        }
        _ => {
            let s = *rng.pick(STREETS_NL);
            (s, s)
        }
    };
    // Brussels streets have both names.
    let fr = if p.zip.starts_with('1') && p.zip < "1300" {
        *rng.pick(STREETS_FR)
    } else {
        fr
    };
    let house = (1 + rng.below(250)).to_string();
    let boxno = if rng.chance(0.15) {
        (1 + rng.below(30)).to_string()
    } else {
        String::new()
    };
    let extra = if rng.chance(0.01) {
        "Bâtiment B, 2e étage"
    } else {
        ""
    };
    Row::new(buf)
        .q(entity)
        .q(kind)
        .q("")
        .q("")
        .q(p.zip)
        .q(p.mun_nl)
        .q(p.mun_fr)
        .q(nl)
        .q(fr)
        .q(&house)
        .q(&boxno)
        .q(extra)
        .date(struck_off)
        .end();
}

/// NACE rows of one entity: each activity line under group 003 (and 001 VAT / 006 employer for
/// some), in NACE 2025 and 2008, and 2003 for older entities.
fn activities(
    buf: &mut Vec<u8>,
    rng: &mut Rng,
    cat: &Catalog,
    entity: &str,
    old: bool,
    vat: bool,
    employer: bool,
) {
    let mains = 1 + rng.poisson(1.85);
    let secos = rng.poisson(0.72);
    for k in 0..mains + secos {
        let class = if k < mains {
            if rng.chance(0.0002) {
                "ANCI"
            } else {
                "MAIN"
            }
        } else {
            "SECO"
        };
        let c2025 = rng.pick(&cat.nace[2]).clone();
        let c2008 = rng.pick(&cat.nace[1]).clone();
        let c2003 = rng.pick(&cat.nace[0]).clone();
        let mut groups: Vec<&str> = vec!["003"];
        if vat && rng.chance(0.55) {
            groups.push("001");
        }
        if employer && rng.chance(0.5) {
            groups.push("006");
        }
        for g in groups {
            Row::new(buf)
                .q(entity)
                .q(g)
                .q("2025")
                .q(&c2025)
                .q(class)
                .end();
            Row::new(buf)
                .q(entity)
                .q(g)
                .q("2008")
                .q(&c2008)
                .q(class)
                .end();
            if old && rng.chance(0.65) {
                Row::new(buf)
                    .q(entity)
                    .q(g)
                    .q("2003")
                    .q(&c2003)
                    .q(class)
                    .end();
            }
        }
    }
}

fn contacts(buf: &mut Vec<u8>, rng: &mut Rng, entity: &str, kind: &str, name: &str, p: f64) {
    let slug: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(16)
        .collect::<String>()
        .to_ascii_lowercase();
    let slug = if slug.is_empty() {
        "info".to_string()
    } else {
        slug
    };
    if rng.chance(p * 0.37) {
        let tel = format!("0{}{:07}", 2 + rng.below(8), rng.below(10_000_000));
        Row::new(buf).q(entity).q(kind).q("TEL").q(&tel).end();
    }
    if rng.chance(p * 0.37) {
        Row::new(buf)
            .q(entity)
            .q(kind)
            .q("EMAIL")
            .q(&format!("info@{slug}.be"))
            .end();
    }
    if rng.chance(p * 0.22) {
        Row::new(buf)
            .q(entity)
            .q(kind)
            .q("WEB")
            .q(&format!("www.{slug}.be"))
            .end();
    }
    if rng.chance(p * 0.03) {
        let fax = format!("0{}{:07}", 2 + rng.below(8), rng.below(10_000_000));
        Row::new(buf).q(entity).q(kind).q("FAX").q(&fax).end();
    }
}

/// Generates the enterprises of `indices` as they are on `day` (each from its own stream, so blocks
/// can run in any order); with a filings horizon, also their annual-account deposits (day-independent).
pub fn block(
    cat: &Catalog,
    seed: u64,
    indices: impl Iterator<Item = u64>,
    snapshot: i32,
    timeline: &Timeline,
    day: u32,
    filings_horizon: Option<i32>,
) -> BlockOut {
    let mut f: [Vec<u8>; 8] = Default::default();
    let mut n = 0;
    let mut scratch = Vec::new();
    for i in indices {
        n += 1;
        if !timeline.exists(i, day) {
            continue;
        }
        let st = timeline.state(i, day);
        let base = enterprise(&mut f, &mut scratch, cat, seed, i, snapshot, &st);
        if let Some(horizon) = filings_horizon {
            super::filings::deposits(&mut f[FIL], seed, i, &base, snapshot, horizon);
        }
    }
    BlockOut {
        files: f,
        enterprises: n,
    }
}

/// What the filings need to know about an enterprise as first generated.
pub struct Base {
    pub number: String,
    pub natural: bool,
    pub form: String,
    pub start: i32,
}

/// A stream for one enterprise's change on one day, independent of its main stream.
fn change_rng(seed: u64, salt: u64, day: u32, i: u64) -> Rng {
    Rng::new(
        seed ^ salt.wrapping_mul(0x1000_0000_01b3) ^ u64::from(day) << 40,
        i,
    )
}

const SALT_NAME: u64 = 1;
const SALT_SEAT: u64 = 2;
const SALT_NACE: u64 = 3;
const SALT_EST: u64 = 4;
const SALT_NEW: u64 = 5;

/// Renders enterprise `i` in state `st` into the file buffers. The main stream `rng` is consumed
/// exactly as for the unchanged enterprise (overridden parts are drawn into `scratch` and dropped),
/// so a change touches only the rows it is about.
fn enterprise(
    f: &mut [Vec<u8>; 8],
    scratch: &mut Vec<u8>,
    cat: &Catalog,
    seed: u64,
    i: u64,
    snapshot: i32,
    st: &State,
) -> Base {
    let d1900 = date::days_from_civil(1900, 1, 1);
    let d2008 = date::days_from_civil(2008, 1, 1);
    let d2023 = date::days_from_civil(2023, 1, 1);
    let mut rng = Rng::new(seed, i);
    let num = enterprise_number(i);
    let ent = number::display(num);
    let natural = rng.chance(0.40);
    let start = if let Some(d) = st.created {
        snapshot + d as i32 - change_rng(seed, SALT_NEW, d, i).below(3) as i32
    } else if num >= 1_000_000_000 {
        d2023 + rng.below((snapshot - d2023).max(1) as u64) as i32
    } else if rng.chance(0.003) {
        snapshot + 1 + rng.below(5) as i32 // registered ahead of its start
    } else {
        let age = (-(1.0 - rng.unit()).ln() * 15.0 * 365.25) as i32;
        (snapshot - age).max(d1900 + rng.below(3650) as i32)
    };
    let drawn_situation = *rng.weighted(SITUATIONS);
    let situation = match st.situation {
        // A natural person can go bankrupt or recover, not be liquidated or reorganised.
        Some(s) if !natural || s == "050" || s == "000" => s,
        _ if st.created.is_some() => "000",
        _ => drawn_situation,
    };
    let (base_form, form, cac) = if natural {
        (String::new(), String::new(), "")
    } else {
        let base_form = pick_form(&mut rng, cat);
        let form = st.form.map(str::to_string).unwrap_or(base_form.clone());
        let cac = match form.as_str() {
            "015" => "610",
            "008" => "706",
            _ => "",
        };
        (base_form, form, cac)
    };
    Row::new(&mut f[ENT])
        .q(&ent)
        .q("AC")
        .q(situation)
        .q(if natural { "1" } else { "2" })
        .q(&form)
        .q(cac)
        .date(Some(start))
        .end();

    let seat = place(&mut rng);
    let lang = if rng.chance(0.03) { 0 } else { seat.lang };
    let lang_code = lang.to_string();
    let drawn_name = if natural {
        person_name(&mut rng)
    } else {
        company_name(&mut rng, seat.lang)
    };
    let name = match st.renamed {
        Some(d) if natural => person_name(&mut change_rng(seed, SALT_NAME, d, i)),
        Some(d) => company_name(&mut change_rng(seed, SALT_NAME, d, i), seat.lang),
        None => drawn_name.clone(),
    };
    Row::new(&mut f[DEN])
        .q(&ent)
        .q(&lang_code)
        .q("001")
        .q(&name)
        .end();
    if !natural && seat.zip < "1300" && rng.chance(0.5) {
        // Brussels: the name in the other language too.
        let other = if seat.lang == 1 { "2" } else { "1" };
        Row::new(&mut f[DEN])
            .q(&ent)
            .q(other)
            .q("001")
            .q(&company_name(&mut rng, 2))
            .end();
    }
    if !natural && rng.chance(0.18) {
        let abbr: String = name
            .split_whitespace()
            .filter_map(|w| w.chars().next())
            .collect();
        Row::new(&mut f[DEN])
            .q(&ent)
            .q(&lang_code)
            .q("002")
            .q(&abbr)
            .end();
    }
    if rng.chance(0.22) {
        Row::new(&mut f[DEN])
            .q(&ent)
            .q(&lang_code)
            .q("003")
            .q(&company_name(&mut rng, seat.lang))
            .end();
    }
    if !natural {
        let drawn_struck = rng.chance(0.012).then(|| snapshot - rng.below(2000) as i32);
        // A move after a striking-off gives a live address again.
        let struck = match (st.struck_off, st.seat_moved) {
            (Some(s), m) if m.is_none_or(|m| m <= s) => Some(snapshot + s as i32),
            (_, Some(_)) => None,
            _ => drawn_struck,
        };
        match st.seat_moved {
            None => address(&mut f[ADR], &mut rng, &ent, "REGO", &seat, struck),
            Some(d) => {
                address(scratch, &mut rng, &ent, "REGO", &seat, struck);
                let mut r = change_rng(seed, SALT_SEAT, d, i);
                let p = place(&mut r);
                address(&mut f[ADR], &mut r, &ent, "REGO", &p, struck);
            }
        }
    }
    let employer = !natural && rng.chance(0.25);
    let vat = rng.chance(0.5);
    let old = start < d2008;
    match st.nace {
        None => activities(&mut f[ACT], &mut rng, cat, &ent, old, vat, employer),
        Some(d) => {
            activities(scratch, &mut rng, cat, &ent, old, vat, employer);
            let mut r = change_rng(seed, SALT_NACE, d, i);
            activities(&mut f[ACT], &mut r, cat, &ent, old, vat, employer);
        }
    }
    contacts(
        &mut f[CON],
        &mut rng,
        &ent,
        "ENT",
        &drawn_name,
        if natural { 0.1 } else { 0.48 },
    );

    let n_est = *rng.weighted(&[(37.0, 0u64), (52.0, 1), (6.5, 2), (2.7, 3), (1.8, 6)]);
    // Closures take the most recent units first.
    let open = n_est.saturating_sub(u64::from(st.closed));
    for k in 0..n_est {
        let e = number::display(establishment_number(i, k));
        let est_start = start + rng.below(((snapshot - start).max(0) + 1) as u64) as i32;
        let p = if k == 0 && !natural {
            Place {
                ..seat_clone(&seat)
            }
        } else {
            place(&mut rng)
        };
        let mut out = if k < open {
            EstOut::Files(&mut *f)
        } else {
            scratch.clear();
            EstOut::Scratch(scratch)
        };
        establishment(
            &mut out,
            &mut rng,
            cat,
            &ent,
            &e,
            est_start,
            &p,
            &lang_code,
            vat,
            employer,
            &drawn_name,
        );
    }
    // Units opened after the Full extract: slots 6 and 7 (the base draws at most 6).
    for (slot, &d) in (6..8).zip(&st.opened) {
        let mut r = change_rng(seed, SALT_EST, d, i);
        let e = number::display(establishment_number(i, slot));
        let p = place(&mut r);
        establishment(
            &mut EstOut::Files(&mut *f),
            &mut r,
            cat,
            &ent,
            &e,
            snapshot + d as i32,
            &p,
            &lang_code,
            vat,
            employer,
            &drawn_name,
        );
    }
    if form == "030" && rng.chance(0.3) || rng.chance(0.0005) {
        let b = number::display(branch_number(i));
        let b_start = start + rng.below(((snapshot - start).max(0) + 1) as u64) as i32;
        Row::new(&mut f[BRA])
            .q(&b)
            .date(Some(b_start))
            .q(&ent)
            .end();
        Row::new(&mut f[DEN])
            .q(&b)
            .q(&lang_code)
            .q("004")
            .q(&format!("{name} (Belgian branch)"))
            .end();
        let p = place(&mut rng);
        address(&mut f[ADR], &mut rng, &b, "ABBR", &p, None);
    }
    scratch.clear();
    Base {
        number: ent,
        natural,
        form: base_form,
        start,
    }
}

/// Where an establishment's rows go: the files, or a scratch buffer for a closed unit (its random
/// draws still happen, so the enterprise's other rows stay the same).
enum EstOut<'a> {
    Files(&'a mut [Vec<u8>; 8]),
    Scratch(&'a mut Vec<u8>),
}

impl EstOut<'_> {
    fn buf(&mut self, file: usize) -> &mut Vec<u8> {
        match self {
            EstOut::Files(f) => &mut f[file],
            EstOut::Scratch(s) => s,
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn establishment(
    out: &mut EstOut,
    rng: &mut Rng,
    cat: &Catalog,
    ent: &str,
    e: &str,
    est_start: i32,
    p: &Place,
    lang_code: &str,
    vat: bool,
    employer: bool,
    contact_name: &str,
) {
    let d2008 = date::days_from_civil(2008, 1, 1);
    Row::new(out.buf(EST))
        .q(e)
        .date(Some(est_start))
        .q(ent)
        .end();
    address(out.buf(ADR), rng, e, "BAET", p, None);
    if rng.chance(0.33) {
        Row::new(out.buf(DEN))
            .q(e)
            .q(lang_code)
            .q("003")
            .q(&company_name(rng, p.lang))
            .end();
    }
    activities(out.buf(ACT), rng, cat, e, est_start < d2008, vat, employer);
    contacts(out.buf(CON), rng, e, "EST", contact_name, 0.04);
}

fn seat_clone(p: &Place) -> Place {
    Place {
        zip: p.zip,
        mun_nl: p.mun_nl,
        mun_fr: p.mun_fr,
        lang: p.lang,
    }
}

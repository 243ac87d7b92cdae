//! Payment-risk scores through the real binary: hand-made companies for each rule and each floor
//! with exact expected scores and reasons, the category boundaries, register-only scoring, the
//! event rules over several snapshots (window, caps, stopped enterprises), determinism, `bce score
//! explain`, and a plausible distribution on a generated extract with filings.

mod common;
use common::*;
use std::path::{Path, PathBuf};

/// One enterprise of a hand-made extract.
struct Co {
    n: String,
    situation: &'static str,
    /// TypeOfEnterprise: "1" natural person, "2" legal person.
    kind: &'static str,
    form: &'static str,
    start: &'static str,
    nace: &'static str,
    name: String,
    /// (zipcode, municipality, date struck off)
    seat: Option<(&'static str, &'static str, &'static str)>,
    establishments: Vec<String>,
}

fn co(
    base: u32,
    kind: &'static str,
    form: &'static str,
    start: &'static str,
    nace: &'static str,
) -> Co {
    Co {
        n: ent(base),
        situation: "000",
        kind,
        form,
        start,
        nace,
        name: format!("Company {base}"),
        seat: Some(("9000", "Gent", "")),
        establishments: Vec::new(),
    }
}

fn extract(dir: &Path, number: u32, date: &str, cos: &[&Co]) -> PathBuf {
    let (mut e, mut est, mut d, mut a, mut act) = (
        ENT_H.to_string(),
        EST_H.to_string(),
        DEN_H.to_string(),
        ADR_H.to_string(),
        ACT_H.to_string(),
    );
    for c in cos {
        e.push_str(&format!(
            "\"{}\",\"AC\",\"{}\",\"{}\",\"{}\",\"\",{}\n",
            c.n, c.situation, c.kind, c.form, c.start
        ));
        d.push_str(&den(&c.n, &c.name));
        if let Some((zip, city, struck)) = c.seat {
            a.push_str(&format!(
                "\"{}\",\"REGO\",\"\",\"\",\"{zip}\",\"{city}\",\"{city}\",\"Kerkstraat\",\"Kerkstraat\",\"1\",\"\",\"\",{struck}\n",
                c.n
            ));
        }
        act.push_str(&act_row(&c.n, c.nace));
        for x in &c.establishments {
            est.push_str(&format!("\"{x}\",01-01-2015,\"{}\"\n", c.n));
        }
    }
    let f = files(
        number,
        date,
        "full",
        &[
            ("enterprise.csv", e),
            ("establishment.csv", est),
            ("branch.csv", BRA_H.to_string()),
            ("denomination.csv", d),
            ("address.csv", a),
            ("contact.csv", CON_H.to_string()),
            ("activity.csv", act),
        ],
    );
    write_folder(&dir.join(format!("x{number}")), &f)
}

fn act_row(n: &str, code: &str) -> String {
    act(n, code)
}

/// `bce run EXTRACT --out OUT --filings FILINGS`: (exit code, stdout, stderr).
fn run_with_filings(x: &Path, out: &Path, filings: &Path) -> (i32, String, String) {
    run_extract(x, out, &["--filings", filings.to_str().unwrap()])
}

const FILINGS_H: &str = "\"EnterpriseNumber\",\"DepositDate\",\"FiscalYearEnd\",\"Model\",\"Equity\",\"TotalAssets\",\"ProfitLoss\",\"Employees\",\"CurrentAssets\",\"ShortTermDebt\"\n";

/// A deposit: number, deposit date, fiscal year end, equity, total assets, profit/loss, employees
/// (empty = not reported), current assets, short-term debt.
#[allow(clippy::too_many_arguments)]
fn dep(
    n: &str,
    deposit: &str,
    fye: &str,
    equity: i64,
    assets: i64,
    pl: i64,
    emp: &str,
    ca: i64,
    std: i64,
) -> String {
    format!("\"{n}\",{deposit},{fye},\"MIC\",{equity},{assets},{pl},{emp},{ca},{std}\n")
}

/// Healthy accounts (60 FTE, solvent, profitable, liquid) for one fiscal year.
fn good(n: &str, deposit: &str, fye: &str) -> String {
    dep(
        n, deposit, fye, 500_000, 1_000_000, 10_000, "60.0", 300_000, 100_000,
    )
}

/// Healthy accounts for 2023 and 2024, deposited on time.
fn healthy(n: &str) -> String {
    good(n, "15-05-2025", "31-12-2024") + &good(n, "10-05-2024", "31-12-2023")
}

/// (enterprise, score, category, data_completeness, "CODE points, CODE points, …") from the
/// warehouse, by enterprise number.
fn scores(out: &Path) -> Vec<(String, i32, String, String, String)> {
    query(
        &out.join("warehouse.duckdb"),
        "SELECT enterprise_number, score, category, data_completeness,
                coalesce(array_to_string(list_transform(reasons, r -> r.code || ' ' || r.points), ', '), '')
         FROM payment_risk ORDER BY enterprise_number",
    )
    .into_iter()
    .map(|r| {
        (
            r[0].clone(),
            r[1].parse().unwrap(),
            r[2].clone(),
            r[3].clone(),
            r[4].clone(),
        )
    })
    .collect()
}

fn get<'a>(
    s: &'a [(String, i32, String, String, String)],
    n: &str,
) -> &'a (String, i32, String, String, String) {
    s.iter()
        .find(|r| r.0 == n)
        .unwrap_or_else(|| panic!("{n} not scored"))
}

fn expect(
    s: &[(String, i32, String, String, String)],
    c: &Co,
    score: i32,
    category: &str,
    reasons: &str,
) {
    let r = get(s, &c.n);
    assert_eq!(
        (r.1, r.2.as_str(), r.4.as_str()),
        (score, category, reasons),
        "{} ({})",
        c.name,
        c.n
    );
}

#[test]
fn each_rule_and_floor_gives_its_exact_points() {
    let tmp = tempfile::tempdir().unwrap();
    let named = |mut c: Co, name: &str| {
        c.name = name.to_string();
        c
    };
    let clean = named(co(5_000_001, "2", "610", "01-01-2000", "62100"), "clean");
    let p24 = named(co(5_000_002, "1", "", "01-06-2024", "41001"), "p24");
    let p25 = named(co(5_000_003, "1", "", "01-03-2025", "47110"), "p25");
    let c49 = named(co(5_000_004, "2", "610", "01-01-2010", "49410"), "c49");
    let c50 = named(co(5_000_005, "2", "610", "01-01-2010", "41001"), "c50");
    let mut c74 = named(co(5_000_006, "2", "610", "01-01-2010", "49410"), "c74");
    c74.situation = "020";
    let mut c75 = named(co(5_000_007, "2", "610", "01-01-2010", "41001"), "c75");
    c75.situation = "020";
    let mut bank = named(co(5_000_008, "2", "610", "01-01-2000", "62100"), "bankrupt");
    bank.situation = "050";
    let mut liq = named(
        co(5_000_009, "2", "610", "01-01-2000", "62100"),
        "liquidation",
    );
    liq.situation = "012";
    let mut reorg = named(
        co(5_000_010, "2", "610", "01-01-2000", "62100"),
        "reorganisation",
    );
    reorg.situation = "091";
    let late = named(co(5_000_011, "2", "610", "01-01-2000", "62100"), "late");
    let very_late = named(
        co(5_000_012, "2", "610", "01-01-2000", "62100"),
        "very late",
    );
    let vof = named(co(5_000_013, "2", "011", "01-01-2000", "62100"), "vof");
    let natural = named(co(5_000_014, "1", "", "01-01-2000", "62100"), "natural");
    let fin = named(
        co(5_000_015, "2", "610", "01-01-2000", "62100"),
        "financials",
    );
    let future = named(co(5_000_016, "2", "610", "20-10-2025", "62100"), "future");
    let mut unknown = named(
        co(5_000_017, "1", "", "01-01-2000", "62100"),
        "unknown situation",
    );
    unknown.situation = "777";
    let no_accounts = named(
        co(5_000_018, "2", "014", "01-01-2000", "62100"),
        "no accounts",
    );
    let partial = named(co(5_000_019, "2", "610", "01-01-2000", "62100"), "partial");
    let all = [
        &clean,
        &p24,
        &p25,
        &c49,
        &c50,
        &c74,
        &c75,
        &bank,
        &liq,
        &reorg,
        &late,
        &very_late,
        &vof,
        &natural,
        &fin,
        &future,
        &unknown,
        &no_accounts,
        &partial,
    ];
    let x = extract(tmp.path(), 147, "11-10-2025", &all);
    // Filings: the clean company's 2023 accounts under its VAT number (normalised); one bad row.
    let mut filings = FILINGS_H.to_string();
    filings += &good(&clean.n, "15-05-2025", "31-12-2024");
    filings += &dep(
        &format!("BE{}", clean.n.replace('.', "")),
        "10-05-2024",
        "31-12-2023",
        480_000,
        950_000,
        12_000,
        "58.0",
        290_000,
        100_000,
    );
    for c in [&bank, &liq, &reorg] {
        filings += &healthy(&c.n);
    }
    for c in [&c49, &c50] {
        filings += &dep(
            &c.n,
            "01-06-2024",
            "31-12-2023",
            -10_000,
            200_000,
            5_000,
            "3.0",
            100_000,
            50_000,
        );
    }
    for c in [&c74, &c75] {
        filings += &dep(
            &c.n,
            "01-06-2023",
            "31-12-2022",
            -5_000,
            100_000,
            1_000,
            "2.0",
            50_000,
            10_000,
        );
    }
    filings += &good(&late.n, "20-08-2025", "31-12-2024");
    filings += &good(&very_late.n, "05-10-2025", "31-12-2024");
    filings += "\"0200.065.765\",31-02-2025,31-12-2024,\"MIC\",1,1,1,1,1,1\n";
    filings += &dep(
        &fin.n,
        "15-05-2025",
        "31-12-2024",
        5_000,
        100_000,
        -2_000,
        "10.0",
        10_000,
        50_000,
    );
    filings += &dep(
        &fin.n,
        "15-05-2024",
        "31-12-2023",
        7_000,
        100_000,
        -1_000,
        "10.0",
        10_000,
        50_000,
    );
    // A deposit after the snapshot date is not known yet.
    filings += &good(&no_accounts.n, "20-10-2025", "31-12-2024");
    // Figures left empty are not reported: the row still counts, with the loss it gives.
    filings += &format!(
        "\"{}\",15-05-2025,31-12-2024,\"MIC\",,,-5000,60.0,,\n",
        partial.n
    );
    let fpath = tmp.path().join("filings.csv");
    std::fs::write(&fpath, filings).unwrap();

    let out = tmp.path().join("w");
    let (code, stdout, stderr) = run_with_filings(&x, &out, &fpath);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("payment risk (19 scored)"), "{stdout}");
    assert!(stdout.contains("filings: 1 rows skipped"), "{stdout}");
    assert!(
        stderr.contains("filings row skipped") && stderr.contains("line=16"),
        "the bad filings row is named by its line: {stderr}"
    );
    let s = scores(&out);
    assert_eq!(s.len(), 19);
    expect(&s, &clean, 0, "low", "");
    expect(&s, &partial, 5, "low", "FIN_LOSS 5");
    assert_eq!(get(&s, &clean.n).3, "register_and_accounts");
    // Category boundaries: 24/25, 49/50, 74/75.
    expect(
        &s,
        &p24,
        24,
        "low",
        "AGE_1_2Y 12, SECTOR_F 6, SIZE_NO_EMPLOYEES 6",
    );
    expect(
        &s,
        &p25,
        25,
        "moderate",
        "AGE_LT_1Y 15, SIZE_NO_EMPLOYEES 6, SECTOR_G 4",
    );
    expect(
        &s,
        &c49,
        49,
        "moderate",
        "ACC_MISSING 20, FIN_NEGATIVE_EQUITY 20, SECTOR_H 5, SIZE_LT_5_FTE 4",
    );
    expect(
        &s,
        &c50,
        50,
        "high",
        "ACC_MISSING 20, FIN_NEGATIVE_EQUITY 20, SECTOR_F 6, SIZE_LT_5_FTE 4",
    );
    expect(
        &s,
        &c74,
        74,
        "high",
        "ACC_MISSING_2Y 30, FIN_NEGATIVE_EQUITY 20, JS_OTHER 15, SECTOR_H 5, SIZE_LT_5_FTE 4",
    );
    expect(
        &s,
        &c75,
        75,
        "critical",
        "ACC_MISSING_2Y 30, FIN_NEGATIVE_EQUITY 20, JS_OTHER 15, SECTOR_F 6, SIZE_LT_5_FTE 4",
    );
    // Floors lift the sum to at least 95 / 85 / 75.
    expect(&s, &bank, 95, "critical", "JS_BANKRUPTCY 95");
    expect(&s, &liq, 85, "critical", "JS_LIQUIDATION 85");
    expect(&s, &reorg, 75, "critical", "JS_REORGANISATION 75");
    // Filing discipline.
    expect(&s, &late, 4, "low", "ACC_LATE 4");
    expect(&s, &very_late, 8, "low", "ACC_VERY_LATE 8");
    expect(
        &s,
        &no_accounts,
        36,
        "moderate",
        "ACC_MISSING_2Y 30, SIZE_NO_EMPLOYEES 6",
    );
    // Forms that need not file and natural persons are never penalised for missing accounts.
    expect(&s, &vof, 6, "low", "SIZE_NO_EMPLOYEES 6");
    expect(&s, &natural, 6, "low", "SIZE_NO_EMPLOYEES 6");
    assert_eq!(get(&s, &natural.n).3, "register_no_accounts");
    // Every financial rule (low solvency, not negative equity).
    expect(
        &s,
        &fin,
        25,
        "moderate",
        "FIN_LOW_SOLVENCY 8, FIN_LOSS 5, FIN_LOSS_2Y 5, FIN_LOW_LIQUIDITY 5, SIZE_5_49_FTE 2",
    );
    // A start date after the snapshot date: younger than a year, nothing due yet.
    expect(&s, &future, 21, "low", "AGE_LT_1Y 15, SIZE_NO_EMPLOYEES 6");
    // A code that is not in the reviewed table counts as another non-normal situation.
    expect(&s, &unknown, 21, "low", "JS_OTHER 15, SIZE_NO_EMPLOYEES 6");

    // Evidence a credit analyst can read.
    let ev = query_one(
        &out.join("warehouse.duckdb"),
        &format!(
            "SELECT reasons[1].evidence FROM payment_risk WHERE enterprise_number = '{}'",
            c49.n
        ),
    );
    assert_eq!(
        ev,
        "no accounts deposited for the fiscal year ending 2024-12-31 (due 2025-07-31)"
    );

    // `bce score explain`, with the number in any form.
    let (code, text, stderr) = run(&[
        "score",
        "explain",
        &format!("BE{}", c75.n.replace('.', "")),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(text.contains(&c75.n) && text.contains("c75"), "{text}");
    assert!(text.contains("payment risk 75 / 100: CRITICAL"), "{text}");
    assert!(
        text.contains("ACC_MISSING_2Y") && text.contains("75  = score"),
        "{text}"
    );
    let (code, _, stderr) = run(&[
        "score",
        "explain",
        "0200.065.766",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "a bad check digit is a usage error: {stderr}");
    assert!(stderr.contains("not an enterprise number"), "{stderr}");
    let (code, _, _) = run(&[
        "score",
        "explain",
        &ent(6_000_000),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "a valid number that is not scored");

    // Determinism: scoring again gives the same file.
    let file = out.join("scores/147/payment_risk.parquet");
    let before = std::fs::read(&file).unwrap();
    let (code, _, stderr) = run(&[
        "score",
        "--out",
        out.to_str().unwrap(),
        "--filings",
        fpath.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "the same inputs give the same file"
    );

    // Without filings: register only, no account or financial points for anyone.
    let (code, stdout, stderr) = run(&["score", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("payment risk (19 scored)"), "{stdout}");
    let s = scores(&out);
    assert!(s.iter().all(|r| r.3 == "register_only"), "{s:?}");
    assert!(
        s.iter()
            .all(|r| !r.4.contains("ACC_") && !r.4.contains("FIN_")),
        "{s:?}"
    );
    expect(&s, &c49, 11, "low", "SIZE_NO_EMPLOYEES 6, SECTOR_H 5");
    expect(
        &s,
        &bank,
        95,
        "critical",
        "JS_BANKRUPTCY 89, SIZE_NO_EMPLOYEES 6",
    );
}

#[test]
fn register_events_of_the_last_twelve_months_count_with_their_caps() {
    let tmp = tempfile::tempdir().unwrap();
    let mut e = co(5_100_001, "2", "610", "01-01-2000", "47110");
    e.situation = "020";
    e.name = "Alpha".into();
    let mut h = co(5_100_002, "1", "", "01-01-2000", "62100");
    let mut m = co(5_100_003, "1", "", "01-01-2000", "62100");
    let mut f = co(5_100_004, "1", "", "01-01-2000", "62100");
    f.establishments = vec![ent(21_000_001)];
    let g = co(5_100_005, "1", "", "01-01-2000", "62100");
    let old = co(5_100_006, "1", "", "01-01-2000", "62100");
    let z = co(5_100_007, "2", "610", "01-01-2000", "62100");
    let out = tmp.path().join("w");
    let mut filings = FILINGS_H.to_string();
    // Z deposits its 2024 accounts between S3 and S4, under its VAT number, 66 days late; a row
    // that cannot be read does not stop the runs.
    filings += &good(&z.n, "10-05-2024", "31-12-2023");
    filings += &good(
        &format!("BE{}", z.n.replace('.', "")),
        "05-10-2025",
        "31-12-2024",
    );
    filings += "\"0200.065.765\",31-02-2025,31-12-2024,\"MIC\",1,1,1,1,1,1\n";
    filings += &dep(
        &e.n,
        "01-06-2022",
        "31-12-2021",
        -5_000,
        100_000,
        -1_000,
        "2.0",
        10_000,
        50_000,
    );
    filings += &dep(
        &e.n,
        "01-06-2021",
        "31-12-2020",
        1_000,
        100_000,
        -1_000,
        "2.0",
        10_000,
        50_000,
    );
    let fpath = tmp.path().join("filings.csv");
    std::fs::write(&fpath, filings).unwrap();
    let go = |n: u32, date: &str, cos: &[&Co]| {
        let x = extract(tmp.path(), n, date, cos);
        let (code, stdout, stderr) = run_with_filings(&x, &out, &fpath);
        assert_eq!(code, 0, "{stderr}");
        stdout
    };
    // S1 and S2 are more than 12 months before S4: H's move and `old`'s stop do not count.
    go(1, "01-09-2024", &[&e, &h, &m, &f, &g, &old, &z]);
    h.seat = Some(("1000", "Brussel", ""));
    go(2, "01-10-2024", &[&e, &h, &m, &f, &g, &z]);
    e.seat = Some(("2000", "Antwerpen", ""));
    go(3, "01-10-2025", &[&e, &h, &m, &f, &g, &z]);
    e.seat = Some(("3000", "Leuven", "05-10-2025"));
    e.name = "Beta".into();
    e.form = "014";
    m.seat = Some(("8000", "Brugge", ""));
    f.establishments.clear();
    let summary = go(4, "11-10-2025", &[&e, &h, &m, &f, &z]);
    assert!(
        summary.contains("payment risk (6 scored, 1 left the register)"),
        "{summary}"
    );
    let s = scores(&out);
    assert_eq!(s.len(), 6, "{s:?}");
    expect(&s, &z, 8, "low", "ACC_VERY_LATE 8");
    assert_eq!(
        query_one(
            &out.join("warehouse.duckdb"),
            "SELECT string_agg(enterprise_number || ' ' || extract_number, ',')
             FROM events WHERE type = 'company.filing_deposited'"
        ),
        format!("{} 4", z.n),
        "the deposit is an event of extract 4, under the display number"
    );
    // E: 2 moves (8) + struck off (15) + name (3) + form (2) = 28, capped at 20; with accounts
    // missing for two years (30), financials (35), another situation (15), size (4), sector (4)
    // the sum is 108, capped at 100.
    expect(
        &s,
        &e,
        100,
        "critical",
        "ACC_MISSING_2Y 30, FIN_NEGATIVE_EQUITY 20, EVT_SEAT_STRUCK_OFF 15, JS_OTHER 15, EVT_SEAT_MOVED_2X 8, FIN_LOSS 5, FIN_LOSS_2Y 5, FIN_LOW_LIQUIDITY 5, SECTOR_G 4, SIZE_LT_5_FTE 4, EVT_NAME_CHANGE 3, EVT_FORM_CHANGE 2, CAP_EVENTS -8, CAP_TOTAL -8",
    );
    expect(&s, &h, 6, "low", "SIZE_NO_EMPLOYEES 6");
    expect(&s, &m, 10, "low", "SIZE_NO_EMPLOYEES 6, EVT_SEAT_MOVED 4");
    expect(
        &s,
        &f,
        11,
        "low",
        "SIZE_NO_EMPLOYEES 6, EVT_ALL_ESTABLISHMENTS_CLOSED 5",
    );
    expect(&s, &g, 80, "critical", "KBO_STOPPED 80");
    assert!(
        s.iter().all(|r| r.0 != old.n),
        "stopped more than 12 months ago"
    );
    // The points of the reasons add up to the score, for every company.
    let bad = query_one(
        &out.join("warehouse.duckdb"),
        "SELECT count(*) FROM payment_risk WHERE score <> coalesce(list_sum(list_transform(reasons, r -> r.points)), 0)",
    );
    assert_eq!(bad, "0");
}

#[test]
fn a_generated_extract_with_filings_scores_plausibly() {
    let tmp = tempfile::tempdir().unwrap();
    let g = tmp.path().join("g");
    let (code, stdout, stderr) = run(&[
        "generate",
        "--enterprises",
        "100000",
        "--seed",
        "5",
        "--filings",
        "--out",
        g.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let zip = stdout
        .lines()
        .find(|l| l.ends_with("_Full.zip"))
        .unwrap()
        .to_string();
    let out = tmp.path().join("w");
    let (code, summary, stderr) = run(&[
        "run",
        &zip,
        "--out",
        out.to_str().unwrap(),
        "--filings",
        g.join("filings.csv").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        summary.contains("payment risk (100000 scored)"),
        "{summary}"
    );
    let db = out.join("warehouse.duckdb");
    let share = |cat: &str| -> f64 {
        query_one(
            &db,
            &format!("SELECT avg((category = '{cat}')::INTEGER) FROM payment_risk"),
        )
        .parse()
        .unwrap()
    };
    let (low, moderate, high, critical) = (
        share("low"),
        share("moderate"),
        share("high"),
        share("critical"),
    );
    println!("low {low:.3} moderate {moderate:.3} high {high:.3} critical {critical:.3}");
    assert!(low + moderate > 0.8, "most companies low or moderate");
    assert!(
        (0.01..0.10).contains(&critical),
        "critical a few percent: {critical}"
    );
    assert!(high > 0.0 && moderate > 0.0);
    // Every enterprise scored once, natural persons never penalised for accounts.
    assert_eq!(
        query_one(&db, "SELECT count(*) = count(DISTINCT enterprise_number) AND count(*) = (SELECT count(*) FROM enterprise) FROM payment_risk"),
        "true"
    );
    assert_eq!(
        query_one(
            &db,
            "SELECT count(*) FROM payment_risk p JOIN enterprise e USING (enterprise_number)
             WHERE e.type_of_enterprise = '1' AND list_contains(list_transform(p.reasons, r -> left(r.code, 4)), 'ACC_')"
        ),
        "0"
    );
    // The law of the model on every company: the points of the reasons add up to the score,
    // highest points first, and the category follows the score.
    assert_eq!(
        query_one(
            &db,
            "SELECT count(*) FROM payment_risk
             WHERE score <> coalesce(list_sum(list_transform(reasons, r -> r.points)), 0)
                OR score NOT BETWEEN 0 AND 100
                OR list_transform(reasons, r -> -r.points) <> list_sort(list_transform(reasons, r -> -r.points))
                OR category <> CASE WHEN score >= 75 THEN 'critical' WHEN score >= 50 THEN 'high'
                                    WHEN score >= 25 THEN 'moderate' ELSE 'low' END"
        ),
        "0"
    );
    // The summary's line is in the JSON summary too.
    assert!(summary.contains("critical"), "{summary}");
}

#[test]
fn a_filings_file_without_a_required_column_exits_2_and_publishes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let c = co(5_200_001, "2", "610", "01-01-2000", "62100");
    let x = extract(tmp.path(), 147, "11-10-2025", &[&c]);
    let out = tmp.path().join("w");
    let (code, _, stderr) = run(&["run", x.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let bad = tmp.path().join("filings.csv");
    std::fs::write(
        &bad,
        "\"EnterpriseNumber\",\"DepositDate\",\"FiscalYearEnd\",\"Model\",\"Equity\"\n",
    )
    .unwrap();
    let before = std::fs::read(out.join("scores/147/payment_risk.parquet")).unwrap();
    let (code, _, stderr) = run(&[
        "score",
        "--out",
        out.to_str().unwrap(),
        "--filings",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("filings.csv") && stderr.contains("no column TotalAssets"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(out.join("scores/147/payment_risk.parquet")).unwrap(),
        before,
        "the published scores are untouched"
    );
    // The explanation as JSON, for programs.
    let (code, json, stderr) = run(&[
        "--log-format",
        "json",
        "score",
        "explain",
        &c.n,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["enterprise_number"], c.n.as_str());
    assert_eq!(v["score"], 6);
    assert_eq!(v["reasons"][0]["code"], "SIZE_NO_EMPLOYEES");
}

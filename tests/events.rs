//! Update extracts and change events through the real binary: an Update applied to the previous
//! snapshot equals the next Full extract, both paths give the same events with the same ids, each
//! event type on hand-made extracts, a snapshot diffed with itself gives nothing, gaps are refused.

mod common;
use common::*;
use std::path::{Path, PathBuf};

fn ok(r: (i32, String, String)) -> String {
    assert_eq!(r.0, 0, "{}\n{}", r.1, r.2);
    r.1
}

/// Rows of a query over Parquet files, in an in-memory DuckDB.
fn pq(sql: &str) -> Vec<Vec<String>> {
    query_conn(&duckdb::Connection::open_in_memory().unwrap(), sql)
}

fn p(path: &Path) -> String {
    format!("'{}'", path.display())
}

/// (id, type, enterprise, establishment, data) of an events file, sorted.
fn events(dir: &Path, n: u32) -> Vec<Vec<String>> {
    pq(&format!(
        "SELECT id, type, enterprise_number, establishment_number, data FROM read_parquet({}) ORDER BY ALL",
        p(&dir.join(format!("events/{n}/events.parquet")))
    ))
}

/// The snapshot tables, and the derived main activities (kept up to date by the Update path).
fn tables() -> impl Iterator<Item = &'static str> {
    bce::warehouse::SNAPSHOT_TABLES
        .into_iter()
        .chain(["main_activity"])
}

/// Rows in one snapshot table and not in the other (both ways, as multisets).
fn snapshot_difference(a: &Path, b: &Path, table: &str) -> u64 {
    let (a, b) = (
        p(&a.join(format!("{table}.parquet"))),
        p(&b.join(format!("{table}.parquet"))),
    );
    pq(&format!(
        "SELECT (SELECT count(*) FROM (SELECT * FROM read_parquet({a}) EXCEPT ALL SELECT * FROM read_parquet({b})))
              + (SELECT count(*) FROM (SELECT * FROM read_parquet({b}) EXCEPT ALL SELECT * FROM read_parquet({a})))"
    ))[0][0]
        .parse()
        .unwrap()
}

#[test]
fn updates_applied_in_order_equal_the_fulls_with_the_same_events() {
    let tmp = tempfile::tempdir().unwrap();
    let g = tmp.path().join("g");
    let (code, stdout, stderr) = run(&[
        "generate",
        "--enterprises",
        "20000",
        "--seed",
        "12",
        "--updates",
        "3",
        "--filings",
        "--out",
        g.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let paths: Vec<PathBuf> = stdout.lines().map(PathBuf::from).collect();
    let zip = |n: u32, kind: &str| {
        paths
            .iter()
            .find(|p| {
                let f = p.file_name().unwrap().to_string_lossy();
                f.starts_with(&format!("KboOpenData_{n:04}_"))
                    && f.ends_with(&format!("_{kind}.zip"))
            })
            .unwrap()
            .clone()
    };
    let filings = g.join("filings.csv");
    let filings_arg = ["--filings", filings.to_str().unwrap()];
    let (by_update, by_full) = (tmp.path().join("u"), tmp.path().join("f"));
    // The Update path with small row groups: most of them hold no touched row and are copied as
    // they are; the Full path with the default ones. The snapshots must still hold the same rows.
    let small = ["--row-group-rows", "500"];
    ok(run_extract(&zip(147, "Full"), &by_update, &small));
    ok(run_extract(&zip(147, "Full"), &by_full, &[]));
    let mut types = std::collections::BTreeSet::new();
    for n in 148..=150 {
        let args = [&filings_arg[..], &small[..]].concat();
        let out = ok(run_extract(&zip(n, "Update"), &by_update, &args));
        assert!(out.contains(&format!("extract {n} (update")), "{out}");
        assert!(
            out.contains(&format!("events since snapshot {}", n - 1)),
            "{out}"
        );
        ok(run_extract(&zip(n, "Full"), &by_full, &filings_arg));
        for t in tables() {
            let d = snapshot_difference(
                &by_update.join(format!("snapshots/{n}")),
                &by_full.join(format!("snapshots/{n}")),
                t,
            );
            assert_eq!(d, 0, "snapshot {n}: {t} differs between the two paths");
        }
        let (eu, ef) = (events(&by_update, n), events(&by_full, n));
        assert!(eu.len() >= 10, "{n}: {} events", eu.len());
        assert_eq!(eu, ef, "snapshot {n}: the two paths give different events");
        types.extend(eu.iter().map(|e| e[1].clone()));
        // Payloads stay small.
        assert!(eu.iter().all(|e| e[4].len() < 20_000));
    }
    assert_eq!(
        types.into_iter().collect::<Vec<_>>(),
        [
            "company.filing_deposited",
            "company.status_changed",
            "company.updated",
            "establishment.closed",
            "establishment.created"
        ]
    );
    // Deletes that do not cascade: the manifest counts the rows the cascade rule removed.
    let update_sum = |field: &str| -> u64 {
        (148..=150)
            .map(|n| {
                let m: serde_json::Value = serde_json::from_slice(
                    &std::fs::read(by_update.join(format!("snapshots/{n}/manifest.json"))).unwrap(),
                )
                .unwrap();
                m["tables"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t["update"][field].as_u64().unwrap())
                    .sum::<u64>()
            })
            .sum()
    };
    assert!(
        update_sum("cascaded_rows") > 0,
        "the generator's non-cascading stops were applied"
    );
    // Both ways of carrying rows over were taken: copied row groups and rewritten ones.
    let (groups, copied) = (
        update_sum("base_row_groups"),
        update_sum("row_groups_copied"),
    );
    assert!(
        copied > groups / 2 && copied < groups,
        "{copied} of {groups} row groups copied"
    );

    // The warehouse holds every published extract's events.
    let db = by_update.join("warehouse.duckdb");
    // The main activities kept up by three Updates are those SQL finds over the activity rows.
    let by_sql = query(
        &db,
        "SELECT entity_number, nace_version, nace_code, activity_group FROM activity
         WHERE classification = 'MAIN'
         QUALIFY row_number() OVER (PARTITION BY entity_number
                                    ORDER BY nace_version DESC, activity_group, nace_code) = 1
         ORDER BY 1",
    );
    assert!(by_sql.len() > 10_000, "{}", by_sql.len());
    assert_eq!(query(&db, "SELECT * FROM main_activity ORDER BY 1"), by_sql);
    assert_eq!(
        query_one(&db, "SELECT count(DISTINCT extract_number) FROM events"),
        "3"
    );
    assert_eq!(
        query_one(
            &db,
            "SELECT max(extract_number) FROM enterprise JOIN bce_info ON true"
        ),
        "150"
    );

    // A re-run gives the same ids.
    let before = events(&by_update, 150);
    ok(run_extract(
        &zip(150, "Update"),
        &by_update,
        &["--force", "--filings", filings.to_str().unwrap()],
    ));
    assert_eq!(events(&by_update, 150), before);

    // JSON lines export: one object per event, data as an object.
    let jsonl = tmp.path().join("events.jsonl");
    ok(run_extract(
        &zip(150, "Full"),
        &by_full,
        &[
            "--force",
            "--filings",
            filings.to_str().unwrap(),
            "--events-jsonl",
            jsonl.to_str().unwrap(),
        ],
    ));
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), before.len());
    assert!(lines
        .iter()
        .all(|e| e["id"].as_str().unwrap().starts_with("evt_")
            && e["data"].is_object()
            && e["extract_number"] == 150
            && e["snapshot_date"] == "2025-10-14"));
}

#[test]
fn a_snapshot_diffed_with_itself_gives_no_events() {
    let tmp = tempfile::tempdir().unwrap();
    let g = tmp.path().join("g");
    let (code, stdout, stderr) = run(&[
        "generate",
        "--enterprises",
        "2000",
        "--folder",
        "--out",
        g.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let full = PathBuf::from(stdout.trim());
    let again = tmp.path().join("again");
    std::fs::create_dir_all(&again).unwrap();
    for e in std::fs::read_dir(&full).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), again.join(e.file_name())).unwrap();
    }
    std::fs::write(again.join("meta.csv"), meta_csv(148, "12-10-2025", "full")).unwrap();
    let out = tmp.path().join("w");
    ok(run_extract(&full, &out, &[]));
    let summary = ok(run_extract(&again, &out, &[]));
    assert!(
        summary.contains("events since snapshot 147: 0"),
        "{summary}"
    );
    assert!(events(&out, 148).is_empty());
}

#[test]
fn updates_out_of_order_or_without_a_base_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let g = tmp.path().join("g");
    let (code, stdout, stderr) = run(&[
        "generate",
        "--enterprises",
        "500",
        "--updates",
        "2",
        "--out",
        g.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let paths: Vec<PathBuf> = stdout.lines().map(PathBuf::from).collect();
    let out = tmp.path().join("w");
    // No snapshot yet: say to run the Full extract first.
    let (code, _, stderr) = run_extract(&paths[1], &out, &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("Update 148")
            && stderr.contains("no snapshot yet")
            && stderr.contains("Full"),
        "{stderr}"
    );
    ok(run_extract(&paths[0], &out, &[]));
    // A gap: Update 149 on snapshot 147.
    let (code, _, stderr) = run_extract(&paths[3], &out, &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("apply Updates 148–148 first")
            && stderr.contains("KboOpenData_0148_…_Full.zip"),
        "{stderr}"
    );
    assert!(!out.join("snapshots/149").exists());
    assert_eq!(
        query_one(
            &out.join("warehouse.duckdb"),
            "SELECT extract_number FROM bce_info"
        ),
        "147"
    );
    // In order it works.
    ok(run_extract(&paths[1], &out, &[]));
    ok(run_extract(&paths[3], &out, &[]));
    assert_eq!(
        query_one(
            &out.join("warehouse.duckdb"),
            "SELECT extract_number FROM bce_info"
        ),
        "149"
    );
}

// --- Hand-made extracts: one of each event ---

struct World {
    a: String,
    b: String,
    c: String,
    d: String,
    e1: String,
    e2: String,
}

fn world() -> World {
    World {
        a: ent(4_000_001),
        b: ent(4_000_002),
        c: ent(4_000_003),
        d: ent(4_000_004),
        e1: ent(20_000_001),
        e2: ent(20_000_002),
    }
}

fn full_1(w: &World) -> Files {
    files(
        1,
        "01-12-2025",
        "full",
        &[
            (
                "enterprise.csv",
                format!(
                    "{ENT_H}{}{}{}",
                    e_row(&w.a, "000", "610"),
                    e_row(&w.b, "000", "014"),
                    e_row(&w.c, "000", "610")
                ),
            ),
            (
                "establishment.csv",
                format!("{EST_H}\"{}\",01-01-2015,\"{}\"\n", w.e1, w.a),
            ),
            ("branch.csv", BRA_H.to_string()),
            (
                "denomination.csv",
                format!(
                    "{DEN_H}{}{}{}",
                    den(&w.a, "Alpha BV"),
                    den(&w.b, "Beta NV"),
                    den(&w.c, "Gamma BV")
                ),
            ),
            (
                "address.csv",
                format!(
                    "{ADR_H}{}{}{}",
                    adr(&w.a, "1000", "Brussel"),
                    adr(&w.b, "9000", "Gent"),
                    adr(&w.c, "4000", "Luik")
                ),
            ),
            (
                "contact.csv",
                format!("{CON_H}\"{}\",\"ENT\",\"EMAIL\",\"info@beta.be\"\n", w.b),
            ),
            (
                "activity.csv",
                format!("{ACT_H}{}{}", act(&w.a, "62010"), act(&w.c, "47111")),
            ),
        ],
    )
}

/// Day 2: A goes bankrupt and closes its establishment; B is renamed, moves and opens one; C stops;
/// D registers.
fn full_2(w: &World) -> Files {
    files(
        2,
        "02-12-2025",
        "full",
        &[
            (
                "enterprise.csv",
                format!(
                    "{ENT_H}{}{}{}",
                    e_row(&w.a, "050", "610"),
                    e_row(&w.b, "000", "014"),
                    e_row(&w.d, "000", "610")
                ),
            ),
            (
                "establishment.csv",
                format!("{EST_H}\"{}\",02-12-2025,\"{}\"\n", w.e2, w.b),
            ),
            ("branch.csv", BRA_H.to_string()),
            (
                "denomination.csv",
                format!(
                    "{DEN_H}{}{}{}",
                    den(&w.a, "Alpha BV"),
                    den(&w.b, "Beta Nieuw NV"),
                    den(&w.d, "Delta BV")
                ),
            ),
            (
                "address.csv",
                format!(
                    "{ADR_H}{}{}",
                    adr(&w.a, "1000", "Brussel"),
                    adr(&w.b, "2000", "Antwerpen")
                ),
            ),
            (
                "contact.csv",
                format!("{CON_H}\"{}\",\"ENT\",\"EMAIL\",\"info@beta.be\"\n", w.b),
            ),
            ("activity.csv", format!("{ACT_H}{}", act(&w.a, "62010"))),
        ],
    )
}

/// The same day as an Update; C's address and activity deletes are missing (they do not always
/// cascade), the cascade rule removes them.
fn update_2(w: &World) -> Files {
    let keys = |h: &str, ks: &[&str]| {
        let mut s = format!("\"{h}\"\n");
        for k in ks {
            s.push_str(&format!("\"{k}\"\n"));
        }
        s
    };
    files(
        2,
        "02-12-2025",
        "update",
        &[
            (
                "enterprise_delete.csv",
                keys("EnterpriseNumber", &[&w.a, &w.c]),
            ),
            (
                "enterprise_insert.csv",
                format!(
                    "{ENT_H}{}{}",
                    e_row(&w.a, "050", "610"),
                    e_row(&w.d, "000", "610")
                ),
            ),
            (
                "establishment_delete.csv",
                keys("EstablishmentNumber", &[&w.e1]),
            ),
            (
                "establishment_insert.csv",
                format!("{EST_H}\"{}\",02-12-2025,\"{}\"\n", w.e2, w.b),
            ),
            ("branch_delete.csv", keys("Id", &[])),
            ("branch_insert.csv", BRA_H.to_string()),
            (
                "denomination_delete.csv",
                keys("EntityNumber", &[&w.b, &w.c]),
            ),
            (
                "denomination_insert.csv",
                format!(
                    "{DEN_H}{}{}",
                    den(&w.b, "Beta Nieuw NV"),
                    den(&w.d, "Delta BV")
                ),
            ),
            ("address_delete.csv", keys("EntityNumber", &[&w.b])),
            (
                "address_insert.csv",
                format!("{ADR_H}{}", adr(&w.b, "2000", "Antwerpen")),
            ),
            ("contact_delete.csv", keys("EntityNumber", &[])),
            ("contact_insert.csv", CON_H.to_string()),
            ("activity_delete.csv", keys("EntityNumber", &[])),
            ("activity_insert.csv", ACT_H.to_string()),
        ],
    )
}

#[test]
fn one_event_of_each_kind_on_both_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let w = world();
    let filings = tmp.path().join("filings.csv");
    std::fs::write(
        &filings,
        format!(
            "\"EnterpriseNumber\",\"DepositDate\",\"FiscalYearEnd\",\"Model\",\"Equity\",\"TotalAssets\",\"ProfitLoss\",\"Employees\",\"CurrentAssets\",\"ShortTermDebt\"\n\
             \"{a}\",02-12-2025,31-12-2024,\"MIC\",-5000,120000,-8000,1.5,40000,60000\n\
             \"{b}\",01-12-2025,31-12-2024,\"VKT\",90000,500000,12000,8.0,200000,150000\n",
            a = w.a,
            b = w.b
        ),
    )
    .unwrap();
    let f = ["--filings", filings.to_str().unwrap()];
    let (via_update, via_full) = (tmp.path().join("u"), tmp.path().join("f"));
    let full1 = write_folder(&tmp.path().join("full1"), &full_1(&w));
    ok(run_extract(&full1, &via_update, &f));
    ok(run_extract(&full1, &via_full, &f));
    assert!(
        events(&via_full, 1).is_empty(),
        "no events without a previous snapshot"
    );
    ok(run_extract(
        &write_folder(&tmp.path().join("upd2"), &update_2(&w)),
        &via_update,
        &f,
    ));
    ok(run_extract(
        &write_folder(&tmp.path().join("full2"), &full_2(&w)),
        &via_full,
        &f,
    ));
    for t in tables() {
        assert_eq!(
            snapshot_difference(
                &via_update.join("snapshots/2"),
                &via_full.join("snapshots/2"),
                t
            ),
            0,
            "{t}"
        );
    }
    // The cascade rule removed C's address and activity rows.
    let m: serde_json::Value = serde_json::from_slice(
        &std::fs::read(via_update.join("snapshots/2/manifest.json")).unwrap(),
    )
    .unwrap();
    let table = |name: &str| {
        m["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["table"] == name)
            .unwrap()["update"]
            .clone()
    };
    assert_eq!(table("activity")["cascaded_rows"], 1);
    assert_eq!(table("address")["cascaded_rows"], 1);
    assert_eq!(table("enterprise")["removed_rows"], 2);
    assert_eq!(table("enterprise")["inserted_rows"], 2);

    let ev = events(&via_update, 2);
    assert_eq!(ev, events(&via_full, 2));
    let summary: Vec<(String, String, String)> = ev
        .iter()
        .map(|e| (e[1].clone(), e[2].clone(), e[3].clone()))
        .collect();
    let mut expected = vec![
        (
            "company.filing_deposited".to_string(),
            w.a.clone(),
            "NULL".to_string(),
        ),
        ("company.status_changed".into(), w.a.clone(), "NULL".into()),
        ("company.status_changed".into(), w.c.clone(), "NULL".into()),
        ("company.status_changed".into(), w.d.clone(), "NULL".into()),
        ("company.updated".into(), w.b.clone(), "NULL".into()),
        ("establishment.closed".into(), w.a.clone(), w.e1.clone()),
        ("establishment.created".into(), w.b.clone(), w.e2.clone()),
    ];
    expected.sort();
    let mut got = summary.clone();
    got.sort();
    assert_eq!(got, expected);
    let data = |ty: &str, who: &str| -> serde_json::Value {
        let e = ev.iter().find(|e| e[1] == ty && e[2] == who).unwrap();
        serde_json::from_str(&e[4]).unwrap()
    };
    let a = data("company.status_changed", &w.a);
    assert_eq!(a["previous"]["juridical_situation"], "000");
    assert_eq!(a["current"]["juridical_situation"], "050");
    assert!(
        a["current"]["juridical_situation_label"]["nl"]
            .as_str()
            .unwrap()
            .contains("aillissement"),
        "{a}"
    );
    assert_eq!(
        data("company.status_changed", &w.c)["current"]["status"],
        "stopped"
    );
    assert_eq!(
        data("company.status_changed", &w.d)["current"]["status"],
        "active"
    );
    let b = data("company.updated", &w.b);
    assert_eq!(b["changes"], serde_json::json!(["address", "names"]));
    assert_eq!(b["previous"]["names"][0]["denomination"], "Beta NV");
    assert_eq!(b["current"]["names"][0]["denomination"], "Beta Nieuw NV");
    assert_eq!(b["current"]["address"][0]["municipality_nl"], "Antwerpen");
    let fd = data("company.filing_deposited", &w.a);
    assert_eq!(fd["deposit_date"], "2025-12-02");
    assert_eq!(fd["equity"], -5000);
    // Ids are unique and stable across the two paths (checked above) — and distinct.
    let ids: std::collections::HashSet<&String> = ev.iter().map(|e| &e[0]).collect();
    assert_eq!(ids.len(), ev.len());
    // In the warehouse.
    assert_eq!(
        query_one(
            &via_update.join("warehouse.duckdb"),
            "SELECT count(*) FROM events WHERE extract_number = 2"
        ),
        "7"
    );
}

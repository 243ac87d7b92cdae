//! VAT validation: the CLI, and a differential test against python-stdnum (the reference
//! implementation named by spec/vat.md) over more than 100,000 generated inputs.

mod common;
use bce::vat::{self, Reason, Status};
use common::*;
use std::io::Write;
use std::process::{Command, Stdio};

/// stdnum's verdict per input: valid, checksum, component, format (InvalidFormat / InvalidLength).
fn stdnum_verdicts(inputs: &[String]) -> Vec<String> {
    let script = r#"
import sys
from stdnum.be import vat
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength
out = []
for line in sys.stdin.buffer.read().decode('utf-8').split('\n')[:-1]:
    try:
        vat.validate(line); out.append('valid')
    except InvalidChecksum: out.append('checksum')
    except InvalidComponent: out.append('component')
    except (InvalidFormat, InvalidLength): out.append('format')
sys.stdout.write('\n'.join(out) + '\n')
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 with python-stdnum (installed by scripts/test)");
    let mut stdin = child.stdin.take().unwrap();
    let text: String = inputs.iter().map(|s| format!("{s}\n")).collect();
    let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "python-stdnum failed: is it installed? (scripts/test installs it)"
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn agrees_with_python_stdnum_except_for_the_two_stricter_rules() {
    let inputs = bce::generate::vat::inputs(120_000, 2026);
    let theirs = stdnum_verdicts(&inputs);
    assert_eq!(theirs.len(), inputs.len());
    let ours = vat::validate_batch(&inputs);
    // The columnar path gives the same verdicts as the full results.
    let checks = vat::check_batch(&inputs);
    for (c, o) in checks.iter().zip(&ours) {
        assert_eq!(
            (c.status, c.reason, c.digits),
            (o.status, o.reason, o.digits())
        );
    }
    let (mut rule5, mut rule6, mut agreed) = (0, 0, 0);
    for ((input, t), o) in inputs.iter().zip(&theirs).zip(&ours) {
        match (t.as_str(), o.status, o.reason) {
            ("valid", Status::Valid, None)
            | ("checksum", Status::Invalid, Some(Reason::Checksum)) => agreed += 1,
            ("format", Status::BadFormat, Some(r))
                if r != Reason::FirstDigit && r != Reason::EstablishmentNumber =>
            {
                agreed += 1
            }
            // Rule 5: a first digit 2–9 is a bad format here (an establishment unit when its check
            // digits hold), a wrong component for stdnum. Both refuse the number.
            (
                "component",
                Status::BadFormat,
                Some(Reason::FirstDigit | Reason::EstablishmentNumber),
            ) => {
                let d = o.normalized.clone();
                assert!(d.is_none(), "{input:?}");
                rule5 += 1;
            }
            // Rule 6: stdnum accepts (first8 + last2) mod 97 == 0, so also check digits 00, 98, 99
            // that are never issued; we require last2 == 97 - first8 mod 97.
            ("valid", Status::Invalid, Some(Reason::Checksum)) => {
                let n = o.digits().unwrap();
                assert_eq!(((n / 100) + n % 100) % 97, 0, "{input:?}");
                assert!(matches!(n % 100, 0 | 98 | 99), "{input:?}");
                rule6 += 1;
            }
            other => panic!("unexpected disagreement on {input:?}: stdnum {t}, ours {other:?}"),
        }
    }
    assert!(
        rule5 > 1000 && rule6 > 100,
        "the generated inputs exercise both rules: {rule5} {rule6}"
    );
    assert!(agreed > 100_000, "{agreed}");
}

#[test]
fn cli_answers_in_order_and_invalid_numbers_are_not_errors() {
    let out = bce()
        .args(["vat", "validate", "--format", "jsonl"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(
                "BE0428759497\nBE0428759400\n\nBE2000000339\n(0)428759497\n".as_bytes(),
            )?;
            c.wait_with_output()
        })
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let got: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| (l["input"].as_str().unwrap(), l["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            ("BE0428759497", "valid"),
            ("BE0428759400", "invalid"),
            ("", "bad_format"),
            ("BE2000000339", "bad_format"),
            ("(0)428759497", "valid")
        ]
    );
    assert_eq!(lines[0]["enterprise_number"], "0428.759.497");
    assert_eq!(lines[0]["formatted"], "BE 0428.759.497");
    assert_eq!(lines[3]["reason"], "establishment_number");
    assert_eq!(lines[1]["normalized"], "BE0428759400");
    assert!(lines[1]["enterprise_number"].is_null());

    let (code, stdout, _) = run(&[
        "vat",
        "validate",
        "BE0428759497",
        "NL0428759497",
        "--format",
        "csv",
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout,
        "input,normalized,status,reason,enterprise_number,formatted\nBE0428759497,BE0428759497,valid,,0428.759.497,BE 0428.759.497\nNL0428759497,,bad_format,characters,,\n"
    );
    let (code, stdout, _) = run(&["vat", "validate", "BE 0428.759.497", "--format", "table"]);
    assert_eq!(code, 0);
    assert!(
        stdout
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("BE 0428.759.497  BE0428759497  valid"),
        "{stdout}"
    );
    let (code, _, stderr) = run(&["vat", "validate", "--format", "xml", "x"]);
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn csv_enrichment_keeps_every_column_and_fills_found_from_the_warehouse() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, zip, _) = run(&[
        "generate",
        "--enterprises",
        "50",
        "--seed",
        "9",
        "--out",
        tmp.path().join("g").to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    let out = tmp.path().join("w");
    let (code, _, stderr) = run(&["run", zip.trim(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let known = query_one(
        &out.join("warehouse.duckdb"),
        "SELECT enterprise_number FROM enterprise LIMIT 1",
    );
    let input = tmp.path().join("form.csv");
    std::fs::write(
        &input,
        format!("id,company,vat\n1,\"Café \"\"X\"\", Gent\",BE {known}\n2,Unknown,BE0428759497\n3,Typo,BE0428759400\n4,Empty,\n"),
    )
    .unwrap();
    let enriched = tmp.path().join("out.csv");
    let (code, _, stderr) = run(&[
        "vat",
        "validate",
        "--csv",
        input.to_str().unwrap(),
        "--column",
        "vat",
        "--warehouse",
        out.to_str().unwrap(),
        "--output",
        enriched.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let mut rdr = csv::Reader::from_path(&enriched).unwrap();
    let head: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        head,
        [
            "id",
            "company",
            "vat",
            "vat_normalized",
            "vat_status",
            "vat_reason",
            "vat_enterprise_number",
            "vat_formatted",
            "vat_found",
            "vat_active"
        ]
    );
    let recs: Vec<Vec<String>> = rdr
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    assert_eq!(recs[0][1], "Café \"X\", Gent");
    assert_eq!(
        (
            recs[0][4].as_str(),
            recs[0][8].as_str(),
            recs[0][9].as_str()
        ),
        ("valid", "true", "true")
    );
    assert_eq!(
        (recs[1][4].as_str(), recs[1][8].as_str()),
        ("valid", "false")
    );
    assert_eq!(
        (recs[2][4].as_str(), recs[2][5].as_str()),
        ("invalid", "checksum")
    );
    assert_eq!(
        (recs[3][4].as_str(), recs[3][5].as_str()),
        ("bad_format", "empty")
    );

    let (code, _, stderr) = run(&[
        "vat",
        "validate",
        "--csv",
        input.to_str().unwrap(),
        "--column",
        "btw",
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no column named \"btw\""), "{stderr}");
    let (code, _, stderr) = run(&[
        "vat",
        "validate",
        "--csv",
        "/nonexistent.csv",
        "--column",
        "vat",
    ]);
    assert_eq!(code, 2, "{stderr}");
}

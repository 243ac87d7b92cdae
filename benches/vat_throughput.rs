//! VAT validation throughput: `vat::check_batch` (rayon, all cores), single-threaded `vat::check`
//! and `vat::validate_batch` (full results with strings), side by side with python-stdnum's `stdnum.be.vat.validate` on the same inputs,
//! in the same run. Inputs: `generate::vat::inputs` (every formatting, wrong check digits, junk).
//!
//! cargo bench --bench vat_throughput [-- N]      (N inputs, default 2,000,000; needs python-stdnum)

use bce::vat;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;

const STDNUM: &str = r#"
import sys, time
from stdnum.be import vat
from stdnum.exceptions import ValidationError
lines = sys.stdin.buffer.read().decode('utf-8').split('\n')[:-1]
def check(x):
    try:
        vat.validate(x); return True
    except ValidationError:
        return False
t = time.perf_counter()
valid = sum(1 for x in lines if check(x))
print(time.perf_counter() - t, valid)
"#;

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::MAX;
    let mut out = None;
    for _ in 0..runs {
        let t = Instant::now();
        let r = f();
        best = best.min(t.elapsed().as_secs_f64());
        out = Some(r);
    }
    (best, out.expect("at least one run"))
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    let inputs = bce::generate::vat::inputs(n, 7);
    let (check_s, checks) = best_of(3, || vat::check_batch(&inputs));
    let ours_valid = checks.iter().filter(|r| r.is_valid()).count();
    let (single_s, _) = best_of(3, || {
        inputs.iter().filter(|s| vat::check(s).is_valid()).count()
    });
    let (batch_s, _) = best_of(3, || vat::validate_batch(&inputs));

    let mut child = Command::new("python3")
        .args(["-c", STDNUM])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 with python-stdnum (pip install python-stdnum)");
    let mut stdin = child.stdin.take().expect("stdin");
    let text: String = inputs.iter().map(|s| format!("{s}\n")).collect();
    let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
    let out = child.wait_with_output().expect("python-stdnum ran");
    let _ = writer.join();
    let line = String::from_utf8_lossy(&out.stdout).to_string();
    let mut parts = line.split_whitespace();
    let stdnum_s: f64 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .expect("stdnum printed its time");
    let stdnum_valid: usize = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);

    let rate = |s: f64| n as f64 / s / 1e6;
    println!("{n} inputs ({ours_valid} valid here, {stdnum_valid} for stdnum: its looser check digits), {} threads", rayon::current_num_threads());
    println!("| implementation | seconds | million inputs/s | ratio to stdnum |");
    println!("|---|---:|---:|---:|");
    println!(
        "| bce vat::check_batch (all cores; verdict + digits) | {check_s:.3} | {:.2} | {:.0}× |",
        rate(check_s),
        stdnum_s / check_s
    );
    println!(
        "| bce vat::check (one core) | {single_s:.3} | {:.2} | {:.0}× |",
        rate(single_s),
        stdnum_s / single_s
    );
    println!("| bce vat::validate_batch (all cores; + the four strings of each result) | {batch_s:.3} | {:.2} | {:.0}× |", rate(batch_s), stdnum_s / batch_s);
    println!(
        "| python-stdnum 2.2 be.vat.validate | {stdnum_s:.3} | {:.2} | 1× |",
        rate(stdnum_s)
    );
}

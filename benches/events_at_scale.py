#!/usr/bin/env python3
"""Full-scale benchmark of the event side (issue 6) and of the scores (issue 5), in one run, on one
generated extract series.

    python3 benches/events_at_scale.py [--enterprises 2000000] [--work /tmp/bce-events]

Steps: `bce generate --updates 1 --filings` (untimed) gives Full 147, Update 148 and Full 148.
  1. `bce run Full 147 --out A --filings …`         the baseline: one Full ingested and published;
                                                    its score step (2 M enterprises with filings)
                                                    as a ratio of its ingest step
  2. `bce run Update 148 --out A --filings …`       a daily Update applied to the 2 M snapshot,
                                                    events, warehouse republished (end to end)
  3. `bce run Full 147 --out B`, then `bce run Full 148 --out B --filings …`
                                                    two Full snapshots diffed (the run's diff step)
Each command runs in its own process; wall time and peak RSS come from wait4(), step times from the
run's JSON summary. Prints a Markdown table with the ratios. Needs the release binary.
"""
import argparse, json, os, shutil, subprocess, sys, tempfile, time, zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BCE = os.path.join(ROOT, "target", "release", "bce")


def measure(cmd):
    """Runs cmd; returns (seconds, stdout)."""
    t = time.time()
    p = subprocess.run(cmd, capture_output=True)
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stderr.decode(errors='replace')[-2000:]}")
    return time.time() - t, p.stdout.decode()


def run(args):
    """`bce --log-format json run …`: (wall seconds, peak RSS MB, summary). Output goes to files so
    that wait4() can reap the child and report its peak RSS."""
    cmd = [BCE, "--log-format", "json", "run"] + args
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t = time.time()
        p = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
        seconds = time.time() - t
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"failed: {' '.join(cmd)}\n{err.read().decode(errors='replace')[-2000:]}")
        return seconds, ru.ru_maxrss / 1024, json.loads(out.read())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--enterprises", type=int, default=2_000_000)
    ap.add_argument("--work", default="/tmp/bce-events")
    a = ap.parse_args()
    if not os.path.exists(BCE):
        sys.exit("build first: cargo build --release")
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    g = a.work + "/g"
    gen_s, listing = measure([BCE, "generate", "--enterprises", str(a.enterprises), "--seed", "42",
                              "--updates", "1", "--filings", "--out", g])
    paths = listing.split()
    full147 = next(p for p in paths if "_0147_" in p and p.endswith("_Full.zip"))
    update148 = next(p for p in paths if "_0148_" in p and p.endswith("_Update.zip"))
    full148 = next(p for p in paths if "_0148_" in p and p.endswith("_Full.zip"))
    filings = ["--filings", g + "/filings.csv"]
    changed = 0
    with zipfile.ZipFile(update148) as z:
        for n in z.namelist():
            if n.endswith("_insert.csv") or n.endswith("_delete.csv"):
                changed += z.read(n).count(b"\n") - 1

    A, B = a.work + "/A", a.work + "/B"
    full_s, full_rss, full_sum = run([full147, "--out", A] + filings)
    upd_s, upd_rss, upd_sum = run([update148, "--out", A] + filings)
    run([full147, "--out", B] + filings)
    f2_s, f2_rss, f2_sum = run([full148, "--out", B] + filings)

    ingest = full_sum["steps"]["ingest"]
    diff = f2_sum["steps"]["diff"]
    print(f"\n{a.enterprises:,} enterprises; Update 148: {changed:,} changed rows; "
          f"generated in {gen_s:.1f} s; {os.cpu_count()} cores\n")
    print("| command | wall (s) | peak RSS (MB) | steps (s) | events |")
    print("|---|---:|---:|---|---:|")

    def steps(s):
        return ", ".join(f"{k} {v:.2f}" for k, v in s["steps"].items())

    def events(s):
        return sum(s.get("events", {}).values())

    print(f"| bce run Full 147 (baseline: one Full) | {full_s:.1f} | {full_rss:.0f} | {steps(full_sum)} | – |")
    print(f"| bce run Update 148 on snapshot 147 | {upd_s:.1f} | {upd_rss:.0f} | {steps(upd_sum)} | {events(upd_sum)} |")
    print(f"| bce run Full 148 on snapshot 147 (diff) | {f2_s:.1f} | {f2_rss:.0f} | {steps(f2_sum)} | {events(f2_sum)} |")
    print(f"\nUpdate applied end to end: {upd_s:.1f} s wall ({upd_s / full_s:.2f}× the Full run's {full_s:.1f} s)")
    print(f"Two Full snapshots diffed: {diff:.2f} s = {diff / ingest:.2f}× the ingest step of one Full "
          f"({ingest:.2f} s, same run series)")
    score = full_sum["steps"]["score"]
    print(f"Scoring {a.enterprises:,} enterprises with filings: {score:.2f} s = {score / ingest:.2f}× the ingest "
          f"step of the same run; categories {full_sum['scores']['categories']}")
    same = upd_sum["events"] == f2_sum["events"]
    print(f"Events per type, Update path vs Full path: {'identical' if same else 'DIFFERENT'}: {upd_sum['events']}")


if __name__ == "__main__":
    main()

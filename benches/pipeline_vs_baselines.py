#!/usr/bin/env python3
"""Full-scale benchmark of `bce run` against the plain baselines, in one run, on the same files.

    python3 benches/pipeline_vs_baselines.py [--enterprises 2000000] [--work /tmp/bce-bench]
        [--runs N] [--no-tables]

Steps: `bce generate` (timed) → unzip (untimed, for the baselines) → `bce run` from the zip
(--storage views, the default, and --storage tables), and from the unzipped folder (what the
baselines read) → (a) a bare DuckDB import of the unzipped CSV
files into a .duckdb file, (b) Polars' CSV→Parquet (zstd). Each command runs in its own process;
wall time and peak RSS come from wait4(). With --runs N the commands run in N rounds, one after
the other in each round, and the best of each is kept; the table gives ratios of the bests, and the
ratios within each round follow it.
Needs the release binary (cargo build --release) and installs duckdb 2.0.1 and polars 2.1.0 with pip.
"""
import argparse, os, shutil, subprocess, sys, time, zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BCE = os.path.join(ROOT, "target", "release", "bce")
FILES = ["enterprise", "establishment", "branch", "denomination", "address", "contact", "activity", "code"]

DUCKDB = """
import duckdb, os, sys
db = sys.argv[1] + '/baseline.duckdb'
if os.path.exists(db): os.remove(db)
c = duckdb.connect(db)
for f in %r:
    c.execute(f"CREATE TABLE {f} AS SELECT * FROM read_csv('{sys.argv[2]}/{f}.csv')")
c.close()
""" % FILES

POLARS = """
import polars as pl, os, sys
out = sys.argv[1] + '/polars'
os.makedirs(out, exist_ok=True)
for f in %r:
    pl.scan_csv(f'{sys.argv[2]}/{f}.csv').sink_parquet(f'{out}/{f}.parquet', compression='zstd')
""" % FILES


def measure(cmd, **kw):
    """Runs cmd; returns (seconds, peak RSS in MB)."""
    t = time.time()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)
    _, status, ru = os.wait4(p.pid, 0)
    seconds = time.time() - t
    err = p.stderr.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{err[-2000:]}")
    return seconds, ru.ru_maxrss / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--enterprises", type=int, default=2_000_000)
    ap.add_argument("--work", default="/tmp/bce-bench")
    ap.add_argument("--runs", type=int, default=1, help="rounds of the timed commands, keep the best")
    ap.add_argument("--no-tables", action="store_true", help="leave out bce run --storage tables")
    a = ap.parse_args()
    # Pinned: the versions BENCHMARKS.md reports; a newer baseline moves the ratios by itself.
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    "duckdb==2.0.1", "polars==2.1.0"],
                   check=True, env={**os.environ, "PIP_ROOT_USER_ACTION": "ignore"})
    if not os.path.exists(BCE):
        sys.exit("build first: cargo build --release")
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    gen_s, gen_rss = measure([BCE, "generate", "--enterprises", str(a.enterprises), "--seed", "42", "--out", a.work + "/extract"])
    zip_path = [os.path.join(a.work, "extract", f) for f in os.listdir(a.work + "/extract") if f.endswith(".zip")][0]
    csv_dir = a.work + "/csv"
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(csv_dir)
    csv_bytes = sum(os.path.getsize(os.path.join(csv_dir, f)) for f in os.listdir(csv_dir))
    rows = sum(1 for f in FILES for _ in open(os.path.join(csv_dir, f + ".csv"), "rb")) - len(FILES)

    # Round-robin: every command once per round, best of the rounds kept. This machine's speed
    # drifts by 20 % from one minute to the next; interleaving spreads that over all commands
    # instead of letting one command's runs fall in a slow minute.
    commands = {}
    for storage in ["views"] + ([] if a.no_tables else ["tables"]):
        out = f"{a.work}/out-{storage}"
        commands[f"bce run (zip, --storage {storage})"] = [
            BCE, "--log-format", "json", "run", zip_path, "--out", out, "--force", "--storage", storage]
    # Like for like with the baselines, which read the unzipped files: the same run without the
    # inflate (informative; the targets are for the run from the zip).
    commands["bce run (unzipped folder, --storage views)"] = [
        BCE, "--log-format", "json", "run", csv_dir, "--out", f"{a.work}/out-folder", "--force"]
    commands["(a) DuckDB import of the CSV files"] = [sys.executable, "-c", DUCKDB, a.work, csv_dir]
    commands["(b) Polars CSV→Parquet (zstd)"] = [sys.executable, "-c", POLARS, a.work, csv_dir]
    results, rounds = {}, []
    for _ in range(a.runs):
        r = {name: measure(cmd) for name, cmd in commands.items()}
        rounds.append(r)
        for name, m in r.items():
            if name not in results or m[0] < results[name][0]:
                results[name] = m
    a_s = results["(a) DuckDB import of the CSV files"][0]
    b_s = results["(b) Polars CSV→Parquet (zstd)"][0]

    print(f"\n{a.enterprises:,} enterprises, {rows:,} data rows, {csv_bytes / 1e9:.2f} GB of CSV "
          f"({os.path.getsize(zip_path) / 1e6:.0f} MB zip), {os.cpu_count()} cores\n")
    print("| command | wall (s) | peak RSS (MB) | ratio to (a) | ratio to (b) |")
    print("|---|---:|---:|---:|---:|")
    for name, (s, rss) in results.items():
        print(f"| {name} | {s:.1f} | {rss:.0f} | {s / a_s:.2f} | {s / b_s:.2f} |")
    views, duck, pol = ("bce run (zip, --storage views)", "(a) DuckDB import of the CSV files",
                        "(b) Polars CSV→Parquet (zstd)")
    folder = "bce run (unzipped folder, --storage views)"
    for name in [views, folder]:
        print(f"\nper round ({name} ÷ (a), ÷ (b) in the same round): " + ", ".join(
            f"{r[name][0] / r[duck][0]:.2f} / {r[name][0] / r[pol][0]:.2f}" for r in rounds))
    print(f"\n`bce generate --enterprises {a.enterprises}`: {gen_s:.1f} s, peak RSS {gen_rss:.0f} MB")
    versions = subprocess.run([sys.executable, "-c", "import duckdb, polars; print(duckdb.__version__, polars.__version__)"],
                              capture_output=True, text=True).stdout.split()
    print(f"baselines: Python duckdb {versions[0]}, polars {versions[1]}; bce links libduckdb 1.5.6")


if __name__ == "__main__":
    main()

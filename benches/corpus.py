#!/usr/bin/env python3
"""Corpus-scale benchmark: `sigma convert` (pySigma) vs `rmmc` on real rule sets.

What it measures
----------------
1. `sigma convert` (sigma-cli 3.1.0, pySigma 1.5.1, pinned backends in
   benches/requirements-sigma-convert.txt) over LOLRMM's generated Sigma rules
   (default ../shared/corpus/lolrmm/detections/sigma, 632 files), one process
   per target over the whole folder, as a user would run it:
       sigma convert -s -t kusto  -p microsoft_xdr   DIR
       sigma convert -s -t splunk -p splunk_windows  DIR
       sigma convert -s -t eql    -p ecs_windows     DIR
       sigma convert -s -t lucene -p ecs_windows     DIR
   `-s` (--skip-unsupported) keeps going past rules a backend/pipeline cannot
   handle; sigma-cli then lists them under "Ignored errors:" on stderr, one
   `<rule path>: <error>` per rule. skipped = distinct input files named there;
   converted = distinct input files that produced a query, counted from an
   extra (untimed, warm-up) run with --output-dir. The script fails if the two
   do not add up to the number of input files.
2. rmmc (a release binary, `--rmmc PATH`) on the spec folders given with
   `--specs DIR [DIR...]`:
       rmmc build DIR... --out TMP      (all targets, the default; a fresh folder)
       rmmc build DIR... --out TMP2     (the same again over its last output: a rebuild)
       rmmc build DIR... --out -        (the same artifacts printed to stdout)
       rmmc check DIR...                (the same compilation, nothing written)
       rmmc verify DIR...
       rmmc import sentinel SENTINEL_DIR --out TMP   (unless --skip-import)
       rmmc import lolrmm   LOLRMM_YAML  --out TMP   (unless --skip-import)
   Every other build/import writes to a fresh, not-yet-existing folder.

Which rmmc figure compares with `sigma convert`: sigma convert prints its queries
to stdout (here redirected to a file), so the like-for-like figure is
`rmmc build --out -`, which prints every artifact (query and wrapper, all
targets) to stdout, each after a `==> PATH <==` line, into a file the same way.
The fresh-folder build is reported too, and is the user's real `rmmc build`,
but most of its wall time is the file system creating ~3,400 files (on ext4,
creating that many small files in a fresh folder took 0.6-1.6 s from Python,
0.06 s on tmpfs): it measures the disk as much as the compiler. `rmmc check`
compiles everything in memory and prints nothing: a lower bound. The report
gives the ratio against each of the three, saying which is which.

Each command gets one untimed warm-up run (page cache, .pyc), then the median
wall time of --sigma-runs (default 3) / --rmmc-runs (default 5) timed runs.
Peak RSS is the largest maximum resident set size of the timed runs, per
process, from GNU time's %M (`/usr/bin/time -f %M -o FILE CMD`; its ~1 ms of
start-up is inside the wall time), falling back to os.wait4's ru_maxrss when
/usr/bin/time is missing (inflated by this script's own RSS; see GNU_TIME). Output is redirected to files under a temp folder, never a terminal.
Installing (--setup) happens before, and outside, every timing.

Any command exiting non-zero (a conversion error without -s, an rmmc verify
mismatch, a missing subcommand) aborts the script with exit status 1.

Usage (from the repository root; stdlib only, Python >= 3.11)
-----
    export CARGO_TARGET_DIR=/work/tgt-bench        # or leave unset: target/
    cargo build --release
    python3 benches/corpus.py --setup \\
        --rmmc "$CARGO_TARGET_DIR/release/rmmc" --specs rules --skip-import \\
        --json /tmp/corpus-bench.json
    # the full comparison, once multi-folder build/verify and import exist:
    python3 benches/corpus.py --rmmc target/release/rmmc --specs DIR1 DIR2 ...
    # only one side:   --skip-sigma   |   --skip-rmmc

--setup creates benches/.venv (git-ignored) and pip-installs the pinned
requirements; without it the script expects benches/.venv/bin/sigma (or
--sigma PATH). The table printed at the end is Markdown, followed by the
ratio  sum(sigma convert medians over the targets) / median(rmmc build).
Note that the ratio compares like with like only when --specs holds the same
rules as the Sigma folder (e.g. the output of `rmmc import lolrmm`); with the
three shipped specs it is just a smoke test of the script.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
VENV = BENCH_DIR / ".venv"
REQUIREMENTS = BENCH_DIR / "requirements-sigma-convert.txt"

# (label, target, pipelines)
SIGMA_TARGETS = [
    ("kusto", "kusto", ["microsoft_xdr"]),
    ("splunk", "splunk", ["splunk_windows"]),
    ("eql", "eql", ["ecs_windows"]),
    ("lucene", "lucene", ["ecs_windows"]),
]


# Peak RSS comes from GNU time's %M when it exists. os.wait4's ru_maxrss of a
# child spawned straight from this script also counts this Python process: the
# child starts as a (v)fork of it, and Linux folds the pre-exec memory's high
# water mark into the child's maxrss at exec. That inflated small rmmc runs from
# ~9 MiB to ~16.5 MiB. GNU time is a small C program, so its child starts tiny.
GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


class BenchError(Exception):
    pass


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run_once(cmd: list[str], stdout_path: Path, stderr_path: Path, timeout: float) -> tuple[float, int]:
    """Run cmd once; return (wall seconds, peak RSS KiB). Raise on non-zero exit."""
    rss_path = stdout_path.with_suffix(".rss")
    argv = [GNU_TIME, "-f", "%M", "-o", str(rss_path), *cmd] if GNU_TIME else cmd
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        deadline = start + timeout
        while True:
            pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
            if pid != 0:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                os.wait4(proc.pid, 0)
                raise BenchError(f"timed out after {timeout}s: {' '.join(cmd)}")
            time.sleep(0.002)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # keep Popen from waiting again
    if proc.returncode != 0:
        tail = stderr_path.read_text(errors="replace")[-3000:]
        raise BenchError(f"exit {proc.returncode}: {' '.join(cmd)}\n--- stderr (tail) ---\n{tail}")
    if GNU_TIME:  # last line of -o is %M (KiB); earlier lines may be time's own notes
        return wall, int(rss_path.read_text().split()[-1])
    return wall, rusage.ru_maxrss  # Linux: KiB, but see GNU_TIME above


def measure(name: str, make_cmd, runs: int, work: Path, timeout: float, check=None) -> dict:
    """One untimed warm-up, then `runs` timed runs. make_cmd(i) -> argv (i=-1 warm-up).
    check(i, stdout_path, stderr_path) may inspect each run's output."""
    safe = re.sub(r"[^A-Za-z0-9]+", "_", name)
    walls, rss = [], []
    for i in range(-1, runs):
        so, se = work / f"{safe}.{i}.out", work / f"{safe}.{i}.err"
        cmd = make_cmd(i)
        wall, maxrss = run_once(cmd, so, se, timeout)
        if check:
            check(i, so, se)
        if i >= 0:
            walls.append(wall)
            rss.append(maxrss)
        log(f"  {name} [{'warm-up' if i < 0 else f'run {i + 1}/{runs}'}] {wall:.3f}s {maxrss / 1024:.1f} MiB")
    return {
        "command": name,
        "argv": make_cmd(0),
        "runs": runs,
        "wall_s": walls,
        "median_s": statistics.median(walls),
        "peak_rss_kib": max(rss),
        "rss_kib": rss,
    }


# --- sigma convert ---------------------------------------------------------

def setup_venv() -> None:
    if not (VENV / "bin" / "python").exists():
        log(f"creating {VENV}")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    log(f"installing {REQUIREMENTS.name}")
    subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "-r", str(REQUIREMENTS)], check=True)
    subprocess.run([str(VENV / "bin" / "pip"), "check"], check=True)


def versions(sigma_bin: Path) -> dict:
    py = sigma_bin.parent / "python"
    code = (
        "import importlib.metadata as m\n"
        "for p in ['sigma-cli','pySigma','pySigma-backend-kusto','pySigma-backend-splunk',"
        "'pySigma-backend-elasticsearch']:\n"
        "    try: print(p, m.version(p))\n"
        "    except m.PackageNotFoundError: print(p, 'missing')\n"
    )
    if not py.exists():
        return {}
    out = subprocess.run([str(py), "-c", code], capture_output=True, text=True, check=True).stdout
    return dict(line.split(" ", 1) for line in out.splitlines())


ERR_LINE = re.compile(r"^(.+?\.ya?ml): ")


def skipped_files(stderr_text: str, inputs: set[str]) -> set[str]:
    """Input files sigma-cli names under 'Ignored errors:' (one `<source>: <error>` each;
    error messages may span several lines, so only lines naming an input file count)."""
    _, sep, tail = stderr_text.partition("\nIgnored errors:\n")
    if not sep:
        return set()
    found = set()
    for line in tail.splitlines():
        m = ERR_LINE.match(line)
        if m and os.path.realpath(m.group(1)) in inputs:
            found.add(os.path.realpath(m.group(1)))
    return found


def bench_sigma(args, work: Path) -> list[dict]:
    sigma_dir = Path(args.sigma_dir).resolve()
    inputs = {os.path.realpath(p) for p in sigma_dir.rglob("*.yml")}
    if not inputs:
        raise BenchError(f"no *.yml under {sigma_dir}")
    stems = {Path(p).stem for p in inputs}
    if len(stems) != len(inputs):
        raise BenchError("duplicate file stems in the Sigma folder; converted count would be ambiguous")
    sigma_bin = Path(args.sigma)
    if not sigma_bin.exists():
        raise BenchError(f"{sigma_bin} not found: run with --setup (or pass --sigma PATH)")
    log(f"sigma convert: {len(inputs)} rules in {sigma_dir}")
    results = []
    for label, target, pipelines in SIGMA_TARGETS:
        if args.sigma_targets and label not in args.sigma_targets:
            continue
        base = [str(sigma_bin), "convert", "-s", "-t", target]
        for p in pipelines:
            base += ["-p", p]
        od = work / f"sigma-{label}-od"
        skipped_per_run: list[frozenset] = []

        def make_cmd(i, base=base, od=od, label=label):
            if i < 0:  # warm-up doubles as the converted count: one file per query
                return base + ["-od", str(od), "-ot", "{stem}--{index}.txt", str(sigma_dir)]
            return base + ["-o", str(work / f"sigma-{label}.{i}.queries"), str(sigma_dir)]

        def check(i, so, se, skipped_per_run=skipped_per_run):
            skipped_per_run.append(frozenset(skipped_files(se.read_text(errors="replace"), inputs)))

        r = measure(f"sigma convert -t {target} ({'+'.join(pipelines)})", make_cmd, args.sigma_runs,
                    work, args.timeout, check)
        if len(set(skipped_per_run)) != 1:
            raise BenchError(f"{label}: skipped set differs between runs")
        skipped = skipped_per_run[0]
        written = [f.name for f in od.iterdir()] if od.exists() else []
        converted = {n.rsplit("--", 1)[0] for n in written}
        queries = len(written)
        if converted & {Path(p).stem for p in skipped}:
            raise BenchError(f"{label}: a rule is both converted and skipped")
        if len(converted) + len(skipped) != len(inputs):
            raise BenchError(f"{label}: converted {len(converted)} + skipped {len(skipped)} != {len(inputs)} rules")
        r.update(target=label, rules=len(inputs), converted=len(converted), skipped=len(skipped),
                 queries=queries, skipped_files=sorted(os.path.basename(p) for p in skipped))
        shutil.rmtree(od, ignore_errors=True)
        for f in work.glob(f"sigma-{label}.*.queries"):
            f.unlink()
        results.append(r)
    return results


# --- rmmc ------------------------------------------------------------------

def bench_rmmc(args, work: Path) -> list[dict]:
    rmmc = Path(args.rmmc).resolve()
    if not rmmc.exists():
        raise BenchError(f"{rmmc} not found (cargo build --release)")
    specs = [str(Path(d).resolve()) for d in args.specs]
    for d in specs:
        if not Path(d).is_dir():
            raise BenchError(f"--specs {d}: not a folder")
    n_specs = sum(1 for d in specs for _ in Path(d).glob("*.yaml"))
    log(f"rmmc: {n_specs} specs in {len(specs)} folder(s)")
    results = []
    counter = iter(range(10**9))

    def fresh_out(tag):
        return str(work / f"{tag}-{next(counter)}")

    r = measure("rmmc build (all targets, fresh folder)",
                lambda i: [str(rmmc), "build", *specs, "--out", fresh_out("build")],
                args.rmmc_runs, work, args.timeout)
    r.update(kind="build", specs=n_specs)
    results.append(r)
    # the same build again over its own output (the warm-up run makes it): what a detection
    # engineer's edit-build loop does; the new tree replaces the old one whole
    rebuilt = str(work / "rebuild")
    r = measure("rmmc build (all targets, over the last build)",
                lambda i: [str(rmmc), "build", *specs, "--out", rebuilt],
                args.rmmc_runs, work, args.timeout)
    r.update(kind="rebuild", specs=n_specs)
    results.append(r)
    # every artifact to stdout (a file under the temp folder, as sigma convert's queries):
    # the like-for-like comparison with `sigma convert`, which prints to stdout
    r = measure("rmmc build --out - (all targets, to stdout)",
                lambda i: [str(rmmc), "build", *specs, "--out", "-"], args.rmmc_runs, work, args.timeout)
    r.update(kind="build-stdout", specs=n_specs)
    results.append(r)
    # compile to all backends in memory, writing nothing: what `sigma convert` printing
    # queries to stdout does (a build's wall time is mostly the file system creating files)
    r = measure("rmmc check (compile all targets, no files)",
                lambda i: [str(rmmc), "check", *specs], args.rmmc_runs, work, args.timeout)
    r.update(kind="check", specs=n_specs)
    results.append(r)
    r = measure("rmmc verify", lambda i: [str(rmmc), "verify", *specs], args.rmmc_runs, work, args.timeout)
    r.update(kind="verify", specs=n_specs)
    results.append(r)
    if not args.skip_import:
        for kind, src in (("sentinel", args.sentinel_dir), ("lolrmm", args.lolrmm_yaml)):
            src = str(Path(src).resolve())
            r = measure(f"rmmc import {kind}",
                        lambda i, kind=kind, src=src: [str(rmmc), "import", kind, src, "--out", fresh_out(kind)],
                        args.rmmc_runs, work, args.timeout)
            r.update(kind=f"import-{kind}", source=src)
            results.append(r)
    for d in work.iterdir():  # keep the temp folder small between phases
        if d.is_dir():
            shutil.rmtree(d, ignore_errors=True)
    return results


# --- report ----------------------------------------------------------------

def mib(kib: int) -> str:
    return f"{kib / 1024:.1f} MiB"


def report(sigma: list[dict], rmmc: list[dict]) -> dict:
    lines = ["| command | median wall | peak RSS | converted | skipped |",
             "|---|---:|---:|---:|---:|"]
    for r in sigma:
        lines.append(f"| `{r['command']}` | {r['median_s']:.3f} s | {mib(r['peak_rss_kib'])} | "
                     f"{r['converted']}/{r['rules']} | {r['skipped']} |")
    for r in rmmc:
        lines.append(f"| `{r['command']}` | {r['median_s']:.3f} s | {mib(r['peak_rss_kib'])} | | |")
    print("\n".join(lines))
    ratio = {}
    build = next((r for r in rmmc if r["kind"] == "build"), None)
    if sigma and build:
        total = sum(r["median_s"] for r in sigma)
        three = [r for r in sigma if r["target"] in ("kusto", "splunk", "eql")]
        ratio = {"sigma_total_s": total, "sigma_targets": [r["target"] for r in sigma],
                 "rmmc_build_s": build["median_s"], "ratio": total / build["median_s"]}
        print()
        stdout = next((r for r in rmmc if r["kind"] == "build-stdout"), None)
        if stdout:
            ratio.update(rmmc_build_stdout_s=stdout["median_s"], ratio_stdout=total / stdout["median_s"])
            print(f"sigma convert total ({'+'.join(ratio['sigma_targets'])}) / rmmc build --out - "
                  f"(all backends + wrappers printed to stdout, as sigma convert prints its queries; "
                  f"like for like): {total:.3f} s / {stdout['median_s']:.3f} s = **{ratio['ratio_stdout']:.1f}x**")
        print(f"sigma convert total ({'+'.join(ratio['sigma_targets'])}) / rmmc build into a fresh folder "
              f"(all backends + wrappers, one file each; mostly the file system creating them): "
              f"{total:.3f} s / {build['median_s']:.3f} s = **{ratio['ratio']:.1f}x**")
        if len(three) == 3 and len(sigma) == 4:
            t3 = sum(r["median_s"] for r in three)
            ratio.update(sigma_three_s=t3, ratio_three=t3 / build["median_s"])
            print(f"(kusto+splunk+eql only: {t3:.3f} s / {build['median_s']:.3f} s = {ratio['ratio_three']:.1f}x)")
        rebuild = next((r for r in rmmc if r["kind"] == "rebuild"), None)
        if rebuild:
            ratio.update(rmmc_rebuild_s=rebuild["median_s"], ratio_rebuild=total / rebuild["median_s"])
            print(f"sigma convert total / rmmc build over its last output (the same files replaced): "
                  f"{total:.3f} s / {rebuild['median_s']:.3f} s = **{ratio['ratio_rebuild']:.1f}x**")
        check = next((r for r in rmmc if r["kind"] == "check"), None)
        if check:
            ratio.update(rmmc_check_s=check["median_s"], ratio_check=total / check["median_s"])
            print(f"sigma convert total / rmmc check (the same compilation in memory, printing nothing): "
                  f"{total:.3f} s / {check['median_s']:.3f} s = **{ratio['ratio_check']:.1f}x**")
        rules = sigma[0]["rules"]
        if build["specs"] != rules:
            print(f"\nNote: rmmc compiled {build['specs']} specs, sigma convert {rules} rules; "
                  "the ratio is not like for like.")
    return ratio


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rmmc", default=str(Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "release" / "rmmc"),
                    help="rmmc release binary (default: $CARGO_TARGET_DIR or target/, release/rmmc)")
    ap.add_argument("--specs", nargs="+", metavar="DIR", help="spec folders for rmmc build/verify")
    ap.add_argument("--skip-import", action="store_true", help="do not time `rmmc import sentinel|lolrmm`")
    ap.add_argument("--skip-rmmc", action="store_true")
    ap.add_argument("--skip-sigma", action="store_true")
    ap.add_argument("--setup", action="store_true", help="create benches/.venv and install the pinned sigma-cli first")
    ap.add_argument("--sigma", default=str(VENV / "bin" / "sigma"), help="sigma-cli executable")
    ap.add_argument("--sigma-dir", default=str(REPO.parent / "shared/corpus/lolrmm/detections/sigma"))
    ap.add_argument("--sigma-targets", nargs="+", choices=[t[0] for t in SIGMA_TARGETS])
    ap.add_argument("--sentinel-dir", default=str(REPO.parent / "shared/corpus/sentinel-rmm-hunting/RMM"))
    ap.add_argument("--lolrmm-yaml", default=str(REPO.parent / "shared/corpus/lolrmm/yaml"))
    ap.add_argument("--sigma-runs", type=int, default=3)
    ap.add_argument("--rmmc-runs", type=int, default=5)
    ap.add_argument("--timeout", type=float, default=1800, help="per invocation, seconds")
    ap.add_argument("--json", metavar="OUT", help="write the raw numbers here")
    args = ap.parse_args()
    if not args.skip_rmmc and not args.specs:
        ap.error("--specs DIR [DIR...] is required (or --skip-rmmc)")
    if args.sigma_runs < 1 or args.rmmc_runs < 1:
        ap.error("runs must be >= 1")

    try:
        if args.setup and not args.skip_sigma:
            setup_venv()
        with tempfile.TemporaryDirectory(prefix="rmmc-corpus-bench-") as tmp:
            work = Path(tmp)
            sigma = [] if args.skip_sigma else bench_sigma(args, work)
            rmmc = [] if args.skip_rmmc else bench_rmmc(args, work)
    except BenchError as e:
        log(f"corpus.py: FAILED: {e}")
        return 1
    except subprocess.CalledProcessError as e:
        log(f"corpus.py: FAILED: {e}")
        return 1

    ratio = report(sigma, rmmc)
    if args.json:
        data = {
            "machine": {"platform": platform.platform(), "python": platform.python_version(),
                        "cpus": os.cpu_count()},
            "versions": {} if args.skip_sigma else versions(Path(args.sigma)),
            "rmmc": None if args.skip_rmmc else str(Path(args.rmmc).resolve()),
            "sigma_convert": sigma,
            "rmmc_commands": rmmc,
            "ratio": ratio,
        }
        Path(args.json).write_text(json.dumps(data, indent=2) + "\n")
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""End-to-end `rmmc eval` from JSON lines: vs DuckDB on the seed netconn rule, and the
events/s of each evaluator (KQL, SPL, EQL, Sigma) on its 3-predicate netconn rule.

What it does, in one run
------------------------
1. Generates (once; reused while the file exists) deterministic 1,000,000-event exports in
   each backend's native shape, under --data (default benches/.data):
     defender.jsonl  Defender DeviceNetworkEvents rows, 19 of the table's 44 columns
                     (backends/kql-schema.json), about 660 bytes a row
     sysmon.jsonl    flat Sysmon EID 3 events as Splunk exports them (_time, index, EventID,
                     sourcetype, EventCode, Computer, DestinationHostname, …)
     ecs.jsonl       nested ECS network documents (event.category, destination.domain,
                     process.pe.company, …)
   Every 10th URL is geo.netsupportsoftware.com or www.netsupportsoftware.com, a quarter of
   the processes are NetSupport's, timestamps spread over the 7 days before --now (5 of them
   in the rule's window), 500 devices: the seed rule's result is 1,000 groups
   (DeviceId, DeviceName, RemoteUrl).
2. Times `rmmc eval examples/deployed/kql/netsupport-netconn.kql --events defender.jsonl`
   and DuckDB (`read_json` + the equivalent SQL: `has` as a case-insensitive regular
   expression on ASCII term boundaries, `between` on the window, `min`/`max`/`list(DISTINCT)`
   /`count(*)` by the three columns) in separate processes, and checks that both give the
   same rows (sets compared as sorted lists, times as instants).
3. Times `rmmc eval --threads 1` of the netsupport-netconn artifact of each backend over
   its export and reports events per second of CPU time (user + system): per core.

Each command gets one untimed warm-up run (page cache), then the median wall time of --runs
(default 3) timed runs; peak RSS is GNU time's %M (largest over the runs), CPU time its
%U + %S (median). DuckDB and rmmc run with their default thread counts (one per core).

Usage (from the repository root; Python >= 3.11):
    cargo build --release
    python3 benches/eval_duckdb.py --setup      # once: benches/.venv-duckdb with duckdb
    python3 benches/eval_duckdb.py [--rmmc target/release/rmmc] [--events 1000000] [--runs 3]
Exit status 1 when the result rows differ or a command fails.
"""

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "benches" / ".venv-duckdb"
DUCKDB_VERSION = "1.4.2"
NOW = "2026-05-31T11:00:00Z"
NOW_DT = dt.datetime(2026, 5, 31, 11, 0, 0, tzinfo=dt.timezone.utc)
WEEK = 7 * 86400
# 2: Sysmon events carry EventID (Sigma's windows/network_connection logsource selects
# EventID 3; without it the Sigma rule judged no event)
GENERATOR_VERSION = 2

URLS = [
    "geo.netsupportsoftware.com",
    "login.microsoftonline.com",
    "www.netsupportsoftware.com",
    "xnetsupportsoftware.com",
    "update.googleapis.com",
    "server.action1.com",
    "netsupportsoftware.community",
    "cdn.office.net",
    "id.supremocontrol.com",
    "edge.skype.com",
]
COMPANIES = ["NetSupport Ltd", "Microsoft Corporation", "Action1 Corporation", "Google LLC"]
IMAGES = ["client32.exe", "msedge.exe", "action1_agent.exe", "chrome.exe"]


def event_fields(i):
    dev = i % 500
    url = URLS[(i // 500) % len(URLS)]
    k = (i // 5000) % len(COMPANIES)
    t = NOW_DT - dt.timedelta(seconds=(i * 7919) % WEEK)
    return dev, url, k, t


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def gen_defender(i):
    dev, url, k, t = event_fields(i)
    h = f"{(i * 2654435761) % (1 << 32):08x}"
    return {
        "Timestamp": iso(t),
        "DeviceId": f"{dev:04d}" + "a" * 36,
        "DeviceName": f"ws-{dev:04d}.corp.example.com",
        "ActionType": "ConnectionSuccess",
        "RemoteIP": f"62.172.{i % 256}.{(i // 256) % 256}",
        "RemotePort": 443,
        "RemoteUrl": url,
        "LocalIP": f"10.1.{dev // 256}.{dev % 256}",
        "LocalPort": 49152 + i % 16000,
        "Protocol": "Tcp",
        "InitiatingProcessSHA256": h * 8,
        "InitiatingProcessFileName": IMAGES[k],
        "InitiatingProcessVersionInfoCompanyName": COMPANIES[k],
        "InitiatingProcessVersionInfoProductName": COMPANIES[k].split()[0] + " Client",
        "InitiatingProcessId": 1000 + i % 50000,
        "InitiatingProcessCommandLine": f'"{IMAGES[k]}" /silent',
        "InitiatingProcessFolderPath": f"c:\\program files\\app\\{IMAGES[k]}",
        "InitiatingProcessAccountName": f"user{dev}",
        "ReportId": i,
    }


def gen_sysmon(i):
    dev, url, k, t = event_fields(i)
    return {
        "_time": iso(t),
        "index": "main",
        "sourcetype": "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational",
        "EventCode": "3",
        "EventID": 3,
        "host": f"ws-{dev:04d}",
        "Computer": f"ws-{dev:04d}.corp.example.com",
        "UtcTime": t.strftime("%Y-%m-%d %H:%M:%S.000"),
        "ProcessGuid": "{5770385f-c22a-5e0d-0000-0010aaaaaaaa}",
        "ProcessId": str(1000 + i % 50000),
        "Image": f"C:\\Program Files\\App\\{IMAGES[k]}",
        "User": f"CORP\\user{dev}",
        "Protocol": "tcp",
        "Initiated": "true",
        "SourceIp": f"10.1.{dev // 256}.{dev % 256}",
        "SourceHostname": f"ws-{dev:04d}.corp.example.com",
        "SourcePort": str(49152 + i % 16000),
        "DestinationIp": f"62.172.{i % 256}.{(i // 256) % 256}",
        "DestinationHostname": url,
        "DestinationPort": "443",
        "RecordID": str(i),
    }


def gen_ecs(i):
    dev, url, k, t = event_fields(i)
    return {
        "@timestamp": iso(t),
        "event": {"category": ["network"], "type": ["connection"], "action": "connection_attempted"},
        "host": {"id": f"{dev:04d}" + "a" * 36, "name": f"ws-{dev:04d}.corp.example.com"},
        "source": {"ip": f"10.1.{dev // 256}.{dev % 256}", "port": 49152 + i % 16000},
        "destination": {"ip": f"62.172.{i % 256}.{(i // 256) % 256}", "port": 443, "domain": url},
        "process": {
            "name": IMAGES[k],
            "pid": 1000 + i % 50000,
            "executable": f"C:\\Program Files\\App\\{IMAGES[k]}",
            "pe": {"company": COMPANIES[k], "product": COMPANIES[k].split()[0] + " Client"},
        },
        "user": {"name": f"user{dev}", "domain": "corp"},
        "network": {"transport": "tcp", "direction": "egress"},
    }


def generate(path, gen, n):
    """Write n events of gen to path unless it holds them: the .count file beside it names
    the count and the generator's version (bumped when a generator changes)."""
    stamp = f"{n} v{GENERATOR_VERSION}"
    if path.exists() and path.with_suffix(".count").exists():
        if path.with_suffix(".count").read_text().strip() == stamp:
            return
    path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    with open(path, "w") as f:
        dumps = json.JSONEncoder(separators=(",", ":")).encode
        for i in range(n):
            f.write(dumps(gen(i)))
            f.write("\n")
    path.with_suffix(".count").write_text(stamp)
    print(f"generated {path} ({path.stat().st_size / 1e6:.0f} MB) in {time.time() - t0:.0f} s",
          file=sys.stderr)


def timed(cmd, runs, out_path):
    """Warm up once, then `runs` timed runs: (median wall s, max peak RSS MiB, the walls,
    median CPU s = user + system)."""
    walls, rss, cpus = [], [], []
    for k in range(runs + 1):
        with tempfile.NamedTemporaryFile(mode="r") as tf, open(out_path, "w") as out:
            t0 = time.perf_counter()
            p = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", tf.name, *cmd],
                               stdout=out, stderr=subprocess.PIPE, text=True)
            wall = time.perf_counter() - t0
            if p.returncode != 0:
                sys.exit(f"failed ({p.returncode}): {' '.join(map(str, cmd))}\n{p.stderr}")
            if k > 0:
                m, u, s_ = tf.read().split()[-3:]
                walls.append(wall)
                rss.append(int(m) / 1024)
                cpus.append(float(u) + float(s_))
    return statistics.median(walls), max(rss), walls, statistics.median(cpus)


DUCKDB_SQL = r"""
SELECT DeviceId, DeviceName, RemoteUrl,
       epoch(min(Timestamp)) AS FirstSeen, epoch(max(Timestamp)) AS LastSeen,
       list_sort(list(DISTINCT ReportId)) AS Report, count(*) AS Count
FROM read_json('{path}', format = 'newline_delimited')
WHERE Timestamp BETWEEN TIMESTAMPTZ '{now}' - INTERVAL 5 DAY AND TIMESTAMPTZ '{now}'
  AND regexp_matches(RemoteUrl, '(?i)(^|[^a-z0-9])netsupportsoftware\.com($|[^a-z0-9])')
  AND regexp_matches(InitiatingProcessVersionInfoCompanyName, '(?i)(^|[^a-z0-9])netsupport($|[^a-z0-9])')
GROUP BY DeviceId, DeviceName, RemoteUrl
"""

DUCKDB_RUNNER = r"""
import duckdb, json, sys
rows = duckdb.sql(sys.argv[1]).fetchall()
for r in rows:
    print(json.dumps(list(r)))
"""


def instant(s):
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--setup", action="store_true", help=f"install duckdb=={DUCKDB_VERSION} into {VENV}")
    ap.add_argument("--rmmc", default=str(ROOT / "target" / "release" / "rmmc"))
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--data", default=str(ROOT / "benches" / ".data"))
    ap.add_argument("--skip-duckdb", action="store_true")
    args = ap.parse_args()
    if args.setup:
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", f"duckdb=={DUCKDB_VERSION}"],
                       check=True)
    data = Path(args.data)
    exports = {"defender": gen_defender, "sysmon": gen_sysmon, "ecs": gen_ecs}
    for name, gen in exports.items():
        generate(data / f"{name}.jsonl", gen, args.events)
    work = Path(tempfile.mkdtemp(prefix="rmmc-eval-bench-"))
    n = args.events
    print(f"{n:,} events per export; now = {NOW}; rmmc = {args.rmmc}\n")

    kql = ROOT / "examples/deployed/kql/netsupport-netconn.kql"
    defender = data / "defender.jsonl"
    threads = os.cpu_count()
    rm_wall, rm_rss, rm_all, rm_cpu = timed(
        [args.rmmc, "eval", kql, "--events", defender, "--now", NOW], args.runs,
        work / "rmmc.jsonl")
    print(f"{'command':<50} {'wall s':>7} {'CPU s':>6} {'peak MiB':>9}  runs (wall s)")
    print(f"{f'rmmc eval netsupport-netconn.kql ({threads} threads)':<50} {rm_wall:>7.2f} "
          f"{rm_cpu:>6.2f} {rm_rss:>9.0f}  " + " ".join(f"{w:.2f}" for w in rm_all))
    failed = False
    if not args.skip_duckdb:
        py = VENV / "bin" / "python"
        if not py.exists():
            sys.exit(f"{py} is missing: run with --setup first")
        sql = DUCKDB_SQL.format(path=defender, now=NOW.replace("T", " ").replace("Z", "+00"))
        runner = work / "duck.py"
        runner.write_text(DUCKDB_RUNNER)
        dk_wall, dk_rss, dk_all, dk_cpu = timed([py, runner, sql], args.runs,
                                                work / "duck.jsonl")
        print(f"{f'duckdb {DUCKDB_VERSION} read_json + SQL ({threads} threads)':<50} "
              f"{dk_wall:>7.2f} {dk_cpu:>6.2f} {dk_rss:>9.0f}  "
              + " ".join(f"{w:.2f}" for w in dk_all))
        ours = set()
        for line in (work / "rmmc.jsonl").read_text().splitlines():
            r = json.loads(line)
            ours.add((r["DeviceId"], r["DeviceName"], r["RemoteUrl"], instant(r["FirstSeen"]),
                      instant(r["LastSeen"]), tuple(sorted(r["Report"])), r["Count"]))
        theirs = set()
        for line in (work / "duck.jsonl").read_text().splitlines():
            d, name, url, first, last, report, count = json.loads(line)
            theirs.add((d, name, url, float(first), float(last), tuple(report), count))
        same = ours == theirs
        failed |= not same
        print(f"\nresult rows: rmmc {len(ours)}, duckdb {len(theirs)}: "
              + ("the same" if same else f"DIFFERENT ({len(ours - theirs)} only in rmmc, "
                                         f"{len(theirs - ours)} only in duckdb)"))
        print(f"rmmc / duckdb wall: {rm_wall / dk_wall:.2f}")

    print(f"\n{'evaluator, --threads 1 (artifact over its export)':<62} {'wall s':>7} {'CPU s':>6} "
          f"{'peak MiB':>9} {'M events/s per core':>20}")
    for lang, art, export in [
        ("kql", "kql/netsupport-netconn.kql", "defender"),
        ("spl", "splunk/netsupport-netconn.spl", "sysmon"),
        ("eql", "elastic/netsupport-netconn.eql", "ecs"),
        ("sigma", "sigma/netsupport-netconn.yml", "sysmon"),
    ]:
        wall, rss, _, cpu = timed([args.rmmc, "eval", ROOT / "examples/deployed" / art, "--events",
                                   data / f"{export}.jsonl", "--now", NOW, "--threads", "1"],
                                  args.runs, work / f"{lang}.out")
        rows = sum(1 for _ in open(work / f"{lang}.out"))
        print(f"{f'{lang}: {art} over {export}.jsonl ({rows} rows)':<62} {wall:>7.2f} {cpu:>6.2f} "
              f"{rss:>9.0f} {n / cpu / 1e6:>20.2f}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

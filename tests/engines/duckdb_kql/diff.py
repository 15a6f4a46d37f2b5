#!/usr/bin/env python3
"""Differential execution: every emitted KQL query, run by duckdb-kql over typed DuckDB tables
and by rmmc's own evaluator (`rmmc eval`) over the same rows, must return the same rows.

    python diff.py --rmmc BIN --artifacts OUT --events NATIVE --now 2026-05-31T11:00:00Z

NATIVE is an `rmmc fixtures --out` folder (<Table>.jsonl). Each table is created with the real
column names and types of backends/kql-schema.json and every row is completed the way the SIEM
stores it (a string column never null: ""; other types null), then written back out so both
engines read exactly the same data. A disagreement, an error or an unsupported query fails
unless known-deviations.json lists the query with its reason. Prints one line per query and a
closing `N passed, N failed` line.
"""
import argparse
import datetime as dt
import json
import pathlib
import subprocess
import sys
import tempfile

import duckdb_kql

HERE = pathlib.Path(__file__).resolve().parent
DUCK_TYPES = {
    "string": "VARCHAR",
    "int": "INTEGER",
    "long": "BIGINT",
    "real": "DOUBLE",
    "bool": "BOOLEAN",
    "datetime": "TIMESTAMP",
    "dynamic": "JSON",
}


def schemas():
    raw = json.loads((HERE.parent.parent.parent / "backends" / "kql-schema.json").read_text())
    out = {}
    for table, cols in raw.items():
        if table.startswith("_"):
            continue
        out[table] = [tuple(c.strip().split(":")) for c in cols.split(",")]
    return out


def parse_time(s):
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(dt.timezone.utc).replace(tzinfo=None)


def complete(row, cols):
    """The row as the SIEM stores it: every column present, strings never null."""
    out = {}
    for name, ty in cols:
        v = row.get(name)
        if v is None and ty == "string":
            v = ""
        out[name] = v
    unknown = set(row) - {n for n, _ in cols}
    if unknown:
        raise SystemExit(f"error: rows carry columns the schema lacks: {sorted(unknown)}")
    return out


def load(con, table, cols, rows):
    con.sql(f'CREATE OR REPLACE TABLE "{table}" ({", ".join(f"{chr(34)}{n}{chr(34)} {DUCK_TYPES[t]}" for n, t in cols)})')
    if not rows:
        return
    marks = ", ".join("?" for _ in cols)
    values = []
    for r in rows:
        vals = []
        for n, t in cols:
            v = r[n]
            if v is not None and t == "datetime":
                v = parse_time(v)
            elif v is not None and t == "dynamic":
                v = json.dumps(v)
            vals.append(v)
        values.append(vals)
    con.executemany(f'INSERT INTO "{table}" VALUES ({marks})', values)


def canon(v):
    """One spelling for both engines' values."""
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%dT%H:%M:%S") + (f".{v.microsecond:06d}".rstrip("0") if v.microsecond else "") + "Z"
    if isinstance(v, str):
        # duckdb-kql returns make_set / dynamic as JSON text
        if v[:1] == "[":
            try:
                return canon(json.loads(v))
            except ValueError:
                return v
        if len(v) >= 20 and v[4:5] == "-" and v[10:11] == "T" and v.endswith("Z"):
            return canon(parse_time(v))
        return v
    if isinstance(v, list):
        # make_set has no defined order in Kusto: compare as sets
        return sorted((canon(x) for x in v), key=json.dumps)
    return v


def rows_key(rows):
    return sorted(json.dumps(r, sort_keys=True) for r in rows)


def table_of(query, tables):
    for line in query.splitlines():
        word = line.strip()
        if word in tables:
            return word
    raise SystemExit(f"error: no known table in query:\n{query}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rmmc", required=True)
    ap.add_argument("--artifacts", required=True, type=pathlib.Path)
    ap.add_argument("--events", required=True, type=pathlib.Path)
    ap.add_argument("--now", required=True)
    args = ap.parse_args()

    tables = schemas()
    deviations = json.loads((HERE / "known-deviations.json").read_text())["deviations"]
    now = parse_time(args.now).replace(tzinfo=dt.timezone.utc)
    con = duckdb_kql.connect()
    work = pathlib.Path(tempfile.mkdtemp(prefix="rmmc-duckdb-"))
    native = {}
    for table, cols in tables.items():
        f = args.events / f"{table}.jsonl"
        rows = [json.loads(l) for l in f.read_text().splitlines() if l.strip()] if f.exists() else []
        rows = [complete(r, cols) for r in rows]
        load(con, table, cols, rows)
        path = work / f"{table}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        native[table] = (path, len(rows))

    queries = sorted((args.artifacts / "kql").glob("*.kql"))
    if not queries:
        raise SystemExit(f"error: no queries in {args.artifacts}/kql")
    passed = failed = 0
    any_rows = False
    used = set()
    for q in queries:
        text = q.read_text()
        table = table_of(text, tables)
        path, n = native[table]
        name = q.name
        problem = None
        try:
            rel = duckdb_kql.kql(con, text, query_now=now)
            cols = rel.columns
            duck = [{c: canon(v) for c, v in zip(cols, r)} for r in rel.fetchall()]
        except Exception as e:  # an engine error is a finding, reported as such
            duck, problem = None, f"duckdb-kql: {type(e).__name__}: {str(e).splitlines()[0][:300]}"
        p = subprocess.run([args.rmmc, "eval", str(q), "--events", str(path), "--now", args.now, "--format", "json"],
                           capture_output=True, text=True)
        if p.returncode != 0:
            problem = problem or f"rmmc eval exited {p.returncode}: {p.stdout.strip()[:300]} {p.stderr.strip()[:300]}"
            ours = None
        else:
            ours = [{k: canon(v) for k, v in json.loads(l).items()} for l in p.stdout.splitlines() if l.strip()]
        if problem is None and rows_key(duck) != rows_key(ours):
            problem = f"rows differ\n  duckdb-kql: {rows_key(duck)}\n  rmmc:       {rows_key(ours)}"
        if problem is None and any(line.strip().startswith("| order by") for line in text.splitlines()):
            # order by: both engines must return the rows in the same order of the sort key
            key = text.split("| order by", 1)[1].split()[0]
            if [r.get(key) for r in duck] != [r.get(key) for r in ours]:
                problem = f"order differs on {key}"
        known = deviations.get(name)
        if problem is None:
            if known:
                print(f"FAIL {name}: listed in known-deviations.json but agrees now; remove the entry")
                failed += 1
            else:
                print(f"ok   {name}: {table} {n} rows in, {len(ours)} rows out, identical")
                any_rows = any_rows or bool(ours)
                passed += 1
        elif known:
            used.add(name)
            print(f"ok   {name}: known deviation ({known}); {problem.splitlines()[0]}")
            passed += 1
        else:
            print(f"FAIL {name}: {problem}")
            failed += 1
    if passed and not any_rows:
        print("FAIL: every query returned no rows on these events, so agreement proves nothing; add matching fixtures")
        failed += 1
    for name in sorted(set(deviations) - {q.name for q in queries}):
        print(f"FAIL {name}: listed in known-deviations.json but no such query; remove the entry")
        failed += 1
    print(f"duckdb-kql: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

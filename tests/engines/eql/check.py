#!/usr/bin/env python3
"""Every emitted EQL query parses with Elastic's own `eql` package (PyPI), in Elasticsearch
syntax: `python check.py OUT_DIR` reads OUT/elastic/*.eql and the `query` of every rule in
OUT/elastic/rules.ndjson (which must be the same text as the .eql file of that rule).
`python check.py --self-test` proves the checker refuses broken queries."""
import json
import pathlib
import sys

import eql


def parse(q):
    with eql.parser.elasticsearch_syntax, eql.parser.ignore_missing_functions:
        return eql.parse_query(q)


def self_test():
    bad = [
        'network where destination.domain regex',
        'network where (destination.ip == "1.2.3.4"',
        'network where destination.ip = "1.2.3.4" and',
        'network where process.name in~ ()',
    ]
    good = 'process where event.type == "start" and process.name in~ ("a.exe") and process.command_line : "*x*" and not process.pe.company regex "[Aa]b\\u{212A}"'
    failed = 0
    for q in bad:
        try:
            parse(q)
            print(f"self-test: accepted a broken query: {q}")
            failed += 1
        except eql.EqlError:
            pass
    try:
        parse(good)
    except eql.EqlError as e:
        print(f"self-test: refused a valid query: {e}")
        failed += 1
    print(f"eql self-test: {len(bad) + 1 - failed} passed, {failed} failed")
    return 1 if failed else 0


def strip_header(text):
    # the .eql files start with `// rmmc: …` comment lines; the rule's query has none
    return "\n".join(l for l in text.splitlines() if not l.startswith("//")).strip()


def main(root):
    root = pathlib.Path(root) / "elastic"
    files = sorted(root.glob("*.eql"))
    if not files:
        print(f"error: no EQL queries under {root}")
        return 1
    passed = failed = 0
    texts = {}
    for f in files:
        text = f.read_text()
        texts[strip_header(text)] = f.name
        try:
            parse(text)
            passed += 1
        except eql.EqlError as e:
            print(f"{f}: {e}")
            failed += 1
    ndjson = root / "rules.ndjson"
    for i, line in enumerate(ndjson.read_text().splitlines(), 1):
        rule = json.loads(line)
        q = rule.get("query", "")
        where = f"{ndjson}:{i} ({rule.get('name')})"
        try:
            parse(q)
            passed += 1
        except eql.EqlError as e:
            print(f"{where}: {e}")
            failed += 1
        if q.strip() not in texts:
            print(f"{where}: the rule's query is not the text of any elastic/*.eql file")
            failed += 1
    print(f"eql: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: check.py OUT_DIR | --self-test")
        sys.exit(2)
    sys.exit(self_test() if sys.argv[1] == "--self-test" else main(sys.argv[1]))

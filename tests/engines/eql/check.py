#!/usr/bin/env python3
"""Every emitted EQL query parses with Elastic's own `eql` package (PyPI), in Elasticsearch
syntax: `python check.py OUT_DIR` reads OUT/elastic/*.eql and the `query` of every rule in
OUT/elastic/rules.ndjson (which must be the same text as the .eql file of that rule).
`python check.py --self-test` proves the checker refuses broken queries."""
import json
import pathlib
import sys

import re

import eql
import eql.ast
import eql.utils

# eql 1.0.1's grammar reads `\u{XXXX}` escapes correctly (DQ_STRING: `\\u\{[a-zA-Z0-9]{2,8}\}`),
# but its String.unescape helper matches them with a greedy `\\u\{.+\}`, so a string with
# two such escapes (e.g. `[Kk\u{212A}]…[Kk\u{212A}]`) crashes with a ValueError. Parsing is
# left to Elastic's grammar; only the helper is replaced, with the grammar's own token shape.
_UNESCAPE_RE = re.compile(r"\\u\{[a-zA-Z0-9]{2,8}\}|\\[^u]")


def _unescape(cls, s):
    def one(m):
        t = m.group()
        if t.startswith("\\u{"):
            return eql.utils.chr_compat(int(t[3:-1], 16))
        return cls.reverse_patterns[t]

    return _UNESCAPE_RE.sub(one, s)


eql.ast.String.unescape = classmethod(_unescape)


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
    good = 'process where event.type == "start" and process.name in~ ("a.exe") and process.command_line : "*x*" and not process.pe.company regex "[Aa]b\\u{212A}" and not process.parent.name regex~ "(.*[^a-zA-Z0-9])?[Kk\\u{212A}]aseya([^a-zA-Z0-9].*)?"'
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
    # two escapes in one string (the upstream helper's bug): both decoded, nothing else
    two = 'process where process.name regex "[Kk\\u{212A}]x[Kk\\u{212A}]"'
    try:
        got = parse(two).first.query.arguments[1].value
        if got != "[Kk\u212a]x[Kk\u212a]":
            print(f"self-test: two escapes decoded as {got!r}")
            failed += 1
    except Exception as e:  # noqa: BLE001 - any failure here is the bug coming back
        print(f"self-test: two escapes in one string: {e!r}")
        failed += 1
    print(f"eql self-test: {len(bad) + 2 - failed} passed, {failed} failed")
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

#!/usr/bin/env bash
# Every emitted Sigma rule passes pySigma's parser and validators (sigma-cli `sigma check`),
# offline: the attacktag / d3_fendtag validators need the network and are skipped. Parsing
# errors, condition errors and validation issues all fail (--fail-on-issues).
#   check.sh VENV OUT_DIR      check OUT_DIR/sigma/*.yml
#   check.sh VENV --self-test  prove a broken rule is refused
set -euo pipefail
venv=$1 target=$2
run() { "$venv/bin/sigma" check --fail-on-error --fail-on-issues -x attacktag -x d3_fendtag "$1"; }
if [ "$target" = --self-test ]; then
  dir=$(mktemp -d)
  here=$(cd "$(dirname "$0")" && pwd)
  # a rule whose condition names a selection that does not exist
  sed 's/condition: selection/condition: selection and not nothing_here/' "$here/../../../examples/deployed/sigma/supremo-netconn.yml" > "$dir/broken.yml"
  if run "$dir" >/dev/null 2>&1; then
    echo "sigma self-test: a rule with an undefined selection was accepted: 0 passed, 1 failed"; exit 1
  fi
  run "$here/../../../examples/deployed/sigma" >/dev/null
  rm -rf "$dir"
  echo "sigma self-test: 2 passed, 0 failed"
  exit 0
fi
n=$(find "$target/sigma" -name '*.yml' | wc -l)
[ "$n" -gt 0 ] || { echo "error: no Sigma rules under $target/sigma"; exit 1; }
run "$target/sigma"
echo "sigma check: $n rules, no errors or issues"

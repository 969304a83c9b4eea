#!/usr/bin/env bash
# fuzz.sh runs every Fuzz function of the workspace for a short time each
# (default 5s), one at a time, so CI exercises the parsers and validators
# beyond their seed corpora. A failure prints the fuzzer's report, which
# names the failing input saved under the package's testdata/fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-5s}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
mapfile -t files < <(git ls-files '*_test.go' | xargs grep -l '^func Fuzz' || true)
count=0
for f in "${files[@]}"; do
  dir=$(dirname "$f")
  for fn in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //'); do
    echo "fuzz: $dir $fn ($fuzztime)"
    if ! (cd "$dir" && go test -run='^$' -fuzz="^${fn}\$" -fuzztime="$fuzztime" . >"$log" 2>&1); then
      echo "fuzz: $dir $fn failed:"
      tail -60 "$log"
      exit 1
    fi
    count=$((count + 1))
  done
done
echo "fuzz: $count fuzz tests ran for $fuzztime each"

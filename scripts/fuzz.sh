#!/usr/bin/env bash
# fuzz.sh runs every Fuzz function of the workspace for a short time each
# (default 5s), one at a time, so CI exercises the parsers and validators
# beyond their seed corpora.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-5s}
mapfile -t files < <(git ls-files '*_test.go' | xargs grep -l '^func Fuzz' || true)
for f in "${files[@]}"; do
  dir=$(dirname "$f")
  for fn in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //'); do
    echo "fuzz: $dir $fn ($fuzztime)"
    (cd "$dir" && go test -run='^$' -fuzz="^${fn}\$" -fuzztime="$fuzztime" . >/dev/null) || { echo "fuzz: $fn failed"; (cd "$dir" && go test -run='^$' -fuzz="^${fn}\$" -fuzztime="$fuzztime" . | tail -30); exit 1; }
  done
done
echo "fuzz: ${#files[@]} files done"

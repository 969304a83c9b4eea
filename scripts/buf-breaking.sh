#!/usr/bin/env bash
# buf-breaking.sh checks the contracts: `buf lint`, the `buf format` check,
# and `buf breaking` against the last released contracts,
# contracts/alur-v1.binpb (see contracts/README.md for cutting a new one).
#
# It then proves that the breaking check bites: in scratch copies of the
# protos it makes changes that break clients (a renamed field, a deleted
# RPC, a changed field type) one at a time, and each must make
# `buf breaking` fail naming what changed; an unchanged copy must pass.
# It ends with "contracts: N passed, M failed".
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

bash scripts/tools.sh
BUF="$repo/bin/buf"
BASELINE=contracts/alur-v1.binpb

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok    $1"; }
fail() {
  failed=$((failed + 1))
  echo "FAIL  $1"
  sed -n '1,40p' "$tmp/out" | sed 's/^/      /'
}

# run NAME CMD... passes when CMD succeeds.
run() {
  local name=$1
  shift
  if "$@" >"$tmp/out" 2>&1; then pass "$name"; else fail "$name"; fi
}

run "buf lint" "$BUF" lint
run "buf format --diff --exit-code" "$BUF" format --diff --exit-code
if [ ! -f "$BASELINE" ]; then
  echo "FAIL  buf breaking: no baseline $BASELINE"
  failed=$((failed + 1))
else
  run "buf breaking --against $BASELINE" "$BUF" breaking --against "$BASELINE"
fi

# scratch_copy DIR copies the buf module (buf.yaml and every .proto) to DIR.
scratch_copy() {
  local dir=$1 f
  mkdir -p "$dir"
  cp buf.yaml "$dir/"
  while IFS= read -r -d '' f; do
    mkdir -p "$dir/$(dirname "$f")"
    cp "$f" "$dir/$f"
  done < <(find proto -name '*.proto' -print0)
}

# mutate NAME FILE OLD NEW WANT replaces the line OLD of FILE (exactly, after
# trimming blanks) with NEW (deletes it when NEW is empty) in a scratch copy,
# and passes when buf breaking then fails with output containing WANT.
mutate() {
  local name=$1 file=$2 old=$3 new=$4 want=$5 dir
  dir=$(mktemp -d "$tmp/mutant.XXXX")
  scratch_copy "$dir"
  if ! awk -v old="$old" '{ sub(/^[ \t]+/, ""); sub(/[ \t]+$/, "") } $0 == old { found = 1 } END { exit !found }' "$dir/$file"; then
    echo "self-check: line not found in $file: $old (update the self-check after a proto edit)" >"$tmp/out"
    fail "breaking self-check: $name"
    return
  fi
  awk -v old="$old" -v new="$new" '
    { line = $0; sub(/^[ \t]+/, "", line); sub(/[ \t]+$/, "", line) }
    line == old { if (new != "") print "  " new; next }
    { print }' "$dir/$file" >"$dir/$file.new"
  mv "$dir/$file.new" "$dir/$file"
  if (cd "$dir" && "$BUF" breaking --against "$repo/$BASELINE") >"$tmp/out" 2>&1; then
    echo "buf breaking accepted the change" >>"$tmp/out"
    fail "breaking self-check: $name"
  elif grep -qF "$want" "$tmp/out"; then
    pass "breaking self-check: $name caught: $(head -1 "$tmp/out" | sed 's/^[^:]*:[0-9]*:[0-9]*://')"
  else
    fail "breaking self-check: $name (expected the report to mention: $want)"
  fi
}

if [ -f "$BASELINE" ]; then
  control="$tmp/control"
  scratch_copy "$control"
  run "breaking self-check: an unchanged copy passes" \
    bash -c "cd '$control' && '$BUF' breaking --against '$repo/$BASELINE'"
  mutate "rename PipelineSpec.label" proto/alur/orchestrator/v1/orchestrator.proto \
    'string label = 3;' 'string label_column = 3;' 'changed name from "label" to "label_column"'
  mutate "delete rpc CancelRun" proto/alur/orchestrator/v1/orchestrator.proto \
    'rpc CancelRun(CancelRunRequest) returns (CancelRunResponse);' '' '"CancelRun"'
  mutate "retype TableBatch.num_rows" proto/alur/data/v1/table.proto \
    'int32 num_rows = 2;' 'int64 num_rows = 2;' '"num_rows"'
fi

echo "contracts: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

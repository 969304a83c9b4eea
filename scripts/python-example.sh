#!/usr/bin/env bash
# python-example.sh tests the Python client examples against a real server.
# It makes sure Debian's python3-grpcio and python3-grpc-tools are there
# (installing them with apt-get when running as root), generates the Python
# code from the protos into a scratch directory (examples/python/generate.py;
# nothing generated is committed), runs the examples' unit tests, starts
# `alur dev` on free loopback ports, and checks that:
#   - run_pipeline.py uploads iris.csv, follows a run, prints the
#     leaderboard and test metrics and predicts the file's first rows,
#     exiting 0;
#   - stages_alone.py calls train, ingest and prep directly;
#   - serve_infer.py gets predictions from the serve stage over the Open
#     Inference Protocol for a run registered and aliased with the CLI;
#   - run_pipeline.py exits non-zero when the run cannot succeed.
# It ends with "python-example: N passed, M failed".
set -euo pipefail
cd "$(dirname "$0")/.."

# The Debian packages install into the system interpreter.
PYTHON=/usr/bin/python3
export PYTHONDONTWRITEBYTECODE=1

if ! "$PYTHON" -c 'import grpc, grpc_tools' 2>/dev/null; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "python-example: needs $PYTHON with grpc and grpc_tools: apt-get install python3-grpcio python3-grpc-tools"
    exit 1
  fi
  echo "python-example: installing python3-grpcio python3-grpc-tools"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq python3-grpcio python3-grpc-tools >/dev/null; then
    apt-get update -qq
    apt-get install -y -qq python3-grpcio python3-grpc-tools >/dev/null
  fi
fi
bash scripts/tools.sh

tmp=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok    $1"; }
fail() {
  failed=$((failed + 1))
  echo "FAIL  $1"
  sed -n '1,60p' "$tmp/out" "$tmp/err" | sed 's/^/      /'
}

"$PYTHON" examples/python/generate.py --out "$tmp/gen"
export ALUR_PY_GEN="$tmp/gen"

if "$PYTHON" -m unittest discover -s examples/python >"$tmp/out" 2>"$tmp/err"; then
  pass "unit tests ($(grep -o 'Ran [0-9]* tests' "$tmp/err"))"
else
  fail "unit tests"
fi

echo "python-example: building alur"
go build -o "$tmp/alur" ./cmd/alur
# Port 0 lets the kernel pick free ports; `alur dev` prints the ones chosen.
"$tmp/alur" dev --data-dir "$tmp/data" --addr 127.0.0.1:0 --ingest-addr 127.0.0.1:0 \
  --prep-addr 127.0.0.1:0 --train-addr 127.0.0.1:0 --eval-addr 127.0.0.1:0 \
  --serve-addr 127.0.0.1:0 --serve-http 127.0.0.1:0 \
  >"$tmp/dev.out" 2>"$tmp/dev.log" &
server_pid=$!
for _ in $(seq 1 300); do
  grep -q '^Serving' "$tmp/dev.out" && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "python-example: alur dev exited early:"
    cat "$tmp/dev.out" "$tmp/dev.log"
    server_pid=
    exit 1
  fi
  sleep 0.1
done
addr() { awk -v s="$1" '$1 == s { print $2 }' "$tmp/dev.out"; }
ORCH=$(addr orchestrator)
if [ -z "$ORCH" ]; then
  echo "python-example: alur dev did not start within 30s:"
  cat "$tmp/dev.out" "$tmp/dev.log"
  exit 1
fi

# The health check goes through grpcio alone, with raw bytes: an empty
# HealthCheckRequest, and 08 01 (status: SERVING) back.
if "$PYTHON" - "$ORCH" "$(addr ingest)" "$(addr prep)" "$(addr train)" "$(addr eval)" >"$tmp/out" 2>"$tmp/err" <<'EOF'; then
import sys
import grpc

for address in sys.argv[1:]:
    with grpc.insecure_channel(address) as ch:
        check = ch.unary_unary("/grpc.health.v1.Health/Check")
        answer = check(b"", timeout=10, wait_for_ready=True)
        if answer != b"\x08\x01":
            sys.exit(f"{address}: health answer {answer!r}, want SERVING")
EOF
  pass "health: the five services are SERVING"
else
  fail "health: the five services are SERVING"
fi

# run_pipeline.py on the bundled iris file, uploaded as a local CSV.
if "$PYTHON" examples/python/run_pipeline.py --server "$ORCH" \
  --csv services/ingest/datasets/iris.csv --label species --max-trials 4 --seed 7 >"$tmp/out" 2>"$tmp/err"; then
  if grep -q 'RUN_STATE_SUCCEEDED' "$tmp/out" && grep -q '^Leaderboard (validation accuracy)' "$tmp/out" &&
    grep -Eq '^\* +1 ' "$tmp/out" && grep -Eq '^  accuracy +0\.[89][0-9]*|^  accuracy +1\.0+' "$tmp/out" &&
    grep -q 'run succeeded' "$tmp/out" && grep -q '^Predictions for the first 3 rows of iris.csv:' "$tmp/out" &&
    grep -Eq '^  (setosa|versicolor|virginica) +p=[01]\.[0-9]{4}  \(actual setosa\)' "$tmp/out"; then
    pass "run_pipeline.py: iris.csv uploaded, run followed, leaderboard, test metrics and predictions printed"
  else
    fail "run_pipeline.py: output lacks the run's events, leaderboard or test metrics"
  fi
else
  fail "run_pipeline.py: exited non-zero on iris.csv"
fi

# stages_alone.py: each stage called on its own.
if "$PYTHON" examples/python/stages_alone.py --ingest "$(addr ingest)" --prep "$(addr prep)" \
  --train "$(addr train)" --dataset iris >"$tmp/out" 2>"$tmp/err"; then
  if grep -Eq '^  logistic_regression ' "$tmp/out" && grep -Eq '^  iris +150 rows' "$tmp/out" &&
    grep -q '^Profile of iris .*: 150 rows' "$tmp/out" && grep -Eq '^  species +categorical +missing 0 +3 values' "$tmp/out"; then
    pass "stages_alone.py: train ListAlgorithms, ingest ListBundled, ingest Read -> prep Profile"
  else
    fail "stages_alone.py: output lacks the algorithms, datasets or profile"
  fi
else
  fail "stages_alone.py: exited non-zero"
fi

# serve_infer.py: a run registered as "iris", aliased production, and
# asked for predictions through the serve stage's Open Inference Protocol.
run_json=$("$tmp/alur" run --server "$ORCH" --csv services/ingest/datasets/iris.csv --label species \
  --algorithms logistic_regression --seed 7 --json 2>"$tmp/err" || true)
run_id=$(printf '%s' "$run_json" | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["id"])' 2>/dev/null || true)
if [ -n "$run_id" ] &&
  "$tmp/alur" models register "$run_id" --name iris --server "$ORCH" >/dev/null 2>>"$tmp/err" &&
  "$tmp/alur" models alias iris@1 production --server "$ORCH" >/dev/null 2>>"$tmp/err" &&
  "$PYTHON" examples/python/serve_infer.py --server "$(addr serve)" --model iris --version production \
    --row sepal_length_cm=5.1,sepal_width_cm=3.5,petal_length_cm=1.4,petal_width_cm=0.2 \
    --row sepal_length_cm=7.7,sepal_width_cm=3.0,petal_length_cm=6.1,petal_width_cm=2.3 >"$tmp/out" 2>>"$tmp/err"; then
  if grep -q '^Model iris version 1' "$tmp/out" && grep -Eq '^setosa	setosa 0\.9' "$tmp/out" && grep -q '^virginica	' "$tmp/out"; then
    pass "serve_infer.py: ModelMetadata and ModelInfer of iris@production over the Open Inference Protocol"
  else
    fail "serve_infer.py: output lacks the model's metadata or the predictions"
  fi
else
  fail "serve_infer.py: register, alias or infer failed"
fi

# A run that cannot succeed: the label is not a column.
status=0
"$PYTHON" examples/python/run_pipeline.py --server "$ORCH" \
  --csv services/ingest/datasets/iris.csv --label no_such_column >"$tmp/out" 2>"$tmp/err" || status=$?
if [ "$status" -eq 1 ] && grep -q 'no_such_column' "$tmp/err"; then
  pass "run_pipeline.py: exits 1 and says why when the run fails"
else
  fail "run_pipeline.py: expected exit status 1 naming no_such_column, got $status"
fi

echo "python-example: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# grpcurl-test.sh proves that every alur service can be explored and called
# with nothing but grpcurl and server reflection: no .proto files are given
# to grpcurl. It installs the pinned grpcurl (scripts/tools.sh), starts
# `alur dev` on free loopback ports, and for each of the six services
# lists, describes, health-checks and makes real calls whose answers are
# checked: ingest ListBundled and Read, train ListAlgorithms, prep Profile
# (a client stream of hand-written JSON messages), eval Predict and Evaluate
# (with a hand-written linear model), orchestrator StartRun, WatchRun,
# GetRun and Predict, the model registry (RegisterModel, SetModelAlias,
# GetModel), serve's Open Inference Protocol (ServerReady, ModelMetadata,
# ModelInfer by alias), plus error answers. It ends with
# "grpcurl-test: N passed, M failed" and fails when any check fails.
#
# The README's grpcurl section shows the same calls; keep them in step.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/tools.sh
GRPCURL="$PWD/bin/grpcurl"
BUF="$PWD/bin/buf"
# PYTHON only needs the standard library: it parses grpcurl's JSON output.
# The system interpreter is preferred as it starts fastest.
if [ -z "${PYTHON:-}" ]; then
  PYTHON=python3
  [ -x /usr/bin/python3 ] && PYTHON=/usr/bin/python3
fi

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

echo "grpcurl-test: building alur"
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
    echo "grpcurl-test: alur dev exited early:"
    cat "$tmp/dev.out" "$tmp/dev.log"
    server_pid=
    exit 1
  fi
  sleep 0.1
done
if ! grep -q '^Serving' "$tmp/dev.out"; then
  echo "grpcurl-test: alur dev did not start within 30s:"
  cat "$tmp/dev.out" "$tmp/dev.log"
  exit 1
fi
addr() { awk -v s="$1" '$1 == s { print $2 }' "$tmp/dev.out"; }
ORCH=$(addr orchestrator)
INGEST=$(addr ingest)
PREP=$(addr prep)
TRAIN=$(addr train)
EVAL=$(addr eval)
SERVE=$(addr serve)
echo "grpcurl-test: alur dev serving: orchestrator $ORCH, ingest $INGEST, prep $PREP, train $TRAIN, eval $EVAL, serve $SERVE"

# jcheck evaluates the Python expression $1 over grpcurl's output on stdin:
# `text` is the raw output, `msgs` the JSON messages in it (a stream answer
# prints several), `msg` the last one; close(a, b, tol) compares numbers.
# It exits 0 when the expression is true; with --print it prints the value.
read -r -d '' JCHECK <<'EOF' || true
import json, math, sys

text = sys.stdin.read()

def parse(s):
    dec, out, i = json.JSONDecoder(), [], 0
    while True:
        while i < len(s) and s[i].isspace():
            i += 1
        if i >= len(s):
            return out
        value, i = dec.raw_decode(s, i)
        out.append(value)

try:
    msgs = parse(text)
except ValueError:
    msgs = []
msg = msgs[-1] if msgs else {}

def close(a, b, tol=1e-9):
    return math.isclose(float(a), float(b), rel_tol=tol, abs_tol=tol)

value = eval(sys.argv[-1])
if sys.argv[1] == "--print":
    print(value)
    sys.exit(0)
sys.exit(0 if value else 1)
EOF

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok    $1"; }
fail() {
  failed=$((failed + 1))
  echo "FAIL  $1"
  sed -n '1,40p' "$tmp/out" "$tmp/err" | sed 's/^/      /'
}

# expect NAME EXPR GRPCURL_ARGS... runs grpcurl (with deadlines, plaintext)
# and checks that it succeeds and that EXPR holds for its output.
expect() {
  local name=$1 expr=$2
  shift 2
  if ! "$GRPCURL" -plaintext -connect-timeout 10 -max-time 120 "$@" >"$tmp/out" 2>"$tmp/err"; then
    fail "$name (grpcurl exited non-zero)"
    return
  fi
  if "$PYTHON" -c "$JCHECK" "$expr" <"$tmp/out"; then
    pass "$name"
  else
    fail "$name (expected: $expr)"
  fi
}

# expect_error NAME CODE FIELD GRPCURL_ARGS... checks that the call fails
# with status CODE and that the message names FIELD.
expect_error() {
  local name=$1 code=$2 field=$3
  shift 3
  if "$GRPCURL" -plaintext -connect-timeout 10 -max-time 60 "$@" >"$tmp/out" 2>"$tmp/err"; then
    fail "$name (the call succeeded; expected $code)"
  elif grep -q "Code: $code" "$tmp/err" && grep -qF "$field" "$tmp/err"; then
    pass "$name"
  else
    fail "$name (expected Code: $code naming $field)"
  fi
}

# explore runs the reflection-only checks on one service: list, describe
# (every RPC named) and the health check, overall and by service name.
explore() {
  local short=$1 address=$2 service=$3
  shift 3
  local rpcs=("$@") want
  expect "$short: list" "'$service' in text.split() and 'grpc.health.v1.Health' in text.split() and 'grpc.reflection.v1.ServerReflection' in text.split()" \
    "$address" list
  want=$(printf "'rpc %s ' in text and " "${rpcs[@]}")
  expect "$short: describe $service" "${want}'is a service' in text" \
    "$address" describe "$service"
  expect "$short: list $service" "len(text.split()) == ${#rpcs[@]}" \
    "$address" list "$service"
  expect "$short: health (server)" "msg.get('status') == 'SERVING'" \
    "$address" grpc.health.v1.Health/Check
  expect "$short: health ($service)" "msg.get('status') == 'SERVING'" \
    -d "{\"service\":\"$service\"}" "$address" grpc.health.v1.Health/Check
}

explore ingest "$INGEST" alur.ingest.v1.IngestService Upload Read ListBundled
explore prep "$PREP" alur.prep.v1.PrepService Profile Prepare Apply
explore train "$TRAIN" alur.train.v1.TrainService Train ListAlgorithms
explore eval "$EVAL" alur.eval.v1.EvalService Evaluate Predict
explore orchestrator "$ORCH" alur.orchestrator.v1.OrchestratorService \
  UploadSource StartRun GetRun ListRuns WatchRun CancelRun ListArtifacts GetArtifact Predict \
  AppendDataset ListDatasets GetDataset CompareVersions RetrainRun ListMetrics \
  RegisterModel ListModels GetModel SetModelAlias DeleteModelVersion
explore serve "$SERVE" inference.GRPCInferenceService \
  ServerLive ServerReady ModelReady ServerMetadata ModelMetadata ModelInfer

# ingest: the bundled datasets, and a server stream (schema, batches, summary).
expect "ingest: ListBundled" \
  "sorted(d['name'] for d in msg['datasets']) == ['breast_cancer', 'iris', 'wine'] and [d['rows'] for d in msg['datasets'] if d['name'] == 'iris'] == ['150']" \
  "$INGEST" alur.ingest.v1.IngestService/ListBundled
expect "ingest: Read iris" \
  "'schema' in msgs[0] and msg['summary']['rowCount'] == '150' and sum(m['batch'].get('numRows', 0) for m in msgs if 'batch' in m) == 150 and len(msg['summary']['digest']) == 64" \
  -d '{"bundled":"iris"}' "$INGEST" alur.ingest.v1.IngestService/Read

# train: every algorithm with its hyperparameters.
expect "train: ListAlgorithms" \
  "{'logistic_regression', 'linear_regression', 'random_forest', 'knn'} <= {a['name'] for a in msg['algorithms']} and all(a.get('tasks') for a in msg['algorithms'])" \
  "$TRAIN" alur.train.v1.TrainService/ListAlgorithms

# orchestrator: the metric names Objective.metric accepts.
expect "orchestrator: ListMetrics" \
  "{('accuracy', 'TASK_CLASSIFICATION'), ('r2', 'TASK_REGRESSION')} == {(m['name'], m['task']) for m in msg['metrics'] if m.get('isDefault')} and 'rmse' in {m['name'] for m in msg['metrics'] if not m.get('higherIsBetter')}" \
  "$ORCH" alur.orchestrator.v1.OrchestratorService/ListMetrics

# prep: a client stream of three JSON messages (options, schema, one batch)
# describing x = 1, 2, 3, 4 and a label with classes a, b.
cat >"$tmp/profile.json" <<'EOF'
{"options": {"label": "y"}}
{"schema": {"fields": [{"name": "x", "type": "COLUMN_TYPE_NUMERIC"}, {"name": "y", "type": "COLUMN_TYPE_CATEGORICAL"}]}}
{"batch": {"rowOffset": 0, "numRows": 4, "columns": [{"doubles": [1, 2, 3, 4]}, {"codes": [0, 1, 0, 1], "dictionaryDelta": ["a", "b"]}]}}
EOF
expect "prep: Profile" \
  "msg['profile']['rowCount'] == '4' and [c['name'] for c in msg['profile']['columns']] == ['x', 'y'] and close(msg['profile']['columns'][0]['mean'], 2.5) and close(msg['profile']['columns'][0]['std'], (5 / 3) ** 0.5) and close(msg['profile']['columns'][0]['min'], 1) and close(msg['profile']['columns'][0]['max'], 4)" \
  -d @ "$PREP" alur.prep.v1.PrepService/Profile <"$tmp/profile.json"

# eval: models travel as serialized alur.data.v1.Model bytes. The model
# y = 2x + 1 is written as JSON and encoded with buf convert, using only the
# descriptors grpcurl fetched from the eval server by reflection.
expect "eval: describe alur.data.v1.Model (reflection)" "'message Model' in text and 'LinearModel linear' in text" \
  -protoset-out "$tmp/eval.protoset" "$EVAL" describe alur.data.v1.Model
model_b64=$(echo '{"algorithm": "linear_regression", "task": "TASK_REGRESSION", "featureNames": ["x"], "linear": {"numOutputs": 1, "numFeatures": 1, "weights": [2], "intercepts": [1]}}' |
  "$BUF" convert "$tmp/eval.protoset#format=binpb" --type alur.data.v1.Model --from -#format=json --to -#format=binpb | base64 | tr -d '\n')
# Predict applies the transform (impute a missing x with 2, no scaling)
# and the model to raw text rows: 2*3+1 = 7, 2*(-0.5)+1 = 0, 2*2+1 = 5.
cat >"$tmp/predict.json" <<EOF
{"modelPart": "$model_b64"}
{"transform": {"inputSchema": {"fields": [{"name": "x", "type": "COLUMN_TYPE_NUMERIC"}]}, "label": "y", "task": "TASK_REGRESSION", "columns": [{"name": "x", "type": "COLUMN_TYPE_NUMERIC", "action": "COLUMN_ACTION_NUMERIC", "imputeNumber": 2, "scale": 1}], "featureNames": ["x"]}}
{"rows": {"columns": ["x"], "rows": [{"values": ["3"]}, {"values": ["-0.5"]}, {"values": [""]}]}}
EOF
expect "eval: Predict" \
  "[p.get('value', 0) for p in msg['predictions']] == [7, 0, 5]" \
  -d @ "$EVAL" alur.eval.v1.EvalService/Predict <"$tmp/predict.json"
# Evaluate scores prepared rows x = 1, 2, 3 with labels 3, 5, 8: the
# predictions 3, 5, 7 miss once by 1, so RMSE = sqrt(1/3) and MAE = 1/3.
cat >"$tmp/evaluate.json" <<EOF
{"modelPart": "$model_b64"}
{"schema": {"fields": [{"name": "x", "type": "COLUMN_TYPE_NUMERIC"}, {"name": "y", "type": "COLUMN_TYPE_NUMERIC"}]}}
{"batch": {"rowOffset": 0, "numRows": 3, "columns": [{"doubles": [1, 2, 3]}, {"doubles": [3, 5, 8]}]}}
EOF
expect "eval: Evaluate" \
  "msg['metrics']['numSamples'] == '3' and close(msg['metrics']['regression']['rmse'], (1 / 3) ** 0.5, 1e-12) and close(msg['metrics']['regression']['mae'], 1 / 3, 1e-12)" \
  -d @ "$EVAL" alur.eval.v1.EvalService/Evaluate <"$tmp/evaluate.json"

# orchestrator: a small run on the bundled iris data, followed to its end.
# Two candidates make two trials, and a third when the ensemble of the two
# ranks first (it is only recorded then).
expect "orchestrator: StartRun" "msg['run']['state'] == 'RUN_STATE_PENDING' and msg['run']['id'] != ''" \
  -d '{"spec": {"name": "grpcurl-test", "source": {"bundled": "iris"}, "label": "species", "candidates": [{"algorithm": "logistic_regression"}, {"algorithm": "knn", "grid": {"k": {"values": [5]}}}], "objective": {"metric": "accuracy"}, "seed": 7}}' \
  "$ORCH" alur.orchestrator.v1.OrchestratorService/StartRun
run_id=$("$PYTHON" -c "$JCHECK" --print "msg.get('run', {}).get('id', '')" <"$tmp/out")
if [ -z "$run_id" ]; then
  run_id=missing-run-id
fi
expect "orchestrator: WatchRun" \
  "msg['event']['runState'] == 'RUN_STATE_SUCCEEDED' and [m['event']['sequence'] for m in msgs] == [str(i) for i in range(1, len(msgs) + 1)] and sum(1 for m in msgs if 'trial' in m['event']) in (2, 3)" \
  -max-time 300 -d "{\"runId\": \"$run_id\"}" "$ORCH" alur.orchestrator.v1.OrchestratorService/WatchRun
expect "orchestrator: GetRun" \
  "msg['run']['state'] == 'RUN_STATE_SUCCEEDED' and len(msg['run']['trials']) in (2, 3) and msg['run']['bestTrial'] in range(1, len(msg['run']['trials']) + 1) and msg['run']['testMetrics']['classification']['accuracy'] >= 0.8 and len(msg['run']['modelDigest']) == 64" \
  -d "{\"runId\": \"$run_id\"}" "$ORCH" alur.orchestrator.v1.OrchestratorService/GetRun
expect "orchestrator: Predict" \
  "[p['label'] for p in msg['predictions']] == ['setosa', 'virginica'] and msg['classNames'] == ['setosa', 'versicolor', 'virginica'] and all(close(sum(p['probabilities']), 1, 1e-9) for p in msg['predictions'])" \
  -d "{\"runId\": \"$run_id\", \"rows\": {\"columns\": [\"sepal_length_cm\", \"sepal_width_cm\", \"petal_length_cm\", \"petal_width_cm\"], \"rows\": [{\"values\": [\"5.1\", \"3.5\", \"1.4\", \"0.2\"]}, {\"values\": [\"7.7\", \"3.0\", \"6.1\", \"2.3\"]}]}}" \
  "$ORCH" alur.orchestrator.v1.OrchestratorService/Predict

# Errors: a bad field is named, an unknown run is NotFound.
expect_error "orchestrator: StartRun without a label" InvalidArgument spec.label \
  -d '{"spec": {"source": {"bundled": "iris"}}}' "$ORCH" alur.orchestrator.v1.OrchestratorService/StartRun
expect_error "orchestrator: GetRun of an unknown run" NotFound no-such-run \
  -d '{"runId": "no-such-run"}' "$ORCH" alur.orchestrator.v1.OrchestratorService/GetRun

# Datasets: two appends make versions 1 and 2; the second carries a drift
# report against the first; a bad name is refused naming the field.
expect "orchestrator: AppendDataset version 1" \
  "msg['version']['version'] == '1' and msg['version']['rows'] == '150' and len(msg['version']['tableDigest']) == 64" \
  -d '{"name": "flowers", "source": {"bundled": "iris"}}' "$ORCH" alur.orchestrator.v1.OrchestratorService/AppendDataset
expect "orchestrator: AppendDataset version 2" \
  "msg['version']['version'] == '2' and msg['version']['rows'] == '300' and 'drift' in msg['version']" \
  -d '{"name": "flowers", "source": {"bundled": "iris"}}' "$ORCH" alur.orchestrator.v1.OrchestratorService/AppendDataset
expect "orchestrator: GetDataset" \
  "[v['version'] for v in msg['dataset']['versions']] == ['2', '1']" \
  -d '{"name": "flowers"}' "$ORCH" alur.orchestrator.v1.OrchestratorService/GetDataset
expect_error "orchestrator: AppendDataset with a bad name" InvalidArgument name \
  -d '{"name": "Not A Name", "source": {"bundled": "iris"}}' "$ORCH" alur.orchestrator.v1.OrchestratorService/AppendDataset

# Registry and serving: the iris run becomes version 1 of "iris", aliased
# production, and serve answers the Open Inference Protocol for it.
expect "orchestrator: RegisterModel" \
  "msg['version']['version'] == '1' and msg['version']['runId'] == '$run_id' and [f['name'] for f in msg['version']['inputSchema']['fields']] == ['sepal_length_cm', 'sepal_width_cm', 'petal_length_cm', 'petal_width_cm']" \
  -d "{\"runId\": \"$run_id\", \"name\": \"iris\", \"createdBy\": \"grpcurl-test\"}" "$ORCH" alur.orchestrator.v1.OrchestratorService/RegisterModel
expect "orchestrator: SetModelAlias" "msg['alias']['alias'] == 'production' and msg['alias']['version'] == '1'" \
  -d '{"name": "iris", "alias": "production", "version": 1}' "$ORCH" alur.orchestrator.v1.OrchestratorService/SetModelAlias
expect "orchestrator: GetModel by alias" "msg['version']['version'] == '1' and msg['model']['aliases'][0]['alias'] == 'production'" \
  -d '{"ref": "iris@production"}' "$ORCH" alur.orchestrator.v1.OrchestratorService/GetModel
expect_error "orchestrator: DeleteModelVersion under an alias" FailedPrecondition production \
  -d '{"name": "iris", "version": 1}' "$ORCH" alur.orchestrator.v1.OrchestratorService/DeleteModelVersion
expect "serve: ServerReady" "msg.get('ready') is True" "$SERVE" inference.GRPCInferenceService/ServerReady
expect "serve: ModelMetadata" \
  "msg['name'] == 'iris' and msg['versions'] == ['1'] and [i['name'] for i in msg['inputs']] == ['sepal_length_cm', 'sepal_width_cm', 'petal_length_cm', 'petal_width_cm'] and [o['name'] for o in msg['outputs']] == ['label', 'probabilities']" \
  -d '{"name": "iris", "version": "production"}' "$SERVE" inference.GRPCInferenceService/ModelMetadata
cat >"$tmp/infer.json" <<'EOF'
{"model_name": "iris", "model_version": "production", "id": "grpcurl",
 "inputs": [
  {"name": "sepal_length_cm", "datatype": "FP64", "shape": [2], "contents": {"fp64_contents": [5.1, 7.7]}},
  {"name": "sepal_width_cm", "datatype": "FP64", "shape": [2], "contents": {"fp64_contents": [3.5, 3.0]}},
  {"name": "petal_length_cm", "datatype": "FP64", "shape": [2], "contents": {"fp64_contents": [1.4, 6.1]}},
  {"name": "petal_width_cm", "datatype": "FP64", "shape": [2], "contents": {"fp64_contents": [0.2, 2.3]}}]}
EOF
# grpcurl prints BYTES contents base64-encoded ("c2V0b3Nh" is "setosa").
expect "serve: ModelInfer" \
  "msg['modelVersion'] == '1' and msg['id'] == 'grpcurl' and msg['outputs'][0]['name'] == 'label' and [__import__('base64').b64decode(b).decode() for b in msg['outputs'][0]['contents']['bytesContents']] == ['setosa', 'virginica'] and msg['outputs'][1]['shape'] == ['2', '3'] and close(sum(msg['outputs'][1]['contents']['fp64Contents'][:3]), 1, 1e-9)" \
  -d @ "$SERVE" inference.GRPCInferenceService/ModelInfer <"$tmp/infer.json"
expect_error "serve: ModelInfer without a column" InvalidArgument petal_width_cm \
  -d '{"model_name": "iris", "inputs": [{"name": "sepal_length_cm", "datatype": "FP64", "shape": [1], "contents": {"fp64_contents": [5.1]}}]}' \
  "$SERVE" inference.GRPCInferenceService/ModelInfer
expect_error "serve: ModelInfer of an unknown model" NotFound nope \
  -d '{"model_name": "nope"}' "$SERVE" inference.GRPCInferenceService/ModelInfer

echo "grpcurl-test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# onnx-check.sh exports alur pipelines to ONNX and runs them in a real ONNX
# runtime (onnxruntime-node, whose Linux x64 CPU library ships inside the
# npm package), comparing with alur's own predictions: labels equal,
# probabilities (or regression predictions) within 1e-5. The pipelines are
# every exportable algorithm and ensembles (k-fold bagged forests, boosting
# and k-NN, a mix of algorithms) on the bundled iris, wine and
# breast_cancer data, plus a synthetic table with missing values, an unseen
# and rare categories, log1p and clipping, and regression ensembles
# predicting iris's petal width.
#
# The runtime is installed once into bin/.onnxruntime-npm (the install
# script is skipped: it only fetches GPU parts).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ORT_VERSION=1.31.1
PREFIX="$ROOT/bin/.onnxruntime-npm"
if [ "$(cat "$PREFIX/.version" 2>/dev/null)" != "$ORT_VERSION" ]; then
  echo "onnx-check: installing onnxruntime-node $ORT_VERSION"
  rm -rf "$PREFIX"
  mkdir -p "$PREFIX"
  npm install --silent --ignore-scripts --no-audit --no-fund --prefix "$PREFIX" "onnxruntime-node@$ORT_VERSION" >/dev/null
  echo "$ORT_VERSION" >"$PREFIX/.version"
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
(cd ml && go run ./onnx/onnxfixtures -data "$ROOT/services/ingest/datasets" -o "$WORK")
NODE_PATH="$PREFIX/node_modules" node scripts/onnx-check.js "$WORK"

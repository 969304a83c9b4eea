#!/usr/bin/env bash
# bench.sh is `make bench`: it builds the benchmark harness and the train
# service binary, then runs bench/cmd/alurbench, which times alur (in
# process, through its gRPC services, and the train service's peak memory)
# and scikit-learn side by side on the same CSV, rows and split. Every
# argument goes to alurbench, for example:
#
#   scripts/bench.sh                         # 200000 generated rows × 20 features
#   scripts/bench.sh --rows 20000            # a quick run
#   scripts/bench.sh --csv data.csv --label y
#   scripts/bench.sh --json > bench.json
#
# Run `scripts/bench.sh -h` for every flag; see bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d "${TMPDIR:-/tmp}/alurbench-bin.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "bench: building alurbench and the train service" >&2
go build -o "$work/alurbench" ./bench/cmd/alurbench
go build -o "$work/train" ./services/train/cmd/train

"$work/alurbench" --train-bin "$work/train" --sklearn-script bench/sklearn_side.py "$@"

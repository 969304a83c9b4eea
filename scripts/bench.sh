#!/usr/bin/env bash
# bench.sh is `make bench`: it builds the benchmark harness and the train
# service binary, makes sure the peers are installed (Debian's
# python3-sklearn, python3-pandas and python3-xgboost), then runs
# bench/cmd/alurbench, which times alur (in process, through its gRPC
# services, and the train service's peak memory) against scikit-learn and
# XGBoost on the same CSV, rows and split, both sides with the same number
# of threads (one, and every core), and draws the scale curve. Every
# argument goes to alurbench, for example:
#
#   scripts/bench.sh                         # 200000 generated rows × 20 features
#   scripts/bench.sh --rows 20000 --scale 20000,200000
#   scripts/bench.sh --csv data.csv --label y
#   scripts/bench.sh --json > bench.json
#
# Run `scripts/bench.sh -h` for every flag; see bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

# The peers: Debian's packages, installed when missing and possible.
if ! /usr/bin/python3 -c 'import sklearn, pandas, xgboost' 2>/dev/null; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "bench: installing python3-sklearn, python3-pandas and python3-xgboost" >&2
		apt-get install -y python3-sklearn python3-pandas python3-xgboost >&2 ||
			{ apt-get update >&2 && apt-get install -y python3-sklearn python3-pandas python3-xgboost >&2; } ||
			echo "bench: could not install the peers; their rows will be missing" >&2
	else
		echo "bench: python3-sklearn, python3-pandas or python3-xgboost is missing (apt-get install them as root); their rows will be missing" >&2
	fi
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/alurbench-bin.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "bench: building alurbench and the train service" >&2
go build -o "$work/alurbench" ./bench/cmd/alurbench
go build -o "$work/train" ./services/train/cmd/train

mkdir -p bench/out
"$work/alurbench" --train-bin "$work/train" --sklearn-script bench/sklearn_side.py \
	--scale-png bench/out/scale.png "$@"

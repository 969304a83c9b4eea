#!/usr/bin/env bash
# bench-selection.sh is `make bench-selection`: it measures the model that
# the default `alur run --csv F --label L` hands over against the best of
# scikit-learn's single models picked with hindsight on the same test rows,
# over a suite of small public and generated data sets (see
# bench/selection/selection.py). Next to it, bench/cmd/selectsim measures in
# process what the rules of ml/selection would choose (task inference, 5-fold
# CV ranking, ensemble selection, a successive-halving search), so their
# effect shows before they are wired into the orchestrator. It builds the
# CLI once, installs Debian's scikit-learn and pandas when they are missing,
# and prints Markdown tables and summaries.
#
#   scripts/bench-selection.sh [--peer PATH] [--real] [--no-sim] [--sets iris,wine] [--out DIR] [--json]
#
# --real measures the UCI data sets of R's mlbench package instead (Debian's
# r-cran-mlbench, installed when missing): real data the team did not make
# up. --no-sim leaves selectsim out (on the larger real sets
# it takes minutes).
#
# The scikit-learn side is a peer script that stays outside this repository:
# give its path with --peer or $SKLEARN_PEER; by default
# ../shared/peer/sklearn_peer.py next to the repository is used when it exists.
set -euo pipefail
cd "$(dirname "$0")/.."

peer=${SKLEARN_PEER:-}
nosim=""
args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--peer) peer=$2; shift 2 ;;
	--peer=*) peer=${1#--peer=}; shift ;;
	--no-sim) nosim=1; shift ;;
	*) args+=("$1"); shift ;;
	esac
done
if [ -z "$peer" ] && [ -f ../shared/peer/sklearn_peer.py ]; then
	peer=../shared/peer/sklearn_peer.py
fi
if [ -z "$peer" ] || [ ! -f "$peer" ]; then
	echo "bench-selection: no scikit-learn peer script; give --peer PATH or set SKLEARN_PEER" >&2
	exit 2
fi
peer=$(cd "$(dirname "$peer")" && pwd)/$(basename "$peer")

if ! /usr/bin/python3 -c 'import sklearn, pandas' 2>/dev/null; then
	echo "bench-selection: installing python3-sklearn and python3-pandas" >&2
	sudo=""
	[ "$(id -u)" -ne 0 ] && sudo=sudo
	$sudo apt-get install -y python3-sklearn python3-pandas >&2 ||
		{ $sudo apt-get update >&2 && $sudo apt-get install -y python3-sklearn python3-pandas >&2; }
fi

# --real runs the UCI sets of R's mlbench package, exported with Rscript.
case " ${args[*]-} " in
*" --real "*)
	if ! Rscript -e 'library(mlbench)' >/dev/null 2>&1; then
		echo "bench-selection: installing r-cran-mlbench" >&2
		sudo=""
		[ "$(id -u)" -ne 0 ] && sudo=sudo
		$sudo apt-get install -y --no-install-recommends r-cran-mlbench >&2 ||
			{ $sudo apt-get update >&2 && $sudo apt-get install -y --no-install-recommends r-cran-mlbench >&2; }
	fi
	;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/alur-selection-bin.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "bench-selection: building the alur CLI" >&2
go build -o "$work/alur" ./cmd/alur
sim=()
if [ -z "$nosim" ]; then
	go build -o "$work/selectsim" ./bench/cmd/selectsim
	sim=(--sim "$work/selectsim")
fi

/usr/bin/python3 bench/selection/selection.py --alur "$work/alur" --peer "$peer" \
	${sim[@]+"${sim[@]}"} --bundled services/ingest/datasets ${args[@]+"${args[@]}"}

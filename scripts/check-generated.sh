#!/usr/bin/env bash
# check-generated.sh regenerates the Go code from the protos into a scratch
# copy and fails if it differs from what is committed.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp buf.yaml buf.gen.yaml "$scratch/"
while IFS= read -r -d '' f; do
  mkdir -p "$scratch/$(dirname "$f")"
  cp "$f" "$scratch/$f"
done < <(find proto -name '*.proto' -print0)
(cd "$scratch" && buf generate)
status=0
while IFS= read -r -d '' f; do
  rel=${f#"$scratch/"}
  if ! cmp -s "$f" "$rel"; then
    echo "stale generated file: $rel (run: make generate)"
    status=1
  fi
done < <(find "$scratch/proto" -name '*.pb.go' -print0)
while IFS= read -r -d '' f; do
  if [ ! -f "$scratch/$f" ]; then
    echo "generated file without a proto: $f"
    status=1
  fi
done < <(find proto -name '*.pb.go' -print0)
[ $status -eq 0 ] && echo "generated code is fresh"
exit $status

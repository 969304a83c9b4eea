#!/usr/bin/env bash
# install-s3.sh builds the S3-compatible test server the tests of the S3
# blob store start (make s3-test): internal/tools/s3server, gofakes3 at the
# version its go.mod pins, into ./bin/s3server. It does nothing when
# ALUR_S3SERVER names a binary. The build takes seconds (Go's build cache
# makes a second one instant).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [ -n "${ALUR_S3SERVER:-}" ]; then
  echo "s3server: $ALUR_S3SERVER"
  exit 0
fi
mkdir -p "$root/bin"
# The tool is a module of its own, outside the workspace, so the server's
# dependencies never enter the services' build list.
(cd "$root/internal/tools/s3server" && GOWORK=off go build -o "$root/bin/s3server" .)
version="$(cd "$root/internal/tools/s3server" && GOWORK=off go list -m -f '{{.Path}} {{.Version}}' github.com/johannesboyne/gofakes3)"
echo "s3server: $root/bin/s3server ($version)"

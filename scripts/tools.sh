#!/usr/bin/env bash
# tools.sh installs the pinned tools the build and tests need into ./bin:
# buf (from npm, a prebuilt binary), protoc-gen-go, protoc-gen-go-grpc and
# grpcurl (go install). Re-running it is cheap: installed versions are kept.
set -euo pipefail
cd "$(dirname "$0")/.."

BUF_VERSION=1.75.0
PROTOC_GEN_GO_VERSION=v1.36.12
PROTOC_GEN_GO_GRPC_VERSION=v1.6.0
GRPCURL_VERSION=v1.9.3
BBOLT_VERSION=v1.5.0

BIN="$PWD/bin"
mkdir -p "$BIN"

have() { [ -x "$BIN/$1" ] && [ "$(cat "$BIN/.$1.version" 2>/dev/null)" = "$2" ]; }

if ! have buf "$BUF_VERSION"; then
  echo "tools: buf $BUF_VERSION (npm @bufbuild/buf)"
  rm -rf "$BIN/.buf-npm"
  npm install --silent --no-audit --no-fund --prefix "$BIN/.buf-npm" "@bufbuild/buf@$BUF_VERSION" >/dev/null
  ln -sf "$BIN/.buf-npm/node_modules/.bin/buf" "$BIN/buf"
  echo "$BUF_VERSION" > "$BIN/.buf.version"
fi
if ! have protoc-gen-go "$PROTOC_GEN_GO_VERSION"; then
  echo "tools: protoc-gen-go $PROTOC_GEN_GO_VERSION"
  GOBIN="$BIN" GOFLAGS=-mod=mod go install "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO_VERSION"
  echo "$PROTOC_GEN_GO_VERSION" > "$BIN/.protoc-gen-go.version"
fi
if ! have protoc-gen-go-grpc "$PROTOC_GEN_GO_GRPC_VERSION"; then
  echo "tools: protoc-gen-go-grpc $PROTOC_GEN_GO_GRPC_VERSION"
  GOBIN="$BIN" GOFLAGS=-mod=mod go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@$PROTOC_GEN_GO_GRPC_VERSION"
  echo "$PROTOC_GEN_GO_GRPC_VERSION" > "$BIN/.protoc-gen-go-grpc.version"
fi
# grpcurl's release builds stamp main.version; go install does not, and
# `grpcurl -version` would say "dev build". The ".stamped" suffix makes an
# earlier unstamped install be replaced.
if ! have grpcurl "$GRPCURL_VERSION.stamped"; then
  echo "tools: grpcurl $GRPCURL_VERSION"
  GOBIN="$BIN" GOFLAGS=-mod=mod go install -ldflags "-X main.version=$GRPCURL_VERSION" "github.com/fullstorydev/grpcurl/cmd/grpcurl@$GRPCURL_VERSION"
  echo "$GRPCURL_VERSION.stamped" > "$BIN/.grpcurl.version"
fi
if ! have bbolt "$BBOLT_VERSION"; then
  echo "tools: bbolt $BBOLT_VERSION"
  GOBIN="$BIN" GOFLAGS=-mod=mod go install "go.etcd.io/bbolt/cmd/bbolt@$BBOLT_VERSION"
  echo "$BBOLT_VERSION" > "$BIN/.bbolt.version"
fi

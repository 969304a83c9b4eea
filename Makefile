# alur — run `make help` for the targets.

SHELL := bash
export PATH := $(CURDIR)/bin:$(PATH)

# MODULES are the workspace's modules, as go.work lists them.
MODULES := . ./ml ./proto ./serverkit ./services/ingest ./services/prep ./services/train ./services/eval ./services/orchestrator
PKGS := $(foreach m,$(MODULES),$(m)/...)
FUZZTIME ?= 5s

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: tools
tools: ## Install the pinned tools (buf, protoc plugins) into ./bin.
	@bash scripts/tools.sh

.PHONY: generate
generate: tools ## Regenerate the Go code from the protos.
	buf generate

.PHONY: lint
lint: tools ## buf lint and format check, gofmt, go vet.
	buf lint
	buf format --diff --exit-code
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet $(PKGS)

.PHONY: check-generated
check-generated: tools ## Fail if regenerating the protos changes the committed code.
	@bash scripts/check-generated.sh

.PHONY: unit
unit: ## Unit and in-memory gRPC tests of every module.
	go test -count=1 $(PKGS)

.PHONY: e2e
e2e: ## End-to-end test: the five real binaries as processes on loopback.
	go test -count=1 -run . ./e2e/...

.PHONY: fuzz
fuzz: ## Run every fuzz test briefly (FUZZTIME each, default 5s).
	@bash scripts/fuzz.sh $(FUZZTIME)

.PHONY: test
test: lint check-generated unit fuzz ## Everything CI runs: lint, generated-code check, all tests (e2e included), short fuzzing.

.PHONY: build
build: ## Build the six binaries into ./bin.
	go build -o bin/ ./cmd/alur ./services/ingest/cmd/ingest ./services/prep/cmd/prep ./services/train/cmd/train ./services/eval/cmd/eval ./services/orchestrator/cmd/orchestrator

.PHONY: demo
demo: ## Run the whole workflow on the bundled iris data.
	go run ./cmd/alur demo

.PHONY: dev
dev: ## All five services in one process on the default ports.
	go run ./cmd/alur dev

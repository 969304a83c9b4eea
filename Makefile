# alur — run `make help` for the targets.

SHELL := bash
export PATH := $(CURDIR)/bin:$(PATH)

# MODULES are the workspace's modules, as go.work lists them.
MODULES := . ./ml ./proto ./serverkit ./services/ingest ./services/prep ./services/train ./services/eval ./services/orchestrator ./services/serve ./deploy
PKGS := $(foreach m,$(MODULES),$(m)/...)
# FUZZTIME is each fuzz target's time; FUZZ_TOTAL bounds the sum (each
# target gets less when there are many): fuzzing stays a few minutes.
FUZZTIME ?= 3s
FUZZ_TOTAL ?= 120
# RELIABILITY_TESTS are the long end-to-end cases (kill -9 cycles, stage
# outage, cancel, 50-run load, limits, hostile inputs, three orchestrators
# on etcd with one killed, the 30-run x 10-kill matrix on three, etcd
# restarted under two, the object store stopped under two): make
# reliability runs them, make unit and make e2e skip them.
RELIABILITY_TESTS := ^(TestCrashResume|TestStageOutage|TestCancel|TestLoad|TestLimits|TestHostile|TestHATakeover|TestHAEtcdRestart|TestHAMatrix|TestHAObjectStoreOutage)$$
# CHECK_SKIP are the packages make check leaves out: processes, benchmarks,
# container and manifest checks.
CHECK_SKIP := /e2e$$|/bench/|/deploy

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

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
unit: ## Unit and in-memory gRPC tests of every module, and the end-to-end tests but the reliability suite.
	go test -count=1 -timeout 20m $$(go list $(PKGS) | grep -v '/e2e$$')
	go test -count=1 -timeout 10m -skip '$(RELIABILITY_TESTS)' ./e2e/...

.PHONY: check
check: lint ## Everyday check (a few minutes): lint, then the unit tests of every module in -short mode, without processes, benchmarks or manifests.
	go test -count=1 -short -timeout 5m $$(go list $(PKGS) | grep -Ev '$(CHECK_SKIP)')

.PHONY: e2e
e2e: ## End-to-end test: the five real binaries as processes on loopback (without the reliability suite).
	go test -count=1 -skip '$(RELIABILITY_TESTS)' ./e2e/...

.PHONY: reliability
reliability: ## Reliability tests on the real binaries: 20 kill -9 cycles, stage outage, cancel, 50-run load, limits, 100+ hostile requests, an orchestrator killed among three on etcd, 30 runs through 10 kills of three (event-log audit), the etcd member restarted under two, the S3 server stopped under two.
	@bash scripts/install-etcd.sh
	@bash scripts/install-s3.sh
	go test -count=1 -timeout 15m -v -run '$(RELIABILITY_TESTS)' ./e2e/...

.PHONY: etcd-test
etcd-test: ## The etcd store against a real etcd server (installs Debian's etcd-server if needed): conformance with bbolt, races, fencing, takeover, store copy.
	@bash scripts/install-etcd.sh
	go test -count=1 -timeout 10m ./services/orchestrator/store/... ./services/orchestrator/blob/...
	go test -count=1 -timeout 10m -run 'Etcd|Takeover|CancelThrough|LostLease|OpenStore' ./services/orchestrator/
	go test -count=1 -timeout 10m -run 'TestReportSurvivesItsOwner' ./services/orchestrator/engine/
	go test -count=1 -timeout 10m -run 'TestStoreCopy' ./cmd/alur/

.PHONY: s3-test
s3-test: ## The S3 blob store against a real S3-compatible server (builds internal/tools/s3server, gofakes3): blob conformance over a directory and a bucket, the store suite on etcd and S3, orphan-blob GC, store copy into S3, a run on S3 and an object-store outage mid-run.
	@bash scripts/install-s3.sh
	@bash scripts/install-etcd.sh
	go test -count=1 -timeout 10m ./services/orchestrator/blob/...
	go test -count=1 -timeout 10m -run 'S3|BlobGC' ./services/orchestrator/store/etcdstore/
	go test -count=1 -timeout 10m -run 'TestRunOnS3Blobs|TestObjectStoreOutage|OpenStore' ./services/orchestrator/
	go test -count=1 -timeout 10m -run 'TestStoreCopyS3' ./cmd/alur/

.PHONY: ha-throughput
ha-throughput: ## Time 50 small runs on one orchestrator (bbolt, etcd) and on three sharing etcd.
	@bash scripts/install-etcd.sh
	ALUR_HA_THROUGHPUT=1 go test -count=1 -v -run TestHAThroughput ./e2e/...

.PHONY: manifests
manifests: ## Check the Dockerfiles (rules, static go build) and the Kubernetes manifests (kustomize, API schemas, policy).
	cd deploy && go test -count=1 ./...

.PHONY: fuzz
fuzz: ## Run every fuzz test briefly (FUZZTIME each, default 3s; FUZZ_TOTAL seconds in all, default 120).
	@bash scripts/fuzz.sh $(FUZZTIME) $(FUZZ_TOTAL)

.PHONY: test
test: lint check-generated contracts etcd-test s3-test unit reliability fuzz grpcurl-test python-example browser onnx-check ## Everything CI runs: lint, contracts, generated code, all tests (e2e, reliability and manifests included), fuzzing, grpcurl, Python, browser, ONNX round trip.

.PHONY: build
build: ## Build the seven binaries into ./bin.
	go build -o bin/ ./cmd/alur ./services/ingest/cmd/ingest ./services/prep/cmd/prep ./services/train/cmd/train ./services/eval/cmd/eval ./services/orchestrator/cmd/orchestrator ./services/serve/cmd/serve

.PHONY: install
install: ## Install the alur CLI as `alur` into $GOBIN (default: $(go env GOPATH)/bin).
	go install ./cmd/alur

.PHONY: demo
demo: ## Run the whole workflow on the bundled iris data.
	go run ./cmd/alur demo

.PHONY: dev
dev: ## All five services in one process on the default ports.
	go run ./cmd/alur dev

.PHONY: bench
bench: ## Benchmark alur against scikit-learn and XGBoost at equal threads (200000 rows), with the scale curve at 20k and 200k rows (see bench/README.md).
	@bash scripts/bench.sh --scale 20000,200000

.PHONY: bench-ingest
bench-ingest: ## Ingest benchmarks: CSV parse vs pandas, gRPC table transfer, a 1 GB CSV through the ingest binary (peak RSS).
	@go run ./bench/cmd/ingestbench

.PHONY: bench-serve
bench-serve: ## Serve benchmark: one-row and 1,000-row ModelInfer over gRPC (logistic, 100-tree forest, 100-round boosting) beside scikit-learn in process.
	@go run ./bench/cmd/servebench

.PHONY: bench-small
bench-small: ## Quick benchmark run on 20000 rows, without the scale curve.
	@bash scripts/bench.sh --rows 20000

.PHONY: bench-selection
bench-selection: ## Model selection benchmark: the default `alur run` against scikit-learn's hindsight best on 13 small data sets (SKLEARN_PEER=path to sklearn_peer.py).
	@bash scripts/bench-selection.sh

.PHONY: bench-selection-real
bench-selection-real: ## The same on 18 real UCI data sets from R's mlbench package (installs r-cran-mlbench when missing).
	@bash scripts/bench-selection.sh --real --no-sim

.PHONY: bench-scale
bench-scale: ## The scale curve alone, up to 2000000 rows (about 360 MB of CSV): fit time and train-service peak memory of alur, scikit-learn and XGBoost, then the default `alur run` end to end on 2000000 rows.
	@bash scripts/bench.sh --rows 20000 --algorithms gradient_boosting_xgb --skip-services --scale 20000,200000,2000000
	@go run ./bench/cmd/e2ebench --rows 2000000

# ROWS is the size of the file bench-e2e generates.
ROWS ?= 200000

.PHONY: bench-e2e
bench-e2e: ## The default `alur run` end to end through the five service binaries on ROWS generated rows (default 200000): wall time of each step, the slowest marked, peak memory.
	@go run ./bench/cmd/e2ebench --rows $(ROWS)

.PHONY: python-example
python-example: ## Python client examples against `alur dev` (installs python3-grpcio/grpc-tools if missing).
	@bash scripts/python-example.sh

.PHONY: grpcurl-test
grpcurl-test: ## Every service through pinned grpcurl and reflection alone: list, describe, health, real calls.
	@bash scripts/grpcurl-test.sh

.PHONY: onnx-check
onnx-check: ## Export pipelines to ONNX and compare onnxruntime's answers with alur's (installs onnxruntime-node into bin/).
	@bash scripts/onnx-check.sh

.PHONY: contracts
contracts: ## buf lint, format check, and buf breaking against contracts/alur-v1.binpb (with a self-check).
	@bash scripts/buf-breaking.sh

# ALUR_SCREENSHOT_DIR is where `make browser` saves its screenshots, the
# rendered reports and a PDF print.
ALUR_SCREENSHOT_DIR ?= $(CURDIR)/bin/screenshots

.PHONY: browser
browser: ## Drive headless Chromium through the dashboard and the report (installs chromium if needed; screenshots in bin/screenshots).
	bash scripts/install-chromium.sh
	ALUR_BROWSER_TEST=1 ALUR_SCREENSHOT_DIR=$(ALUR_SCREENSHOT_DIR) go test -count=1 -v -run TestDashboardInBrowser ./browser/...

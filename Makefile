# muster: `make help` lists the targets.
GO        ?= go
PKGS      ?= ./...
FUZZTIME  ?= 15s
BENCHTIME ?= 1s
BENCH_SOAK         ?= 10m
BENCH_SOAK_RATE    ?= 10
BENCH_LOAD_SECONDS ?= 60
BENCH_TASKS        ?= 100000
BENCH_SETTLE       ?= 15s
# Through the binary: the burst of deadlines, the call-out, the sustained
# command load and the capacity search (BENCH_LIVE_SKIP: burst, callout,
# memory, load or capacity, comma-separated, to leave parts out).
BENCH_DEADLINES      ?= 100000
BENCH_RESPONDERS     ?= 1000
BENCH_LOAD_FOR       ?= 5m
BENCH_CAPACITY_RATES ?= 400,600,800,1000,1200,1500,2000
BENCH_CAPACITY_FOR   ?= 20s
BENCH_LIVE_SKIP      ?=
# The CA certificates a container needs to reach Slack, Discord and Twilio.
CA_BUNDLE ?= /etc/ssl/certs/ca-certificates.crt
# make build stamps the version (`muster version`, muster_build_info).
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS  := -X github.com/muster-ops/muster/internal/buildinfo.Version=$(VERSION) \
            -X github.com/muster-ops/muster/internal/buildinfo.Revision=$(REVISION)

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: ## Start the console on the embedded default (example config, in-memory Redis)
	$(GO) run ./cmd/muster console

.PHONY: build
build: ## Build bin/muster: static, stamped with VERSION (default: git describe); with the CA bundle deploy/Dockerfile copies
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/muster ./cmd/muster
	@if [ -f $(CA_BUNDLE) ]; then cp $(CA_BUNDLE) bin/ca-certificates.crt; \
	else echo "make build: no $(CA_BUNDLE): deploy/Dockerfile needs bin/ca-certificates.crt"; fi

.PHONY: test
test: ## Run every test with the race detector (uses MUSTER_TEST_REDIS_URL when set)
	$(GO) test -race -count=1 $(PKGS)

.PHONY: lint
lint: ## go vet, gofmt, and staticcheck or golangci-lint when installed
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@if command -v golangci-lint >/dev/null; then golangci-lint run; \
	elif command -v staticcheck >/dev/null; then staticcheck $(PKGS); \
	else echo "(staticcheck and golangci-lint not installed; vet and gofmt only)"; fi

.PHONY: bench-board
bench-board: ## Measure 200 live boards against muster serve: each change within 1 s p99, RSS under 60 MB; writes its section of docs/BENCHMARKS.md (needs MUSTER_TEST_REDIS_URL)
	MUSTER_BENCH_BOARDS=1 MUSTER_BENCH_OUT=$(CURDIR)/docs/BENCHMARKS.md $(GO) test -count=1 -v -run TestBoardsAtScale ./internal/benchreport/

.PHONY: bench-rollcall
bench-rollcall: ## Measure a roll call of 10,000 on duty through muster serve: first messages within 1 s, answers at 500/s with p99 <= 50 ms, card edits at most 1/s; writes its section of docs/BENCHMARKS.md (needs MUSTER_TEST_REDIS_URL; under 2 min)
	MUSTER_BENCH_ROLLCALL=1 MUSTER_BENCH_OUT=$(CURDIR)/docs/BENCHMARKS.md $(GO) test -count=1 -v -timeout 4m -run TestRollCallAtScale ./internal/benchreport/

.PHONY: bench
bench: ## Measure muster serve through HTTP (burst, call-out, load, capacity), the benchmarks and RSS; writes docs/BENCHMARKS.md, keeping the sections of bench-board and bench-rollcall (about 35 min; quick: BENCH_SOAK=1m BENCH_LOAD_FOR=30s BENCH_DEADLINES=20000)
	$(GO) run ./internal/benchreport/cmd/benchreport -out docs/BENCHMARKS.md \
	  -benchtime $(BENCHTIME) -load-seconds $(BENCH_LOAD_SECONDS) -soak $(BENCH_SOAK) \
	  -soak-rate $(BENCH_SOAK_RATE) -tasks $(BENCH_TASKS) -settle $(BENCH_SETTLE) -pkgs '$(PKGS)' \
	  -deadlines $(BENCH_DEADLINES) -responders $(BENCH_RESPONDERS) -load-for $(BENCH_LOAD_FOR) \
	  -capacity-rates '$(BENCH_CAPACITY_RATES)' -capacity-for $(BENCH_CAPACITY_FOR) -skip-live-parts '$(BENCH_LIVE_SKIP)'

.PHONY: overload
overload: ## Drive muster serve at 3x its measured capacity for 20 s: every answer within 3 s, no replay run, no degraded mode, SMS at twilio.rate (needs MUSTER_TEST_REDIS_URL; .ci/run runs it)
	MUSTER_OVERLOAD=1 $(GO) test -count=1 -v -timeout 6m -run TestOverloadAtThreeTimesCapacity ./internal/benchreport/

.PHONY: chaos
chaos: ## Kill replicas (chat in flight too), restart Redis, fail over a Cluster and a Sentinel, throttle the vendors; fail on a step or message lost or twice, a shortened wait, or a failover over 10 s (about two minutes; .ci/run runs it)
	MUSTER_CHAOS=1 $(GO) test -count=1 -v -timeout 8m -run Chaos ./internal/chaos

.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME (default 15s)
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; \
	    $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$pkg; \
	  done; \
	done

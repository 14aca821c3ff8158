# vncrelay: make build | run | test | lint | fuzz | bench | e2e-deps
GO          ?= go
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Fuzzing budgets are counts of executions, not durations: Go 1.26's fuzz
# coordinator can fail a target with a bare "context deadline exceeded" when a
# duration-based -fuzztime ends on a loaded machine (golang/go#75804, fixed in
# Go 1.27); a count has no deadline to race.
FUZZTIME    ?= 20000x
BIN         := bin/vncrelay

# Fuzz targets, as package:target.
FUZZ_TARGETS := \
	./engine:FuzzTLSRecordOpen \
	./wsframe:FuzzParseRequest \
	./wsframe:FuzzParseHeader \
	./wsframe:FuzzParseClosePayload \
	./wsframe:FuzzFrameStream \
	./auth:FuzzParseTokens \
	./auth:FuzzTokenCookie \
	./auth:FuzzTokenFrom \
	./auth:FuzzTokenName \
	./auth:FuzzBasicCredentials \
	./auth/redis:FuzzParseSource \
	./auth/redis:FuzzParseValue \
	./auth/tokenapi:FuzzParseTemplate \
	./auth/tokenapi:FuzzParseAnswer \
	./auth/jwt:FuzzParseKey \
	./auth/jwt:FuzzDecryptJWE \
	./rfb:FuzzConsoleHandshake \
	./rfb:FuzzConsoleVeNCrypt \
	./rfb:FuzzBrowserHandshake \
	./engine:FuzzTunnelAnswer \
	./engine:FuzzForwardedClient \
	./proxyproto:FuzzParse \
	./proxyproto:FuzzPires \
	./tlsconf:FuzzCiphers \
	./nova:FuzzParseConfData \
	./nova:FuzzSubstitute \
	./nova:FuzzParseDatabaseURL \
	./nova:FuzzParseTransportURL \
	./nova:FuzzDecodeReply \
	./nova:FuzzCallEncoding \
	./bench/rfb:FuzzServerHandshake \
	./cmd/vncrelay:FuzzDurationValue

.PHONY: build run test unit e2e lint conformance fuzz fuzz-short bench e2e-deps bench-deps bench-compare bench-scaling bench-tls bench-nova soak fleet-soak clean

build:
	$(GO) build -buildvcs=auto -o $(BIN) ./cmd/vncrelay

# The demo: relay on 127.0.0.1:6080, built-in console, example token file,
# noVNC from Debian's novnc package when installed.
run:
	$(GO) run ./cmd/vncrelay --demo

# Everything CI runs: installs what the tests need when it is missing (Debian
# and npm packages; root or password-less sudo, else it says what to install),
# then lint, unit and engine tests with the race detector, end-to-end tests
# with real clients, short fuzzing.
test: e2e-deps
	$(MAKE) lint unit e2e fuzz-short

# Every package but the end-to-end tests, which need the built binary's peers.
unit:
	$(GO) test -race -count=1 -timeout 20m $$($(GO) list ./... | grep -v /test/e2e)

e2e:
	$(GO) test -count=1 -timeout 25m ./test/e2e/...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^third_party/')); \
		if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

# RFC 6455 conformance suite (also part of `make unit`), with the per-case
# report written to docs/CONFORMANCE.md.
conformance:
	CONFORMANCE_REPORT=$(CURDIR)/docs/CONFORMANCE.md $(GO) test -count=1 -run '^TestConformance$$' -v ./engine/ | grep -E '^(=== RUN|--- FAIL|ok|FAIL)|passed of'
	@tail -1 docs/CONFORMANCE.md

fuzz-short:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$name ($(FUZZTIME))"; \
		$(GO) test -run='^$$' -fuzz="^$$name$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	done

fuzz:
	$(MAKE) fuzz-short FUZZTIME=1000000x

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./wsframe/ ./engine/

# Real third-party clients for the end-to-end tests (Debian and npm packages).
e2e-deps:
	bash .ci/deps.sh

SOAK_TIME     ?= 30m
SOAK_CONSOLES ?= 9900

# The soak: as many consoles as one relay process can hold here, random small
# traffic checked byte for byte, heartbeats, reconnects; RSS and descriptors
# over time. Not in CI (too long).
soak: build
	$(GO) build -o bin/vncrelay-bench ./cmd/vncrelay-bench
	bin/vncrelay-bench --scenario soak --runs 1 --duration $(SOAK_TIME) --soak-consoles $(SOAK_CONSOLES) \
		--concurrency 256 --relay 'vncrelay=$(CURDIR)/bin/vncrelay --heartbeat 5 --token-plugin TokenFile --token-source {tokens} {listen}'

FLEET_ROUNDS ?= 20

# The fleet soak: 3 relays sharing one redis-server behind HAProxy (docs/FLEET.md);
# each round opens 30 consoles, kills one relay and starts it again, revokes
# a token; prints the figures of docs/bench/fleet.txt. At most 100 rounds
# and 10 minutes. TestFleet, its short form, is part of `make e2e`. Needs
# haproxy and redis-server (.ci/deps.sh); no Node packages.
fleet-soak:
	VNCRELAY_FLEET_SOAK=$(FLEET_ROUNDS) $(GO) test -count=1 -timeout 15m -run '^TestFleetSoak$$' -v ./test/e2e/ \
		| grep -E '^(=== RUN|--- |ok|FAIL|PASS)|fleet_test.go'

clean:
	rm -rf bin

# The relays vncrelay-bench compares against: Debian's websockify (via
# e2e-deps) and npm's websockify-js (pinned in bench/peers).
bench-deps: e2e-deps
	cd bench/peers && npm ci --no-audit --no-fund --loglevel=error
	[ -x /usr/sbin/lighttpd ] || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lighttpd)

BENCH_ARGS ?= --runs 3 --duration 10s --connects 500 --idle-steps 500,1000
BENCH_OUT  ?= docs/bench

# vncrelay against websockify, websockify-js and the splice forwarder, every
# scenario, A B A B ...; tables to stdout and $(BENCH_OUT)/compare.txt, JSON
# lines and SVG charts in $(BENCH_OUT).
bench-compare: build bench-deps
	$(GO) build -o bin/vncrelay-bench ./cmd/vncrelay-bench
	mkdir -p $(BENCH_OUT)
	bin/vncrelay-bench --relay vncrelay --relay forwarder --relay lighttpd --relay websockify-js --relay websockify \
		--scenario throughput,latency,connect,idle,slowreader $(BENCH_ARGS) \
		--json $(BENCH_OUT)/compare.jsonl --chart-dir $(BENCH_OUT) | tee $(BENCH_OUT)/compare.txt

BENCH_SCALING_ARGS ?= --runs 3 --duration 5s --consoles 1,8,64,512 --idle-steps 1000,5000,9900 --idle-give-up

# Scaling curves: throughput and latency at 1, 8, 64 and 512 streaming
# consoles, idle memory, descriptors and liveness at 1k, 5k and 9.9k idle
# consoles; the forwarder (first: the ratios are to it), vncrelay and lighttpd,
# A B C A B C at each step; a relay that does not hold a step in full is
# stopped there. Tables to stdout and $(BENCH_OUT)/scaling.txt, JSON lines in
# $(BENCH_OUT)/scaling.jsonl, a chart per metric in $(BENCH_OUT)/scaling/.
bench-scaling: build
	[ -x /usr/sbin/lighttpd ] || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lighttpd)
	$(GO) build -o bin/vncrelay-bench ./cmd/vncrelay-bench
	mkdir -p $(BENCH_OUT)/scaling
	bin/vncrelay-bench --relay forwarder --relay vncrelay --relay lighttpd \
		--scenario throughput,latency,idle $(BENCH_SCALING_ARGS) \
		--json $(BENCH_OUT)/scaling.jsonl --chart-dir $(BENCH_OUT)/scaling | tee $(BENCH_OUT)/scaling.txt

# wss: vncrelay terminating TLS itself, plain vncrelay, and HAProxy
# terminating TLS in front of plain vncrelay (the two processes' CPU added),
# 64 streaming consoles, A B C A B C ...; $(BENCH_OUT)/tls.txt and tls.jsonl.
bench-tls: build
	[ -x /usr/sbin/haproxy ] || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy)
	$(GO) build -o bin/vncrelay-bench ./cmd/vncrelay-bench
	mkdir -p $(BENCH_OUT)
	bin/vncrelay-bench --relay vncrelay --relay vncrelay-wss --relay haproxy-tls \
		--scenario throughput --consoles 64 --duration 10s --runs 3 \
		--json $(BENCH_OUT)/tls.jsonl | tee $(BENCH_OUT)/tls.txt

# Every console through Nova's proxy costs a fork, a database connection and
# two broker connections, so Nova's runs are slow (a few consoles a second):
# fewer opens, 8 at a time, a longer timeout. Idle stops a relay at the first
# step it cannot hold (Nova's proxy: MariaDB's max_connections).
BENCH_NOVA_ARGS ?= --runs 3 --connects 200 --concurrency 8 --timeout 30s --idle-steps 100,200,2000 \
	--idle-give-up --consoles 16 --duration 10s

# vncrelay's Nova mode against Nova's own nova-novncproxy (Debian's
# nova-consoleproxy), with vncrelay on a token file as the reference without
# Nova's checks: one Nova control plane for all (MariaDB with Nova's schema,
# RabbitMQ, an oslo.messaging compute stand-in, tokens made by Nova's code),
# connect, idle and throughput, A B C A B C ...; about 20 minutes. Not part of
# bench-compare, which it would double. Tables to stdout and
# $(BENCH_OUT)/nova.txt, JSON lines in $(BENCH_OUT)/nova.jsonl.
bench-nova: build e2e-deps
	$(GO) build -o bin/vncrelay-bench ./cmd/vncrelay-bench
	mkdir -p $(BENCH_OUT)
	bin/vncrelay-bench --relay vncrelay-nova --relay nova-novncproxy --relay vncrelay \
		--scenario connect,idle,throughput $(BENCH_NOVA_ARGS) \
		--json $(BENCH_OUT)/nova.jsonl | tee $(BENCH_OUT)/nova.txt

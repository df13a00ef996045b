# VHDX Inspector. `make serve` runs the viewer; `make test` runs every test
# and is what CI runs (.ci/run).

GO          ?= go
FUZZTIME    ?= 10s
TESTTIMEOUT ?= 10m
PORT        ?= 8080
GOROOT_DIR  := $(shell $(GO) env GOROOT)
# Runs GOOS=js test binaries under Node (which gives Blob tests a real Blob).
NODE_EXEC   := $(GOROOT_DIR)/lib/wasm/go_js_wasm_exec
# Runs GOOS=js test binaries in headless Chromium (IndexedDB).
BROWSER_EXEC := node $(CURDIR)/build/wasm-browser-exec.mjs

.PHONY: test test-go test-wasm test-e2e lint setup fuzz bench bench-browser build dist serve clean

test: setup lint test-go test-wasm test-e2e
	FUZZTIME=$(FUZZTIME) build/fuzz.sh

setup:
	build/setup.sh

lint:
	$(GO) vet ./...
	GOOS=js GOARCH=wasm $(GO) vet ./wasm/...
	@unformatted=$$(git ls-files -co --exclude-standard '*.go' | xargs -r gofmt -l); \
	if [ -n "$$unformatted" ]; then echo "gofmt: these files need formatting:"; echo "$$unformatted"; exit 1; fi

test-go:
	$(GO) test -timeout $(TESTTIMEOUT) ./...

test-wasm:
	GOOS=js GOARCH=wasm $(GO) test -timeout $(TESTTIMEOUT) -exec="$(NODE_EXEC)" ./wasm/...
	GOOS=js GOARCH=wasm $(GO) test -timeout $(TESTTIMEOUT) -exec="$(BROWSER_EXEC)" ./wasm/idbcache

# The browser suite: e2e/browsers.test.mjs runs in Chromium and Firefox ESR
# (E2E_BROWSERS=chromium or firefox picks one), the other files in Chromium.
test-e2e: dist build
	node --test --test-concurrency=1 e2e/

# Times the viewer on a 64 TiB image in Chromium and Firefox against the CLI,
# and the Files view (first listing, SHA-256 of a 1 GiB file vs sha256sum).
bench-browser: setup dist
	node e2e/bench-huge.mjs
	node e2e/bench-files.mjs

fuzz: FUZZTIME = 5m
fuzz: setup
	FUZZTIME=$(FUZZTIME) build/fuzz.sh

bench: setup build
	$(GO) test -run='^$$' -bench=. -benchmem ./...
	build/bench.sh
	build/bench-write.sh
	build/bench-qcow2.sh
	build/bench-qcow2-write.sh
	build/bench-fs.sh

build:
	$(GO) build -o bin/vhdx ./cmd/vhdx

dist:
	build/dist.sh

serve: dist
	PORT=$(PORT) node build/serve.mjs

clean:
	rm -rf bin dist

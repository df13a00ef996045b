# VHDX Inspector. `make test` is what CI runs (.ci/run).

GO          ?= go
FUZZTIME    ?= 10s
TESTTIMEOUT ?= 10m

.PHONY: test fuzz bench build clean

test:
	build/setup.sh
	$(GO) vet ./...
	@unformatted=$$(find . -name '*.go' -not -path './.git/*' -not -path '*/node_modules/*' -print0 | xargs -0 -r gofmt -l); \
	if [ -n "$$unformatted" ]; then echo "gofmt: these files need formatting:"; echo "$$unformatted"; exit 1; fi
	$(GO) test -timeout $(TESTTIMEOUT) ./...
	FUZZTIME=$(FUZZTIME) build/fuzz.sh

fuzz: FUZZTIME = 5m
fuzz:
	build/setup.sh
	FUZZTIME=$(FUZZTIME) build/fuzz.sh

bench: build
	build/setup.sh
	$(GO) test -run='^$$' -bench=. -benchmem ./...
	build/bench.sh

build:
	$(GO) build -o bin/vhdx ./cmd/vhdx

clean:
	rm -rf bin

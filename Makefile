# alertgram — common tasks. `make test` is what CI runs.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: build test lint fuzz bench load clean

# nomsgpack: gin without its MessagePack codec, which alertgram never uses
# (1.5 MiB less resident memory). internal/testutil.BuildRelease matches.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -tags nomsgpack -ldflags "$(LDFLAGS)" -o bin/alertgram ./cmd/alertgram

# Everything CI checks: formatting, vet, and every test with the race
# detector (end-to-end tests start a real Alertmanager and PostgreSQL).
test: lint
	$(GO) test -race -count=1 ./...

# The linter, pinned; installed into GOPATH/bin on first use (.golangci.yml
# lists what it checks).
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT := $(CURDIR)/bin/golangci-lint-$(GOLANGCI_LINT_VERSION)

lint: $(GOLANGCI_LINT)
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GOLANGCI_LINT) run ./...

$(GOLANGCI_LINT):
	GOBIN=$(CURDIR)/bin/.tools $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(CURDIR)/bin/.tools/golangci-lint $@

# Explore beyond the committed seed corpus (new failures land in testdata/fuzz).
fuzz:
	$(GO) test ./internal/render -run '^$$' -fuzz FuzzRenderValues -fuzztime 60s

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# The load tool: the real binary against the fake Bot API with Telegram's
# limits (storm, fan-out, ingest, idle latency); prints the README figures.
load:
	$(GO) test ./internal/loadtest -run TestLoad -load -v -count=1 -timeout 30m

clean:
	rm -rf bin

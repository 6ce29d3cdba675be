# MGX — the two commands a newcomer needs are `make run` and `make test`.
GO        ?= go
TAGS      := ferretdb_no_postgresql
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X github.com/mgx-dev/mgx/platform.Version=$(VERSION)
BIN       := bin/mgx
WEB_DEPS  := web/node_modules/.package-lock.json
GOTEST    := $(GO) test -tags $(TAGS)

.PHONY: all build web run test test-go test-web test-docker test-templates test-generate e2e bench bench-apps lint fmt images clean help

all: build

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(WEB_DEPS): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

web: $(WEB_DEPS) ## build the web UI into web/dist (embedded in the binary)
	cd web && npm run build

build: web ## build bin/mgx with the web UI embedded
	CGO_ENABLED=0 $(GO) build -tags $(TAGS) -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/mgx
	@ls -lh $(BIN) | awk '{print "built $(BIN): " $$5}'

run: build ## start MGX on embedded defaults (prints the URL and the admin login)
	./$(BIN) up

test: test-go test-web ## Go and web unit tests (embedded FerretDB and Redis, no Docker)

test-go:
	$(GOTEST) -timeout 15m ./...

test-web: $(WEB_DEPS)
	cd web && npm test

test-docker: ## the container runtime suites against the real dockerd (needs images: make images)
	MGX_TEST_DOCKER=1 MGX_EXTRA_CA_BUNDLE=$${MGX_EXTRA_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt} $(GOTEST) -timeout 40m -count=1 ./runtime/... ./devenv/... ./deploy/... ./scheduler/... ./cmd/mgx/...

test-templates: ## template conformance: each template installed, tested, linted, built and run against an in-process mgx up (~6 min)
	bash scripts/templates-conformance.sh

test-generate: ## the offline team writes 2 apps per template (every field type, two entities); each installed, tested, linted, built
	MGX_TEST_GENERATE=1 MGX_TEST_GENERATE_N=2 $(GOTEST) -count=1 -timeout 30m -run '^TestGenerateApps$$' ./agent/

images: ## build the offline dev/prod base images (debootstrap, no registry needed)
	bash deploy/images/build.sh

e2e: build ## browser tests with Debian's Chromium (playwright-core)
	bash scripts/e2e.sh

bench: ## benchmarks, printed as one table
	bash scripts/bench.sh

bench-apps: ## the offline generator over the prompt corpus through the platform (MGX_GENBENCH_N prompts; all 112 take hours)
	bash scripts/genbench.sh

lint: $(WEB_DEPS) ## gofmt, go vet and the web lint
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet -tags $(TAGS) ./...
	cd web && npm run lint

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin web/dist/assets web/dist/index.html

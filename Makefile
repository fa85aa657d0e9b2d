# Nimbus: `make run` starts the all-in-one cloud, `make test` runs every test.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

GO ?= go
BIN := bin/nimbus
# Extra arguments for `make run`, e.g. ARGS='--data-dir /tmp/nimbus --ephemeral-ports'.
ARGS ?=

# The local PostgreSQL that `make postgres` prepares (role nimbus_test, two databases).
PG_AUTH := nimbus_test:nimbus_test@127.0.0.1:5432
NIMBUS_TEST_DATABASE_URL ?= postgres://$(PG_AUTH)/nimbus_test
NIMBUS_E2E_DATABASE_URL ?= postgres://$(PG_AUTH)/nimbus_e2e
FUZZTIME ?= 5s

.PHONY: build run deps postgres test vet fmt-check unit e2e test-postgres fuzz

build:
	$(GO) build -o $(BIN) ./cmd/nimbus

run: build
	$(BIN) up $(ARGS)

# Debian packages the tests need (only when missing) and the Go modules.
deps:
	scripts/deps.sh

# Starts the local PostgreSQL cluster and creates the test role and databases.
postgres:
	scripts/postgres.sh

test: deps postgres
	@echo '== go vet'
	$(GO) vet ./...
	@echo '== gofmt'
	@unformatted=$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	@echo '== unit tests'
	NIMBUS_TEST_REQUIRE_QEMU=1 $(GO) test $$($(GO) list ./... | grep -v '/test/e2e$$')
	@echo '== end-to-end tests (real clouds, the openstack CLI, gophercloud), the PostgreSQL suites and fuzz targets beside them'
	@# The end-to-end suite leaves a core idle much of the time (one CLI at a time, guests booting),
	@# so the database-backed suites and the fuzz targets run beside it; their log follows its own.
	@rest_log=$$(mktemp); \
	( set +e; \
	  echo '== database-backed suites on PostgreSQL (each test in a schema of its own)'; \
	  NIMBUS_TEST_DATABASE_URL='$(NIMBUS_TEST_DATABASE_URL)' $(GO) test -count=1 ./internal/platform/db/ ./internal/identity/ ./internal/image/ ./internal/network/ ./internal/compute/ ./internal/volume/; pg=$$?; \
	  echo '== fuzz targets, $(FUZZTIME) each'; \
	  FUZZTIME=$(FUZZTIME) scripts/fuzz.sh; fuzz=$$?; \
	  [ $$pg -eq 0 ] && [ $$fuzz -eq 0 ] ) > "$$rest_log" 2>&1 & rest=$$!; \
	e2e=0; NIMBUS_BCRYPT_COST=4 NIMBUS_E2E_DATABASE_URL='$(NIMBUS_E2E_DATABASE_URL)' \
		$(GO) test -count=1 -timeout 45m ./test/e2e/ || e2e=$$?; \
	others=0; wait $$rest || others=$$?; \
	cat "$$rest_log"; rm -f "$$rest_log"; \
	[ $$e2e -eq 0 ] && [ $$others -eq 0 ]

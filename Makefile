# Every target creates the virtual environment first if it is missing or stale.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run test test-isolation test-fuzz conformance test-browser test-deploy up down check check-alerts lint format schema docs bench bench-quick bench-fair-share bench-sync bench-facts bench-kpis bench-live bench-writes bench-ab bench-calls bench-floor bench-soak bench-audit-group bench-pii-detectors bench-keys profile clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)  ## create .venv and install the project with its dev tools

# The sandbox's port (SCV_SANDBOX_PORT when set in the environment, else 8100).
SANDBOX_PORT ?= $(or $(SCV_SANDBOX_PORT),8100)
run: $(STAMP)  ## the demo: embedded PostgreSQL, sandbox (SANDBOX_PORT=8100), sync, gateway :8000
	SCV_SANDBOX_PORT=$(SANDBOX_PORT) $(BIN)/scv demo

test: $(STAMP)  ## the whole test suite (no outside services needed; not the browser tests)
	$(BIN)/python -m pytest --ignore=tests/browser

FUZZ_EXAMPLES ?= 5000
test-isolation: $(STAMP)  ## the tenant-isolation suite alone: every root field as another tenant's principal (~15 s)
	$(BIN)/python -m pytest tests/tenancy

test-fuzz: $(STAMP)  ## generated documents over the whole schema, FUZZ_EXAMPLES (5000) of them (~4 min)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest tests/fuzz

# The graphql-http audit (GraphQL over HTTP), its npm package pinned and installed under
# .venv/tools/conformance; against a gateway tests/conformance/run_audit.py starts.
GRAPHQL_HTTP := 1.23.1
CONFORMANCE := $(VENV)/tools/conformance
CONFORMANCE_STAMP := $(CONFORMANCE)/.graphql-http-$(GRAPHQL_HTTP)
$(CONFORMANCE_STAMP):
	@command -v npm >/dev/null || { apt-get update \
	  && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm; }
	mkdir -p $(CONFORMANCE)
	npm install --prefix $(CONFORMANCE) --no-save --no-audit --no-fund --silent \
	  graphql-http@$(GRAPHQL_HTTP) graphql@16.9.0
	@touch $(CONFORMANCE_STAMP)

conformance: $(STAMP) $(CONFORMANCE_STAMP)  ## the graphql-http audit against a gateway it starts: every MUST and SHOULD (~20 s)
	NODE_PATH=$(abspath $(CONFORMANCE))/node_modules $(BIN)/python -m tests.conformance.run_audit $(CONFORMANCE)/data

# The agent desktop in a real browser: Debian's chromium and chromium-driver (apt-get, as
# root), selenium from the `browser` extra; then tests/browser/ alone.
BROWSER_STAMP := $(VENV)/.browser-stamp
$(BROWSER_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,browser]'
	@touch $(BROWSER_STAMP)

test-browser: $(BROWSER_STAMP)  ## the desktop page (/desktop) driven in headless chromium
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver; \
	fi
	DESKTOP_BROWSER_TESTS=1 $(BIN)/python -m pytest tests/browser

# The compose stack (deploy/compose.yaml) by deploy/stack.sh: docker compose where a Docker
# engine answers, else podman (Debian's, apt-get as root, with deploy/podman/containers.conf)
# and base images built from Debian's packages (mmdebstrap, cached by podman).
DEPLOY_STAMP := $(VENV)/.deploy-stamp
$(DEPLOY_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,deploy]'
	@touch $(DEPLOY_STAMP)

up: $(DEPLOY_STAMP)  ## the stack: 2 gateways behind a load balancer on :8080, PostgreSQL, Redis, sandbox
	deploy/stack.sh up

down: $(DEPLOY_STAMP)  ## stop the stack (its data stays; KEEP_DATA=0 removes it)
	deploy/stack.sh down

test-deploy: $(DEPLOY_STAMP)  ## build the images, start the stack, test it through the load balancer, tear down
	deploy/stack.sh test

check: $(STAMP)  ## ruff, ruff format --check, mypy --strict, import contracts, schema.graphql
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict kernel app resolvers adapters sandbox bench
	$(BIN)/lint-imports
	$(BIN)/scv schema --output schema.graphql --check

# promtool from PATH, else from Debian's prometheus package, unpacked under .venv/tools.
PROMTOOL ?= $(shell command -v promtool 2>/dev/null || echo $(VENV)/tools/usr/bin/promtool)
check-alerts:  ## promtool: check the alert rules and run their unit tests (deploy/prometheus)
	@test -x $(PROMTOOL) || { mkdir -p $(VENV)/tools && cd $(VENV)/tools \
	  && apt-get download prometheus && dpkg-deb -x prometheus_*.deb . && rm prometheus_*.deb; }
	$(PROMTOOL) check rules deploy/prometheus/alerts.yml
	cd deploy/prometheus && $(abspath $(PROMTOOL)) test rules alerts_test.yml

lint: check

bench: $(STAMP)  ## the benchmark (under 10 min): writes bench/results/<time>.json and .md
	$(BIN)/python -m bench

bench-quick: $(STAMP)  ## a short benchmark run (under 2 min), same figures, fewer requests
	$(BIN)/python -m bench --quick

bench-fair-share: $(STAMP)  ## agents and analysts, each alone and beside the other: fair share (~3 min)
	$(BIN)/python -m bench.fair_share

bench-facts: $(STAMP)  ## the read model's filters and pages over 100,000 customers (~30 s)
	$(BIN)/python -m bench.facts_query

bench-kpis: $(STAMP)  ## integration KPIs: counting a call, a flush, the backlog over 100,000 open tickets (~10 s)
	$(BIN)/python -m bench.kpis

bench-live: $(STAMP)  ## live changes: webhook to 100 subscribers p50/p99, memory per subscription (~1 min)
	$(BIN)/python -m bench.live

bench-writes: $(STAMP)  ## notes per second with the outbox, and its drain after a CRM outage (~1 min)
	$(BIN)/python -m bench.writes

bench-keys: $(STAMP)  ## what keys that rotate without a restart cost per token and per secrets check (~10 s)
	$(BIN)/python -m bench.key_rotation

CUSTOMERS ?= 100000
bench-sync: $(STAMP)  ## scv sync of CUSTOMERS (100000) into an empty store, vs 25000: time, RSS
	$(BIN)/python -m bench.sync --customers $(CUSTOMERS)

bench-soak: $(STAMP)  ## one worker's RSS over 100,000 requests, response caches on (not in make test)
	$(BIN)/python -m bench.soak

bench-audit-group: $(STAMP)  ## CPU per audited request, entries grouped in one INSERT or not (~1 min)
	$(BIN)/python -m bench.audit_group

SCENARIO ?= cold
bench-ab: $(STAMP)  ## CPU per request of this checkout against BASE (a commit), side by side; WITHOUT=<panel>: A is asked the view without it; A_ENV=SCV_X=v: a setting of A's only; SAME_VIEW=1: B asked A's view
	$(BIN)/python -m bench.ab --base $(or $(BASE),HEAD~1) $(if $(WITHOUT),--a-without $(WITHOUT)) $(foreach pair,$(A_ENV),--a-env $(pair)) $(if $(SAME_VIEW),--same-view)

bench-calls: $(STAMP)  ## Python function calls per cold whole view, this checkout against BASE (a count: steady on a busy machine, ~25 s)
	$(BIN)/python -m bench.calls --base $(or $(BASE),HEAD~1)

# presidio-analyzer and scrubadub in an environment of their own (some 660 MB, installed once):
# no dependency of the gateway, only measured against resolvers/redaction on the tests' corpus.
PII_VENV := $(VENV)/tools/pii
bench-pii-detectors: $(STAMP)  ## free-text redaction vs presidio-analyzer and scrubadub (corpus)
	@test -x $(PII_VENV)/bin/python || { $(PYTHON) -m venv $(PII_VENV) \
	  && $(PII_VENV)/bin/python -m pip install --quiet presidio-analyzer scrubadub phonenumbers; }
	$(PII_VENV)/bin/python -m bench.pii_detectors

bench-floor: $(STAMP)  ## CPU floor of uvicorn, strawberry, graphql-core and aiohttp alone (~30 s)
	$(BIN)/python -m bench.floor

profile: $(STAMP)  ## where a worker's CPU goes, by py-spy (SCENARIO=cold or warm)
	$(BIN)/python -m bench.profile --scenario $(SCENARIO)

DOCS_STAMP := $(VENV)/.docs-stamp
$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,docs]'
	@touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)  ## the documentation site (mkdocs-material, strict) into site/
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

format: $(STAMP)  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

schema: $(STAMP)  ## rewrite schema.graphql from the code
	$(BIN)/scv schema --output schema.graphql

clean:  ## remove the venv and demo data (.scv)
	rm -rf $(VENV) .scv .pytest_cache .mypy_cache .ruff_cache site

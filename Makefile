# Actionhouse — the two commands a fresh clone needs: `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
# uv installs the locked set in seconds; on a machine without it we bootstrap it into .tools/.
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
DATA_DIR ?= $(CURDIR)/data
export ACTIONHOUSE_DATA_DIR := $(DATA_DIR)
export DAGSTER_HOME ?= $(DATA_DIR)/dagster_home
# Dagster and dbt must never phone home from here.
export DAGSTER_DISABLE_TELEMETRY := 1
export DO_NOT_TRACK := 1
UI_PORT ?= 3000
CONTACTS ?= 10000

.PHONY: help install demo test lint ui bench bench-generate-1m refresh clean

help:
	@echo "make demo   - install, generate a sample CRM world and refresh every asset (embedded default)"
	@echo "make test   - run the whole test suite (what CI runs)"
	@echo "make ui     - start the Dagster UI on http://127.0.0.1:$(UI_PORT)"
	@echo "make bench  - time a full build and the next two hours' refreshes per stage at 100k contacts (CONTACTS=N)"
	@echo "make bench-next-hour - time one more hour's refresh on a copy of the folder 'make bench' built (CONTACTS=N, REPEAT=K, KEEP=1)"

.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/python -m pip install --quiet uv

# Bytecode compiled once at install: with PYTHONDONTWRITEBYTECODE set (common in containers and CI) every
# process would otherwise compile each module it imports from source, every time (measured: importing the
# refresh's libraries took 15-22 s instead of 5 s on a busy 2-core machine, in every refresh and dbt process).
$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --inexact --python 3.11 --compile-bytecode
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/actionhouse demo --contacts $(CONTACTS)

refresh: install
	$(VENV)/bin/actionhouse refresh

# Two workers (pytest-xdist), a module on one worker: most modules wait on one dbt or Dagster process at a time.
TEST_WORKERS ?= 2
test: install test-deps
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

# What the tests start themselves but cannot download: Debian's PostgreSQL server (the operational store is
# tested against a real one) and Debian's chromium (the console's browser tests drive it with Playwright; no
# browser download). Installed here when missing, so CI on a clean machine runs those tests.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
.PHONY: test-deps
test-deps:
	@ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || { \
	  echo "Installing Debian's postgresql package for the operational-store tests ..."; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }
	@test -x /usr/bin/chromium || { \
	  echo "Installing Debian's chromium package for the console's browser tests ..."; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

ui: install
	$(VENV)/bin/actionhouse prepare
	VIRTUAL_ENV="$(CURDIR)/$(VENV)" PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/dg dev --host 127.0.0.1 --port $(UI_PORT)

# `make bench CONTACTS=1000000`: the generated world is cached per (size, seed, generator source) in
# bench_data/worlds/, so only the first run at a size generates it. Each run appends to bench_data/pipeline_results.jsonl.
BENCH_CONTACTS = $(if $(filter command line environment,$(origin CONTACTS)),$(CONTACTS),100000)
bench: install
	$(PY) -m bench.pipeline --contacts $(BENCH_CONTACTS)

# `make bench-next-hour CONTACTS=1000000`: only the next hour, on a scratch copy (bench_data/next_hour_<N>, deleted
# at the end unless KEEP=1) of the bench_data/build_<N> a `make bench CONTACTS=N` left, which it never changes.
# REPEAT=K times K hours, each on a fresh copy.
.PHONY: bench-next-hour
bench-next-hour: install
	$(PY) -m bench.pipeline --next-hour-only --contacts $(BENCH_CONTACTS) $(if $(REPEAT),--repeat $(REPEAT),) $(if $(KEEP),--keep,)

bench-generate-1m: install
	$(PY) -m bench.pipeline --contacts 1000000 --generate-only

# The plot in docs/scaling.md: the latest `make bench` run per size, per stage (Altair + vl-convert, bench group).
.PHONY: bench-plot
bench-plot: install
	$(UV) sync --frozen --inexact --group bench --python 3.11
	$(PY) -m bench.pipeline --plot docs/images/scaling.png

# The table in docs/scaling.md ("Measured"): the same runs as the plot, printed as Markdown.
.PHONY: bench-table
bench-table: install
	$(PY) -m bench.pipeline --table

clean:
	rm -rf data bench_data dbt_project/target dbt_project/logs

.PHONY: bench-sync
# Sync throughput against the sandbox CRM at its default limit (100 requests / 10 s x 100 records), ~40 s.
bench-sync: install
	$(PY) -m bench.sync --records $${BENCH_SYNC_RECORDS:-40000}

.PHONY: eval-dedupe bench-dedupe
# Entity resolution + lead capture against the sample world's truth. Default 100k contacts (world and
# warehouse in bench_data/dedupe_<N>, built with `actionhouse demo`); `make eval-dedupe CONTACTS=10000` for speed.
DEDUPE_CONTACTS = $(if $(filter command line environment,$(origin CONTACTS)),$(CONTACTS),100000)
eval-dedupe: install
	$(PY) -m evaluation.dedupe --contacts $(DEDUPE_CONTACTS)

# Ours vs Splink 5 (DuckDB backend) on the same contact records: 100k, 1M and FEBRL3 (bench dependency group).
# Ours runs RUNS times per dataset (default 4, 2 above 300k records): the first run and the median of the warm ones.
bench-dedupe: install
	$(UV) sync --frozen --all-groups --python 3.11
	$(PY) -m bench.dedupe $(if $(filter command line environment,$(origin CONTACTS)),--contacts $(CONTACTS),) $(if $(RUNS),--runs $(RUNS),)

# --- scoring (ml/): quality on a sample world's holdout, and 1M-lead scoring speed -------------------------
SCORING_CONTACTS ?= 100000
SCORING_SEED ?= 7
.PHONY: eval-scoring bench-scoring

eval-scoring: install
	$(PY) -m evaluation.scoring --contacts $(SCORING_CONTACTS) --seed $(SCORING_SEED)

bench-scoring: install
	$(PY) -m bench.scoring --leads 1000000

# The explainable classifier with defaults on public tables from package wheels vs a tuned logistic regression.
.PHONY: eval-scoring-public
eval-scoring-public: install
	$(UV) sync --frozen --inexact --group eval --python 3.11
	$(PY) -m evaluation.scoring_public

# --- decision queue (actions/): proposals against the sample world's truth, and planning speed at 1M ----------
# Default 100k contacts (world and warehouse in bench_data/actions_<N>); `make eval-actions CONTACTS=10000` for speed.
ACTIONS_CONTACTS = $(if $(filter command line environment,$(origin CONTACTS)),$(CONTACTS),100000)
.PHONY: eval-actions bench-actions
eval-actions: install
	$(PY) -m evaluation.actions --contacts $(ACTIONS_CONTACTS)

bench-actions: install
	$(PY) -m bench.actions --contacts 1000000

# --- closed loop (issue 15): the product against a world that answers, lift measured vs the world's true lift ----
# 100k contacts, 14 simulated days, one refresh + approvals + sync per day (~2 h on 2 cores); LOOP_DAYS=N for speed.
LOOP_CONTACTS = $(if $(filter command line environment,$(origin CONTACTS)),$(CONTACTS),100000)
LOOP_DAYS ?= 14
.PHONY: eval-loop
eval-loop: install
	$(PY) -m evaluation.loop --contacts $(LOOP_CONTACTS) --days $(LOOP_DAYS)

# --- sync engine (reverse_etl/sync/): promises under faults and kill -9, throughput at HubSpot's limit, 1M diff ---
# Default 20,000 approved actions + 100,000 field updates (~10 min); `make eval-sync SYNC_ACTIONS=2000` for speed.
SYNC_ACTIONS ?= 20000
SYNC_FIELDS ?= 100000
.PHONY: eval-sync
eval-sync: install
	$(PY) -m evaluation.sync --actions $(SYNC_ACTIONS) --fields $(SYNC_FIELDS)

# --- hardening: each fault of the hardening issue as a scenario on a small world (kill -9, CRM outage, ...) ---------
.PHONY: eval-faults
eval-faults: install
	$(PY) -m evaluation.faults

# --- console (console/): page latency over a 1M-contact publication ------------------------------------------------
# Builds a small world with `actionhouse demo`, publishes it, scales the publication to CONSOLE_CONTACTS golden
# contacts in DuckDB, serves the console and times every page type (p95 over all requests).
CONSOLE_CONTACTS ?= 1000000
.PHONY: bench-console
bench-console: install
	$(PY) -m bench.console --contacts $(CONSOLE_CONTACTS)

# The publication step alone at CONSOLE_CONTACTS golden contacts: the warehouse `make bench` left (100k), scaled;
# one publication from scratch, then hourly deltas published in a copy of the previous one.
.PHONY: bench-publication
bench-publication: install
	$(PY) -m bench.publication --contacts $(CONSOLE_CONTACTS)

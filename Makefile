# kosprice: `make run` serves the shipped models, `make test` runs the suite.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
DATA ?= $(or $(KOSPRICE_DATA_DIR),../shared/data/kos)
REGIONS := jakarta_pusat jakarta_selatan jakarta_utara yogyakarta
export HOST PORT

.PHONY: quality report help install system-deps run test drills e2e fuzz lint bench capacity validate train lock compare promote rollback retire evaluation-set reload candidates compose-up compose-down

help: ## List the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

install: $(VENV)/.installed ## Create the virtualenv and install the locked dependencies
# On Debian, `python3 -m venv` needs python3-venv (ensurepip): installed first as root,
# otherwise the step stops and says so; with everything present it does nothing.
$(VENV)/.installed: requirements-dev.lock setup.cfg pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "kosprice needs Python 3.11"'
	@PYTHON="$(PYTHON)" bash deploy/system-deps.sh venv
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

system-deps: ## Install the Debian packages the tests use (redis-server, prometheus, docker-compose, haproxy, stress-ng)
	@bash deploy/system-deps.sh test

# Only the served app writes multiprocess metric files; tests build their apps with a
# fresh registry, so they must not inherit the directory (a fresh clone has none).
run: export PROMETHEUS_MULTIPROC_DIR ?= $(CURDIR)/state/prometheus
run: install ## Serve the shipped models with Gunicorn on $HOST:$PORT
	$(BIN)/gunicorn -c deploy/gunicorn.conf.py wsgi:app

# Tests build apps with a fresh registry and give each Gunicorn its own metrics directory:
# a PROMETHEUS_MULTIPROC_DIR exported in the shell is dropped (tests/conftest.py does too).
TEST_ENV := env -u PROMETHEUS_MULTIPROC_DIR

test: install system-deps ## Run the whole test suite, then the end-to-end tests (make e2e)
	$(TEST_ENV) $(BIN)/pytest -m "not e2e and not drill"
	@$(MAKE) --no-print-directory e2e

# Drills: long operational rehearsals under load (a CPU hog on one core), beyond `make test`.
drills: install system-deps ## Operational drills under a CPU hog (10 promote + reload cycles, zero failed requests)
	$(TEST_ENV) $(BIN)/pytest -m drill -s tests

e2e: install system-deps ## End-to-end: a real Prometheus scrapes a real multi-worker Gunicorn
	$(TEST_ENV) $(BIN)/pytest -m e2e tests/e2e

fuzz: install system-deps ## Longer schemathesis run against real Gunicorn (the suite runs a quick one)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-1500} FUZZ_MINIMUM_CASES=5000 $(TEST_ENV) $(BIN)/pytest -s tests/fuzz

lint: install ## Check style with ruff, the import layers (.importlinter), the Dockerfile with hadolint
	$(BIN)/ruff check kosprice tests deploy benchmarks wsgi.py
	$(BIN)/lint-imports
	$(BIN)/hadolint deploy/Dockerfile

# Several minutes: wrk rounds against four Gunicorn servers, then in-process stages.
# BENCH_ARGS passes options, e.g. BENCH_ARGS="--seconds 3 --rounds 2 --regions yogyakarta".
bench: install ## Throughput vs the framework's limit and plain sklearn, as ratios from one run
	@bash deploy/system-deps.sh bench
	$(TEST_ENV) $(BIN)/python benchmarks/predict.py $(BENCH_ARGS)

capacity: install ## Per-worker throughput and RSS, Redis bytes per region (needs a Redis)
	$(TEST_ENV) $(BIN)/python benchmarks/capacity.py

validate: install ## Run the startup integrity checks on models/
	$(BIN)/kosprice validate

# Model lifecycle: train a candidate, compare, promote (a person approves), reload.
STATE_DIR ?= $(or $(KOSPRICE_STATE_DIR),state)
PIDFILE ?= $(STATE_DIR)/gunicorn.pid
TRAIN_CSV = $(if $(filter %.csv,$(DATA)),$(DATA),$(DATA)/$(REGION).csv)
# The listings folder the evaluation sets' rows are read from: DATA when it names a folder.
LISTINGS = KOSPRICE_DATA_DIR="$(if $(filter %.csv,$(DATA)),$(or $(KOSPRICE_DATA_DIR),../shared/data/kos),$(DATA))"

train: install ## Train a candidate: REGION=r [DATA=csv-or-dir MODEL=name BUMP=patch REASON=text]
	@test -n "$(REGION)" || { echo "name the region: make train REGION=one of $(REGIONS)" >&2; exit 2; }
	@test -f "$(TRAIN_CSV)" || { echo "no listings at $(TRAIN_CSV): DATA=file.csv, or DATA=folder holding $(REGION).csv (default folder: ../shared/data/kos)" >&2; exit 2; }
	$(LISTINGS) CALLED_FROM_MAKE=1 $(BIN)/kosprice train --region "$(REGION)" --data "$(TRAIN_CSV)" $(if $(MODEL),--model "$(MODEL)") \
		$(if $(BUMP),--bump "$(BUMP)") $(if $(REASON),--reason "$(REASON)")

compare: install ## Compare a candidate with production: REGION=r VERSION=vX.Y.Z [DATA=listings-dir]
	$(LISTINGS) $(BIN)/kosprice compare --region "$(REGION)" --candidate "$(VERSION)"

promote: install ## Promote a candidate: REGION=r VERSION=vX.Y.Z APPROVED_BY=name REASON=text [FORCE=1]
	$(LISTINGS) CALLED_FROM_MAKE=1 $(BIN)/kosprice promote --region "$(REGION)" --version "$(VERSION)" \
		--approved-by "$(APPROVED_BY)" --reason "$(REASON)" $(if $(FORCE),--force)

rollback: install ## Serve an older version again: REGION=r APPROVED_BY=name REASON=text [TO=vX.Y.Z]
	$(LISTINGS) CALLED_FROM_MAKE=1 $(BIN)/kosprice rollback --region "$(REGION)" $(if $(TO),--to "$(TO)") \
		--approved-by "$(APPROVED_BY)" --reason "$(REASON)"

retire: install ## Archive older versions: REGION=r VERSIONS="vX.Y.Z ..." APPROVED_BY=name REASON=text
	$(LISTINGS) $(BIN)/kosprice retire --region "$(REGION)" $(foreach v,$(VERSIONS),--version "$(v)") \
		--approved-by "$(APPROVED_BY)" --reason "$(REASON)"

evaluation-set: install ## Make or replace a region's evaluation set (audited): REGION=r APPROVED_BY=name REASON=text [DATA=csv-or-dir]
	$(LISTINGS) $(BIN)/kosprice evaluation-set --region "$(REGION)" --data "$(TRAIN_CSV)" \
		--approved-by "$(APPROVED_BY)" --reason "$(REASON)"

RELOAD_TIMEOUT ?= 30
reload: install ## Complete any interrupted lifecycle action, validate models/, HUP Gunicorn, wait until production serves
	@$(BIN)/kosprice recover
	@$(BIN)/kosprice validate || { echo "models/ is invalid: not reloading" >&2; exit 1; }
	@test -s "$(PIDFILE)" || { echo "no Gunicorn pidfile at $(PIDFILE): is it running?" >&2; exit 1; }
	kill -HUP "$$(cat "$(PIDFILE)")"
	@$(BIN)/kosprice wait-served --url "http://$(HOST):$(PORT)" --timeout "$(RELOAD_TIMEOUT)"

candidates: install ## List candidates [REGION=r]; PRUNE=1 [KEEP=3] APPROVED_BY=name REASON=text removes old ones (audited)
	CALLED_FROM_MAKE=1 $(BIN)/kosprice candidates $(if $(REGION),--region "$(REGION)") \
		$(if $(PRUNE),--prune $(if $(KEEP),--keep "$(KEEP)") --approved-by "$(APPROVED_BY)" --reason "$(REASON)")

# The docker-compose.yml stack; the `docker compose` plugin when present, else docker-compose.
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo 'docker compose' || echo docker-compose)

# Grafana's admin password has no default: set GRAFANA_ADMIN_PASSWORD in .env (see
# .env.example) or export it; the stack refuses to start without it. Ports bind 127.0.0.1.
compose-up: ## Build and start API, Redis, Prometheus, Grafana (needs GRAFANA_ADMIN_PASSWORD)
	$(COMPOSE) up -d --build

# Stopping reads the same file, whose interpolation needs the password to be set.
compose-down: export GRAFANA_ADMIN_PASSWORD ?= not-needed-to-stop
compose-down: ## Stop the compose stack (named volumes are kept)
	$(COMPOSE) down

# The full model search for every region into build/quality (an experiment: never into
# candidates/ or models/; --bump major only gives the throwaway versions a number), then the
# report against the original project's published errors. Minutes per region on 2 cores.
QUALITY_DIR ?= build/quality
quality: install ## Search every region's model (CV), report vs the published errors in $(QUALITY_DIR)
	rm -rf "$(QUALITY_DIR)"
	for region in $(REGIONS); do \
		$(LISTINGS) CALLED_FROM_MAKE=1 $(BIN)/kosprice train --region $$region --data "$(DATA)/$$region.csv" --out "$(QUALITY_DIR)" \
			--bump major --reason "make quality (experiment)" || exit 1; done
	$(BIN)/kosprice report --models-dir "$(QUALITY_DIR)" --out "$(QUALITY_DIR)/report"

report: install ## Report the models/ versions vs the published errors into docs/quality
	$(BIN)/kosprice report

lock: ## Re-resolve the lock files from the ranges in setup.cfg (runtime, then with test tools)
	rm -rf $(VENV)-lock && $(PYTHON) -m venv $(VENV)-lock
	$(VENV)-lock/bin/pip install --quiet .
	$(VENV)-lock/bin/pip freeze --exclude kosprice > requirements.lock
	$(VENV)-lock/bin/pip install --quiet '.[test]'
	$(VENV)-lock/bin/pip freeze --exclude kosprice > requirements-dev.lock
	rm -rf $(VENV)-lock

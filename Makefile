# ReplayDesk: `make run` starts the service, `make test` runs the whole suite.
# Both set everything up first; setup is idempotent and only redoes what changed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FRONTEND_DIRS := $(wildcard recorder viewer)
PYTEST_ARGS ?=

.PHONY: setup run test fuzz bench lint format clean frontend migrate

setup: $(STAMP) frontend migrate

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# npm install + esbuild bundles for each front-end package that exists.
frontend:
	@for dir in $(FRONTEND_DIRS); do \
		if [ -f $$dir/package.json ]; then \
			(cd $$dir && { [ -d node_modules ] && [ node_modules -nt package-lock.json ] || npm ci --no-audit --no-fund; } && npm run --silent build) || exit 1; \
		fi; \
	done

migrate: $(STAMP)
	$(BIN)/replaydesk db upgrade

run: setup
	$(BIN)/replaydesk serve

# Redis, PostgreSQL and Chromium for the suite: started or installed when missing.
test: setup
	tests/services.sh
	$(BIN)/pytest $(PYTEST_ARGS)

# The ingest edge under many generated batches (REPLAYDESK_FUZZ_EXAMPLES per database, 5000 by
# default); `make test` runs the same test on a few dozen.
fuzz: setup
	tests/services.sh
	REPLAYDESK_FUZZ_PROFILE=fuzz $(BIN)/pytest -p no:logging --hypothesis-show-statistics \
		tests/service/ingest/test_ingest_fuzz.py

# The ingest benchmark drives the servers with Debian's wrk, installed by it when missing
# (apt-get, as root); without wrk it prints NOT RUN and no ingest figures.
bench: setup
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) recorder/node_modules viewer/node_modules recorder/dist viewer/dist

# ticket-bridge — the two commands a new machine needs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8080

.PHONY: run test bench drills check clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

## Start the service on SQLite (./var/bridge.db) with the shipped workflows.
run: $(STAMP)
	$(BIN)/bridge serve --host $(HOST) --port $(PORT)

## Run the whole suite (starts the machine's PostgreSQL if it is installed but stopped).
test: $(STAMP)
	scripts/ensure-postgres
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

## Throughput and latency figures (installs wrk from Debian if missing).
bench: $(STAMP)
	scripts/ensure-wrk
	$(BIN)/python -m bench

## The fault drills, long versions (about 10 minutes); the table goes to drills/results/latest.md.
drills: $(STAMP)
	scripts/ensure-postgres
	$(BIN)/python -m drills

## Validate the shipped workflows.
check: $(STAMP)
	$(BIN)/bridge check workflows

clean:
	rm -rf $(VENV) var .pytest_cache

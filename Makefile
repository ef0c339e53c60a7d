# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint setup setup-test services bench outage-demo clean chaos chaos-quick hostile

$(BIN)/intake: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	@touch $@

setup: $(BIN)/intake

## Set up and start the whole system on its embedded default (SQLite + in-process queue).
run: setup
	$(BIN)/intake db upgrade
	$(BIN)/intake serve

$(VENV)/.test-deps: $(BIN)/intake pyproject.toml
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

setup-test: $(VENV)/.test-deps

## Install Debian packages and start PostgreSQL and Redis for the tests.
services:
	bash scripts/test-setup.sh

## Lint, format and type check (part of `make test`, so CI fails on them).
lint: setup-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## Set up, lint and run the whole test suite, then the raw-socket hostile sweep and the quick chaos
## run (issue 12: CI proves hostile input and faults on every landing).
test: setup-test services lint
	$(BIN)/python -m pytest
	@log=$$(mktemp); $(BIN)/python scripts/hostile_sweep.py >$$log 2>&1; status=$$?; tail -1 $$log; rm -f $$log; exit $$status
	$(BIN)/python scripts/chaos.py --complaints 240 --window 60 --drain 90

## Fault injection (issue 12): >= 2,000 mixed complaints while processes, Redis and PostgreSQL are hurt.
chaos: setup-test services
	$(BIN)/python scripts/chaos.py --complaints 2000 --window 240 --drain 300

## The same in under 3 minutes (240 complaints).
chaos-quick: setup-test services
	$(BIN)/python scripts/chaos.py --complaints 240 --window 60 --drain 90

## The hostile-input suite alone (issue 12; part of `make test`), with the requests tried per route group.
hostile: setup-test services
	$(BIN)/python -m pytest -q -s tests/gateway/test_webhook_contract.py tests/gateway/test_hostile_fuzz.py \
		tests/gateway/test_hostile_console_fuzz.py tests/gateway/test_openapi_schemathesis.py \
		tests/e2e/test_hostile_mail.py tests/e2e/test_injection_browser.py tests/channels/test_outbound_injection.py \
		tests/e2e/test_telegram_hostile_poll.py
	@log=$$(mktemp); $(BIN)/python scripts/hostile_sweep.py >$$log 2>&1; status=$$?; tail -1 $$log; rm -f $$log; exit $$status

bench: setup
	$(BIN)/python bench/kannel_load.py

## A live outage (Kannel stopped, IMAP password wrong, a poison message) and what /ops/health says (~15 s).
## Needs Kannel and Dovecot (make services); OUTAGE_BACKEND=distributed runs it on PostgreSQL + Redis.
OUTAGE_BACKEND ?= embedded
outage-demo: setup-test
	$(BIN)/python scripts/outage_demo.py --backend $(OUTAGE_BACKEND)

clean:
	rm -rf $(VENV) var .pytest_cache

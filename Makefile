# nearline: the two commands a newcomer needs are `make demo` and `make test`.
# Every target runs in the project's own virtual environment, made by `make install`
# with the system's Python (Debian's own refuses pip installs: PEP 668).
BOOTSTRAP_PYTHON ?= python3
export VENV ?= $(CURDIR)/.venv
PYTHON := $(VENV)/bin/python
# The stack's state: ./.nearline, or its own folder when this checkout is private (scripts/home).
export NEARLINE_HOME ?= $(shell $(CURDIR)/scripts/home)
PYTEST_ARGS ?=

.PHONY: lock help install stack-up stack-down stack-status demo test test-unit chaos recall-scale peers scicat demo-scicat lint schema-check bench bench-smoke clean

help:
	@echo "make demo          set up everything and run the main job"
	@echo "make test          run the test suite against the local stack"
	@echo "make stack-up      start Kafka, S3, PostgreSQL and XRootD (idempotent)"
	@echo "make stack-down    stop them all"
	@echo "make stack-status  health of each service"
	@echo "make chaos         the long fault tests: broker failover, processors killed"
	@echo "make recall-scale  recall at acceptance scale: 2,000 small + 5 large files, 3 GETs"
	@echo "make peers         long runs with real peer clients: Pacifica 1 GiB, 1,000 files, cartd, SciCat"
	@echo "make scicat        build (once) and start a real SciCat on FerretDB beside the stack"
	@echo "make demo-scicat   one SciCat archive job and one retrieve job, end to end"
	@echo "make lint          ruff, mypy and the import walls (lint-imports)"
	@echo "make bench         run every benchmark in bench/"
	@echo "make bench-smoke   every benchmark at a tiny size (CI: they must still run)"
	@echo "make lock          refresh requirements.lock (the versions make install takes)"

install:
	@BOOTSTRAP_PYTHON=$(BOOTSTRAP_PYTHON) scripts/bootstrap

stack-up: install
	@$(PYTHON) -m stack up

stack-down:
	@if [ -x $(PYTHON) ]; then $(PYTHON) -m stack down; fi

stack-status:
	@$(PYTHON) -m stack status

demo: stack-up
	@$(PYTHON) -m stack.demo

# SciCat (scicat-backend-next from source, on FerretDB): docs/scicat.md.
scicat: stack-up
	@$(PYTHON) -m stack.scicat install
	@$(PYTHON) -m stack.scicat up

demo-scicat: scicat
	@$(PYTHON) -m stack.scicat_demo

schema-check:
	@$(PYTHON) -m events.compat

test: stack-up schema-check
	@$(PYTHON) -m pytest -q -m "not slow and not peers" $(PYTEST_ARGS)

test-unit: install schema-check
	@$(PYTHON) -m pytest -q -m "not slow and not peers and not integration" $(PYTEST_ARGS)

chaos: stack-up
	@$(PYTHON) -m pytest -q -s -m slow tests/integration/test_broker_failover.py tests/integration/test_chaos.py $(PYTEST_ARGS)

recall-scale: stack-up
	@$(PYTHON) -m pytest -q -s -m slow tests/integration/archive/test_recall_acceptance.py $(PYTEST_ARGS)

# pacifica-cartd pins versions nearline does not take: it lives in a virtualenv of its own.
CARTD_VENV ?= $(NEARLINE_HOME)/cartd-venv
export NEARLINE_CARTD_VENV := $(CARTD_VENV)

$(CARTD_VENV)/bin/pacifica-cartd:
	@$(BOOTSTRAP_PYTHON) -m venv $(CARTD_VENV)
	@$(CARTD_VENV)/bin/pip install -q pacifica-cartd==0.7.0 SQLAlchemy==2.1.9

peers: stack-up scicat $(CARTD_VENV)/bin/pacifica-cartd
	@$(PYTHON) -m pytest -q -s -m peers tests/integration $(PYTEST_ARGS)

lint: install
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/mypy $(wildcard domain events nearline stores processors projections api admin stack client)
	@$(VENV)/bin/lint-imports

bench: stack-up
	@for script in bench/*.py; do echo "== $$script"; $(PYTHON) $$script || exit 1; done

# Every bench at a tiny size, so none can rot unseen (.ci/run runs it); the figures of
# such small runs mean nothing.
bench-smoke: stack-up
	@$(PYTHON) bench/codec.py --count 50 --rounds 3
	@$(PYTHON) bench/put.py --files 200 --big-gib 0.01
	@$(PYTHON) -m bench.get --files 100 --big-mib 4 --rounds 1
	@$(PYTHON) bench/tape.py --small 100 --large-mib 4 --large-count 1
	@$(PYTHON) -m bench.recall --small 50 --large-mib 2 --large-count 1
	@$(PYTHON) bench/replay.py --events 2000
	@$(PYTHON) bench/delete.py --files 1000 --holdings 10
	@$(PYTHON) bench/catalog.py --users 4 --runs 3
	@$(PYTHON) bench/find.py --files 2000
	@$(PYTHON) -m bench.decider --files 20000

clean: stack-down
	rm -rf $(NEARLINE_HOME) $(VENV)

lock:
	@rm -rf $(VENV).lock && $(BOOTSTRAP_PYTHON) -m venv $(VENV).lock
	@$(VENV).lock/bin/pip install -q -e '.[dev]'
	@(echo "# Locked versions for the project's environment (scripts/bootstrap installs with -c)."; \
	  echo "# Refresh: make lock"; $(VENV).lock/bin/pip freeze --exclude-editable) > requirements.lock
	@rm -rf $(VENV).lock

# `make run` and `make test` set everything up on a fresh machine (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# The PostgreSQL pass of the test suite; the test runner creates and drops test_yaptide.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/yaptide
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
# The Slurm pass: the loopback cluster of the shared folder beside the clone, the cluster-side tools it runs.
SLURM_LOOPBACK ?= ../shared/slurm-loopback.sh
SLURM_CLUSTER_TOOLS ?= /opt/yaptide-cluster
TEST_SLURM_REDIS_URL ?= redis://127.0.0.1:6379/14

.PHONY: run manage test test-sqlite test-postgres test-browser test-slurm browser-deps slurm-cluster lint services bench bench-availability bench-import bench-slurm clean

$(BIN)/.installed: requirements.txt requirements-dev.txt constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==26.3
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(BIN)/.installed

run: venv
	PORT=$(PORT) PATH="$(CURDIR)/$(BIN):$$PATH" docker/entrypoint.sh dev

# An operator command on the `make run` checkout, from any terminal: make manage ARGS="list_users"
manage: venv
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} PATH="$(CURDIR)/$(BIN):$$PATH" docker/entrypoint.sh manage $(ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DJANGO_DEBUG=1 DATABASE_URL=sqlite://:memory: $(BIN)/python manage.py makemigrations --check --dry-run
	DJANGO_DEBUG=1 DATABASE_URL=sqlite://:memory: $(BIN)/python manage.py check

services:
	bash .ci/services

test-sqlite: venv
	DATABASE_URL=sqlite://:memory: $(BIN)/pytest -m "not integration and not browser and not slurm"

test-postgres: venv services
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest -m "not browser and not slurm"

# Debian's Chromium for the browser tests (playwright drives it; it never downloads a browser).
browser-deps:
	test -x /usr/bin/chromium || (apt-get update && apt-get install -y chromium)

# Browser tests (marker browser): headless Chromium driven by playwright, on PostgreSQL and Redis: the admin, and
# the real yaptide UI build from ../shared/yaptide-ui against a live server with a Celery worker.
test-browser: venv services browser-deps
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest -m browser

# Batch jobs against a real single-node Slurm over SSH (started here: root, apt), with a live server and workers.
slurm-cluster: services
	bash $(SLURM_LOOPBACK) start
	bash tests/slurm/install_cluster_tools.sh $(SLURM_CLUSTER_TOOLS)

test-slurm: venv slurm-cluster
	SLURM_LOOPBACK_SCRIPT=$(abspath $(SLURM_LOOPBACK)) SLURM_CLUSTER_TOOLS=$(SLURM_CLUSTER_TOOLS) \
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_SLURM_REDIS_URL) $(BIN)/pytest -m slurm tests/slurm

test: lint test-sqlite test-postgres test-browser test-slurm

# The benchmark of issue 5 (bench/run.py): gunicorn + PostgreSQL database yaptide_bench, under 10 minutes.
bench: venv services
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.broker
	$(BIN)/python -m bench.availability

# Issue 14: availability with /health/ pollers and slow clients, worker memory of whole-results reads.
bench-availability: venv services
	$(BIN)/python -m bench.availability

# The import benchmark of issue 12 (bench/import_legacy.py): generated yaptide databases, 2,500 to 10,000 jobs.
bench-import: venv services
	$(BIN)/python -m bench.import_legacy

# SSH connections per job and per reconcile round on the loopback cluster, and sshd processes left open.
bench-slurm: venv slurm-cluster
	mkdir -p var
	SLURM_CLUSTER_TOOLS=$(SLURM_CLUSTER_TOOLS) DATABASE_URL=sqlite:///var/bench-slurm.sqlite3 \
	REDIS_URL=$(TEST_SLURM_REDIS_URL) $(BIN)/python -m bench.slurm_ssh

clean:
	rm -rf $(VENV) var/

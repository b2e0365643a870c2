# chatcounsel: everyday commands. `make demo` serves the embedded default with demo data;
# `make test` runs the whole suite. See README.md.

SHELL := /bin/bash
ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# The demo's test e-ID provider listens here; its settings go to EID_DEMO_ENV for daphne.
EID_DEMO_PORT ?= $(shell echo $$(($(PORT) + 1)))
EID_DEMO_ENV := .demo-eid.env
WEBSOCKET_MAX_MESSAGE_BYTES ?= 65536
PYTEST_ARGS ?=

.PHONY: venv venv-dev node lock check-lock migrate demo cluster test check format bench bench-statistics messages clean

# --- virtualenv -----------------------------------------------------------------
# Installs only from the hashed locks (see pyproject.toml): `venv` what the platform runs,
# `venv-dev` that plus the test and lint tools. A stamp per lock: pip runs again only when
# its lock changes.
venv: $(VENV)/.installed-run node
venv-dev: $(VENV)/.installed-dev node

$(PY):
	python3.11 -m venv $(VENV) || python3 -m venv $(VENV)

$(VENV)/.installed-run: requirements.lock | $(PY)
	@echo "Installing what the platform runs (requirements.lock)..."
	$(PY) -m pip install -q --require-hashes -r requirements.lock
	touch $@

$(VENV)/.installed-dev: requirements-dev.lock | $(PY)
	@echo "Installing the platform with its test and lint tools (requirements-dev.lock)..."
	$(PY) -m pip install -q --require-hashes -r requirements-dev.lock
	touch $@ $(VENV)/.installed-run

# Node packages from package-lock.json (npm ci: exact, with integrity hashes, no install
# scripts), again only when it changes: the statistics page's chart library, served as static
# files straight from node_modules (settings.STATICFILES_DIRS, no build step), and the test
# e-ID provider for the tests and the demo. Without npm it says so and goes on, except under
# CI, where every test must run.
node: node_modules/.installed

node_modules/.installed: package-lock.json package.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --ignore-scripts --no-audit --no-fund --loglevel=error && touch $@; \
	elif [ -n "$$CI" ]; then \
		echo "make node: npm is missing (scripts/ensure-node.sh installs it)" >&2; exit 1; \
	else \
		echo "make node: npm is missing, so the statistics charts and the demo's e-ID cannot run" >&2; \
	fi

# The locks from pyproject.toml: `make lock` after changing a dependency there (keeps every
# other pin), `make lock UPGRADE=1` to take the newest versions the ranges allow.
UV_COMPILE = $(VENV)/bin/uv pip compile pyproject.toml --python-version 3.11 \
	--generate-hashes --no-header --quiet $(if $(UPGRADE),--upgrade)

lock: venv-dev
	$(UV_COMPILE) -o requirements.lock
	$(UV_COMPILE) --extra dev -o requirements-dev.lock

# Fails when a lock no longer matches pyproject.toml (a range changed without `make lock`).
check-lock: venv-dev
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	cp requirements.lock requirements-dev.lock "$$tmp"/ && \
	$(UV_COMPILE) -o "$$tmp/requirements.lock" && \
	$(UV_COMPILE) --extra dev -o "$$tmp/requirements-dev.lock" && \
	diff -u requirements.lock "$$tmp/requirements.lock" && \
	diff -u requirements-dev.lock "$$tmp/requirements-dev.lock" && \
	echo "the locks match pyproject.toml"

# --- run --------------------------------------------------------------------------
migrate: venv
	$(PY) manage.py migrate --noinput

# The demo always runs with DEBUG on: static files come from the app folders and
# seed_demo refuses to create demo logins otherwise.
demo: export DEBUG := true
demo: export STAFF_TWO_FACTOR := false
demo: venv migrate node
	$(PY) manage.py seed_demo
	@echo
	@echo "Test e-ID provider for identified clients (never for production):"
	@PORT=$(PORT) EID_DEMO_PORT=$(EID_DEMO_PORT) scripts/test-eid-provider.sh $(EID_DEMO_ENV)
	@echo
	@echo "chatcounsel demo on http://127.0.0.1:$(PORT)"
	@echo "  client                      http://127.0.0.1:$(PORT)/"
	@echo "  identified client (e-ID)    http://127.0.0.1:$(PORT)/me/"
	@echo "  return with a case code     http://127.0.0.1:$(PORT)/return/"
	@echo "  interpreter (invite link)   http://127.0.0.1:$(PORT)/interpret/"
	@echo "  console                     http://127.0.0.1:$(PORT)/console/"
	@echo "  follow-up inbox             http://127.0.0.1:$(PORT)/console/inbox/"
	@echo "  canned replies              http://127.0.0.1:$(PORT)/console/replies/"
	@echo "  dashboard                   http://127.0.0.1:$(PORT)/dashboard/"
	@echo "  access log                  http://127.0.0.1:$(PORT)/dashboard/access-log/"
	@echo "  surveys                     http://127.0.0.1:$(PORT)/dashboard/surveys/"
	@echo "  risk rules                  http://127.0.0.1:$(PORT)/dashboard/risk-rules/"
	@echo "  partner referral form       http://127.0.0.1:$(PORT)/partner/"
	@echo "  statistics                  http://127.0.0.1:$(PORT)/dashboard/statistics/"
	@echo "  staffing plan               http://127.0.0.1:$(PORT)/dashboard/staffing/"
	@echo "  admin                       http://127.0.0.1:$(PORT)/admin/"
	@echo "  logins: see the table above; every password is demo-password. Stop with Ctrl-C."
	@echo
	@# One shell: the provider (its PID in $(EID_DEMO_ENV).pid) stops when daphne does.
	@. $(EID_DEMO_ENV); \
	if [ -s $(EID_DEMO_ENV).pid ]; then trap 'kill $$(cat $(EID_DEMO_ENV).pid) 2>/dev/null; rm -f $(EID_DEMO_ENV).pid' EXIT; fi; \
	$(VENV)/bin/daphne -b 127.0.0.1 -p $(PORT) \
		--websocket-max-message-size $(WEBSOCKET_MAX_MESSAGE_BYTES) chatcounsel.asgi:application

# The production shape on one machine: N daphne processes (ports PORT+1..PORT+N) behind
# nginx on PORT, sharing PostgreSQL and Redis, plus the scheduler process, with demo data.
# Needs nginx (Debian: apt-get install -y nginx) and PostgreSQL and Redis answering
# (scripts/ensure-services.sh starts them). docs/deployment.md explains the parts.
N ?= 2
cluster: export DEBUG := true
cluster: export STAFF_TWO_FACTOR := false
cluster: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/chatcounsel
cluster: export REDIS_URL ?= redis://127.0.0.1:6379/0
cluster: venv
	N=$(N) PORT=$(PORT) PY=$(abspath $(PY)) WEBSOCKET_MAX_MESSAGE_BYTES=$(WEBSOCKET_MAX_MESSAGE_BYTES) \
		scripts/cluster.sh

# --- quality ------------------------------------------------------------------------
# Browser tests drive Debian's /usr/bin/chromium; ensure-chromium.sh installs it when missing.
# Two-factor login is switched on by the tests that are about it.
test: export STAFF_TWO_FACTOR ?= false
test: venv-dev
	scripts/ensure-chromium.sh
	scripts/ensure-node.sh
	$(MAKE) --no-print-directory node
	$(PY) -m pytest --screenshot only-on-failure --output test-results $(PYTEST_ARGS)

check: venv-dev check-lock
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy .

format: venv-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The standard scenarios against PostgreSQL + Redis on 127.0.0.1 (as in CI), two daphne
# processes, with a no-persistence Channels relay (bench/relay/) measured in the same run as
# the baseline; about 10 minutes. BENCH_QUICK=1 for a smoke run of about a minute;
# BENCH_SERVER_ROOT=/path/to/checkout measures another checkout's server. One table, also
# written to bench/results/latest.json. See docs/performance.md.
bench: venv-dev
	$(PY) bench/standard.py

# The statistics page with a year of data (200,000 conversations) on PostgreSQL; about ten
# minutes, most of it writing the data. See docs/performance.md.
bench-statistics: venv-dev
	$(PY) bench/statistics_page.py $(BENCH_ARGS)

# --- translations -------------------------------------------------------------------
# The client pages' other languages (settings.CLIENT_LANGUAGES); staff strings stay empty
# in them and show in English. docs/translations.md.
CLIENT_LOCALES := -l sv_X-ll -l fi -l ar -l fa -l so -l uk
MESSAGES_IGNORE := -i ".venv/*" -i "tests/*" -i "staticfiles/*" -i "test-results/*"

messages: venv-dev
	@if ! command -v msgfmt >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gettext; \
		else \
			echo "make messages needs GNU gettext (msgfmt, xgettext): apt-get install gettext" >&2; \
			exit 1; \
		fi; \
	fi
	cd "$(ROOT)" && $(PY) manage.py makemessages -l sv -l en --no-obsolete $(MESSAGES_IGNORE)
	cd "$(ROOT)" && $(PY) manage.py makemessages -d djangojs -l sv -l en --no-obsolete $(MESSAGES_IGNORE)
	cd "$(ROOT)" && $(PY) manage.py makemessages $(CLIENT_LOCALES) --no-obsolete $(MESSAGES_IGNORE)
	cd "$(ROOT)" && $(PY) manage.py makemessages -d djangojs $(CLIENT_LOCALES) --no-obsolete $(MESSAGES_IGNORE)
	cd "$(ROOT)" && $(PY) manage.py compilemessages -i ".venv" -i "staticfiles"

clean:
	rm -rf db.sqlite3* test_db.sqlite3* test-results .demo-eid.env*

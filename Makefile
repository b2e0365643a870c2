# chatcounsel: everyday commands. `make demo` serves the embedded default with demo data;
# `make test` runs the whole suite. See README.md.

SHELL := /bin/bash
ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
WEBSOCKET_MAX_MESSAGE_BYTES ?= 65536
PYTEST_ARGS ?=

.PHONY: venv migrate demo test check format messages clean

# --- virtualenv -----------------------------------------------------------------
# The stamp is rebuilt (pip install) only when a requirements file changes.
venv: $(VENV)/.installed

$(PY):
	python3.11 -m venv $(VENV) || python3 -m venv $(VENV)

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

# --- run --------------------------------------------------------------------------
migrate: venv
	$(PY) manage.py migrate --noinput

# The demo always runs with DEBUG on: static files come from the app folders and
# seed_demo refuses to create demo logins otherwise.
demo: export DEBUG := true
demo: export STAFF_TWO_FACTOR := false
demo: venv migrate
	$(PY) manage.py seed_demo
	@echo
	@echo "chatcounsel demo"
	@echo "  client     http://127.0.0.1:$(PORT)/"
	@echo "  console    http://127.0.0.1:$(PORT)/console/"
	@echo "  dashboard  http://127.0.0.1:$(PORT)/dashboard/"
	@echo "  admin      http://127.0.0.1:$(PORT)/admin/"
	@echo "  logins: see the table above; every password is demo-password. Stop with Ctrl-C."
	@echo
	$(VENV)/bin/daphne -b 127.0.0.1 -p $(PORT) \
		--websocket-max-message-size $(WEBSOCKET_MAX_MESSAGE_BYTES) chatcounsel.asgi:application

# --- quality ------------------------------------------------------------------------
# Browser tests drive Debian's /usr/bin/chromium; ensure-chromium.sh installs it when missing.
# Two-factor login is switched on by the tests that are about it.
test: export STAFF_TWO_FACTOR ?= false
test: venv
	scripts/ensure-chromium.sh
	$(PY) -m pytest --screenshot only-on-failure --output test-results $(PYTEST_ARGS)

check: venv
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy .

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# --- translations -------------------------------------------------------------------
MESSAGES_IGNORE := -i ".venv/*" -i "tests/*" -i "staticfiles/*" -i "test-results/*"

messages: venv
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
	cd "$(ROOT)" && $(PY) manage.py compilemessages -i ".venv" -i "staticfiles"

clean:
	rm -rf db.sqlite3* test_db.sqlite3* test-results

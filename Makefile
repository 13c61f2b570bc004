# Kwebbel: `make run` to try it, `make test` to check it. See README.md.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
EMULATOR_PORT ?= 8443
PYTEST_ARGS ?=

.PHONY: run test setup lint format clean-emulator

# The virtualenv, and the requirements installed again only when requirements.txt changes.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.requirements-installed: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

# axe-core for the browser tests' accessibility checks (package.json; nothing the site serves).
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(VENV)/.requirements-installed node_modules/.installed

# Migrate, create the demo users, then the ACS emulator (unless ACS_CONNECTION_STRING is set)
# and Daphne on http://127.0.0.1:$(PORT); Ctrl-C stops both.
run: $(VENV)/.requirements-installed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py create_demo_users
	$(BIN)/python manage.py runkwebbel --port $(PORT) --emulator-port $(EMULATOR_PORT)

# The whole suite (pytest-django; tests start their own emulator). Narrow it with
# PYTEST_ARGS, e.g. `make test PYTEST_ARGS="tests/tokens -x"`.
test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Forget the local emulator's CA, key and data (a new CA is made on the next `make run`).
clean-emulator:
	rm -rf .acs-emulator

# Startklaar: `make run` serves the app at http://localhost:8000, `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
NODE_STAMP := tests/node_modules/.installed-stamp

.PHONY: run test lint worker chromium wrk bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/startklaar migrate
	$(BIN)/startklaar kaart load-examples
	$(BIN)/startklaar serve --no-migrate

worker: $(STAMP)
	$(BIN)/startklaar worker

$(NODE_STAMP): tests/package.json tests/package-lock.json
	cd tests && npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

# Browser tests drive Debian's Chromium; install it when it is missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Chromium ontbreekt; installeren met apt-get ..."; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium; fi; }

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP) $(NODE_STAMP) chromium lint
	$(BIN)/pytest $(PYTEST_ARGS)

# Benchmarks drive the server with wrk (bench/README.md); install it when it is missing.
wrk:
	@command -v wrk >/dev/null 2>&1 || { \
	  echo "wrk ontbreekt; installeren met apt-get ..."; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq wrk; fi; }

bench: $(STAMP) wrk
	$(BIN)/python -m bench.run_all $(BENCH_ARGS)

clean:
	rm -rf $(VENV) tests/node_modules data .pytest_cache

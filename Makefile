# sscard — the two commands that matter: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck migrations-check pytest install demo serve clean soak

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## Run the product: embedded SQLite under ./var, demo data, server on http://127.0.0.1:8000
run: $(STAMP)
	$(BIN)/sscard db upgrade
	$(BIN)/sscard demo load
	$(BIN)/sscard serve

## Run everything CI runs: lint, types, migrations check, the suite on SQLite and PostgreSQL
test: $(STAMP) lint typecheck migrations-check pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy src

migrations-check: $(STAMP)
	@tmp=$$(mktemp -d); \
	SSCARD_DATA_DIR=$$tmp SSCARD_DATABASE_URL=sqlite:///$$tmp/check.db $(BIN)/sscard db upgrade >/dev/null && \
	SSCARD_DATA_DIR=$$tmp SSCARD_DATABASE_URL=sqlite:///$$tmp/check.db $(BIN)/sscard db check; \
	rc=$$?; rm -rf $$tmp; exit $$rc
	@# The same on PostgreSQL, in a throw-away schema (skipped with a visible line when it is not running,
	@# a failure under CI=true, as for the suite).
	@pg=postgresql://postgres@127.0.0.1:5432/test; schema=check_$$$$; tmp=$$(mktemp -d); \
	if ! $(BIN)/python -c "import psycopg; psycopg.connect('$$pg', connect_timeout=3).close()" 2>/dev/null; then \
	  rm -rf $$tmp; echo "PostgreSQL unreachable: migrations check on PostgreSQL SKIPPED"; [ "$$CI" != "true" ]; exit $$?; fi; \
	export SSCARD_DATA_DIR=$$tmp SSCARD_DATABASE_URL=$$pg SSCARD_DATABASE_SCHEMA=$$schema; \
	$(BIN)/sscard db upgrade >/dev/null && $(BIN)/sscard db check; rc=$$?; \
	$(BIN)/python -c "import psycopg; c=psycopg.connect('$$pg', autocommit=True); c.execute('DROP SCHEMA IF EXISTS $$schema CASCADE')"; \
	rm -rf $$tmp; exit $$rc

# The whole suite in one pytest process, on SQLite and PostgreSQL. pytest exits 5 when it collected
# nothing: that is a failure here, never a pass.
pytest: $(STAMP)
	@$(BIN)/pytest -p no:cacheprovider -q tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest ran no tests: failing"; exit 1; fi; exit $$rc

## The long soak (not part of make test): 10 minutes of mixed load on sscard serve over PostgreSQL;
## fails on any error or on memory growth; the figures go into bench/README.md.
soak: $(STAMP)
	$(BIN)/python bench/soak.py --seconds $${SOAK_SECONDS:-600}

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

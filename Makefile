# sscard — the two commands that matter: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: lock statement-font run test test-quick lint typecheck migrations-check pytest install demo serve clean soak mutation \
	messages compile-messages
LOCALE := src/sscard/web/locale

# pyproject.toml keeps version ranges (the package installs beside other software); requirements.lock
# pins every package, transitive ones included, so make and CI install exactly what was tested.
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[test]'
	touch $(STAMP)

install: $(STAMP) compile-messages

## The pages' gettext catalogues: .po committed, .mo compiled here (install, run, test) and never committed.
compile-messages: $(STAMP)
	@$(BIN)/pybabel compile -d $(LOCALE) -D messages 2>&1 | grep -v "^compiling catalog" || true

## After changing a page's words: extract them (Python + Jinja2, babel.cfg) and the domain errors'
## titles, update both catalogues, then translate the new zh_CN entries (docs/pages.md).
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _ -k gettext -k N_ --sort-by-file --width 120 \
	  --project sscard --copyright-holder "sscard" -o $(LOCALE)/messages.pot .
	$(BIN)/python scripts/error_messages.py add $(LOCALE)/messages.pot
	$(BIN)/pybabel update -i $(LOCALE)/messages.pot -d $(LOCALE) -D messages --no-fuzzy-matching --ignore-obsolete --width 120
	$(BIN)/python scripts/error_messages.py fill $(LOCALE)
	@grep -c '^msgstr ""$$' $(LOCALE)/zh_CN/LC_MESSAGES/messages.po >/dev/null && \
	  echo "untranslated zh_CN entries remain (msgstr \"\"): translate them before committing" || true

## Re-pin: resolve pyproject.toml's ranges afresh in a scratch venv and write requirements.lock.
lock:
	rm -rf .lock-venv && $(PY) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --upgrade pip
	.lock-venv/bin/pip install --quiet -e '.[test,dev]'
	{ echo "# exact pins for make and CI; regenerate with 'make lock' after changing pyproject.toml"; \
	  .lock-venv/bin/pip freeze --exclude-editable | grep -v '^-e '; } > requirements.lock
	rm -rf .lock-venv

## Run the product: embedded SQLite under ./var, demo data, server on http://127.0.0.1:8000
run: $(STAMP) compile-messages statement-font
	$(BIN)/sscard db upgrade
	$(BIN)/sscard demo load
	$(BIN)/sscard serve

## The CJK font yearly statements embed (INS-4; Debian's fonts-wqy-microhei): installed when missing and
## this runs as root, otherwise a visible line (the demo then loads without its statements).
statement-font:
	@[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || \
	  { [ "$$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei >/dev/null; } || \
	  echo "fonts-wqy-microhei is not installed: yearly statements cannot be rendered (apt-get install fonts-wqy-microhei)"

## Run everything CI runs: lint, types, migrations check, the suite on SQLite and PostgreSQL. The four run
## side by side (issue 18 item 5: mypy alone took ~25 s of one core before the first test): each line of
## their output is printed whole as it comes (-Oline; pytest's line starts with + so its progress shows live),
## and make fails when any of them fails.
test: $(STAMP) compile-messages
	@$(MAKE) --no-print-directory -f $(firstword $(MAKEFILE_LIST)) -j4 -Oline lint typecheck migrations-check pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports --no-cache  # the import contracts of pyproject.toml [tool.importlinter]

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

# The whole suite, on SQLite and PostgreSQL, over one pytest-xdist worker per core, at most 4 (each
# holds PostgreSQL connections of its own); PYTEST_WORKERS=N to choose, 0 for one process. Each worker
# has its own databases, keystore, token and data dir (tests/conftest.py); tests that start servers
# share one worker, the browser tests another (xdist_group; tests/conftest.py names the groups where
# pytest 9.2 reads them). pytest exits 5 when it collected nothing: a failure here, never a pass.
# Bytecode is written even where the environment says PYTHONDONTWRITEBYTECODE (into the ignored __pycache__
# directories): otherwise every worker compiled sscard and rewrote every test module's asserts anew (~5 s of
# a worker's ~10 s collection), and every sscard subprocess a test starts (~100) compiled what it imports.
# Python trusts a .pyc by its source's size and mtime (whole seconds): before A/B timing runs that swap
# sources by script (git stash, checkouts), remove the __pycache__ directories.
PYTEST_WORKERS ?= auto
pytest: $(STAMP) compile-messages
	+@env -u PYTHONDONTWRITEBYTECODE $(BIN)/pytest -p no:cacheprovider -q -n $(PYTEST_WORKERS) --maxprocesses 4 --dist loadgroup tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest ran no tests: failing"; exit 1; fi; exit $$rc

## The quick check while working (about 25 s): lint and the unit tests (pure rules: no database, no app,
## no server; tests/conftest.py marks the others "integration" at collection). Not a substitute for make test.
test-quick: $(STAMP) compile-messages lint
	@$(BIN)/pytest -p no:cacheprovider -q -m "not integration" tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest ran no tests: failing"; exit 1; fi; exit $$rc

## The long soak (not part of make test): 10 minutes of mixed load on sscard serve over PostgreSQL;
## fails on any error or on memory growth; the figures go into bench/README.md.
soak: $(STAMP)
	$(BIN)/python bench/soak.py --seconds $${SOAK_SECONDS:-600}

## Mutation testing of the rule modules (issue 26; not part of make test; every group ~22 min on 2 cores): mutmut,
## one group of modules at a time with the tests that cover it ([tool.sscard-mutation] in pyproject.toml).
## MUTATION_GROUPS="pin-rules card-states" to pick groups, MUTATION_JOBS=1 for one process. Report: docs/mutation-report.md.
MUTATION_JOBS ?= 2
mutation: $(STAMP)
	@$(BIN)/python -c "import mutmut" 2>/dev/null || $(BIN)/pip install --quiet -c requirements.lock -e '.[test,dev]'
	MUTATION_JOBS=$(MUTATION_JOBS) $(BIN)/python scripts/mutation.py $(MUTATION_GROUPS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

# Prometheus Gateway. `make run` serves on 127.0.0.1:8000; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt requirements-nodeps.txt | cksum | cut -d' ' -f1)

.PHONY: install chromium nginx run demo test bench bench-cache bench-stats bench-semantic bench-semantic-load bench-embeddings migrate clean

$(STAMP): requirements.txt requirements-dev.txt requirements-nodeps.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-nodeps.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

# Embedded PostgreSQL (var/pgdata) unless DATABASE_URL is set; migrates; prints a first
# admin key if there is none; serves until Ctrl-C.
run: install
	$(PY) manage.py serve

# The same, with every provider pointed at the local fake upstream: try it all offline.
demo: install
	$(PY) manage.py serve --demo

migrate: install
	$(PY) manage.py migrate

# The browser tests drive Debian's Chromium (never a downloaded build): installed when missing.
chromium:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium)

# The deployment test (tests/site/test_behind_nginx.py) runs three gateways behind Debian's nginx.
nginx:
	@test -x /usr/sbin/nginx || (apt-get update -qq && apt-get install -y -qq nginx)

test: install chromium nginx
	$(PY) -m pytest $(PYTEST_ARGS)

# Benchmarks (docs/benchmarks.md); wrk comes from Debian: apt-get install -y wrk
bench: install
	$(PY) bench/load.py

bench-cache: install
	$(PY) bench/cache_bench.py

bench-stats: install
	$(PY) bench/stats_bench.py

bench-embeddings: install
	$(PY) bench/embeddings_bench.py

# PAWS_PATH=... adds the PAWS-Wiki sample (not shipped; docs/semantic-cache.md).
bench-semantic: install
	$(PY) bench/semantic_eval.py

# The shared embedding service under semantic-eligible load, 2 workers (docs/benchmarks.md).
bench-semantic-load: install
	$(PY) bench/semantic_load.py

clean:
	rm -rf $(VENV) var

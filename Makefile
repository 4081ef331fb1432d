# Two commands do all set-up on a fresh machine:
#   make demo   - the main job
#   make test   - the test suite (long training checks: make test-slow)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: setup system-deps demo test test-slow test-floors test-wheel lint gallery bench clean

setup: $(STAMP) system-deps

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

# graphviz's `dot` draws the diagrams; install it when missing and we may.
system-deps:
	@command -v dot >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq graphviz; \
	  else echo "graphviz is missing: sudo apt-get install graphviz (or brew install graphviz)"; exit 1; fi; }

# Trains a classifier and a manipulator on built-in sprites (no data files
# needed), then writes the objective's diagram, edit grid and eval.json.
demo: setup
	$(PY) -m taskdsl check examples/*.task stdlib/*.task
	$(PY) -m taskdsl demo --out demo_out

test: setup
	$(PY) -m pytest -q -m "not slow"

test-slow: setup
	$(PY) -m pytest -q -m slow || [ $$? -eq 5 ]  # 5: no slow tests selected

# The lowest dependency versions pyproject allows, in .venv-floors, with the fast tests.
test-floors:
	bash .ci/floors.sh

# A wheel installed outside the checkout: front end alone, then with JAX (demo --fast).
test-wheel:
	bash .ci/wheel.sh

lint: setup
	$(VENV)/bin/ruff check .

gallery: setup
	$(PY) docs/make_gallery.py

bench: setup
	$(PY) benchmarks/frontend_scaling.py

clean:
	rm -rf $(VENV) .venv-floors build dist *.egg-info

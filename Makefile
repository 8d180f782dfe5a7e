# Two entry points, both safe on a fresh clone of a fresh machine:
#   make demo   runs the article's Iris case study and writes loss.png
#   make test   runs the whole test suite (extra pytest flags: make test PYTEST_ARGS="-k data -x")
# Each creates or reuses .venv, reinstalls the package only when pyproject.toml changed, and installs
# Debian's graphviz (the `dot` binary, needed to render graphs) when it is missing.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: demo test lint docs-images dot clean

demo: $(STAMP) dot
	MPLBACKEND=Agg $(PY) -m tinygrad_lite iris --plot loss.png

test: $(STAMP) dot
	MPLBACKEND=Agg $(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# The computation-graph pictures in docs/images/ (see docs/visualization.md).
docs-images: $(STAMP) dot
	$(PY) examples/graph_demo.py --docs

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev,viz,examples]'
	touch $(STAMP)

# apt needs root: use sudo only when we are not root already.
dot:
	@if ! command -v dot >/dev/null 2>&1; then \
		echo "graphviz 'dot' not found: installing Debian's graphviz"; \
		if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null; \
	fi

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis loss.png

# Two entry points, both safe on a fresh clone of a fresh machine:
#   make demo   runs the article's Iris case study and writes loss.png
#   make test   runs the whole test suite (extra pytest flags: make test PYTEST_ARGS="-k data -x")
# Each creates or reuses .venv and reinstalls the package only when pyproject.toml changed. `make test` also
# wants Graphviz's `dot` (the graph-rendering tests need it; they skip themselves without it): see `dot` below.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: demo test kernels lint docs docs-images docs-screenshot dot chromium clean

demo: $(STAMP)
	MPLBACKEND=Agg $(PY) -m tinygrad_lite iris --plot loss.png

test: $(STAMP) dot chromium
	MPLBACKEND=Agg $(PY) -m pytest $(PYTEST_ARGS)

# The tests whose figures come from long training runs, under every OpenBLAS kernel this CPU executes
# (Prescott ... Zen, SkylakeX and Cooperlake with AVX-512): a table of kernel × result; fails if any fails.
kernels: $(STAMP)
	MPLBACKEND=Agg $(PY) tools/blas_kernels.py tests

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# The docs site (mkdocs, material theme, API reference from docstrings) into site/; --strict: any warning fails.
docs: $(STAMP)
	$(PY) -m mkdocs build --strict --site-dir site

# The computation-graph pictures in docs/images/ (see docs/visualization.md).
docs-images: $(STAMP) dot
	$(PY) examples/graph_demo.py --docs

# The screenshot of the step-through page in docs/images/ (docs/visualization.md), taken by headless Chromium.
docs-screenshot: $(STAMP) dot chromium
	$(PY) tools/backward_steps_screenshot.py

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev,viz,examples,docs,browser]'
	touch $(STAMP)

# When `dot` is missing: as root on a machine with apt-get (CI, a Debian container), install Debian's graphviz
# quietly. Anywhere else, never prompt (no sudo) and never fail: print one line saying how to install it and
# go on; the tests that render with dot skip themselves and `pytest -ra` lists them with the reason.
DOT_HINT := graphviz's dot not found: the graph-rendering tests will be skipped; install it with \
	apt-get install graphviz / dnf install graphviz / pacman -S graphviz / brew install graphviz

dot:
	@if ! command -v dot >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "graphviz's dot not found: installing Debian's graphviz"; \
			apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null \
			|| echo "$(DOT_HINT)"; \
		else \
			echo "$(DOT_HINT)"; \
		fi; \
	fi

# The step-through page's browser tests want Debian's chromium and chromium-driver: installed as root with apt-get
# (CI), otherwise one line says how, and that test is skipped with the reason.
CHROMIUM_HINT := chromium/chromedriver not found: the browser tests will be skipped; install them with \
	apt-get install chromium chromium-driver

chromium:
	@if ! command -v chromedriver >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "chromium not found: installing Debian's chromium and chromium-driver"; \
			apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null \
			|| echo "$(CHROMIUM_HINT)"; \
		else \
			echo "$(CHROMIUM_HINT)"; \
		fi; \
	fi

clean:
	rm -rf $(VENV) build site *.egg-info .pytest_cache .hypothesis loss.png

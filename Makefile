PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
STAMP := .make/installed

.PHONY: install demo test lint bench clean

# torch first: a bare torch requirement would pull the multi-GB CUDA wheels on a
# CPU machine; with 2.13.0 present, the project's torch>= range installs nothing more.
$(STAMP): pyproject.toml
	$(PIP) install -q "torch==2.13.0" || $(PIP) install -q torch
	$(PIP) install -q -e ".[dev]"
	@mkdir -p .make && touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PYTHON) -m rl_lab.demo

test: $(STAMP)
	bash tests/setup_chromium.sh || true
	$(PYTHON) -m pytest -q -x --timeout 900 tests

lint: $(STAMP)
	$(PYTHON) -m ruff check rl_lab environments analysis tests bench

bench: $(STAMP)
	$(PYTHON) -m bench

clean:
	rm -rf .make runs build *.egg-info

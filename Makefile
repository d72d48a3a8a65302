# Two entry points: `make report` (the main job) and `make test`. Both build .venv first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# CPU build of torch (a local wheel on the project machines); override for a CUDA machine:
#   make TORCH_SPEC='torch>=2.3' report
TORCH_SPEC ?= torch==2.13.0
PYTEST_WORKERS ?= 2
# The versions the suite last passed with (pip -c); empty to let pip choose: make CONSTRAINTS= test
CONSTRAINTS ?= constraints.txt
PIP_C := $(if $(CONSTRAINTS),-c $(CONSTRAINTS),)

.PHONY: venv test report ledger readme bench mutation clean constraints gpu gpu-check gpu-wheels

$(BIN)/.installed: pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(PIP_C) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet $(PIP_C) -e ".[dev]"
	touch $@

venv: $(BIN)/.installed

test: venv
	SGDSM_CONSTRAINTS=$(CONSTRAINTS) $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile

report: venv
	$(BIN)/python -m validation report --out reports/latest

ledger: venv
	$(BIN)/python -m validation claims

# The README's findings block, regenerated from the ledger (tests/validation/test_readme.py fails when stale)
readme: venv
	$(BIN)/python scripts/update_readme.py

# Benchmarks (scripts, never timed tests): same-run ratios, medians of repetitions, load recorded.
# They write fresh results to benchmarks/results/fresh/ (ignored by git); the report's benchmark
# section sets each headline ratio beside the committed one (benchmarks/results/), so a stale figure
# shows. To re-pin the committed results: make bench BENCH_OUT=benchmarks/results
BENCH_OUT ?= benchmarks/results/fresh
bench: venv
	mkdir -p $(BENCH_OUT)
	$(BIN)/python benchmarks/bench_compile.py --out $(BENCH_OUT)/bench_compile.json
	$(BIN)/python benchmarks/bench_sgd_escape.py --out $(BENCH_OUT)/bench_sgd_escape.json
	$(BIN)/python benchmarks/bench_fokker_planck.py --out $(BENCH_OUT)/bench_fokker_planck.json
	$(BIN)/python benchmarks/bench_per_sample.py --out $(BENCH_OUT)/bench_per_sample.json  # BackPACK column: pip install -e '.[bench]' -c constraints.txt
	$(BIN)/python benchmarks/bench_ledger.py --out $(BENCH_OUT)/bench_ledger.json
	$(BIN)/python benchmarks/bench_sgd.py --out $(BENCH_OUT)/bench_sgd.json
	$(BIN)/python benchmarks/bench_ensemble.py --out $(BENCH_OUT)/bench_ensemble.json
	$(BIN)/python benchmarks/bench_nets.py --out $(BENCH_OUT)/bench_nets.json  # BackPACK rows: .[bench]; PyHessian rows: .[dev]

# Mutation testing (not in CI): mutmut 3 on one module at a time with its mirrored tests, in a
# scratch copy of the tree; results merged into benchmarks/results/mutation.json.
#   make mutation MODULE=theory/laplace.py SAMPLE=200   (SAMPLE=0: every mutant; ~1 mutant/s
#   on 2 cores, so a full theory/laplace.py — ~860 runnable mutants — takes 15-40 min)
MODULES ?= theory/effective_potential.py theory/laplace.py numerics/stationary.py \
           numerics/sgd_escape.py numerics/fokker_planck.py
MODULE  ?= $(MODULES)
SAMPLE  ?= 0
MUTATION_JOBS ?= 2
$(BIN)/.installed-mutation: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet $(PIP_C) -e ".[mutation]"
	touch $@

mutation: $(BIN)/.installed-mutation
	for m in $(MODULE); do \
	  nice -n 10 $(BIN)/python scripts/mutation.py $$m --sample $(SAMPLE) --jobs $(MUTATION_JOBS) || exit 1; \
	done

# The GPU campaign (on a lent GPU machine: Python with torch/sympy/scipy/numpy/scikit-learn/matplotlib
# preinstalled, no network, no venv): every registered experiment's preset, by claims per estimated
# minute, within BUDGET_S seconds; each record written atomically as it finishes; a second call
# resumes. `make gpu-check` prints the plan and checks imports, presets and paths in seconds (CPU).
#   make gpu                                   # on the GPU machine: records into validation/data
#   make gpu OUT=$$OUT                         # ... into the device tool's output folder
#   make gpu PRESET=small DEVICE=cpu OUT=runs/campaign   # the whole campaign end to end on a CPU
GPU_PYTHON ?= python3
PRESET ?= gpu
DEVICE ?= cuda
BUDGET_S ?= 480
OUT ?= validation/data
# the tree on the GPU machine is a copy without .git: pass GIT_COMMIT=<hash> so records name their commit
GIT_COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
# Packages the GPU machine lacks (it has no network): `make gpu-wheels` here saves their wheels in
# .whl/ (git-ignored; carry it: run(carry=[".whl"])); `make gpu` installs them into /tmp/site first.
GPU_WHEELS ?= mnist1d==0.0.2.post1
gpu-wheels:
	mkdir -p .whl && $(PYTHON) -m pip download --no-deps --only-binary=:all: -d .whl $(GPU_WHEELS)

gpu:
	if [ -d .whl ]; then $(GPU_PYTHON) -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
	  --upgrade --target /tmp/site .whl/*.whl; fi
	SGDSM_GIT_COMMIT=$(GIT_COMMIT) PYTHONPATH=.:/tmp/site $(GPU_PYTHON) -m validation run --all --preset $(PRESET) --device $(DEVICE) --out "$(OUT)" --budget-s $(BUDGET_S) --no-progress

gpu-check:
	PYTHONPATH=. $(GPU_PYTHON) -m validation run --all --preset $(PRESET) --device $(DEVICE) --out "$(OUT)" --budget-s $(BUDGET_S) --dry-run

clean:
	rm -rf reports/latest .pytest_cache

# Re-pin constraints.txt from a fresh venv (run the suite on it before committing the result).
constraints:
	rm -rf .venv-pin && $(PYTHON) -m venv .venv-pin
	.venv-pin/bin/python -m pip install --quiet --upgrade pip
	.venv-pin/bin/python -m pip install --quiet "$(TORCH_SPEC)"
	.venv-pin/bin/python -m pip install --quiet -e ".[dev]"
	{ sed -n '1,3p' constraints.txt; .venv-pin/bin/python -m pip freeze --exclude-editable \
	  | grep -v '^sgd-statmech' | sed 's/^torch==\([0-9.]*\)+.*/torch==\1/'; } > constraints.txt.new
	mv constraints.txt.new constraints.txt && rm -rf .venv-pin

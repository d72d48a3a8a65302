# Two entry points: `make report` (the main job) and `make test`. Both build .venv first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# CPU build of torch (a local wheel on the project machines); override for a CUDA machine:
#   make TORCH_SPEC='torch>=2.3' report
TORCH_SPEC ?= torch==2.13.0
PYTEST_WORKERS ?= 2

.PHONY: venv test report ledger bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

venv: $(BIN)/.installed

test: venv
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile

report: venv
	$(BIN)/python -m validation report --out reports/latest

ledger: venv
	$(BIN)/python -m validation claims

bench: venv
	$(BIN)/python benchmarks/bench_compile.py

clean:
	rm -rf reports/latest .pytest_cache

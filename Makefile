# meshkit: `make run` sets everything up and runs the notebook chain; `make test` runs the suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
LOCK   := requirements.lock
STAMP  := $(VENV)/.installed-from-lock
ARGS   ?=

.PHONY: help venv run test test-fast lab navigation notebooks bench lock clean

help:
	@echo "make run        set up .venv from the lock and run the notebook chain (ARGS='--scenario healthcare -p seed=7')"
	@echo "make test       the whole suite: unit tests, nbval over the notebooks, papermill runs"
	@echo "make test-fast  the suite without tests marked slow"
	@echo "make lab        JupyterLab on the notebooks"
	@echo "make navigation regenerate the notebooks' previous/next/contents links and 00_contents"
	@echo "make notebooks  re-execute the committed notebooks in place (after changing them)"
	@echo "make bench      install the benchmark peers and run benchmarks/"
	@echo "make lock       refresh $(LOCK) from pyproject.toml in a clean environment"

# The environment is installed from the committed lock of exact versions, so a new release
# of a dependency cannot change a notebook's output or break a fresh install.
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

venv: $(STAMP)

run: venv
	$(BIN)/meshkit run $(ARGS)

# Unit, doctest and end-to-end tests spread over two workers; nbval then re-executes the
# committed notebooks in one kernel each, in order (its cells must not be split over workers).
test: venv
	$(BIN)/python -m pytest -n 2 --dist loadfile --doctest-modules meshkit tests
	$(BIN)/python -m pytest --nbval --nbval-sanitize-with tests/nbval/sanitize.cfg notebooks

test-fast: venv
	$(BIN)/python -m pytest -n 2 --dist loadfile --doctest-modules -m "not slow" meshkit tests

lab: venv
	$(BIN)/jupyter lab notebooks

navigation: venv
	$(BIN)/python -m meshkit.tutorial.navigation notebooks

notebooks: navigation
	rm -rf runs/tutorial
	cd notebooks && for nb in 0*.ipynb; do \
		../$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
			--ExecutePreprocessor.record_timing=False "$$nb" || exit 1; done

bench: venv
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e ".[bench]"
	for script in benchmarks/bench_*.py; do $(BIN)/python "$$script" || exit 1; done

lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -e ".[dev]"
	.lock-venv/bin/python -m pip freeze --exclude-editable | grep -v '^meshkit' > $(LOCK)
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .lock-venv .pytest_cache runs

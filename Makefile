# meshkit: `make run` sets everything up and runs the notebook chain; `make test` runs the suite.
PYTHON   ?= python3
VENV     := .venv
BIN      := $(VENV)/bin
LOCK     := requirements.lock
DEV_LOCK := requirements-dev.lock
STAMP    := $(VENV)/.installed-from-lock
DEV_STAMP := $(VENV)/.installed-from-dev-lock
ARGS     ?=
# JupyterLab refuses to start as root unless told; containers and CI images run as root.
LAB_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)
# Kernels talk to Jupyter over CurveZMQ-encrypted TCP (the kernel spec declares it supports
# "curve"): no plain-text traffic, and no "running over TCP without encryption" warning.
KERNEL_CURVE := --KernelManager.transport_encryption=auto

.PHONY: help python venv dev-venv run test test-fast lab navigation notebooks book bench lock clean

help:
	@echo "make run        set up .venv from the lock and run the notebook chain (ARGS='--scenario healthcare -p seed=7')"
	@echo "make test       the whole suite: unit tests, nbval over the notebooks, papermill runs"
	@echo "make test-fast  the suite without tests marked slow"
	@echo "make lab        JupyterLab on the notebooks"
	@echo "make navigation regenerate the notebooks' previous/next/contents links and 00_contents"
	@echo "make notebooks  re-execute the committed notebooks in place (after changing them)"
	@echo "make book       render the executed notebooks to a static site that reads offline (BOOK=build/book)"
	@echo "make bench      install the benchmark peers and run benchmarks/"
	@echo "make lock       refresh $(LOCK) (runtime) and $(DEV_LOCK) (development) from pyproject.toml"

python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
		echo "meshkit needs Python 3.11 or newer; '$(PYTHON)' is: $$($(PYTHON) --version 2>&1)."; \
		echo "Install a newer Python and pass it, e.g. make run PYTHON=python3.12"; exit 1; }

# The environments are installed from committed locks of exact versions, so a new release of a
# dependency cannot change a notebook's output or break a fresh install. `make run` installs the
# runtime lock (what running the chain needs); `make test` and `make lab` add the development lock
# (test runners, reference implementations, JupyterLab), which pins the runtime packages alike.
$(STAMP): pyproject.toml $(LOCK)
	@$(MAKE) --no-print-directory python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

$(DEV_STAMP): $(STAMP) $(DEV_LOCK)
	$(BIN)/python -m pip install --quiet -r $(DEV_LOCK)
	touch $(DEV_STAMP)

venv: $(STAMP)

dev-venv: $(DEV_STAMP)

run: venv
	$(BIN)/meshkit run $(ARGS)

# Unit, doctest and end-to-end tests spread over two workers; nbval then re-executes the
# committed notebooks in one kernel each, in order (its cells must not be split over workers).
test: dev-venv
	$(BIN)/python -m pytest -n 2 --dist loadfile --doctest-modules meshkit tests
	$(BIN)/python -m pytest --nbval --nbval-sanitize-with tests/nbval/sanitize.cfg notebooks

test-fast: dev-venv
	$(BIN)/python -m pytest -n 2 --dist loadfile --doctest-modules -m "not slow" meshkit tests

lab: dev-venv
	$(BIN)/jupyter lab $(LAB_ROOT) --MappingKernelManager.transport_encryption=auto notebooks

navigation: venv
	$(BIN)/python -m meshkit.tutorial.navigation notebooks

notebooks: dev-venv navigation
	rm -rf runs/tutorial
	cd notebooks && for nb in 0*.ipynb; do \
		../$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
			--ExecutePreprocessor.record_timing=False $(KERNEL_CURVE) "$$nb" || exit 1; done
	$(BIN)/python -m meshkit.tutorial.widget_ids notebooks/0*.ipynb

# The committed, executed notebooks as HTML pages with their math, figures, tables and saved
# widgets inside them: no script or style is loaded from the network (open $(BOOK)/index.html).
BOOK ?= build/book
book: dev-venv
	$(BIN)/python -m meshkit.tutorial.book notebooks $(BOOK)

bench: dev-venv
	$(BIN)/python -m pip install --quiet -c $(DEV_LOCK) -e ".[bench]"
	for script in benchmarks/bench_*.py; do $(BIN)/python "$$script" || exit 1; done

# Two locks, resolved together: the development set first (runtime and dev extra in one
# resolution), then the runtime set alone in a second clean environment constrained by it, so both
# pin every shared package to the same version. The runtime set includes the `flower` extra, so
# that `make run` shows notebook 03's job on both engines (without it, that section is skipped).
lock: python
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -e ".[dev]"
	.lock-venv/bin/python -m pip freeze --exclude-editable | grep -v '^meshkit' > $(DEV_LOCK)
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -c $(DEV_LOCK) -e ".[flower]"
	.lock-venv/bin/python -m pip freeze --exclude-editable | grep -v '^meshkit' > $(LOCK)
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .lock-venv .pytest_cache runs

# The project's tasks. `make demo` and `make test` do all the set-up on a fresh machine:
# they bootstrap uv (into .tools/ unless it is on PATH) and install the locked environment.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
RUN := $(UV) run --frozen

.PHONY: setup demo test lint types unit integration bench clean

setup: $(UV)
	$(UV) sync --frozen --compile-bytecode --quiet
	@# PYTHONDONTWRITEBYTECODE would leave our own modules uncompiled; compile them once.
	@.venv/bin/python -m compileall -q src >/dev/null

.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv

demo: setup
	$(RUN) weir demo demo_project

lint: setup
	$(RUN) ruff check src tests bench
	$(RUN) ruff format --check src tests bench
	$(RUN) lint-imports
	$(RUN) mypy

test: lint
	$(RUN) pytest

unit: setup
	$(RUN) pytest tests/unit

bench: setup
	$(RUN) python bench/bench_engine.py

clean:
	rm -rf .venv .tools demo_project bench/.work .mypy_cache .ruff_cache .pytest_cache

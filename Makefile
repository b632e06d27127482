# The lab's commands. `make help` lists them.
#
# Components add their own steps in mk/<component>.mk with double-colon rules
# (`lint::`, `test-extra::`, `bench::`, `lab-down::`), so this file stays short and
# adding a component does not edit it.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
export UV_FROZEN := 1
RUN := uv run --frozen --all-packages
PYTEST := $(RUN) pytest

.PHONY: help bootstrap lab lab-down test check lint fmt unit bench test-extra render

help: ## List the commands
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sort -u | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

bootstrap: ## Install Debian packages, uv, the locked Python workspace and npm packages
	@scripts/bootstrap

lab: bootstrap ## Run the lab on its embedded default (simulated devices, local services)
	@$(RUN) python -m labctl up

lab-down:: ## Stop everything `make lab` started
	@if [ -x .venv/bin/python ]; then $(RUN) python -m labctl down; fi

test: bootstrap ## Install everything and run every check and test (what CI runs)
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory test-extra
	$(PYTEST) -p no:cacheprovider

check: ## Fast inner loop: lint and unit tests (run `make bootstrap` once first)
	@$(MAKE) --no-print-directory lint
	$(PYTEST) -q -m "not integration and not hosts and not browser" -x

lint:: ## Ruff, mypy and every component's linters
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy

test-extra:: ## Checks that are not pytest (promtool rule tests, ...)
	@true

fmt: ## Format and autofix
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

bench:: bootstrap ## Run the benchmarks and print their figures
	@for script in $$(ls tests/bench/*.py 2>/dev/null | sort); do \
	  echo "== $$script"; $(RUN) python "$$script"; done

-include $(sort $(wildcard mk/*.mk))

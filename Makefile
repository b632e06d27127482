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

.PHONY: help bootstrap lab lab-down lab-status dev dev-down test check lint fmt unit bench test-extra render

help: ## List the commands
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sort -u | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

bootstrap: ## Install Debian packages, uv, the locked Python workspace and npm packages
	@scripts/bootstrap

lab: bootstrap ## The virtual lab: hosts built by playbooks/site.yml, Prometheus, Alertmanager (needs root)
	@$(RUN) python -m labctl up

lab-down:: ## Remove everything `make lab` (and `make dev`) started
	@if [ -x .venv/bin/python ]; then $(RUN) python -m labctl down; fi

lab-status: ## Print the virtual lab's hosts, services and URLs
	@$(RUN) python -m labctl status

dev: bootstrap ## The apps as local processes on simulated devices, in the foreground (app development)
	@$(RUN) python -m labctl dev

dev-down: ## Stop `make dev`
	@if [ -x .venv/bin/python ]; then $(RUN) python -m labctl dev-down; fi

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

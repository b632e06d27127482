# Virtual Debian hosts (libs/labhosts) that the sandbox inventory describes.

.PHONY: hosts-up hosts-down hosts-status

hosts-up: ## Boot the sandbox's virtual hosts; then `ansible-playbook playbooks/site.yml` works
	$(RUN) labhosts up
	$(RUN) python scripts/sandbox-vault

hosts-down: ## Stop the virtual hosts and remove everything they used (safe to repeat)
	@if [ -x .venv/bin/labhosts ]; then $(RUN) labhosts down; fi

hosts-status: ## Show the virtual hosts
	$(RUN) labhosts status


# Ansible: inventory, roles and playbooks (see playbooks/README.md).

lint::
	@$(RUN) python scripts/sandbox-vault
	$(RUN) yamllint --strict .yamllint inventory playbooks roles tests/ansible
	$(RUN) ansible-lint --profile production --strict playbooks/ roles/
	shellcheck playbooks/files/lab-sim-udev roles/python_service/files/install-venv.sh

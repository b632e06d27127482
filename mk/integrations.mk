# Integrations (Home Assistant, Proxmox, TrueNAS): the real third-party servers the tests in
# tests/integrations run need environments of their own; build (or reuse) them before
# pytest so their install time is not charged to a test's timeout.

test-extra::
	$(RUN) python tests/integrations/envs.py

# apps/picotemp: the Pico W temperature sensor (firmware, simulator, exporter) and its alerts.

# Lint the exporter image with hadolint (from PyPI, pinned in the dev group); check the
# alert rules and run their promtool unit tests.
PICOTEMP_RULES := infra/monitoring/rules/picotemp.rules.yml
PICOTEMP_RULE_TESTS := infra/monitoring/rules/tests/picotemp.test.yml

lint::
	$(RUN) hadolint apps/picotemp/Dockerfile

test-extra::
	promtool check rules $(PICOTEMP_RULES)
	promtool test rules $(PICOTEMP_RULE_TESTS)

# apps/picotemp: the Pico W temperature sensor (firmware, simulator, exporter) and its alerts.

# Check the alert rules and run their promtool unit tests (its Dockerfile is linted and
# built with the other apps' images, mk/images.mk).
PICOTEMP_RULES := infra/monitoring/rules/picotemp.rules.yml
PICOTEMP_RULE_TESTS := infra/monitoring/rules/tests/picotemp.test.yml

test-extra::
	promtool check rules $(PICOTEMP_RULES)
	promtool test rules $(PICOTEMP_RULE_TESTS)

# apps/dome: the observatory dome controller and its alerts.

# Check the alert rules and run their promtool unit tests (its Dockerfile is linted and
# built with the other apps' images).
DOME_RULES := infra/monitoring/rules/dome.rules.yml
DOME_RULE_TESTS := infra/monitoring/rules/tests/dome.test.yml

test-extra::
	promtool check rules $(DOME_RULES)
	promtool test rules $(DOME_RULE_TESTS)

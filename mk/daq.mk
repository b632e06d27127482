# apps/daq: the lab-instrument daemon: its alert rules (promtool) and dashboard.

DAQ_RULES := infra/monitoring/rules/daq.rules.yml
DAQ_RULE_TESTS := infra/monitoring/rules/tests/daq.test.yml

test-extra::
	promtool check rules $(DAQ_RULES)
	promtool test rules $(DAQ_RULE_TESTS)

# Pulumi infrastructure (infra/) and the policy pack (policies/).

INFRA_RULES := $(sort $(wildcard infra/monitoring/rules/integrations*.rules.yml))
INFRA_RULE_TESTS := $(sort $(wildcard infra/monitoring/rules/tests/integrations*.test.yml))

# The integrations' alert rules, unit-tested by promtool. Other components' rule tests in
# the same folder run from their own mk files.
test-extra::
	promtool check rules $(INFRA_RULES)
	@for t in $(INFRA_RULE_TESTS); do promtool test rules "$$t"; done

render: ## Write each Pulumi stack's Kubernetes objects under build/rendered/ (mocked run; not a preview)
	$(RUN) labinfra-render --out build/rendered

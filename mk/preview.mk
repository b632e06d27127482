# Pull-request previews (infra/preview, infra/projects/preview), the janitor (apps/janitor)
# and the GitHub workflows that drive them (.github/workflows).

JANITOR_RULES := infra/monitoring/rules/janitor.rules.yml
JANITOR_RULE_TESTS := infra/monitoring/rules/tests/janitor.test.yml

.PHONY: preview-render

# zizmor (pinned in the dev group) audits every workflow for template injection, unpinned
# actions, excessive permissions, dangerous triggers and credential persistence; offline,
# so it needs no token and sends nothing anywhere.
lint::
	$(RUN) hadolint apps/janitor/Dockerfile
	$(RUN) zizmor --offline --min-severity low .github/workflows .github/actions
	$(RUN) lab-preview validate k8s-ee.yaml

test-extra::
	promtool check rules $(JANITOR_RULES)
	promtool test rules $(JANITOR_RULE_TESTS)

preview-render: ## Write this repository's preview of PR 1 (k8s-ee.yaml) under build/preview/
	$(RUN) lab-preview render k8s-ee.yaml --pr 1 --branch main \
	  --commit 0000000000000000000000000000000000000000 --out build/preview

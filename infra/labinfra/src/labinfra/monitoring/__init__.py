"""Monitoring: kube-prometheus-stack, the repo's alert rules and dashboards, scrape configs."""

"""The lab on its embedded default: simulated devices, their exporters, and Prometheus."""

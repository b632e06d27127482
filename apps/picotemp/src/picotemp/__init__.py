"""Pico W temperature sensor: firmware, simulator and Prometheus exporter."""

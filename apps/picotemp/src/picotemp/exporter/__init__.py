"""Prometheus exporter for the Pico W temperature sensor."""

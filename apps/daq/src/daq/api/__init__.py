"""HTTP API: one router per resource, typed models, domain errors mapped in errors.py."""

"""Instrument drivers. Each takes a transport (hardware.transport); none opens a port."""

"""Simulated instruments that speak the real protocols on pseudo-terminals."""

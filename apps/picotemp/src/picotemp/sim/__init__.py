"""A simulated Pico W: the firmware's own core behind a real HTTP server, with faults that
tests and the lab switch on while it runs."""

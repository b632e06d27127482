"""The Pico W firmware. ``core`` is shared with the simulator and tests; ``main`` runs only
on the board (MicroPython) and is never imported by CPython."""

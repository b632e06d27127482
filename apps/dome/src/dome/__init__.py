"""Observatory dome controller: a stepper turns the dome, an absolute encoder reads it."""

__version__ = "0.1.0"

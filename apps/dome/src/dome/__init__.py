"""Observatory dome controller: a stepper turns the dome, an absolute encoder says where it points."""

__version__ = "0.1.0"

"""Lab-instrument daemon: serial drivers, simulators, acquisitions and scans over HTTP."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("daq")
except PackageNotFoundError:  # running from a source tree without the package installed
    __version__ = "0.0.0+unknown"

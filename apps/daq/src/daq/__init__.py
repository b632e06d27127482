"""Lab-instrument daemon: serial drivers, simulators, acquisitions and scans over HTTP."""

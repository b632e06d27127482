"""Domain logic: instruments as the lab sees them, safety, acquisitions, scans."""

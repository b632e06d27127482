"""Virtual Debian hosts booted with systemd-nspawn, for provisioning tests and for people."""

from labhosts.lab import Lab, LabError
from labhosts.layout import DEFAULT_HOSTS, HostSpec, Layout

__all__ = ["DEFAULT_HOSTS", "HostSpec", "Lab", "LabError", "Layout"]

"""``picotemp-exporter``: configured by environment (see :mod:`picotemp.exporter.config`)."""

from __future__ import annotations

import argparse
import logging
from importlib.metadata import version
from pathlib import Path

from labkit.cli import run_main
from labkit.logs import configure_logging, get_logger
from labkit.serve import serve
from labkit.settings import load_settings
from prometheus_client import disable_created_metrics

from picotemp.exporter.app import Exporter, create_app
from picotemp.exporter.config import ExporterSettings

log = get_logger("picotemp.exporter")


def _main() -> int:
    parser = argparse.ArgumentParser(
        prog="picotemp-exporter",
        description="Prometheus exporter for the Pico W temperature sensor. Configured by "
        "PICO_SERVER_URL, PICOTEMP_LISTEN, PICOTEMP_CACHE_SECONDS, PICOTEMP_TIMEOUT_SECONDS.",
    )
    parser.add_argument("--config", type=Path, help="YAML file with the same settings")
    parser.add_argument("--version", action="version", version=version("picotemp"))
    args = parser.parse_args()
    settings = load_settings(ExporterSettings, args.config)
    configure_logging(settings.log_level)
    # httpx logs every request at INFO: one line per cache window is noise in the journal.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # `_created` samples double the output and no alert or dashboard here uses them.
    disable_created_metrics()  # type: ignore[no-untyped-call]
    exporter = Exporter(settings)
    log.info(
        "starting",
        pico=str(settings.server_url),
        cache_seconds=settings.cache_seconds,
        timeout_seconds=settings.timeout_seconds,
    )
    serve(create_app(exporter), settings.listen, name="picotemp-exporter", healthy=exporter.healthy)
    return 0


def main() -> None:
    run_main("picotemp-exporter", _main)


if __name__ == "__main__":
    main()

"""Service plumbing shared by the lab's apps.

Each piece is its own module so an app imports only what it uses:

- :mod:`labkit.settings`: typed settings from the environment and an optional file, with
  errors that name the variable, and the exit status 2 that service managers understand.
- :mod:`labkit.logs`: structured ``key=value`` logging that reads well in journald.
- :mod:`labkit.listen`: the ``HOST:PORT`` type every service listens on.
- :mod:`labkit.web`: ``/metrics`` and ``/healthz`` routes for any Starlette/FastAPI app.
- :mod:`labkit.systemd`: readiness, status and watchdog notification.
- :mod:`labkit.serve`: runs an ASGI app under uvicorn with all of the above and a graceful
  stop on SIGTERM.
"""

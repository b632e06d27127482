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
- :mod:`labkit.errors`: one error body (RFC 9457 problem details) for every error, domain
  exceptions mapped in one place, declared in the OpenAPI schema.
- :mod:`labkit.auth`: token auth for commands (401/403/503) and short-lived tickets for
  streams a browser opens.
- :mod:`labkit.docs`: ``/docs`` and ``/redoc`` served from the installed package, no CDN.
- :mod:`labkit.testing`: free ports, waiting with a deadline, services as child processes
  or on a thread, for every app's tests.
"""

"""``/docs`` (Swagger UI) and ``/redoc`` served from the installed package, never a CDN.

FastAPI's own pages load Swagger UI and ReDoc from cdn.jsdelivr.net (and ReDoc its fonts
from Google): without internet they are blank, and a lab's network often has none. The
files come instead from the pinned ``fastapi-offline`` wheel (its ``static/`` directory:
``swagger-ui-bundle.js``, ``swagger-ui.css`` of Swagger UI 5.32.6, ``redoc.standalone.js``
of ReDoc 2.5.3, ``favicon.png``; package MIT, Swagger UI Apache-2.0, ReDoc MIT), served
by a ``StaticFiles`` mount. Swagger UI's validator badge, which would fetch an image from
validator.swagger.io, is switched off.

Both pages also carry a Content-Security-Policy that allows this origin only (plus inline
script and style, which both pages need, and ``data:``/``blob:`` images and workers): ReDoc
2.5.3 shows a "Redocly" logo from cdn.redoc.ly in its menu, unconditionally (its
``fw``/"API docs by Redocly" component); the policy stops the browser from even trying, and
ReDoc hides the image when it fails to load.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

ASSETS_PACKAGE = ("fastapi_offline", "static")
ASSET_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "frame-ancestors 'self'",
    ]
)


def install_offline_docs(app: FastAPI, *, assets_path: str = "/docs-assets") -> None:
    """Replace ``app``'s ``docs_url`` and ``redoc_url`` pages with ones whose JavaScript,
    CSS and icon come from ``assets_path`` on the app itself. Paths set to ``None`` on the
    app stay off; the OpenAPI document is still ``app.openapi_url``."""
    if app.openapi_url is None:
        return
    docs_url, redoc_url = app.docs_url, app.redoc_url
    replaced = {docs_url, redoc_url} - {None}
    app.router.routes[:] = [route for route in app.router.routes if not _is_page(route, replaced)]
    openapi_url = app.openapi_url
    oauth2_redirect_url = app.swagger_ui_oauth2_redirect_url

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{oauth2_redirect_url}" if oauth2_redirect_url else None,
            swagger_js_url=f"{root}{assets_path}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{assets_path}/swagger-ui.css",
            swagger_favicon_url=f"{root}{assets_path}/favicon.png",
            init_oauth=app.swagger_ui_init_oauth,
            # validatorUrl null: no badge image from validator.swagger.io
            swagger_ui_parameters={**(app.swagger_ui_parameters or {}), "validatorUrl": None},
        )
        page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return page

    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{assets_path}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{assets_path}/favicon.png",
            with_google_fonts=False,
        )
        page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return page

    routes: list[BaseRoute] = [
        Mount(assets_path, StaticFiles(packages=[ASSETS_PACKAGE]), name="docs-assets")
    ]
    if docs_url is not None:
        routes.append(Route(docs_url, swagger_ui, methods=["GET"], include_in_schema=False))
    if redoc_url is not None:
        routes.append(Route(redoc_url, redoc, methods=["GET"], include_in_schema=False))
    app.router.routes.extend(routes)


def _is_page(route: BaseRoute, paths: set[str | None]) -> bool:
    return isinstance(route, Route) and route.path in paths

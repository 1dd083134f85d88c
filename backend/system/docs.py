"""The API documentation (Swagger UI) at /docs, from files installed with the app (no CDN), only where
enabled (STARTKLAAR_API_DOCS; default on in development, off in production).

A page from a CDN would let that CDN run script on our origin; and public docs in production tell an attacker
more than a user needs. The OpenAPI document itself (/openapi.json) follows the same switch.
"""

from __future__ import annotations

import html
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response

ASSETS = "/docs-assets"
# Swagger UI's own files, shipped by the swagger-ui-bundle-v2 package.
FILES = {"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"}
# Our start script as a file of its own: the docs page runs no inline script (Content-Security-Policy).
INIT_JS = """window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true });
});
"""


def _swagger_dir() -> Path:
    import swagger_ui_bundle

    return Path(swagger_ui_bundle.swagger_ui_path)


def mount_docs(app: FastAPI) -> None:
    title = html.escape(app.title)
    page = f"""<!doctype html>
<html lang="nl"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="{ASSETS}/swagger-ui.css"><link rel="icon" href="{ASSETS}/favicon-32x32.png">
</head><body><div id="swagger-ui"></div>
<script src="{ASSETS}/swagger-ui-bundle.js"></script><script src="{ASSETS}/init.js"></script>
</body></html>"""

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get(ASSETS + "/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        if name == "init.js":
            return Response(INIT_JS, media_type="text/javascript")
        if name not in FILES:
            return Response(status_code=404)
        return FileResponse(_swagger_dir() / name, headers={"Cache-Control": "public, max-age=86400"})

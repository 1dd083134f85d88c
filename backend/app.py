"""create_app(settings): the API, the PWA and (optionally) the embedded reminder worker."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware

from backend import errors, migrate
from backend.accounts.oidc_routes import router as oidc_router
from backend.accounts.routes import router as accounts_router
from backend.bodylimit import BodyLimit
from backend.checklists.routes import router as checklists_router
from backend.checklists.service import close_read_pool, configure_plan_cache
from backend.checklists.shortcut import PlanShortcut
from backend.config import Settings
from backend.db import make_engine
from backend.gemeenten.routes import router as gemeenten_router
from backend.kaart.routes import router as kaart_router
from backend.limits import InFlightLimit, max_in_flight
from backend.privacy.routes import router as privacy_router
from backend.reminders.routes import router as reminders_router
from backend.reminders.worker import run_worker
from backend.requestlog import RequestId, configure_logging, install_record_factory
from backend.security import SecurityHeaders, header_list
from backend.sharing.routes import router as sharing_router
from backend.system import serving
from backend.system.docs import mount_docs
from backend.system.routes import PoolWatch
from backend.system.routes import router as system_router

log = logging.getLogger("startklaar")

# Files the browser must re-check every time (the service worker decides what is cached).
NO_CACHE = {"sw.js", "index.html", "manifest.webmanifest"}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = (settings or Settings()).prepare()
    if settings.env == "test":
        install_record_factory()  # tests read request ids from their captured records
    else:
        configure_logging(settings.log_level)  # an API process of `serve --workers N` starts without logging
    engine = make_engine(settings.db_url)
    configure_plan_cache(settings.plan_cache_size)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Fewer threads than anyio's default 40: sync routes share one GIL, and a long queue of threads
        # fighting over it costs more than it gains (measured in bench/plan_load.py).
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threadpool_size
        # Everything loaded so far (modules, content, gemeenten) lives as long as the process: keep it out
        # of the garbage collector's full passes, which otherwise show up as latency spikes under load.
        # (Not under tests: there the process also runs the test tools, whose objects must stay collectable.)
        if settings.env != "test":
            gc.collect()
            gc.freeze()
        stop = asyncio.Event()
        task = None
        if settings.embedded_worker:
            task = asyncio.create_task(run_worker(settings, engine, stop))
        watch = asyncio.create_task(app.state.pool_watch.run(stop))
        try:
            yield
        finally:
            stop.set()
            # A thread still stuck in a call would keep the process alive at exit: never wait for it for long.
            serving.exit_soon_unless_done()
            if task is not None:
                await task
            watch.cancel()
            await close_read_pool(engine)
            engine.dispose()

    app = FastAPI(
        title="Startklaar API",
        version="0.1.0",
        description="API van Startklaar: plan, sociale kaart, herinneringen en meekijken.",
        lifespan=lifespan,
        docs_url=None,  # our own /docs, from local files (backend/system/docs.py)
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.head_revision = migrate.head_revision()
    app.state.pool_watch = PoolWatch()

    app.add_exception_handler(RequestValidationError, errors.request_validation_handler)
    app.add_exception_handler(errors.AppError, errors.app_error_handler)
    app.add_exception_handler(StarletteHTTPException, errors.http_error_handler)
    app.add_exception_handler(DBAPIError, errors.database_error_handler)
    app.add_exception_handler(PoolTimeout, errors.database_error_handler)
    app.add_exception_handler(Exception, errors.server_error_handler)

    app.include_router(system_router)
    app.include_router(gemeenten_router)
    app.include_router(accounts_router)
    app.include_router(oidc_router)
    app.include_router(checklists_router)
    app.include_router(kaart_router)
    app.include_router(reminders_router)
    app.include_router(sharing_router)
    app.include_router(privacy_router)
    if settings.docs_enabled:
        mount_docs(app)
    _mount_frontend(app, settings.frontend_dir)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = errors.document_error_bodies(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    limit = max_in_flight(app.state.engine, settings.max_in_flight, settings.threadpool_size)
    if limit is not None:
        app.add_middleware(InFlightLimit, limit=limit)
    app.add_middleware(BodyLimit)  # outside the in-flight limit: an oversized body never takes a slot
    app.add_middleware(PlanShortcut)  # inside GZip and the security headers: answers look the same
    app.add_middleware(GZipMiddleware, minimum_size=500)
    app.add_middleware(SecurityHeaders, hsts=settings.is_production)
    app.add_middleware(RequestId)  # outermost: every answer and log line of a request carries its id
    app.state.security_headers = header_list(hsts=settings.is_production)  # for the last-resort 500
    return app


def _mount_frontend(app: FastAPI, root: Path) -> None:
    """Static PWA files; every other non-API path gets index.html so app routes work on reload."""
    root = root.resolve()

    @app.api_route("/api/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    def api_not_found(path: str) -> JSONResponse:
        return JSONResponse({"detail": "Dit bestaat niet (meer)."}, status_code=404)

    @app.get("/{path:path}", include_in_schema=False)
    def frontend(path: str, request: Request) -> Response:
        candidate = (root / path).resolve()
        if path and candidate.is_file() and candidate.is_relative_to(root):
            headers = {"Cache-Control": "no-cache"} if candidate.name in NO_CACHE else {}
            media = "application/manifest+json" if candidate.suffix == ".webmanifest" else None
            return FileResponse(candidate, headers=headers, media_type=media)
        if Path(path).suffix:  # a missing asset, not an app route
            return JSONResponse({"detail": "Dit bestand bestaat niet."}, status_code=404)
        return FileResponse(root / "index.html", headers={"Cache-Control": "no-cache"})

from __future__ import annotations

import asyncio
import time

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from backend import migrate
from backend.db import OneHopRoute

router = APIRouter(tags=["systeem"], route_class=OneHopRoute)


class PoolWatch:
    """Tells whether the thread pool still gives out threads: a no-op is sent through it every second.

    Sync routes run in the pool; if every thread were stuck (waiting for a lock forever, say), the event loop
    would still answer /healthz and nothing would restart the process. No statement may run longer than
    backend.db's timeouts, so a probe that waits far longer than those means the pool is stuck."""

    EVERY = 1.0
    STUCK_AFTER = 60.0  # seconds; well above the longest statement (30 s) and lock wait (5 s)

    def __init__(self) -> None:
        self.waiting_since: float | None = None

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.waiting_since = time.monotonic()
            await anyio.to_thread.run_sync(_nothing)
            self.waiting_since = None
            try:
                await asyncio.wait_for(stop.wait(), self.EVERY)
            except TimeoutError:
                pass

    def stuck_for(self) -> float:
        since = self.waiting_since
        return 0.0 if since is None else time.monotonic() - since


def _nothing() -> None:
    return None


@router.get("/healthz", responses={503: {}})
async def healthz(request: Request) -> JSONResponse:
    """The process is up and its thread pool gives out threads (no database call: this must stay cheap). On the
    event loop, not in the thread pool: a pool that is merely busy must not fail the check, a stuck one must."""
    watch: PoolWatch | None = getattr(request.app.state, "pool_watch", None)
    stuck = watch.stuck_for() if watch is not None else 0.0
    if stuck > PoolWatch.STUCK_AFTER:
        return JSONResponse({"status": "error", "reason": f"thread pool stuck for {stuck:.0f} s"}, 503)
    return JSONResponse({"status": "ok"})


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """Ready for traffic: the database answers and its schema is at the newest migration."""
    engine = request.app.state.engine
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        current = migrate.current_revision(engine)
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"; say which
        return JSONResponse({"status": "error", "reason": f"database unreachable: {type(exc).__name__}"}, 503)
    head = request.app.state.head_revision
    if current != head:
        return JSONResponse(
            {"status": "error", "reason": f"database schema at {current}, expected {head}: run 'startklaar migrate'"},
            503,
        )
    return JSONResponse({"status": "ok", "revision": current})

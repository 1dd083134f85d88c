from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from backend import migrate

router = APIRouter(tags=["systeem"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up (no database call: this must stay cheap). On the event loop, not in the thread pool:
    a pool busy with slow requests must not make the liveness check fail and get a healthy process killed."""
    return {"status": "ok"}


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

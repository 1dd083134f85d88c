"""Back-pressure: at most N API requests in progress per process; the rest wait in the event loop.

Why: FastAPI runs every sync dependency and the route in separate thread hops, and a request's database
session keeps its pooled connection between them. With more requests in flight than pool connections, all
threads could end up waiting for a connection that belongs to a request that is waiting for a thread (a
deadlock until the pool timeout; seen in bench/load.py). A request that waits here holds neither a thread
nor a connection, so with N chosen below the pool's capacity every admitted request can always finish.
"""

from __future__ import annotations

import asyncio

from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool
from starlette.types import ASGIApp, Receive, Scope, Send

CONNECTIONS_PER_REQUEST = 2  # the request's session, plus one own transaction some routes use (rate limits)
WORKER_RESERVE = 4  # connections the embedded reminder worker may hold at once (lanes + messages)


def max_in_flight(engine: Engine, configured: int = 0) -> int | None:
    """The limit for this engine's pool: `configured` if set, none for an unbounded pool (SQLite here)."""
    if configured > 0:
        return configured
    pool = engine.pool
    if not isinstance(pool, QueuePool) or pool._max_overflow < 0:  # noqa: SLF001 - no public accessor
        return None
    capacity = pool.size() + pool._max_overflow  # noqa: SLF001
    return max(1, (capacity - WORKER_RESERVE) // CONNECTIONS_PER_REQUEST)


class InFlightLimit:
    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit
        self._semaphore: asyncio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.limit)
        async with self._semaphore:
            await self.app(scope, receive, send)

"""Back-pressure: at most N API requests in progress per process, a short queue behind them, and a fast 503
with Retry-After for the rest.

Why a limit: FastAPI runs a sync request in several thread hops (dependencies, the route, serialising the
answer). With more requests admitted than threads, every thread could end up waiting for a lock or a pooled
connection that belongs to a request that is itself waiting for a thread: the process hangs (issue 11; seen in
bench/load.py). A request that waits here holds neither a thread, a connection nor a lock, so with N at most the
thread pool (and below the database pool's capacity) every admitted request can always finish.

Why shedding: under saturation a long queue only turns every request into a slow one (and a time-out for the
phone). A request that finds the queue full is answered at once with 503 and Retry-After; the app keeps unsent
ticks in its outbox and sends them again, so nothing saved is lost. Writes (ticks, profile changes) are let in
before reads and get a longer queue: a crowd of reads must not starve the writes people are waiting on.
"""

from __future__ import annotations

import asyncio
import collections
import json

from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool
from starlette.types import ASGIApp, Receive, Scope, Send

CONNECTIONS_PER_REQUEST = 2  # the request's session, plus one own transaction some routes use (rate limits)
WORKER_RESERVE = 4  # connections the embedded reminder worker may hold at once (lanes + messages)
# Requests that may wait for a slot, per admitted request: reads, and (more) writes.
READ_QUEUE_PER_SLOT = 4
WRITE_QUEUE_PER_SLOT = 16
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRY_AFTER_SECONDS = 2
BUSY_BODY = json.dumps(
    {"detail": "Het is nu erg druk. Probeer het over een paar seconden opnieuw.", "reason": "druk"}
).encode()


def max_in_flight(engine: Engine, configured: int = 0, threads: int | None = None) -> int | None:
    """The limit for this engine's pool and thread pool: `configured` if set; otherwise at most `threads` and
    what the database pool can serve (None: no limit at all, only for an unbounded pool without a thread count)."""
    if configured > 0:
        return configured
    pool = engine.pool
    limits = [threads] if threads else []
    if isinstance(pool, QueuePool) and pool._max_overflow >= 0:  # noqa: SLF001 - no public accessor
        capacity = pool.size() + pool._max_overflow  # noqa: SLF001
        limits.append(max(1, (capacity - WORKER_RESERVE) // CONNECTIONS_PER_REQUEST))
    return min(limits) if limits else None


class InFlightLimit:
    """At most `limit` API requests in progress; writes go first; a full queue is answered with 503 at once."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        read_queue: int | None = None,
        write_queue: int | None = None,
    ) -> None:
        self.app = app
        self.limit = limit
        self.read_queue = read_queue if read_queue is not None else READ_QUEUE_PER_SLOT * limit
        self.write_queue = write_queue if write_queue is not None else WRITE_QUEUE_PER_SLOT * limit
        self.active = 0
        self._waiting: dict[bool, collections.deque[asyncio.Future[None]]] = {
            True: collections.deque(),  # writes
            False: collections.deque(),  # reads
        }
        self.shed = 0  # requests answered with 503 (for tests and benchmarks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        write = scope["method"] not in SAFE_METHODS
        if self.active >= self.limit:
            queue = self._waiting[write]
            if len(queue) >= (self.write_queue if write else self.read_queue):
                self.shed += 1
                await _busy(send)
                return
            waiter = asyncio.get_running_loop().create_future()
            queue.append(waiter)
            try:
                await waiter  # the slot is handed over by the request that finished (active stays counted)
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._release()  # got the slot just as it was cancelled: pass it on
                else:
                    queue.remove(waiter)
                raise
        else:
            self.active += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self._release()

    def _release(self) -> None:
        for queue in (self._waiting[True], self._waiting[False]):  # writes first
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)  # hand this slot over
                    return
        self.active -= 1


async def _busy(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(BUSY_BODY)).encode()),
                (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": BUSY_BODY})

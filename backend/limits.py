"""Back-pressure: at most N API requests in progress per process, a short queue behind them, and a fast 503
with Retry-After for the rest.

Why a limit: FastAPI runs a sync request in several thread hops (dependencies, the route, serialising the
answer). With more requests admitted than threads, every thread could end up waiting for a lock or a pooled
connection that belongs to a request that is itself waiting for a thread: the process hangs (issue 11; seen in
bench/load.py). A request that waits here holds neither a thread, a connection nor a lock, so with N at most the
thread pool (and below the database pool's capacity) every admitted request can always finish.

Why shedding: under saturation a long queue only turns every request into a slow one (and a time-out for the
phone). When the request at the head of its queue has already waited too long (reads 100 ms, writes 1 s), or the
queue is full, a new request is answered at once with 503 and Retry-After (it never waits first); the app keeps
unsent ticks in its outbox and sends them again, so nothing saved is lost. Writes (ticks, profile changes) are let
in before reads and may wait longer: a crowd of reads must not starve the writes people are waiting on. The
bound is on waiting time, not on a count, because one slot may turn over in a millisecond (a cached plan) or in a
hundred (a search).
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
# At most this many requests wait per admitted request (a bound on memory), and a new one is shed once the
# oldest waiting one of its kind has waited this long (seconds).
READ_QUEUE_PER_SLOT = 32
WRITE_QUEUE_PER_SLOT = 32
READ_MAX_WAIT = 0.1
WRITE_MAX_WAIT = 1.0
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
    """At most `limit` API requests in progress; writes go first but never take every slot (reads keep one,
    and only that one while writes wait); a request is shed at once (503) when its queue is full or its head
    has waited too long."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        read_queue: int | None = None,
        write_queue: int | None = None,
        read_max_wait: float = READ_MAX_WAIT,
        write_max_wait: float = WRITE_MAX_WAIT,
    ) -> None:
        self.app = app
        self.limit = limit
        # Writes wait for each other on a busy row or SQLite's single writer: if they held every slot, reads
        # (the plan, a search) would starve behind them. One slot for reads while writes wait: measured in
        # bench/load.py's stress phase, two cost the ticks their p95 (513-528 ms against 472 / 452 ms).
        self.max_writes = max(1, limit - 1)
        self.queue_size = {
            False: read_queue if read_queue is not None else READ_QUEUE_PER_SLOT * limit,
            True: write_queue if write_queue is not None else WRITE_QUEUE_PER_SLOT * limit,
        }
        self.max_wait = {False: read_max_wait, True: write_max_wait}
        self.active = 0
        self.active_writes = 0
        self._waiting: dict[bool, collections.deque[tuple[float, asyncio.Future[None]]]] = {
            True: collections.deque(),  # writes
            False: collections.deque(),  # reads
        }
        self.shed = 0  # requests answered with 503 (for tests and benchmarks)

    def _may_start(self, write: bool) -> bool:
        if self.active >= self.limit:
            return False
        if write:
            return self.active_writes < self.max_writes
        # While writes wait, reads keep only their reserved share: the CPU goes to what people wait on.
        return not self._waiting[True] or self.active - self.active_writes < self.limit - self.max_writes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        write = scope["method"] not in SAFE_METHODS
        if self._may_start(write) and not self._waiting[write]:
            self.active += 1
            self.active_writes += write
        else:
            loop = asyncio.get_running_loop()
            now = loop.time()
            queue = self._waiting[write]
            if len(queue) >= self.queue_size[write] or (queue and now - queue[0][0] > self.max_wait[write]):
                self.shed += 1
                await _busy(send)
                return
            entry = (now, loop.create_future())
            queue.append(entry)
            try:
                await entry[1]  # the slot is handed over by the request that finished (it is counted already)
            except BaseException:
                if entry[1].done() and not entry[1].cancelled():
                    self._release(write)  # got the slot just as it was cancelled: pass it on
                else:
                    queue.remove(entry)
                raise
        try:
            await self.app(scope, receive, send)
        finally:
            self._release(write)

    def _release(self, write: bool) -> None:
        self.active -= 1
        self.active_writes -= write
        for kind in (True, False):  # writes first, within their share of the slots
            queue = self._waiting[kind]
            while queue and self._may_start(kind):
                _, waiter = queue.popleft()
                if not waiter.done():
                    self.active += 1
                    self.active_writes += kind
                    waiter.set_result(None)  # hand this slot over
                    return


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

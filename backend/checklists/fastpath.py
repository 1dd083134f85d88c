"""The hot path of GET /api/me/plan on PostgreSQL: one query on a few async psycopg connections per process.

Going through SQLAlchemy's sync pool costs a thread hop, a pre-ping round trip and ORM overhead per request,
which bench/plan_load.py showed to dominate when the plan itself comes from the cache. This reads only
(session + profile revision, autocommit, a prepared statement) and never decides anything alone: any
doubt (no row, stale session, cache miss, connection trouble) returns None and the caller takes the full
path through the normal session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy.engine import Engine

log = logging.getLogger("startklaar.plan")

SQL = (
    "SELECT s.user_id, s.expires_at, s.last_used_at, p.revision, p.updated_at "
    "FROM auth_session s JOIN user_profile p ON p.user_id = s.user_id WHERE s.token_hash = %s"
)
SIZE = 8  # connections per API process; the query takes a fraction of a millisecond


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class ReadPool:
    """A tiny async connection pool bound to one event loop (made again if the loop changes, as in tests)."""

    def __init__(self, engine: Engine, size: int = SIZE) -> None:
        self.dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.size = size
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle: asyncio.LifoQueue[psycopg.AsyncConnection[Any]] | None = None
        self._made = 0

    def _bind(self) -> asyncio.LifoQueue[psycopg.AsyncConnection[Any]]:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._idle is None:
            self._loop, self._idle, self._made = loop, asyncio.LifoQueue(), 0
        return self._idle

    async def fetch(self, token_hash: str) -> tuple[int, datetime, datetime, int, datetime] | None:
        idle = self._bind()
        if idle.empty() and self._made < self.size:
            self._made += 1
            try:
                conn = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True, connect_timeout=5)
            except psycopg.Error:
                self._made -= 1
                raise
        else:
            conn = await idle.get()
        try:
            cur = await conn.execute(SQL, (token_hash,), prepare=True)
            row = await cur.fetchone()
        except psycopg.Error:
            self._made -= 1  # a broken connection (e.g. the server restarted) is dropped, not returned
            with contextlib.suppress(Exception):
                await conn.close()
            raise
        idle.put_nowait(conn)
        if row is None:
            return None
        user_id, expires_at, last_used_at, revision, updated_at = row
        return int(user_id), _aware(expires_at), _aware(last_used_at), int(revision), _aware(updated_at)

    async def close(self) -> None:
        """Close the idle connections (at shutdown, on the loop they belong to)."""
        idle, self._idle, self._made = self._idle, None, 0
        if idle is None or self._loop is not asyncio.get_running_loop():
            return
        while not idle.empty():
            with contextlib.suppress(Exception):
                await idle.get_nowait().close()

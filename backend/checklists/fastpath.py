"""The hot path of GET /api/me/plan on PostgreSQL: one query on a few async psycopg connections per process.

Going through SQLAlchemy's sync pool costs a thread hop, a pre-ping round trip and ORM overhead per request,
which bench/plan_load.py showed to dominate when the plan itself comes from the cache. This reads only
(session + profile revision, autocommit, a prepared statement) and never decides anything alone: any
doubt (no row, stale session, cache miss, connection trouble) returns None and the caller takes the full
path through the normal session.

What the query found is also kept for a short while (TTL), but only while this process LISTENs to
`startklaar_sessions`: triggers (migration 0006) NOTIFY there whenever a session or profile row changes or
goes, in any process. A write in this process clears the kept rows before its commit, so the next request
sees it at once; other processes see it as soon as the notification arrives (about a millisecond). Without
a listening connection nothing is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
import weakref
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy import event
from sqlalchemy.engine import Engine

from backend.clock import aware

log = logging.getLogger("startklaar.plan")

SQL = (
    "SELECT s.user_id, s.expires_at, s.last_used_at, p.revision, p.updated_at "
    "FROM auth_session s JOIN user_profile p ON p.user_id = s.user_id WHERE s.token_hash = %s"
)
SIZE = 8  # connections per API process; the query takes a fraction of a millisecond
CHANNEL = "startklaar_sessions"
TTL = 30.0  # seconds a found row is kept (a bound in case a notification were ever lost)
MAX_KEPT = 50_000  # rows kept per process (about 10 MB at most)
RETRY = 1.0  # seconds between attempts to listen again
# Statements of this process that can change what the query reads (user_account: deletes cascade).
WATCHED = ("auth_session", "user_profile", "user_account")

Row = tuple[int, datetime, datetime, int, datetime]
EVERYONE = "*"


def _whose(statement: str, parameters: Any, into: set[int | str]) -> bool:
    """Add the user ids and session token hashes a write names in its parameters; False when it names none
    (then it may touch anyone's rows, and everything kept is forgotten)."""
    rows = parameters if isinstance(parameters, list | tuple) else [parameters]
    account = "user_account" in statement
    found = False
    for row in rows:
        if not isinstance(row, dict):
            return False  # positional parameters: cannot tell
        for name, value in row.items():
            if "token_hash" in name and isinstance(value, str):
                into.add(value)
                found = True
            elif ("user_id" in name or (account and name in ("id", "id_1", "user_account_id"))) and isinstance(
                value, int
            ):
                into.add(value)
                found = True
            elif "user_id" in name or "token_hash" in name:
                return False  # e.g. IN (...) with a list: cannot tell cheaply
    return found


class ReadPool:
    """A tiny async connection pool bound to one event loop (made again if the loop changes, as in tests),
    with the rows it found kept while a LISTEN connection reports every change to them."""

    def __init__(self, engine: Engine, size: int = SIZE) -> None:
        self.dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.size = size
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle: asyncio.LifoQueue[psycopg.AsyncConnection[Any]] | None = None
        self._made = 0
        self._kept: dict[str, tuple[float, Row]] = {}
        self._by_user: dict[int, set[str]] = {}
        self._generation = 0  # bumped by every forget: a query that overlapped a change keeps nothing
        self._listening = False
        self._listener: asyncio.Task[None] | None = None
        self.hits = 0
        self._engine = weakref.ref(engine)
        event.listen(engine, "before_cursor_execute", self._watch_statement)
        event.listen(engine, "commit", self._before_commit)
        event.listen(engine, "rollback", self._after_rollback)

    # --- writes in this process ---------------------------------------------------------------------

    def _watch_statement(self, conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement[:6].upper() not in ("UPDATE", "DELETE", "TRUNCA") or not any(t in statement for t in WATCHED):
            return
        changed: set[int | str] = conn.info.setdefault("sk_session_changes", set())
        if not _whose(statement, parameters, changed):
            changed.add(EVERYONE)

    def _before_commit(self, conn: Any) -> None:
        changed = conn.info.pop("sk_session_changes", None)
        if not changed:
            return
        if EVERYONE in changed:
            self.forget_all()
            return
        self._generation += 1
        for who in changed:
            if isinstance(who, int):
                self._forget_user(who)
            else:
                self._forget_token(who)

    def _after_rollback(self, conn: Any) -> None:
        conn.info.pop("sk_session_changes", None)

    # --- what is kept -------------------------------------------------------------------------------

    def forget_all(self) -> None:
        self._generation += 1
        self._kept.clear()
        self._by_user.clear()

    def _forget(self, payload: str) -> None:
        if not payload.isdigit():  # '*': a table was emptied
            self.forget_all()
            return
        self._generation += 1
        self._forget_user(int(payload))

    def _forget_user(self, user_id: int) -> None:
        for key in self._by_user.pop(user_id, ()):
            self._kept.pop(key, None)

    def _forget_token(self, token_hash: str) -> None:
        kept = self._kept.pop(token_hash, None)
        if kept is not None:
            self._by_user.get(kept[1][0], set()).discard(token_hash)

    def _keep(self, token_hash: str, row: Row, now: float) -> None:
        if len(self._kept) >= MAX_KEPT:  # the oldest goes (dicts keep insertion order)
            self._forget_token(next(iter(self._kept)))
        self._kept[token_hash] = (now, row)
        self._by_user.setdefault(row[0], set()).add(token_hash)

    async def _send_probe(self, probe: str) -> None:
        async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True, connect_timeout=5) as other:
            await other.execute("SELECT pg_notify(%s, %s)", (CHANNEL, probe))

    async def _listen(self) -> None:
        while True:
            conn: psycopg.AsyncConnection[Any] | None = None
            try:
                conn = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True, connect_timeout=5)
                await conn.execute(f"LISTEN {CHANNEL}")
                # Keep rows only once a notification sent over another connection has come back: behind a
                # pooler in transaction mode (PgBouncer) LISTEN "works" but nothing ever arrives.
                probe = "probe:" + secrets.token_hex(8)
                await self._send_probe(probe)
                async for note in conn.notifies():
                    if note.payload == probe:
                        self.forget_all()  # changes while nobody listened are unknown
                        self._listening = True
                    elif not note.payload.startswith("probe:"):  # other processes' probes are no change
                        self._forget(note.payload)
            except Exception as exc:  # never fatal: without a listener nothing is kept
                log.warning("luisteren naar sessiewijzigingen onderbroken: %s", type(exc).__name__)
            finally:
                self._listening = False
                self.forget_all()
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close()
            await asyncio.sleep(RETRY)

    # --- the query ----------------------------------------------------------------------------------

    def _bind(self) -> asyncio.LifoQueue[psycopg.AsyncConnection[Any]]:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._idle is None:
            self._loop, self._idle, self._made = loop, asyncio.LifoQueue(), 0
            self._listening = False
            self.forget_all()
            self._listener = loop.create_task(self._listen())
        return self._idle

    async def fetch(self, token_hash: str) -> Row | None:
        idle = self._bind()
        now = time.monotonic()
        kept = self._kept.get(token_hash)
        if kept is not None and self._listening and now - kept[0] < TTL:
            self.hits += 1
            return kept[1]
        generation = self._generation
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
            found = await cur.fetchone()
        except psycopg.Error:
            self._made -= 1  # a broken connection (e.g. the server restarted) is dropped, not returned
            with contextlib.suppress(Exception):
                await conn.close()
            raise
        idle.put_nowait(conn)
        if found is None:
            return None
        user_id, expires_at, last_used_at, revision, updated_at = found
        row = int(user_id), aware(expires_at), aware(last_used_at), int(revision), aware(updated_at)
        if self._listening and generation == self._generation:
            self._keep(token_hash, row, now)
        return row

    async def close(self) -> None:
        """Stop listening and close the idle connections (at shutdown, on the loop they belong to)."""
        engine = self._engine()
        if engine is not None and event.contains(engine, "commit", self._before_commit):
            event.remove(engine, "before_cursor_execute", self._watch_statement)
            event.remove(engine, "commit", self._before_commit)
            event.remove(engine, "rollback", self._after_rollback)
        self._listening = False
        self.forget_all()
        listener, self._listener = self._listener, None
        if listener is not None and self._loop is asyncio.get_running_loop():
            listener.cancel()
            with contextlib.suppress(BaseException):
                await listener
        idle, self._idle, self._made = self._idle, None, 0
        if idle is None or self._loop is not asyncio.get_running_loop():
            return
        while not idle.empty():
            with contextlib.suppress(Exception):
                await idle.get_nowait().close()

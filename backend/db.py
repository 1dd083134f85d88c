"""Database engine and the per-request session.

SQLite is the embedded default (WAL, foreign keys, busy timeout); PostgreSQL (psycopg 3) in production.
Services never commit: the request (get_session) or the job commits once at the end.
"""

from __future__ import annotations

import fcntl
import functools
import inspect
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.routing import APIRoute
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

SQLITE_BUSY_TIMEOUT_MS = 5000
# PostgreSQL: no statement, lock wait or forgotten transaction can hold a connection (and its locks) for good.
# A request that waits longer than this for a lock gets a 503 "probeer het zo opnieuw" instead of hanging.
PG_LOCK_TIMEOUT_MS = 5000
PG_STATEMENT_TIMEOUT_MS = 30_000
PG_IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000

# Row ids are INTEGER on PostgreSQL (at most 2**31 - 1). An id in a request outside 1..MAX_ID is refused with
# a 422 before it reaches the database, which would fail on it (PostgreSQL: integer out of range, a 500;
# SQLite: an OverflowError above 2**63).
MAX_ID = 2**31 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]


def pg_options(statement_timeout_ms: int = PG_STATEMENT_TIMEOUT_MS) -> str:
    """libpq `options` that set the timeouts for every connection of an engine."""
    return (
        f"-c lock_timeout={PG_LOCK_TIMEOUT_MS} -c statement_timeout={statement_timeout_ms} "
        f"-c idle_in_transaction_session_timeout={PG_IDLE_IN_TRANSACTION_TIMEOUT_MS}"
    )


_WRITE_LOCKS: dict[str, threading.Lock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()
_READS = ("SELECT", "PRAGMA", "WITH", "EXPLAIN")


class _SerialWriter(sqlite3.Connection):
    """A SQLite connection whose writes take the process's lock for this database file first, until commit or
    rollback.

    SQLite has one writer per file. Without this, the threads of a busy process all poll for its write lock
    (SQLite's busy handler sleeps 1, 2, 5 ... 100 ms between tries), and under load writes convoy into seconds
    (bench/load.py). With it, the threads of one process queue on a Python lock and are woken the moment the
    writer before them commits; only the processes still share SQLite's own lock."""

    write_lock: threading.Lock
    lock_path: str  # a file beside the database: the processes' queue (flock), polled every millisecond
    holding = False
    _lock_fd = -1

    def take_write_lock(self) -> None:
        if self.holding:
            return
        deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
        if not self.write_lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000):
            raise sqlite3.OperationalError("database is locked")  # as SQLite says it: a 503, "probeer zo"
        # Other processes (the API processes of `serve --workers N`, the worker, the CLI): one writer thread
        # per process asks here, so a short poll costs nothing and wakes up within a millisecond (SQLite's own
        # busy handler sleeps up to 100 ms between tries, and the process that just wrote wins again).
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            self.write_lock.release()
            raise
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    self.write_lock.release()
                    raise sqlite3.OperationalError("database is locked") from None
                time.sleep(0.001)
        self._lock_fd = fd
        self.holding = True

    def release_write_lock(self) -> None:
        if self.holding:
            self.holding = False
            fd, self._lock_fd = self._lock_fd, -1
            os.close(fd)  # closing gives the flock back
            self.write_lock.release()

    def cursor(self, factory: Any = None) -> sqlite3.Cursor:  # type: ignore[override]
        return super().cursor(factory or _SerialWriterCursor)

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:  # type: ignore[override]
        return self.cursor().execute(sql, *args)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.release_write_lock()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.release_write_lock()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.release_write_lock()


class _SerialWriterCursor(sqlite3.Cursor):
    def _before(self, sql: str) -> None:
        if not sql.lstrip()[:7].upper().startswith(_READS):
            connection = self.connection
            assert isinstance(connection, _SerialWriter)
            connection.take_write_lock()

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:  # type: ignore[override]
        self._before(sql)
        return super().execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> sqlite3.Cursor:  # type: ignore[override]
        self._before(sql)
        return super().executemany(sql, *args)


def _serial_writer_for(path: str) -> type[_SerialWriter]:
    with _WRITE_LOCKS_GUARD:
        lock = _WRITE_LOCKS.setdefault(path, threading.Lock())
    return type("SerialWriter", (_SerialWriter,), {"write_lock": lock, "lock_path": path + "-writelock"})


def make_engine(url: str, *, statement_timeout_ms: int = PG_STATEMENT_TIMEOUT_MS, **kwargs: Any) -> Engine:
    """The engine for `url`. PostgreSQL connections carry lock, statement and idle-transaction timeouts
    (`statement_timeout_ms=0`: no statement limit, for migrations and backups)."""
    if url.startswith("sqlite"):
        database = make_url(url).database
        connect_args: dict[str, Any] = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        if database not in (None, "", ":memory:"):
            # SQLite connections are local: never make a request wait for one (see limits.py), and keep
            # enough of them that a burst does not open new ones (the plan's hot path opens on the loop).
            kwargs.setdefault("pool_size", 20)
            kwargs.setdefault("max_overflow", -1)
            connect_args["factory"] = _serial_writer_for(os.path.realpath(str(database)))
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        wal = {"set": False}

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            if not wal["set"]:  # stored in the file: once per process is enough (it may wait for a lock)
                cur.execute("PRAGMA journal_mode=WAL")
                wal["set"] = True
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_timeout", 10)  # then a 503 (errors.database_error_handler), not a long hang
    # A server that does not answer (network gone) fails the connect in seconds instead of hanging requests.
    connect_args = dict(kwargs.pop("connect_args", {}))
    if "connect_timeout" not in make_url(url).query:
        connect_args.setdefault("connect_timeout", 5)
    if "options" not in make_url(url).query:
        connect_args.setdefault("options", pg_options(statement_timeout_ms))
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def get_session(request: Request) -> Iterator[Session]:
    """One session per request; commits once if the route succeeded, rolls back otherwise.

    A sync route's own session is committed at the end of the route, in the route's own thread (OneHopRoute);
    what is left here (a write made by a dependency of a route that does not take the session) is committed
    in the teardown. Objects stay readable after the commit (no reload while the answer is serialised).
    """
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        try:
            yield session
        except Exception:
            session.rollback()
            raise
        else:
            session.commit()


# scope="function": commit right after the route returns, before the response is sent,
# so a client that got 2xx can rely on the write (and a failed commit is a 500, not a silent loss).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def _commit_in_the_same_thread(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a sync route: its sessions commit (or roll back) before the route's thread is given back.

    Why: FastAPI runs the route and the session's teardown in separate thread hops, and between them the
    answer may wait for a free thread. A lock the route took (a counter row, a kaart pointer FOR UPDATE, SQLite's
    write lock) would be held while it waits, and when every thread waits for that lock the holder never gets
    one to commit: the process hangs (issue 11). Committing here releases every lock in the hop that took it.
    """

    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        sessions = [v for v in kwargs.values() if isinstance(v, Session)]
        try:
            result = endpoint(*args, **kwargs)
        except BaseException:
            for s in sessions:
                s.rollback()
            raise
        for s in sessions:
            s.commit()
        return result

    return run


class OneHopRoute(APIRoute):
    """The route class of every router: sync routes commit in their own thread (see above)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = _commit_in_the_same_thread(endpoint)
        super().__init__(path, endpoint, **kwargs)


def dialect_insert(session: Session, table: Any) -> Any:
    """INSERT with ON CONFLICT support (on_conflict_do_nothing / do_update) for the session's database."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)

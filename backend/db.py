"""Database engine and the per-request session.

SQLite is the embedded default (WAL, foreign keys, busy timeout); PostgreSQL (psycopg 3) in production.
Services never commit: the request (get_session) or the job commits once at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

SQLITE_BUSY_TIMEOUT_MS = 5000

# Row ids are INTEGER on PostgreSQL (at most 2**31 - 1). An id in a request outside 1..MAX_ID is refused with
# a 422 before it reaches the database, which would fail on it (PostgreSQL: integer out of range, a 500;
# SQLite: an OverflowError above 2**63).
MAX_ID = 2**31 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        if make_url(url).database not in (None, "", ":memory:"):
            # SQLite connections are local: never make a request wait for one (see limits.py), and keep
            # enough of them that a burst does not open new ones (the plan's hot path opens on the loop).
            kwargs.setdefault("pool_size", 20)
            kwargs.setdefault("max_overflow", -1)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 5}, **kwargs)
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
    if "connect_timeout" not in make_url(url).query:
        kwargs.setdefault("connect_args", {"connect_timeout": 5})
    return create_engine(url, pool_pre_ping=True, **kwargs)


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def get_session(request: Request) -> Iterator[Session]:
    """One session per request; commits once if the route succeeded, rolls back otherwise."""
    with Session(request.app.state.engine) as session:
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


def dialect_insert(session: Session, table: Any) -> Any:
    """INSERT with ON CONFLICT support (on_conflict_do_nothing / do_update) for the session's database."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)

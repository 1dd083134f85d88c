"""SQLite writes of one process queue on a lock of their own (backend/db.py, _SerialWriter): taken at the first
write, given back at commit, rollback or close; reads never wait for it; a writer that waits too long gets
SQLite's own "database is locked" (a 503 for the user), never a hang."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from backend import db
from backend.db import make_engine
from backend.errors import database_outage


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    e = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with e.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    return e


def _lock(engine: Engine) -> threading.Lock:
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert isinstance(raw, db._SerialWriter)
        return raw.write_lock


def test_the_lock_is_held_from_the_first_write_until_commit_or_rollback(engine: Engine) -> None:
    lock = _lock(engine)
    with engine.connect() as conn:
        conn.execute(text("SELECT count(*) FROM t"))
        assert not lock.locked()  # a read takes nothing
        conn.execute(text("INSERT INTO t VALUES (1)"))
        assert lock.locked()
        conn.commit()
        assert not lock.locked()
        conn.execute(text("INSERT INTO t VALUES (2)"))
        conn.rollback()
        assert not lock.locked()
        conn.execute(text("INSERT INTO t VALUES (3)"))
    assert not lock.locked()  # returned to the pool: rolled back, lock given back


def test_reads_go_on_while_another_thread_writes(engine: Engine) -> None:
    with engine.connect() as writer:
        writer.execute(text("INSERT INTO t VALUES (1)"))
        seen: list[int] = []

        def read() -> None:
            with engine.connect() as reader:
                seen.append(int(reader.execute(text("SELECT count(*) FROM t")).scalar_one()))

        t = threading.Thread(target=read)
        t.start()
        t.join(2)
        assert seen == [0]  # not blocked, and not seeing the uncommitted row
        writer.commit()


def test_writers_of_many_threads_all_succeed(engine: Engine) -> None:
    errors: list[BaseException] = []

    def write(i: int) -> None:
        try:
            for j in range(20):
                with engine.begin() as conn:
                    conn.execute(text("INSERT INTO t VALUES (:n)"), {"n": i * 100 + j})
                    time.sleep(0.001)  # some work while holding the write
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 12 * 20


def test_a_writer_that_waits_too_long_gets_database_is_locked(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 200)
    with engine.connect() as holder:
        holder.execute(text("INSERT INTO t VALUES (1)"))
        failure: list[BaseException] = []

        def write() -> None:
            try:
                with engine.begin() as conn:
                    conn.execute(text("INSERT INTO t VALUES (2)"))
            except Exception as exc:  # noqa: BLE001 - collected for the assertion
                failure.append(exc)

        t = threading.Thread(target=write)
        started = time.monotonic()
        t.start()
        t.join(5)
        assert time.monotonic() - started < 3
        holder.rollback()
    assert len(failure) == 1 and "database is locked" in str(failure[0])
    orig = getattr(failure[0], "orig", None)
    assert isinstance(orig, sqlite3.OperationalError)
    assert database_outage(failure[0]) == "busy"  # the user gets 503 "Het is even heel druk ... probeer zo"


@pytest.mark.postgres
def test_postgresql_connections_carry_the_timeouts_and_migrations_have_no_statement_limit(pg_database: str) -> None:
    for kwargs, statement in (({}, f"{db.PG_STATEMENT_TIMEOUT_MS // 1000}s"), ({"statement_timeout_ms": 0}, "0")):
        e = make_engine(pg_database, **kwargs)
        with e.connect() as conn:
            shown = {
                name: conn.execute(text(f"SHOW {name}")).scalar_one()
                for name in ("lock_timeout", "statement_timeout", "idle_in_transaction_session_timeout")
            }
        e.dispose()
        assert shown == {
            "lock_timeout": f"{db.PG_LOCK_TIMEOUT_MS // 1000}s",
            "statement_timeout": statement,
            "idle_in_transaction_session_timeout": f"{db.PG_IDLE_IN_TRANSACTION_TIMEOUT_MS // 60000}min",
        }

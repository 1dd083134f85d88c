"""Test fixtures: a fresh, migrated database per test, on SQLite and (when configured) PostgreSQL.

Every database test runs once per backend: `db_url` is parametrized with "sqlite" and "postgres".
PostgreSQL runs when STARTKLAAR_TEST_POSTGRES_URL is set (CI sets it); otherwise those runs are skipped,
and CI (STARTKLAAR_TEST_NO_SKIPS=1) fails on any skipped test.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from backend import migrate
from backend.app import create_app
from backend.config import Settings
from backend.db import make_engine
from tests.dbutil import PG_URL, app_settings, create_pg_database, drop_pg_database, empty_pg_tables

# --- databases -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for every test (much faster than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    with engine.connect() as conn:  # fold the WAL into the main file before copying it
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """One migrated PostgreSQL database for this run (created fresh, dropped at the end)."""
    if not PG_URL:
        pytest.skip("PostgreSQL not configured: set STARTKLAAR_TEST_POSTGRES_URL")
    url = create_pg_database()
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url
    drop_pg_database(url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a migrated database holding only reference data, for this test alone.

    SQLite: a copy of a migrated template file. PostgreSQL: the run's database, emptied before the test
    (as isolated as a new database, and much faster than creating one per test).
    """
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("pg_database")
        empty_pg_tables(url)
        yield url


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return app_settings(db_url, tmp_path / "data")


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://localhost") as c:
        yield c


@pytest.fixture
def engine(app: FastAPI) -> Engine:
    return app.state.engine


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine) as s:
        yield s


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> None:
    """argon2id with small parameters: the same algorithm and code path, fast enough for hundreds of logins."""
    from backend.accounts.service import configure_hasher

    configure_hasher(memory_kib=1024, time_cost=1)


# --- CI guard: nothing may be skipped --------------------------------------------------------------


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("STARTKLAAR_TEST_NO_SKIPS") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    skipped = reporter.stats.get("skipped", [])
    passed = reporter.stats.get("passed", [])
    problems = []
    if skipped:
        problems.append(f"{len(skipped)} test(s) were skipped; CI requires every test to run")
    if not any("postgres" in r.keywords for r in passed):
        problems.append("no PostgreSQL test passed")
    if not any("browser" in r.keywords for r in passed):
        problems.append("no browser test passed")
    if problems:
        reporter.write_line("CI GUARD FAILED: " + "; ".join(problems), red=True)
        for r in skipped:
            reporter.write_line(f"  skipped: {r.nodeid}: {r.longrepr}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED

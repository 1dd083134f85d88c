"""Contended rows never hang the API (issue 11, item 1): a real `startklaar serve` process, many requests at
once on one hot row, and every request ends (success, 409 or 429; never a time-out), after which the process
still answers.

Seen before the fix on PostgreSQL: 16 sign-ups at once from one address (a group behind one NAT) or 30 parallel
publishes of one kaart left every sync route hanging for good. A request wrote a contended row (the sign-up
counter; the kaart pointer `FOR UPDATE`) and kept the lock until its commit in a later thread hop, while all
threads waited for that lock.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from backend.accounts.routes import SIGNUP_PER_IP_BURST
from backend.accounts.service import create_account
from backend.app import create_app
from backend.config import Settings
from backend.db import make_engine
from backend.kaart.models import KaartCurrent, KaartVersion
from backend.system.routes import PoolWatch
from tests.accounts.helpers import PASSWORD
from tests.e2e.conftest import LiveServer
from tests.kaart.kaart_api import EXAMPLES
from tests.system.serving import Served, serve_env, start, stop

DEADLINE = 90  # seconds for a whole burst; a hang shows as a time-out far below pytest's own


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[Served]:
    env = serve_env(tmp_path, db_url, STARTKLAAR_LOG_LEVEL="warning")
    served = start(env, tmp_path / "serve.log", ready="/readyz")
    try:
        yield served
    finally:
        code = stop(served)
    # uvicorn re-raises the SIGTERM it handled once it has shut down cleanly: -15 is a clean stop here.
    assert code in (0, -signal.SIGTERM), "SIGTERM did not stop the server:\n" + served.log.read_text()


async def _burst(url: str, calls: list[tuple[str, str, dict[str, object]]], **client: object) -> list[int]:
    async with httpx.AsyncClient(base_url=url, timeout=DEADLINE, **client) as c:  # type: ignore[arg-type]
        coros = [c.request(method, path, **kw) for method, path, kw in calls]  # type: ignore[arg-type]
        return [r.status_code for r in await asyncio.gather(*coros)]


def _still_answers(server: Served) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as c:
        assert c.get("/healthz").status_code == 200
        assert c.get("/api/gemeenten?q=den haag").status_code == 200  # a sync route with the database
        r = c.post("/api/session", json={"username": "niemand-hier", "password": "fout-wachtwoord"})
        assert r.status_code in (401, 429), r.text


def test_fifty_sign_ups_at_once_from_one_address_all_end(server: Served) -> None:
    calls = [
        ("POST", "/api/accounts", {"json": {"username": f"groep{i:02d}", "password": PASSWORD}}) for i in range(45)
    ]
    # Five of them pick a name another one picks too: one of each pair gets it, the other a 409 (item 3).
    calls += [
        ("POST", "/api/accounts", {"json": {"username": f"groep{i:02d}", "password": PASSWORD}}) for i in range(5)
    ]
    statuses = asyncio.run(asyncio.wait_for(_burst(server.url, calls), DEADLINE + 10))
    assert set(statuses) <= {201, 409, 429}, statuses
    # Every attempt counts: exactly the limit's number got through the counter, the rest a 429.
    assert statuses.count(201) + statuses.count(409) == SIGNUP_PER_IP_BURST.attempts, statuses
    assert statuses.count(429) == 50 - SIGNUP_PER_IP_BURST.attempts, statuses
    _still_answers(server)


def test_a_group_of_25_signs_up_within_a_minute_and_a_script_is_stopped(server: Served) -> None:
    group = [
        ("POST", "/api/accounts", {"json": {"username": f"training{i:02d}", "password": PASSWORD}}) for i in range(25)
    ]
    statuses = asyncio.run(asyncio.wait_for(_burst(server.url, group), DEADLINE + 10))
    assert statuses == [201] * 25
    twins = [("POST", "/api/accounts", {"json": {"username": "tweeling", "password": PASSWORD}})] * 2
    assert sorted(asyncio.run(asyncio.wait_for(_burst(server.url, twins), DEADLINE))) == [201, 409]
    # A script goes on from the same address: it is stopped, with a Dutch message and Retry-After.
    with httpx.Client(base_url=server.url, timeout=30) as c:
        answers = [
            c.post("/api/accounts", json={"username": f"script{i:03d}", "password": PASSWORD})
            for i in range(SIGNUP_PER_IP_BURST.attempts - 27 + 3)
        ]
    assert [r.status_code for r in answers[-3:]] == [429] * 3
    assert "Te veel pogingen" in answers[-1].json()["detail"]
    assert int(answers[-1].headers["Retry-After"]) > 0
    _still_answers(server)


def test_fifty_parallel_publishes_of_one_kaart_all_end_and_status_follows_the_pointer(
    server: Served, db_url: str
) -> None:
    engine = make_engine(db_url)
    with Session(engine) as s:
        create_account(s, "beheer-hot", PASSWORD, role="admin")
        s.commit()
    with httpx.Client(base_url=server.url, timeout=30) as c:
        r = c.post("/api/session", json={"username": "beheer-hot", "password": PASSWORD})
        assert r.status_code == 200, r.text
        cookies, csrf = dict(r.cookies), r.json()["csrf_token"]
        c.headers["X-CSRF-Token"] = csrf
        versions = []
        original = EXAMPLES["GM0014"].read_bytes()
        for data in (original, original.replace(b" jongeren", b" jonge mensen", 1)):  # two different versions
            r = c.post("/api/beheer/kaart/GM0014/uploads", files={"file": ("kaart.csv", data, "text/csv")})
            assert r.status_code == 201, r.text
            versions.append(r.json()["version"]["id"])
    calls = [("POST", f"/api/beheer/kaart/GM0014/versions/{versions[i % 2]}/publish", {}) for i in range(50)]
    statuses = asyncio.run(
        asyncio.wait_for(_burst(server.url, calls, cookies=cookies, headers={"X-CSRF-Token": csrf}), DEADLINE + 10)
    )
    assert set(statuses) <= {200, 409, 429}, statuses
    assert statuses.count(200) >= 1
    with Session(engine) as s:
        live = s.exec(select(KaartCurrent.version_id).where(KaartCurrent.kaart == "GM0014")).one()
        status = {v.id: v.status for v in s.exec(select(KaartVersion).where(KaartVersion.kaart == "GM0014"))}
    engine.dispose()
    assert live in versions
    assert status[live] == "published", status
    assert [v for v, st in status.items() if st == "published"] == [live], status
    _still_answers(server)


def test_liveness_fails_while_the_thread_pool_is_stuck_and_recovers(
    settings: Settings, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/healthz answers on the event loop; when no thread is given out for a long time it says so (503), so an
    orchestrator restarts the process, and it is fine again once the threads are free."""
    monkeypatch.setattr(PoolWatch, "STUCK_AFTER", 0.5)
    settings.threadpool_size = 2  # two requests waiting for a lock take every thread
    settings.max_in_flight = 3  # (an operator's override; by default writes keep a slot free for reads)
    app = create_app(settings)
    server = LiveServer(app)
    server.start()
    holder = _hold_the_counter_table(db_url)
    try:
        with ThreadPoolExecutor(2) as pool:
            signups = [
                pool.submit(
                    httpx.post,
                    f"{server.url}/api/accounts",
                    json={"username": f"wacht{i}", "password": PASSWORD},
                    timeout=30,
                )
                for i in range(2)
            ]
            assert _health_becomes(server.url, 503, within=4.0)
            holder.close()  # the lock is gone well before the database's own time-outs (5 s)
            assert [f.result().status_code for f in signups] == [201, 201]
        assert _health_becomes(server.url, 200, within=4.0)
    finally:
        holder.close()
        server.stop()
        app.state.engine.dispose()


class _Holder:
    def __init__(self, close: Callable[[], None]) -> None:
        self._close, self._closed = close, False

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._close()


def _hold_the_counter_table(db_url: str) -> _Holder:
    """Another program holds what a sign-up must write (SQLite: the write lock; PostgreSQL: the counter table)."""
    if db_url.startswith("sqlite"):
        con = sqlite3.connect(make_url(db_url).database or "", isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
        return _Holder(lambda: (con.rollback(), con.close()))
    pg = psycopg.connect(make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False))
    pg.execute("LOCK TABLE rate_limit_hit IN EXCLUSIVE MODE")
    return _Holder(lambda: (pg.rollback(), pg.close()))


def _health_becomes(url: str, status: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if httpx.get(f"{url}/healthz", timeout=2).status_code == status:
            return True
        time.sleep(0.1)
    return False

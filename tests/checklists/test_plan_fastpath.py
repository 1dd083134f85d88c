"""GET /api/me/plan keeps what it read about a session for a while (PostgreSQL, backend/checklists/fastpath.py).
Whatever changes that session or profile, in this process or another one, must show in the next plan:
a logout ends access, a changed vertrekdatum moves the steps. SQLite has no such cache: the same
behaviour must hold there too."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from backend.checklists import service
from backend.checklists.fastpath import ReadPool
from tests.accounts.helpers import login, signup

# What is kept per process exists on PostgreSQL only: these tests run there alone (SQLite keeps nothing).
POSTGRES_ONLY = pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
PROFILE = {"birth_date": "2008-05-01", "gemeente_code": "GM0518", "vertrekdatum": "2026-12-01"}


@pytest.fixture
def elsewhere(db_url: str) -> Iterator[Engine]:
    """Another API process or the retention job: its own connections to the same database."""
    other = create_engine(db_url)
    yield other
    other.dispose()


def _hits(engine: Engine) -> int:
    pool = service._read_pools.get(engine)
    return pool.hits if pool is not None else 0


def _until(probe: Callable[[], Any], what: str, timeout: float = 3.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            assert value, f"{what} within {timeout} s"
            return value
        time.sleep(0.02)


def _ready(client: TestClient, engine: Engine) -> dict[str, Any]:
    """An account with a plan whose session the fast path has seen (and, on PostgreSQL, keeps)."""
    me = signup(client)
    assert client.put("/api/me/profile", json=PROFILE).status_code == 200
    first = client.get("/api/me/plan")
    assert first.status_code == 200
    if engine.dialect.name == "postgresql":
        # The listener connects in the background; from then on a second read comes from what was kept.
        def kept() -> bool:
            before = _hits(engine)
            assert client.get("/api/me/plan").status_code == 200
            return _hits(engine) > before

        _until(kept, "the plan read served from the kept session row")
    return me


def test_a_session_ended_elsewhere_ends_access_to_the_plan(
    client: TestClient, engine: Engine, elsewhere: Engine
) -> None:
    _ready(client, engine)
    with elsewhere.begin() as c:  # e.g. "log out everywhere" handled by another API process
        c.execute(text("DELETE FROM auth_session"))
    _until(lambda: client.get("/api/me/plan").status_code == 401, "the plan refused after the logout elsewhere")


def test_a_profile_changed_elsewhere_shows_in_the_plan(client: TestClient, engine: Engine, elsewhere: Engine) -> None:
    _ready(client, engine)
    before = {i["step_id"]: i["due_date"] for i in client.get("/api/me/plan").json()["items"]}
    with elsewhere.begin() as c:  # the same change as PUT /api/me/profile in another API process
        c.execute(text("UPDATE user_profile SET vertrekdatum = '2027-03-01', revision = revision + 1"))

    def moved() -> bool:
        after = {i["step_id"]: i["due_date"] for i in client.get("/api/me/plan").json()["items"]}
        return after != before

    _until(moved, "the plan moved to the new vertrekdatum")


def test_a_logout_in_this_process_is_seen_by_the_very_next_request(
    client: TestClient, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    me = _ready(client, engine)
    if engine.dialect.name == "postgresql":  # even when the notification comes late, or not at all
        monkeypatch.setattr(service._read_pools[engine], "_forget", lambda payload: None)
    for _ in range(10):
        cookie = client.cookies.get("sk_session")
        assert client.delete("/api/session").status_code == 204
        client.cookies.set("sk_session", cookie)  # a copy of the cookie (another tab, or a thief) tries again
        assert client.get("/api/me/plan").status_code == 401  # no waiting: the same process knew it first
        client.cookies.clear()
        login(client, me["username"])
        assert client.get("/api/me/plan").status_code == 200


@POSTGRES_ONLY
def test_nothing_is_kept_while_the_listener_is_gone(client: TestClient, engine: Engine, elsewhere: Engine) -> None:
    _ready(client, engine)
    with elsewhere.begin() as c:  # the listening connection breaks (e.g. a network blip or failover)
        killed = c.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN startklaar%'")
        ).all()
    assert killed, "a listening connection existed"
    _until(lambda: not service._read_pools[engine]._listening, "the process noticed the lost listener")
    with elsewhere.begin() as c:  # a change nobody is told about
        c.execute(text("DELETE FROM auth_session"))
    assert client.get("/api/me/plan").status_code == 401


@POSTGRES_ONLY
def test_nothing_is_kept_when_notifications_do_not_arrive(
    app: Any, engine: Engine, elsewhere: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind a pooler in transaction mode LISTEN succeeds but nothing arrives: then every read asks the database."""

    async def lost(self: ReadPool, probe: str) -> None:
        return None

    monkeypatch.setattr(ReadPool, "_send_probe", lost)
    with TestClient(app, base_url="http://localhost") as client:
        signup(client)
        assert client.put("/api/me/profile", json=PROFILE).status_code == 200
        for _ in range(20):
            assert client.get("/api/me/plan").status_code == 200
            time.sleep(0.01)
        assert _hits(engine) == 0
        with elsewhere.begin() as c:
            c.execute(text("DELETE FROM auth_session"))
        assert client.get("/api/me/plan").status_code == 401


@POSTGRES_ONLY
def test_a_tick_forgets_only_that_persons_session_row(client: TestClient, engine: Engine) -> None:
    """Ticks are frequent: one person's tick must not send everyone's next plan read to the database."""
    devices = []
    for _ in range(2):
        client.cookies.clear()
        _ready(client, engine)
        devices.append((client.cookies.get("sk_session"), client.headers["X-CSRF-Token"]))

    def use(n: int) -> None:
        client.cookies.clear()
        client.cookies.set("sk_session", devices[n][0])
        client.headers["X-CSRF-Token"] = devices[n][1]

    use(0)
    plan = client.get("/api/me/plan").json()
    step = plan["items"][0]["step_id"]
    tick = {"state": "done", "client_updated_at": "2026-11-22T12:00:00Z", "client_id": "device-a-0001"}
    assert client.put(f"/api/me/progress/{step}", json=tick).status_code == 200
    use(1)
    before = _hits(engine)
    assert client.get("/api/me/plan").status_code == 200
    assert _hits(engine) == before + 1, "the other person's row was still kept"
    use(0)
    mine = {i["step_id"]: i["state"] for i in client.get("/api/me/plan").json()["items"]}
    assert mine[step] == "done", "the ticking person's plan shows the tick at once"

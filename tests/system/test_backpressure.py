"""Many requests at once against a small database pool: every one is answered, none waits for a pool
connection that a request waiting for a thread holds (the deadlock bench/load.py found; see limits.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from backend import app as app_module
from backend.app import create_app
from backend.config import Settings
from backend.db import make_engine
from backend.limits import InFlightLimit, max_in_flight
from tests.e2e.conftest import LiveServer


def test_limit_follows_the_pool() -> None:
    small = make_engine("postgresql+psycopg://u@127.0.0.1:1/x", pool_size=3, max_overflow=5)
    assert max_in_flight(small) == 2  # (3 + 5 - 4 for the worker) // 2 connections per request
    assert max_in_flight(small, configured=7) == 7
    assert max_in_flight(make_engine("sqlite:////tmp/never-opened.db")) is None  # no pool limit to respect
    # Never more requests in progress than threads: each admitted request can always get one (issue 11).
    assert max_in_flight(make_engine("sqlite:////tmp/never-opened.db"), threads=8) == 8
    big = make_engine("postgresql+psycopg://u@127.0.0.1:1/x", pool_size=10, max_overflow=20)
    assert max_in_flight(big, threads=8) == 8
    assert max_in_flight(big, threads=40) == 13


def test_a_burst_against_a_tiny_pool_is_answered(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    def tiny(url: str, **kwargs: Any) -> Engine:
        if url.startswith("postgresql"):
            kwargs |= {"pool_size": 1, "max_overflow": 1}
        return make_engine(url, **kwargs)

    monkeypatch.setattr(app_module, "make_engine", tiny)
    settings.threadpool_size = 2
    settings.embedded_worker = False
    app = create_app(settings)
    server = LiveServer(app)
    server.start()
    try:
        with httpx.Client(base_url=server.url) as c:
            r = c.post("/api/accounts", json={"username": "druk", "password": "lang-genoeg-42"})
            assert r.status_code == 201, r.text
            cookies = dict(r.cookies)
            csrf = r.json()["csrf_token"]
            r = c.put(
                "/api/me/profile",
                json={"birth_date": "2008-05-01", "gemeente_code": "GM0518"},
                headers={"X-CSRF-Token": csrf},
            )
            assert r.status_code == 200, r.text

        async def burst() -> list[int]:
            async with httpx.AsyncClient(base_url=server.url, cookies=cookies, timeout=30) as c:
                calls = [c.get("/api/me/profile") for _ in range(40)] + [c.get("/api/me/reminders") for _ in range(20)]
                return [r.status_code for r in await asyncio.gather(*calls)]

        statuses = asyncio.run(asyncio.wait_for(burst(), timeout=60))
        # Every request is answered (no deadlock): served, or turned away at once with Retry-After once the
        # queue behind the one admitted request has waited too long (how many depends on the machine's speed;
        # the shedding itself is tested with a gate below).
        assert set(statuses) <= {200, 503}, statuses
        assert statuses.count(200) >= 2, statuses
    finally:
        server.stop()
        app.state.engine.dispose()


class _Gate:
    """An ASGI app whose requests wait until the test opens the gate; it records the order it served them in."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.served: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.open.wait()
        self.served.append(scope["method"] + " " + scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def _call(app: Any, method: str, path: str) -> tuple[int, dict[str, str], float]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    start = asyncio.get_running_loop().time()
    await app({"type": "http", "method": method, "path": path, "headers": []}, receive, send)
    headers = {k.decode(): v.decode() for k, v in sent[0].get("headers", [])}
    return sent[0]["status"], headers, asyncio.get_running_loop().time() - start


def test_a_full_queue_is_answered_at_once_and_writes_go_first_within_their_share() -> None:
    async def scenario() -> None:
        gate = _Gate()
        app = InFlightLimit(gate, limit=4, read_queue=3, write_queue=6)
        assert app.max_writes == 3  # one slot stays free for reads
        busy = [asyncio.create_task(_call(app, "GET", f"/api/bezig/{i}")) for i in range(4 + 3)]
        await asyncio.sleep(0.01)  # four in progress, three reads waiting: the read queue is full
        status, headers, took = await _call(app, "GET", "/api/nog-een")
        assert status == 503 and int(headers["retry-after"]) > 0
        assert headers["content-type"] == "application/json"
        assert took < 0.1  # shed at once, never after a wait
        writes = [asyncio.create_task(_call(app, "PUT", f"/api/me/progress/{i}")) for i in range(6)]
        await asyncio.sleep(0.01)
        status, _, _ = await _call(app, "PUT", "/api/me/progress/te-veel")
        assert status == 503  # writes have a longer queue, but a bounded one
        gate.open.set()
        results = await asyncio.gather(*busy, *writes)
        assert [r[0] for r in results] == [200] * 13
        after_the_first = gate.served[4:]
        assert all(s.startswith("PUT") for s in after_the_first[:3]), gate.served  # queued writes first ...
        last_write = max(i for i, s in enumerate(after_the_first) if s.startswith("PUT"))
        assert any(s.startswith("GET") for s in after_the_first[:last_write]), gate.served  # ... reads not starved
        assert app.active == 0 and app.active_writes == 0 and app.shed == 2

    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_a_cancelled_waiter_gives_its_place_back() -> None:
    async def scenario() -> None:
        gate = _Gate()
        app = InFlightLimit(gate, limit=1, read_queue=2, write_queue=2)
        first = asyncio.create_task(_call(app, "GET", "/api/a"))
        waiting = asyncio.create_task(_call(app, "GET", "/api/b"))
        await asyncio.sleep(0.01)
        waiting.cancel()  # the phone gave up
        await asyncio.sleep(0.01)
        gate.open.set()
        assert (await first)[0] == 200
        assert (await _call(app, "GET", "/api/c"))[0] == 200
        assert app.active == 0

    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_a_request_is_shed_at_once_when_the_queue_has_waited_too_long() -> None:
    async def scenario() -> None:
        gate = _Gate()
        app = InFlightLimit(gate, limit=1, read_queue=100, write_queue=100, read_max_wait=0.05, write_max_wait=0.2)
        first = asyncio.create_task(_call(app, "GET", "/api/a"))
        queued = asyncio.create_task(_call(app, "GET", "/api/b"))
        await asyncio.sleep(0.02)
        late_but_in_time = asyncio.create_task(_call(app, "GET", "/api/c"))  # the head waited 20 ms: queued
        await asyncio.sleep(0.06)
        status, _, took = await _call(app, "GET", "/api/d")  # the head waited 80 ms: shed without waiting
        assert status == 503 and took < 0.05
        write = asyncio.create_task(_call(app, "PUT", "/api/me/progress/x"))  # writes have their own queue
        await asyncio.sleep(0.01)
        gate.open.set()
        results = await asyncio.gather(first, queued, late_but_in_time, write)
        assert [r[0] for r in results] == [200] * 4
        assert gate.served[1] == "PUT /api/me/progress/x"

    asyncio.run(asyncio.wait_for(scenario(), 10))

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
from backend.limits import max_in_flight
from tests.e2e.conftest import LiveServer


def test_limit_follows_the_pool() -> None:
    small = make_engine("postgresql+psycopg://u@127.0.0.1:1/x", pool_size=3, max_overflow=5)
    assert max_in_flight(small) == 2  # (3 + 5 - 4 for the worker) // 2 connections per request
    assert max_in_flight(small, configured=7) == 7
    assert max_in_flight(make_engine("sqlite:////tmp/never-opened.db")) is None  # no pool limit to respect


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
        assert statuses == [200] * 60
    finally:
        server.stop()
        app.state.engine.dispose()

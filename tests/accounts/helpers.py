"""Helpers for API tests that need logged-in people."""

from __future__ import annotations

import itertools
from typing import Any

from fastapi.testclient import TestClient

_counter = itertools.count(1)
PASSWORD = "lang-genoeg-42"


def signup(client: TestClient, username: str | None = None, password: str = PASSWORD, **extra: Any) -> dict[str, Any]:
    """Create an account; the client keeps the session cookie and sends the CSRF header from then on."""
    name = username or f"jongere{next(_counter)}"
    r = client.post("/api/accounts", json={"username": name, "password": password, **extra})
    assert r.status_code == 201, r.text
    body = r.json()
    client.headers["X-CSRF-Token"] = body["csrf_token"]
    body["username"] = name
    return body


def login(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, Any]:
    r = client.post("/api/session", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return r.json()


def new_client(client: TestClient) -> TestClient:
    """A second device/browser against the same app (its own cookies)."""
    return TestClient(client.app, base_url="http://localhost")

"""Request ids and the security log (issue 11, low): every answer carries an id the server made; a 5xx answer
has it in its body; logins, lock-outs and refusals are logged with it, never with a password or token."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from backend.accounts import routes as account_routes
from tests.accounts.helpers import PASSWORD, new_client, signup

SECURITY = "startklaar.security"


def _security_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == SECURITY]


def test_every_answer_has_its_own_request_id_and_a_sent_one_is_ignored(client: TestClient) -> None:
    a = client.get("/api/gemeenten?q=utrecht")
    b = client.get("/healthz", headers={"X-Request-ID": "door-mij-gekozen"})
    c = client.get("/niet-bestaand.js")
    ids = [r.headers["X-Request-ID"] for r in (a, b, c)]
    assert len(set(ids)) == 3 and "door-mij-gekozen" not in ids
    assert all(len(i) == 16 for i in ids)


def test_a_server_error_names_its_request_id(app: FastAPI, caplog: pytest.LogCaptureFixture) -> None:
    def boom() -> None:
        raise RuntimeError("kapot")

    app.add_api_route("/api/test-kapot", boom)
    app.router.routes.insert(0, app.router.routes.pop())  # before the catch-all 404 for /api/...
    with TestClient(app, base_url="http://localhost", raise_server_exceptions=False) as c:
        r = c.get("/api/test-kapot")
    assert r.status_code == 500
    body = r.json()
    assert body["detail"].startswith("Er ging iets mis") and body["request_id"] == r.headers["X-Request-ID"]


def test_logins_lock_outs_and_refusals_are_logged_without_secrets(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=SECURITY)
    name = signup(client)["username"]
    stranger = new_client(client)
    for _ in range(account_routes.LOGIN_PER_USER_IP.attempts):
        stranger.post("/api/session", json={"username": name, "password": "geheim-fout-1"})
    locked = stranger.post("/api/session", json={"username": name, "password": PASSWORD})
    assert locked.status_code == 429
    r = client.post("/api/session", json={"username": name, "password": PASSWORD})
    assert r.status_code == 200
    refused = client.get("/api/beheer/kaarten")
    assert refused.status_code == 403

    lines = _security_lines(caplog)
    text = "\n".join(r.getMessage() for r in lines)
    assert text.count("inloggen mislukt") == account_routes.LOGIN_PER_USER_IP.attempts
    assert "te veel pogingen: POST /api/session" in text
    assert "ingelogd: user_id=" in text
    assert "geweigerd: GET /api/beheer/kaarten" in text
    for secret in (PASSWORD, "geheim-fout-1", client.cookies.get("sk_session") or "?", r.json()["csrf_token"]):
        assert secret not in text
    by_id = {rec.request_id for rec in lines}  # type: ignore[attr-defined]
    assert locked.headers["X-Request-ID"] in by_id and refused.headers["X-Request-ID"] in by_id

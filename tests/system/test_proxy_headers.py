"""Forwarded headers are believed only from the proxies the operator named (STARTKLAAR_TRUSTED_PROXIES).

By default no proxy is trusted: whoever sends `X-Forwarded-For` cannot pick their own client address, so the
per-address limits (here: failed logins per address) still count every attempt under the real peer. With the
load balancer's address configured, the header is believed and each forwarded client is counted on its own.
Real `startklaar serve` processes (uvicorn's own proxy handling, as in production), with production password
hashing: the logins are kept few.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from backend.accounts import routes
from backend.config import Settings
from tests.system.serving import STARTKLAAR, Served, serve_env, start, stop

WRONG = {"password": "dit-is-niet-het-wachtwoord"}
Server = Callable[..., httpx.Client]


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[Server]:
    """start(**env) -> a client of a `startklaar serve` on a free port, on the test's (migrated) database."""
    running: list[tuple[Served, httpx.Client]] = []

    def begin(**extra: str) -> httpx.Client:
        served = start(serve_env(tmp_path / "data", db_url, **extra), tmp_path / f"serve-{len(running)}.log")
        client = httpx.Client(base_url=served.url, timeout=60)
        running.append((served, client))
        return client

    yield begin
    for served, client in running:
        client.close()
        code = stop(served)
        # uvicorn re-raises the SIGTERM it handled after a clean shutdown (one process), or exits 0 (workers).
        assert code in (0, -signal.SIGTERM), served.log.read_text()


def _login(client: httpx.Client, username: str, forwarded_for: str) -> int:
    client.cookies.clear()  # no device cookie: the per-address limits apply
    r = client.post("/api/session", json={"username": username, **WRONG}, headers={"X-Forwarded-For": forwarded_for})
    assert r.status_code in (401, 429), r.text
    return r.status_code


def _window(limit: routes.service.Limit) -> int:
    return int(time.time()) // int(limit.window.total_seconds())


def _within_one_window(limit: routes.service.Limit, burst: Callable[[int], list[int]]) -> list[int]:
    """Run burst(round) inside one window of the (fixed-window) limit: once more if a window ended during it."""
    for attempt in range(2):
        start = _window(limit)
        codes = burst(attempt)
        if _window(limit) == start:
            return codes
    raise AssertionError("two rate-limit windows ended during two bursts")


# Fifty-odd logins at production hashing cost: on one database (the proxy handling is uvicorn's, before any).
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_by_default_a_spoofed_forwarded_for_does_not_escape_the_per_address_login_limit(server: Server) -> None:
    # FORWARDED_ALLOW_IPS=* is what the image used to set: it opens nothing any more.
    client = server(FORWARDED_ALLOW_IPS="*")
    limit = routes.LOGIN_PER_IP

    def burst(attempt: int) -> list[int]:
        # Another username and another made-up address for every attempt: only the per-address limit binds.
        return [
            _login(client, f"spray{attempt}x{i}", f"198.51.100.{i % 250 + 1}, 203.0.113.{attempt * 100 + i % 100}")
            for i in range(limit.attempts + 1)
        ]

    codes = _within_one_window(limit, burst)
    assert codes[:-1] == [401] * limit.attempts
    assert codes[-1] == 429, "every spoofed X-Forwarded-For was counted under the real peer, 127.0.0.1"


def test_by_default_one_username_from_many_spoofed_addresses_is_one_client(server: Server) -> None:
    client = server()
    limit = routes.LOGIN_PER_USER_IP

    def burst(attempt: int) -> list[int]:
        return [_login(client, f"guess{attempt}", f"203.0.113.{i + 1}") for i in range(limit.attempts + 1)]

    codes = _within_one_window(limit, burst)
    assert codes == [401] * limit.attempts + [429], "the made-up addresses all counted as 127.0.0.1"


def test_with_the_load_balancer_trusted_each_forwarded_client_is_counted_on_its_own(server: Server) -> None:
    client = server(STARTKLAAR_TRUSTED_PROXIES="127.0.0.1")
    limit = routes.LOGIN_PER_USER_IP  # per username and address: a few logins suffice

    def burst(attempt: int) -> list[int]:
        name = f"lb-user{attempt}"
        first = [_login(client, name, "203.0.113.7") for _ in range(limit.attempts + 1)]
        return [*first, _login(client, name, "203.0.113.8")]

    codes = _within_one_window(limit, burst)
    assert codes[: limit.attempts] == [401] * limit.attempts
    assert codes[limit.attempts] == 429, "203.0.113.7 reached its limit"
    assert codes[-1] == 401, "203.0.113.8, behind the same load balancer, is another client"


@pytest.mark.parametrize("value", ["*", "10.0.0.5, *", "loadbalancer", "10.0.0.0/33", "10.0.0.5;10.0.0.6"])
def test_settings_refuse_trusting_everyone_or_a_value_that_is_no_address(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STARTKLAAR_TRUSTED_PROXIES", value)
    with pytest.raises(ValidationError, match="STARTKLAAR_TRUSTED_PROXIES"):
        Settings()


def test_settings_trust_no_proxy_by_default_and_accept_addresses_and_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STARTKLAAR_TRUSTED_PROXIES", raising=False)
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")
    assert Settings().trusted_proxies == ""
    monkeypatch.setenv("STARTKLAAR_TRUSTED_PROXIES", " 10.0.0.5, 10.0.1.0/24 ,fd00::/8")
    assert Settings().trusted_proxies == "10.0.0.5,10.0.1.0/24,fd00::/8"


def test_serve_refuses_to_start_when_told_to_trust_every_proxy(tmp_path: Path) -> None:
    env = serve_env(tmp_path / "data", f"sqlite:///{tmp_path / 'x.db'}", STARTKLAAR_TRUSTED_PROXIES="*")
    out = subprocess.run([*STARTKLAAR, "serve", "--no-migrate"], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert "STARTKLAAR_TRUSTED_PROXIES" in out.stderr

"""Forwarded headers are believed only from the proxies the operator named (STARTKLAAR_TRUSTED_PROXIES).

By default no proxy is trusted: whoever sends `X-Forwarded-For` cannot pick their own client address, so the
per-address limits (here: failed logins per address) still count every attempt under the real peer. With the
load balancer's address configured, the header is believed and each forwarded client is counted on its own.
Real `startklaar serve` processes (uvicorn's own proxy handling, as in production), with production password
hashing: the logins are kept few.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from backend.accounts import routes
from backend.config import Settings

STARTKLAAR = [sys.executable, "-m", "backend.cli"]
WRONG = {"password": "dit-is-niet-het-wachtwoord"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(tmp_path: Path, db_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STARTKLAAR_") and k != "FORWARDED_ALLOW_IPS"}
    return env | {
        "STARTKLAAR_DATA_DIR": str(tmp_path / "data"),
        "STARTKLAAR_DATABASE_URL": db_url,
        "STARTKLAAR_EMBEDDED_WORKER": "false",
        **extra,
    }


Server = Callable[..., httpx.Client]


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[Server]:
    """start(**env) -> a client of a `startklaar serve` on a free port, on the test's (migrated) database."""
    procs: list[tuple[subprocess.Popen[bytes], Path]] = []
    clients: list[httpx.Client] = []

    def start(**extra: str) -> httpx.Client:
        port = _free_port()
        log_path = tmp_path / f"serve-{port}.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [*STARTKLAAR, "serve", "--no-migrate", "--host", "127.0.0.1", "--port", str(port)],
                env=_env(tmp_path, db_url, **extra),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        procs.append((proc, log_path))
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
        clients.append(client)
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log_path.read_text()
            try:
                if client.get("/healthz").status_code == 200:
                    return client
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not start:\n" + log_path.read_text()
            time.sleep(0.2)

    yield start
    for client in clients:
        client.close()
    for proc, log_path in procs:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        # uvicorn re-raises the SIGTERM it handled after a clean shutdown (one process), or exits 0 (workers).
        assert proc.returncode in (0, -signal.SIGTERM), log_path.read_text()


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
    env = _env(tmp_path, f"sqlite:///{tmp_path / 'x.db'}", STARTKLAAR_TRUSTED_PROXIES="*")
    out = subprocess.run([*STARTKLAAR, "serve", "--no-migrate"], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert "STARTKLAAR_TRUSTED_PROXIES" in out.stderr

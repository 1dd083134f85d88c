"""Fixtures for reminders: the real push service (npm web-push-testing), people with a plan, one worker round."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import http_ece
import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from backend.accounts.models import UserAccount
from backend.clock import today_nl
from backend.config import Settings
from backend.reminders import push
from backend.reminders.models import PushSubscription, Reminder
from backend.reminders.worker import Round, Worker
from tests.accounts.helpers import signup

TESTS = Path(__file__).resolve().parent.parent
SERVER_JS = TESTS / "node_modules" / "web-push-testing" / "src" / "bin" / "server.js"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PushService:
    """The web-push-testing server: a real push service that decrypts what it gets (all routes are POST)."""

    def __init__(self, base: str) -> None:
        self.base = base

    def subscribe(self, application_server_key: str) -> dict[str, Any]:
        r = httpx.post(
            f"{self.base}/subscribe",
            json={"userVisibleOnly": "true", "applicationServerKey": application_server_key},
            timeout=10,
        )
        assert r.status_code == 200, r.text
        return r.json()["data"]

    def notifications(self, client_hash: str) -> list[dict[str, Any]]:
        import json

        r = httpx.post(f"{self.base}/get-notifications", json={"clientHash": client_hash}, timeout=10)
        assert r.status_code == 200, r.text
        return [json.loads(m) for m in r.json()["data"]["messages"]]

    def expire(self, client_hash: str) -> None:
        httpx.post(f"{self.base}/expire-subscription/{client_hash}", timeout=10)


@pytest.fixture(scope="session")
def push_service() -> Iterator[PushService]:
    if not SERVER_JS.exists():
        pytest.fail("web-push-testing is missing: cd tests && npm install")
    port = free_port()
    proc = subprocess.Popen(["node", str(SERVER_JS), str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://localhost:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.post(f"{base}/status", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("web-push-testing did not start")
            time.sleep(0.1)
        yield PushService(base)
    finally:
        proc.terminate()
        proc.wait(10)


def run_round(
    settings: Settings,
    engine: Engine,
    now: datetime,
    *,
    stop: asyncio.Event | None = None,
    stop_now: bool = False,
    worker_id: str = "test-worker",
) -> Round:
    """One worker round at a faked `now` (claim, send, record), with a fresh sender."""

    async def go() -> Round:
        event = stop or asyncio.Event()
        if stop_now:
            event.set()
        async with push.PushSender(push.load_vapid(settings), concurrency=8) as sender:
            return await Worker(settings, engine, sender, worker_id=worker_id).run_once(now, event)

    return asyncio.run(go())


def birth_date_for(b18: date) -> str:
    """The birth date that makes `b18` the 18th birthday."""
    return b18.replace(year=b18.year - 18).isoformat()


def profile_body(b18: date, **extra: Any) -> dict[str, Any]:
    return {"birth_date": birth_date_for(b18), "gemeente_code": "GM0518", "situation": "thuis"} | extra


@pytest.fixture
def b18() -> date:
    """An 18th birthday 100 days from now: 'B-3m' reminders are a week or so ahead."""
    d = today_nl() + timedelta(days=100)
    return d if (d.month, d.day) != (2, 29) else d + timedelta(days=1)


@pytest.fixture
def jongere(client: TestClient, b18: date) -> TestClient:
    signup(client)
    r = client.put("/api/me/profile", json=profile_body(b18))
    assert r.status_code == 200, r.text
    return client


def reminder_rows(session: Session, **where: Any) -> list[Reminder]:
    session.expire_all()
    stmt = select(Reminder)
    for key, value in where.items():
        stmt = stmt.where(getattr(Reminder, key) == value)
    return list(session.exec(stmt.order_by(Reminder.id)).all())  # type: ignore[arg-type]


def public_key(client: TestClient) -> str:
    r = client.get("/api/push/public-key")
    assert r.status_code == 200, r.text
    return r.json()["public_key"]


def subscribe_device(client: TestClient, service: PushService) -> dict[str, Any]:
    """A device subscribed at the real push service with our key, and registered with the API."""
    data = service.subscribe(public_key(client))
    r = client.post("/api/me/push-subscriptions", json={"endpoint": data["endpoint"], "keys": data["keys"]})
    assert r.status_code == 201, r.text
    return data


# --- rows made directly (for the stub tests, the API tests and the concurrency test) ---------------------


@dataclass(frozen=True)
class DeviceKeys:
    """What a browser keeps for one push subscription: the private key and auth secret to decrypt with."""

    private_key: ec.EllipticCurvePrivateKey
    p256dh: str
    auth: str

    def decrypt(self, body: bytes) -> dict[str, Any]:
        import json

        return json.loads(
            http_ece.decrypt(body, private_key=self.private_key, auth_secret=push.b64url_decode(self.auth))
        )


def device_keys() -> DeviceKeys:
    key = ec.generate_private_key(ec.SECP256R1())
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return DeviceKeys(key, push.b64url(point), push.b64url(os.urandom(16)))


def make_user(session: Session, name: str | None = None) -> int:
    user = UserAccount(username=name or f"u{uuid.uuid4().hex[:12]}", password_hash="x", recovery_code_hash="x")
    session.add(user)
    session.flush()
    assert user.id is not None
    return user.id


def make_device(session: Session, user_id: int, endpoint: str, keys: DeviceKeys | None = None) -> DeviceKeys:
    keys = keys or device_keys()
    session.add(PushSubscription(user_id=user_id, endpoint=endpoint, p256dh=keys.p256dh, auth=keys.auth))
    session.flush()
    return keys


def make_reminder(
    session: Session,
    user_id: int,
    due_on: date,
    step_id: str = "zorgverzekering-kiezen",
    rule_id: str = "b-3m",
) -> Reminder:
    from backend.reminders.service import send_moment

    row = Reminder(
        user_id=user_id,
        step_id=step_id,
        rule_id=rule_id,
        due_on=due_on,
        send_at=send_moment(due_on),
        next_attempt_at=send_moment(due_on),
    )
    session.add(row)
    session.flush()
    return row

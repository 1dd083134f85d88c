"""Push-service answers the real test service never gives (429, 5xx, 413 ...), against a local stub;
headers (TTL, Urgency, Topic, VAPID per origin); stopping and crashing mid-batch."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from backend.clock import today_nl
from backend.config import Settings
from backend.reminders import push, service
from backend.reminders.models import PushSubscription, Reminder, ReminderDelivery
from tests.reminders.conftest import (
    device_keys,
    make_device,
    make_reminder,
    make_user,
    reminder_rows,
    run_round,
)
from tests.reminders.sink import Sink, scripted

DUE = today_nl() + timedelta(days=10)
AT = service.send_moment(DUE) + timedelta(minutes=1)  # 10:01 on the due day


def one_reminder(session: Session, endpoint: str) -> tuple[int, Reminder]:
    user = make_user(session)
    make_device(session, user, endpoint)
    row = make_reminder(session, user, DUE)
    session.commit()
    return user, row


def status_of(session: Session, reminder_id: int) -> Reminder:
    session.expire_all()
    row = session.get(Reminder, reminder_id)
    assert row is not None
    return row


def test_429_with_retry_after_and_503_are_retried_then_delivered(
    settings: Settings, engine: Engine, session: Session
) -> None:
    script = {"/p/1": [(429, {"Retry-After": "120"}), (503, {})]}
    with Sink(scripted(script)) as stub:
        _user, row = one_reminder(session, stub.url("/p/1"))
        rid = row.id
        assert rid is not None

        first = run_round(settings, engine, AT)
        assert first.retry == 1 and first.sent == 0
        r = status_of(session, rid)
        assert r.status == "pending" and r.attempts == 1 and r.lease_until is None
        assert r.next_attempt_at == AT + timedelta(seconds=120)  # Retry-After obeyed

        assert run_round(settings, engine, AT + timedelta(seconds=119)).pushes == 0
        second = run_round(settings, engine, AT + timedelta(seconds=121))
        assert second.retry == 1
        r = status_of(session, rid)
        wait = (r.next_attempt_at - (AT + timedelta(seconds=121))).total_seconds()
        assert 30 <= wait <= 90  # no Retry-After: exponential backoff (60 s) with jitter

        third = run_round(settings, engine, r.next_attempt_at)
        assert third.sent == 1
        r = status_of(session, rid)
        assert r.status == "sent" and r.attempts == 3 and r.finished_at is not None
        [delivery] = session.exec(select(ReminderDelivery)).all()
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("sent", 3, 201)
        assert len(stub.received()) == 3
        assert run_round(settings, engine, r.next_attempt_at + timedelta(hours=1)).pushes == 0
        assert len(stub.received()) == 3


def test_retry_after_as_http_date() -> None:
    assert push.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert push.parse_retry_after("30") == 30.0
    assert push.parse_retry_after("later") is None


@pytest.mark.parametrize("code", [413, 400, 401, 403])
def test_refusals_are_not_retried(settings: Settings, engine: Engine, session: Session, code: int) -> None:
    with Sink(scripted({"/p/1": [(code, {})] * 5})) as stub:
        _user, row = one_reminder(session, stub.url("/p/1"))
        assert row.id is not None
        done = run_round(settings, engine, AT)
        assert done.failed == 1 and done.retry == 0
        r = status_of(session, row.id)
        assert r.status == "failed"
        [delivery] = session.exec(select(ReminderDelivery)).all()
        assert (delivery.status, delivery.last_status_code) == ("failed", code)
        assert run_round(settings, engine, AT + timedelta(days=1)).pushes == 0
        assert len(stub.received()) == 1
        # The subscription stays: only 404/410 mean it is gone. The reminder is still in the inbox.
        assert session.exec(select(PushSubscription)).one()
        assert [i.id for i in service.inbox(session, r.user_id, AT).items] == [row.id]


def test_gives_up_after_five_attempts(settings: Settings, engine: Engine, session: Session) -> None:
    with Sink(scripted({"/p/1": [(503, {"Retry-After": "1"})] * 10})) as stub:
        _user, row = one_reminder(session, stub.url("/p/1"))
        assert row.id is not None
        now = AT
        for _ in range(service.MAX_ATTEMPTS):
            run_round(settings, engine, now)
            now = status_of(session, row.id).next_attempt_at + timedelta(seconds=1)
        r = status_of(session, row.id)
        assert r.status == "failed" and r.attempts == service.MAX_ATTEMPTS
        assert len(stub.received()) == service.MAX_ATTEMPTS
        assert session.exec(select(ReminderDelivery.status)).one() == "failed"


def test_404_deletes_the_subscription_by_endpoint(settings: Settings, engine: Engine, session: Session) -> None:
    with Sink(scripted({"/gone": [(404, {})]})) as stub:
        user, row = one_reminder(session, stub.url("/gone"))
        make_device(session, user, stub.url("/ok"))
        session.commit()
        done = run_round(settings, engine, AT)
        assert (done.gone, done.sent) == (1, 1)
        assert session.exec(select(PushSubscription.endpoint)).all() == [stub.url("/ok")]
        assert status_of(session, row.id or 0).status == "sent"


def _jwt_claims(authorization: str) -> dict[str, object]:
    token = authorization.split("t=", 1)[1].split(",", 1)[0]
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def test_headers_ttl_topic_urgency_and_vapid_per_origin(settings: Settings, engine: Engine, session: Session) -> None:
    with Sink() as stub:
        user = make_user(session)
        # Two devices on one push service, one on another origin (same stub, other host name).
        keys = make_device(session, user, stub.url("/a"))
        make_device(session, user, stub.url("/b"))
        make_device(session, user, stub.url("/c", host="localhost"))
        make_reminder(session, user, DUE, rule_id="b-3m")
        make_reminder(session, user, DUE + timedelta(days=5), rule_id="b-1m")  # the next one for this step
        session.commit()
        run_round(settings, engine, AT)
        got = {r.path: r for r in stub.received()}
        assert set(got) == {"/a", "/b", "/c"}
        for r in got.values():
            h = r.headers
            assert h["content-encoding"] == "aes128gcm"
            assert h["content-type"] == "application/octet-stream"
            assert h["urgency"] == "normal"
            assert h["topic"] == push.topic_for("zorgverzekering-kiezen") and len(h["topic"]) <= 32
            # TTL: until the next reminder for this step, 5 days later (never 0).
            assert int(h["ttl"]) == int((service.send_moment(DUE + timedelta(days=5)) - AT).total_seconds())
            assert h["authorization"].startswith("vapid t=")
        # One signed token per push-service origin, reused for the second push there.
        assert got["/a"].headers["authorization"] == got["/b"].headers["authorization"]
        assert got["/a"].headers["authorization"] != got["/c"].headers["authorization"]
        assert _jwt_claims(got["/a"].headers["authorization"])["aud"] == f"http://127.0.0.1:{stub.port}"
        assert _jwt_claims(got["/c"].headers["authorization"])["aud"] == f"http://localhost:{stub.port}"
        claims = _jwt_claims(got["/a"].headers["authorization"])
        assert claims["sub"] == "mailto:beheer@localhost"
        # The payload decrypts to the lock-screen-safe message.
        payload = keys.decrypt(got["/a"].body)
        assert payload["body"] == "Kies je zorgverzekering. Tik om te zien hoe." and payload["tag"].startswith("step-")


def test_ttl_without_a_next_reminder_is_a_week(settings: Settings, engine: Engine, session: Session) -> None:
    with Sink() as stub:
        one_reminder(session, stub.url("/a"))
        run_round(settings, engine, AT)
        assert int(stub.received()[0].headers["ttl"]) == service.TTL_MAX == 7 * 24 * 3600


def test_stop_releases_the_batch_untouched(settings: Settings, engine: Engine, session: Session) -> None:
    with Sink() as stub:
        _user, row = one_reminder(session, stub.url("/a"))
        done = run_round(settings, engine, AT, stop_now=True)
        assert (done.claimed, done.released, done.sent) == (1, 1, 0)
        r = status_of(session, row.id or 0)
        assert (r.status, r.attempts, r.lease_until, r.claimed_by) == ("pending", 0, None, None)
        assert stub.received() == []
        assert run_round(settings, engine, AT).sent == 1  # the next worker takes it at once


def test_a_crashed_workers_lease_expires_and_another_finishes(
    settings: Settings, engine: Engine, session: Session
) -> None:
    with Sink() as stub:
        user, row = one_reminder(session, stub.url("/first"))
        second = make_device(session, user, stub.url("/second"))
        session.commit()
        assert second
        # Worker A claims, sends to the first device, records only that, and dies.
        claimed = service.claim(session, "worker-a", AT, AT + timedelta(seconds=120), 10)
        batch = service.plan_batch(session, "worker-a", claimed, AT)
        first = next(j for j in batch.jobs if j.sub.endpoint.endswith("/first"))
        session.add(ReminderDelivery(reminder_id=row.id or 0, subscription_id=first.sub.id, status="sent", attempts=1))
        session.commit()

        # While the lease holds, nobody else touches it.
        assert run_round(settings, engine, AT + timedelta(seconds=60), worker_id="worker-b").claimed == 0
        done = run_round(settings, engine, AT + timedelta(seconds=121), worker_id="worker-b")
        assert done.claimed == 1 and done.pushes == 1 and done.sent == 1
        assert [r.path for r in stub.received()] == ["/second"]  # the first device is not pushed again
        assert status_of(session, row.id or 0).status == "sent"


def test_a_reminder_deleted_in_flight_is_no_problem(settings: Settings, engine: Engine, session: Session) -> None:
    with Sink() as stub:
        _user, row = one_reminder(session, stub.url("/a"))
        claimed = service.claim(session, "w", AT, AT + timedelta(seconds=120), 10)
        batch = service.plan_batch(session, "w", claimed, AT)
        session.commit()
        session.delete(session.get(Reminder, row.id))  # the step was ticked off meanwhile
        session.commit()
        results = [push.PushResult(push.SENT, 201) for _ in batch.jobs]
        recorded = service.record(session, "w", batch, results, AT)
        session.commit()
        assert recorded.missing == 1
        assert session.exec(select(ReminderDelivery)).all() == []


def test_only_due_reminders_are_claimed_in_order(settings: Settings, engine: Engine, session: Session) -> None:
    user = make_user(session)
    early = make_reminder(session, user, DUE, rule_id="b-3m")
    make_reminder(session, user, DUE + timedelta(days=1), rule_id="b-1m")
    session.commit()
    claimed = service.claim(session, "w", AT, AT + timedelta(seconds=60), 10)
    assert [c.id for c in claimed] == [early.id]
    session.commit()
    assert service.claim(session, "w2", AT, AT + timedelta(seconds=60), 10) == []  # leased


def test_yearly_reminder_rolls_forward_after_sending(
    jongere: object, settings: Settings, engine: Engine, session: Session, b18: date
) -> None:
    step = {"step_id": "belastingaangifte-doen", "rule_id": "mrt-01"}  # yearly on 1 March
    [row] = reminder_rows(session, **step)
    first = row.due_on
    assert (first.month, first.day) == (3, 1)
    with Sink() as stub:
        make_device(session, row.user_id, stub.url("/a"))
        session.commit()
        run_round(settings, engine, service.send_moment(first) + timedelta(minutes=1))
    rows = reminder_rows(session, **step)
    assert [(r.due_on, r.status) for r in rows] == [(first, "sent"), (date(first.year + 1, 3, 1), "pending")]


def test_quiet_hours_helpers() -> None:
    from datetime import time

    from backend.clock import NL

    assert service.in_quiet_hours(time(22, 0), time(21, 0), time(9, 0))
    assert service.in_quiet_hours(time(8, 59), time(21, 0), time(9, 0))
    assert not service.in_quiet_hours(time(9, 0), time(21, 0), time(9, 0))
    assert not service.in_quiet_hours(time(3, 0), time(9, 0), time(9, 0))  # equal: no quiet hours
    assert service.in_quiet_hours(time(13, 0), time(12, 0), time(14, 0))
    # Across the switch to winter time (25 October 2026): still 09:00 on the clock.
    night = datetime(2026, 10, 24, 23, 0, tzinfo=NL)
    assert service.quiet_hours_end(night, time(9, 0)).astimezone(NL) == datetime(2026, 10, 25, 9, 0, tzinfo=NL)


def test_sender_concurrency_is_limited(tmp_path: Path) -> None:
    """At most `concurrency` pushes are on the wire at once, through one shared client."""
    active = 0
    peak = 0

    async def go() -> None:
        nonlocal active, peak
        import httpx

        async def handler(request: httpx.Request) -> httpx.Response:
            nonlocal active, peak
            active += 1
            peak = max(peak, active)
            await asyncio.sleep(0.01)
            active -= 1
            return httpx.Response(201)

        client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        keys = device_keys()
        sub = push.Subscription(1, "https://push.example/x", keys.p256dh, keys.auth)
        keys_ = push.load_vapid(Settings(env="test", data_dir=tmp_path))
        async with push.PushSender(keys_, concurrency=3, client=client) as sender:
            results = await asyncio.gather(*(sender.send(sub, b"{}", ttl=60, topic="t") for _ in range(20)))
        assert all(r is not None and r.outcome == push.SENT for r in results)

    asyncio.run(go())
    assert peak == 3

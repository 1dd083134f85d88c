"""Reminders end to end against the real push service (web-push-testing decrypts what we send).

Time is faked by passing `now` to the worker round; reminder rows come from the real API (profile, progress).
"""

from __future__ import annotations

from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from backend.checklists.content import add_months
from backend.clock import NL, aware
from backend.config import Settings
from backend.reminders.models import PushSubscription, ReminderDelivery
from backend.reminders.service import inbox, send_moment
from tests.checklists.test_plan_api import tick
from tests.reminders.conftest import (
    PushService,
    profile_body,
    reminder_rows,
    run_round,
    subscribe_device,
)

STEP = "zorgverzekering-kiezen"


def test_the_right_reminder_at_the_right_time(
    jongere: TestClient, push_service: PushService, settings: Settings, engine: Engine, session: Session, b18: date
) -> None:
    device = subscribe_device(jongere, push_service)
    [row] = reminder_rows(session, step_id=STEP, rule_id="b-3m")
    assert row.due_on == add_months(b18, -3)
    assert row.status == "pending"
    at = send_moment(row.due_on)
    assert at.astimezone(NL).hour == 10 and at.tzinfo is not None
    due_that_day = reminder_rows(session, due_on=row.due_on)

    # A minute early: nothing of that moment goes out (only what was due before: overdue steps' reminders).
    before = [r for r in reminder_rows(session, status="pending") if aware(r.send_at) < at - timedelta(minutes=1)]
    assert all(r.rule_id.startswith("te-laat-") for r in before)
    assert run_round(settings, engine, at - timedelta(minutes=1)).pushes == len(before)
    early = push_service.notifications(device["clientHash"])
    assert len(early) == len(before) and all(m["url"] != f"/stappen/{STEP}" for m in early)

    done = run_round(settings, engine, at + timedelta(minutes=1))
    assert done.sent == len(due_that_day) >= 1
    messages = push_service.notifications(device["clientHash"])[len(early) :]
    assert len(messages) == len(due_that_day)
    mine = [m for m in messages if m["url"] == f"/stappen/{STEP}"]
    assert mine == [
        {
            "title": "Tijd voor een stap",
            "body": "Kies je zorgverzekering. Tik om te zien hoe.",
            "url": f"/stappen/{STEP}",
            "tag": f"step-{STEP}",
            "id": row.id,
            "kind": "reminder",
        }
    ]
    # Nothing about the person on the lock screen.
    for m in messages:
        text = str(m)
        assert profile_body(b18)["birth_date"] not in text and row.due_on.isoformat() not in text
        assert set(m) == {"title", "body", "url", "tag", "id", "kind"}

    # Nothing is sent twice.
    assert run_round(settings, engine, at + timedelta(minutes=5)).pushes == 0
    assert len(push_service.notifications(device["clientHash"])) == len(early) + len(due_that_day)
    [row] = reminder_rows(session, step_id=STEP, rule_id="b-3m")
    assert row.status == "sent" and row.lease_until is None

    # It is in the inbox too (the API's clock is real: the moment is a week ahead, so ask the service).
    assert all(i["id"] != row.id for i in jongere.get("/api/me/reminders").json()["items"])
    box = inbox(session, row.user_id, now=at + timedelta(minutes=5))
    assert [i.step_id for i in box.items if i.id == row.id] == [STEP]
    assert box.unread == len(early) + len(due_that_day)


def test_expired_subscription_is_deleted(
    jongere: TestClient, push_service: PushService, settings: Settings, engine: Engine, session: Session
) -> None:
    kept = subscribe_device(jongere, push_service)
    expired = subscribe_device(jongere, push_service)
    push_service.expire(expired["clientHash"])
    [row] = reminder_rows(session, step_id=STEP, rule_id="b-3m")

    done = run_round(settings, engine, send_moment(row.due_on) + timedelta(minutes=1))
    assert done.gone >= 1 and done.sent >= 1
    endpoints = set(session.exec(select(PushSubscription.endpoint)).all())
    assert endpoints == {kept["endpoint"]}
    assert any(m["url"] == f"/stappen/{STEP}" for m in push_service.notifications(kept["clientHash"]))
    [row] = reminder_rows(session, step_id=STEP, rule_id="b-3m")
    assert row.status == "sent"


def test_quiet_hours_hold_it_until_the_morning(
    jongere: TestClient, push_service: PushService, settings: Settings, engine: Engine, session: Session
) -> None:
    device = subscribe_device(jongere, push_service)
    [row] = reminder_rows(session, step_id=STEP, rule_id="b-3m")
    # The worker was down at 10:00 and comes back at 23:30: default quiet hours are 21:00-09:00.
    late = send_moment(row.due_on).astimezone(NL).replace(hour=23, minute=30)
    done = run_round(settings, engine, late)
    assert done.deferred >= 1 and done.pushes == 0
    assert push_service.notifications(device["clientHash"]) == []
    [row] = reminder_rows(session, step_id=STEP, rule_id="b-3m")
    morning = (late + timedelta(days=1)).replace(hour=9, minute=0)
    assert row.status == "pending" and row.lease_until is None
    assert row.next_attempt_at == morning

    assert run_round(settings, engine, morning - timedelta(minutes=1)).pushes == 0
    assert run_round(settings, engine, morning + timedelta(minutes=1)).sent >= 1
    assert any(m["url"] == f"/stappen/{STEP}" for m in push_service.notifications(device["clientHash"]))


def test_own_quiet_hours_over_ten_oclock(
    jongere: TestClient, push_service: PushService, settings: Settings, engine: Engine, session: Session
) -> None:
    device = subscribe_device(jongere, push_service)
    r = jongere.put("/api/me/reminder-preferences", json={"quiet_start": "08:00", "quiet_end": "12:30"})
    assert r.status_code == 200, r.text
    [row] = reminder_rows(session, step_id=STEP, rule_id="b-3m")
    at = send_moment(row.due_on)
    assert run_round(settings, engine, at + timedelta(minutes=1)).deferred >= 1
    [row] = reminder_rows(session, step_id=STEP, rule_id="b-3m")
    assert row.next_attempt_at.astimezone(NL).strftime("%H:%M") == "12:30"
    assert row.next_attempt_at.astimezone(NL).date() == row.due_on
    assert run_round(settings, engine, row.next_attempt_at + timedelta(seconds=1)).sent >= 1
    assert any(m["url"] == f"/stappen/{STEP}" for m in push_service.notifications(device["clientHash"]))


def test_done_step_cancels_its_pending_reminders(
    jongere: TestClient, push_service: PushService, settings: Settings, engine: Engine, session: Session
) -> None:
    device = subscribe_device(jongere, push_service)
    rows = reminder_rows(session, step_id=STEP)
    assert {r.rule_id for r in rows} == {"b-3m", "b-1m"}
    first = min(r.due_on for r in rows)
    assert tick(jongere, STEP, "done").status_code == 200
    assert reminder_rows(session, step_id=STEP) == []
    # not_for_me cancels too; opening the step again brings its reminders back.
    other = "studiefinanciering-aanvragen"
    assert reminder_rows(session, step_id=other)
    assert tick(jongere, other, "not_for_me", cid="cid-00002").status_code == 200
    assert reminder_rows(session, step_id=other) == []
    assert tick(jongere, other, "todo", cid="cid-00003", minutes=1).status_code == 200
    assert reminder_rows(session, step_id=other)

    run_round(settings, engine, send_moment(first) + timedelta(minutes=1))
    urls = [m["url"] for m in push_service.notifications(device["clientHash"])]
    assert f"/stappen/{STEP}" not in urls


def test_changed_vertrekdatum_moves_reminders_and_keeps_history(
    client: TestClient, push_service: PushService, settings: Settings, engine: Engine, session: Session, b18: date
) -> None:
    from tests.accounts.helpers import signup

    signup(client)
    leave = b18 + timedelta(days=30)
    assert client.put("/api/me/profile", json=profile_body(b18, vertrekdatum=leave.isoformat())).status_code == 200
    device = subscribe_device(client, push_service)
    step, rule = "adres-na-vertrek-regelen", "v-2m"
    [before] = reminder_rows(session, step_id=step, rule_id=rule)
    assert before.due_on == add_months(leave, -2)

    # It is sent, then the vertrekdatum moves a month later.
    run_round(settings, engine, send_moment(before.due_on) + timedelta(minutes=1))
    assert any(m["url"] == f"/stappen/{step}" for m in push_service.notifications(device["clientHash"]))
    moved = leave + timedelta(days=31)
    assert client.put("/api/me/profile", json=profile_body(b18, vertrekdatum=moved.isoformat())).status_code == 200
    rows = reminder_rows(session, step_id=step, rule_id=rule)
    assert [(r.due_on, r.status) for r in rows] == [
        (before.due_on, "sent"),  # the history stays (it is in the inbox)
        (add_months(moved, -2), "pending"),
    ]

    # A pending one moves: the old date is gone, the new one is there.
    other = {"step_id": "uitkering-papieren-verzamelen", "rule_id": "v-3m", "status": "pending"}
    old_due = reminder_rows(session, **other)[0].due_on
    later = moved + timedelta(days=20)
    assert client.put("/api/me/profile", json=profile_body(b18, vertrekdatum=later.isoformat())).status_code == 200
    [after] = reminder_rows(session, **other)
    assert after.due_on == add_months(later, -3) != old_due


def test_push_off_pause_and_leefgebieden_keep_it_in_the_inbox(
    jongere: TestClient, push_service: PushService, settings: Settings, engine: Engine, session: Session
) -> None:
    device = subscribe_device(jongere, push_service)
    [row] = reminder_rows(session, step_id=STEP, rule_id="b-3m")
    at = send_moment(row.due_on) + timedelta(minutes=1)
    cases = [
        {"push_enabled": False},
        {"paused_until": (row.due_on + timedelta(days=3)).isoformat()},
        {"leefgebieden": ["wonen", "inkomen"]},  # the step is in gezondheid
    ]
    for prefs in cases:
        with Session(engine) as s:  # back to pending, as if not handled yet
            r = s.get(type(row), row.id)
            assert r is not None
            r.status, r.finished_at, r.next_attempt_at = "pending", None, send_moment(row.due_on)
            s.add(r)
            s.commit()
        assert jongere.put("/api/me/reminder-preferences", json=prefs).status_code == 200
        done = run_round(settings, engine, at)
        assert done.inbox >= 1 and done.pushes == 0, prefs
        [r2] = reminder_rows(session, step_id=STEP, rule_id="b-3m")
        assert r2.status == "inbox", prefs
    assert push_service.notifications(device["clientHash"]) == []
    assert session.exec(select(ReminderDelivery)).all() == []

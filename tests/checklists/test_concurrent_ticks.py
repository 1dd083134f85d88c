"""Several devices tick the same step for the first time at the same moment: no error, one row, newest wins."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from backend.checklists import service
from backend.checklists.models import ProgressIn, StepProgress, UserProfile
from backend.checklists.plan import Profile, reminder_moments
from backend.checklists.service import content
from backend.reminders import service as reminders
from backend.reminders.models import Reminder
from tests.accounts.helpers import signup


def test_simultaneous_first_ticks_of_one_step(client: TestClient, engine: Engine) -> None:
    signup(client)
    r = client.put("/api/me/profile", json={"birth_date": "2008-05-01", "gemeente_code": "GM0518"})
    assert r.status_code == 200, r.text
    step = client.get("/api/me/plan").json()["items"][0]["step_id"]
    with Session(engine) as s:
        user_id = s.exec(select(UserProfile.user_id)).one()
    base = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    n = 8
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def tick(i: int) -> None:
        body = ProgressIn(
            state="done" if i == n - 1 else "skipped",
            client_updated_at=base + timedelta(seconds=i),
            client_id=f"device-{i:04d}",
        )
        try:
            with Session(engine) as s:
                barrier.wait(timeout=10)
                service.put_progress(s, user_id, step, body)
                s.commit()
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=tick, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    with Session(engine) as s:
        rows = s.exec(select(StepProgress).where(StepProgress.step_id == step)).all()
    assert len(rows) == 1
    assert rows[0].state == "done" and rows[0].client_id == f"device-{n - 1:04d}"  # the newest tick won


def test_a_tick_that_another_device_overtook_still_leaves_the_right_reminders(
    client: TestClient, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tick computes its reminders before it writes (short write transactions). When another device changed
    the plan's inputs in between (here: a new vertrekdatum), the tick computes them again while writing, so
    it never stores reminders for dates that no longer hold."""
    signup(client)
    old_v, new_v = date(2026, 9, 1), date(2027, 3, 1)
    profile = {"birth_date": "2008-05-01", "gemeente_code": "GM0518", "situation": "instelling"}
    assert client.put("/api/me/profile", json={**profile, "vertrekdatum": old_v.isoformat()}).status_code == 200
    today = date(2026, 6, 1)

    def moments(v: date) -> set[tuple[str, str, date]]:
        p = Profile(date(2008, 5, 1), "GM0518", v, "instelling")
        return {(m.step_id, m.rule_id, m.due) for m in reminder_moments(p, content(), {}, today)}

    # A step whose reminders move with the vertrekdatum: the race matters for it.
    step = sorted({m[0] for m in moments(old_v) ^ moments(new_v)})[0]
    with Session(engine) as s:
        user_id = s.exec(select(UserProfile.user_id)).one()
    now = datetime.now(UTC)
    with Session(engine) as s:  # done first: ticking it open again adds its reminders
        service.put_progress(s, user_id, step, ProgressIn(state="done", client_updated_at=now, client_id="phone-one-a"))
        s.commit()
    original = reminders.plan_recompute
    raced: list[bool] = []

    def overtaken(session: Session, uid: int, *args: Any, **kwargs: Any) -> reminders.Recompute:
        change = original(session, uid, *args, **kwargs)
        if not raced:  # the other phone's change lands between this tick's reads and its writes
            raced.append(True)
            other = TestClient(client.app, base_url="http://localhost")
            other.cookies.update(client.cookies)
            other.headers.update(client.headers)
            r = other.put("/api/me/profile", json={**profile, "vertrekdatum": new_v.isoformat()})
            assert r.status_code == 200, r.text
        return change

    monkeypatch.setattr(reminders, "plan_recompute", overtaken)
    with Session(engine) as s:
        later = now + timedelta(seconds=1)
        service.put_progress(
            s, user_id, step, ProgressIn(state="todo", client_updated_at=later, client_id="phone-one-b")
        )
        s.commit()
    monkeypatch.setattr(reminders, "plan_recompute", original)
    with Session(engine) as s:
        left = original(s, user_id)
        dues = s.exec(select(Reminder.due_on).where(Reminder.user_id == user_id, Reminder.step_id == step)).all()
    assert raced
    assert left.stale == [] and left.new == []  # the stored rows are what a fresh look at the new dates says
    assert dues  # the step is open again: it has its reminders, for the new vertrekdatum

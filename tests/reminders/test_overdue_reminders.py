"""Issue 12: a critical step whose date has passed keeps its reminders (every N days, at most M times),
instead of losing every reminder because its dates are in the past."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session

from backend.checklists.content import load_content
from backend.clock import today_nl
from backend.reminders import service
from backend.reminders.models import Reminder
from tests.accounts.helpers import signup
from tests.reminders.conftest import profile_body, reminder_rows


def test_overdue_critical_steps_get_te_laat_reminders_until_done(client: TestClient, session: Session) -> None:
    content = load_content()
    b18 = today_nl() - timedelta(days=20)  # just turned 18: the B-3m steps were due 3 months ago
    leaving = today_nl() + timedelta(days=200)
    signup(client)
    assert client.put("/api/me/profile", json=profile_body(b18, vertrekdatum=leaving.isoformat())).status_code == 200
    plan = {i["step_id"]: i for i in client.get("/api/me/plan").json()["items"]}
    overdue = [sid for sid, item in plan.items() if item["overdue"] and content.steps[sid].overdue is not None]
    assert overdue, "a late starter has overdue critical steps"
    step_id = overdue[0]
    rule = content.steps[step_id].overdue
    assert rule is not None
    rows = [r for r in reminder_rows(session, step_id=step_id) if r.rule_id.startswith("te-laat-")]
    due = date.fromisoformat(plan[step_id]["due_date"])
    assert len(rows) == 1, f"overdue reminders for {step_id} (due {due}): {rows}"
    k = int(rows[0].rule_id.removeprefix("te-laat-"))
    assert today_nl() <= rows[0].due_on == due + timedelta(days=k * rule.every_days)
    assert (rows[0].due_on - today_nl()).days <= rule.every_days
    # Done: the pending overdue reminders go.
    r = client.put(
        f"/api/me/progress/{step_id}",
        json={"state": "done", "client_updated_at": "2026-12-01T10:00:00+00:00", "client_id": "cid-000001"},
    )
    assert r.status_code == 200, r.text
    left = [r for r in reminder_rows(session, step_id=step_id, status="pending") if r.rule_id.startswith("te-laat-")]
    assert left == []


def test_overdue_reminders_stop_after_the_last_one_was_sent(client: TestClient, session: Session) -> None:
    content = load_content()
    b18 = today_nl() - timedelta(days=20)
    signup(client)
    body = profile_body(b18, vertrekdatum=(today_nl() + timedelta(days=200)).isoformat())
    assert client.put("/api/me/profile", json=body).status_code == 200
    rows = [r for r in reminder_rows(session) if r.rule_id.startswith("te-laat-")]
    assert rows
    step_id = rows[0].step_id
    rule = content.steps[step_id].overdue
    assert rule is not None
    # As if the worker had sent `times` of them already: no new one comes.
    for row in rows:
        if row.step_id == step_id:
            row.status = "sent"
            session.add(row)
    for n in range(rule.times - 1):
        session.add(make_sent(rows[0], n))
    session.commit()
    service.recompute(session, rows[0].user_id)
    session.commit()
    pending = [r for r in reminder_rows(session, step_id=step_id, status="pending") if r.rule_id.startswith("te-laat-")]
    assert pending == []


def make_sent(like: Reminder, n: int) -> Reminder:
    """An overdue reminder sent earlier (n+1 grid days before `like`)."""
    return Reminder(
        user_id=like.user_id,
        step_id=like.step_id,
        rule_id=f"te-laat-{100 + n}",
        due_on=like.due_on - timedelta(days=14 * (n + 1)),
        send_at=like.send_at - timedelta(days=14 * (n + 1)),
        next_attempt_at=like.send_at,
        status="sent",
    )

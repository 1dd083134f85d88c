"""Several devices tick the same step for the first time at the same moment: no error, one row, newest wins."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from backend.checklists import service
from backend.checklists.models import ProgressIn, StepProgress, UserProfile
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

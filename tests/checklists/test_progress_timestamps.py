"""Absurd device clocks (security review, issue 11): a tick stamped in year 1 or year 9999, with or without a
zone, is refused or capped with a Dutch message for that one tick; it never gives a 500 and never costs the
other ticks of a batch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backend.checklists.service import EARLIEST_TICK, MAX_CLOCK_SKEW
from tests.accounts.helpers import signup
from tests.checklists.test_plan_api import profile

WRONG_CLOCK = "Deze datum kan niet kloppen. Kijk of de datum en tijd op je telefoon goed staan."

# Too old to be a real tick: refused. Year 1 with a zone east of UTC is before datetime.min in UTC.
TOO_OLD = [
    "0001-01-01T00:00:00+01:00",
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00",
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00-01:00",
    "1970-01-01T00:00:00Z",
    "1999-12-31T22:59:59-01:00",  # 23:59:59 UTC
    -62135596800,  # year 1 as a Unix time (pydantic reads it as milliseconds: 1968)
]
# Later than the server's clock allows: capped at now + MAX_CLOCK_SKEW (the existing rule), never an error.
TOO_NEW = [
    "9999-12-31T23:59:59",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-01:00",  # after datetime.max in UTC
    "9999-12-31T23:59:59-14:00",
    "9999-12-31T23:59:59+14:00",
    "3000-01-01T00:00:00+05:30",
    253402300799000,  # 9999-12-31T23:59:59Z as a Unix time in milliseconds
]


@pytest.fixture
def jongere(client: TestClient) -> TestClient:
    signup(client)
    assert client.put("/api/me/profile", json=profile()).status_code == 200
    return client


def steps(client: TestClient, n: int) -> list[str]:
    found = [i["step_id"] for i in client.get("/api/me/plan").json()["items"] if not i["recurring"]]
    assert len(found) >= n
    return found[:n]


def now() -> str:
    return datetime.now(UTC).isoformat()


def item(step: str, when: Any, cid: str) -> dict[str, Any]:
    return {"step_id": step, "state": "done", "client_updated_at": when, "client_id": cid}


def test_earliest_tick_is_sane() -> None:
    assert datetime(2000, 1, 1, tzinfo=UTC) <= EARLIEST_TICK < datetime.now(UTC) - timedelta(days=365)


@pytest.mark.parametrize("when", TOO_OLD)
def test_single_tick_from_a_wrong_old_clock_is_422(jongere: TestClient, when: Any) -> None:
    (step,) = steps(jongere, 1)
    r = jongere.put(f"/api/me/progress/{step}", json=item(step, when, "c-old-01"))
    assert r.status_code == 422, r.text
    assert r.json()["fields"] == {"client_updated_at": WRONG_CLOCK}
    assert jongere.get("/api/me/progress").json() == []
    assert jongere.get("/api/me/plan").status_code == 200


@pytest.mark.parametrize("when", TOO_NEW)
def test_single_tick_from_a_clock_far_ahead_is_capped(jongere: TestClient, when: Any) -> None:
    (step,) = steps(jongere, 1)
    r = jongere.put(f"/api/me/progress/{step}", json=item(step, when, "c-new-01"))
    assert r.status_code == 200, r.text
    kept = datetime.fromisoformat(r.json()["client_updated_at"].replace("Z", "+00:00"))
    assert kept <= datetime.now(UTC) + MAX_CLOCK_SKEW
    assert jongere.get("/api/me/plan").status_code == 200
    assert [p["state"] for p in jongere.get("/api/me/progress").json()] == ["done"]


def test_batch_refuses_only_the_ticks_with_an_absurd_clock(jongere: TestClient) -> None:
    """The reproducer of the review: one tick in year 1 used to give a 500 and lose the whole batch."""
    good = steps(jongere, 2 + len(TOO_OLD) + len(TOO_NEW))
    batch = [item(good[0], now(), "batch-good-0")]
    batch += [item(good[1 + i], when, f"batch-old-{i}") for i, when in enumerate(TOO_OLD)]
    start = 1 + len(TOO_OLD)
    batch += [item(good[start + i], when, f"batch-new-{i}") for i, when in enumerate(TOO_NEW)]
    batch.append(item(good[-1], now(), "batch-good-1"))
    r = jongere.post("/api/me/progress", json=batch)
    assert r.status_code == 200, r.text
    results = r.json()
    assert len(results) == len(batch)
    assert results[0] == {"step_id": good[0], "applied": True, "state": "done", "error": None}
    assert results[-1] == {"step_id": good[-1], "applied": True, "state": "done", "error": None}
    for res in results[1:start]:
        assert res["applied"] is False and res["error"] == WRONG_CLOCK and res["state"] is None
    for res in results[start:-1]:
        assert res["applied"] is True and res["error"] is None
    saved = {p["step_id"] for p in jongere.get("/api/me/progress").json()}
    assert saved == {good[0], good[-1], *good[start:-1]}
    assert jongere.get("/api/me/plan").status_code == 200


def test_an_absurd_tick_does_not_override_a_real_one(jongere: TestClient) -> None:
    (step,) = steps(jongere, 1)
    assert jongere.put(f"/api/me/progress/{step}", json=item(step, now(), "real-tick-1") | {"state": "skipped"}).json()[
        "applied"
    ]
    r = jongere.post("/api/me/progress", json=[item(step, "0001-01-01T00:00:00+01:00", "old-tick-1")])
    assert r.status_code == 200 and r.json()[0]["error"] == WRONG_CLOCK
    assert [p["state"] for p in jongere.get("/api/me/progress").json()] == ["skipped"]

"""The plan API: profile, progress (idempotent, last writer wins), plan, content, and who may see what."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backend.clock import today_nl
from tests.accounts.helpers import new_client, signup


def years_ago(years: int, days: int = 0) -> str:
    t = today_nl()
    try:
        d = t.replace(year=t.year - years)
    except ValueError:  # 29 February
        d = t.replace(year=t.year - years, day=28)
    return (d - timedelta(days=days)).isoformat()


def profile(**extra: Any) -> dict[str, Any]:
    return {"birth_date": years_ago(17, 100), "gemeente_code": "GM0518", "situation": "instelling"} | extra


def stamp(minutes: int = 0) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


def tick(client: TestClient, step: str, state: str = "done", cid: str = "cid-00001", minutes: int = 0) -> Any:
    return client.put(
        f"/api/me/progress/{step}", json={"state": state, "client_updated_at": stamp(minutes), "client_id": cid}
    )


@pytest.fixture
def jongere(client: TestClient) -> TestClient:
    signup(client)
    assert client.put("/api/me/profile", json=profile()).status_code == 200
    return client


def first_step(client: TestClient) -> str:
    return client.get("/api/me/plan").json()["items"][0]["step_id"]


def test_content_catalogue_is_cacheable(client: TestClient) -> None:
    r = client.get("/api/content")
    assert r.status_code == 200
    body = r.json()
    assert body["steps"] and body["version"]
    etag = r.headers["etag"]
    assert "max-age" in r.headers["cache-control"]
    assert client.get("/api/content", headers={"If-None-Match": etag}).status_code == 304


def test_profile_then_plan(jongere: TestClient) -> None:
    assert jongere.get("/api/me/profile").json()["gemeente_code"] == "GM0518"
    plan = jongere.get("/api/me/plan").json()
    assert plan["items"]
    item = plan["items"][0]
    for key in ("step_id", "checklist", "leefgebied", "title", "due_date", "bucket", "state"):
        assert key in item
    assert {i["bucket"] for i in plan["items"]} <= {"nu", "binnenkort", "later", "klaar"}
    order = {"nu": 0, "binnenkort": 1, "later": 2, "klaar": 3}
    buckets = [order[i["bucket"]] for i in plan["items"]]
    assert buckets == sorted(buckets)
    assert plan["progress"]


def test_plan_comes_gzipped_to_phones_and_follows_each_tick(jongere: TestClient) -> None:
    """Phones ask for gzip; the compressed plan is kept, so it must change with the plan itself."""
    plain = jongere.get("/api/me/plan", headers={"Accept-Encoding": "identity"})
    packed = jongere.get("/api/me/plan", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert int(packed.headers["content-length"]) < len(plain.content) / 3
    for r in (plain, packed):
        assert "Accept-Encoding" in r.headers["vary"] and r.headers["cache-control"] == "private, no-cache"
    assert packed.json() == plain.json()

    step = plain.json()["items"][0]["step_id"]
    tick = {"state": "done", "client_updated_at": datetime.now(UTC).isoformat(), "client_id": "gzip-test-0001"}
    assert jongere.put(f"/api/me/progress/{step}", json=tick).status_code == 200
    again = jongere.get("/api/me/plan", headers={"Accept-Encoding": "gzip"})
    assert again.headers["content-encoding"] == "gzip"
    assert {i["step_id"]: i["state"] for i in again.json()["items"]}[step] == "done"
    assert again.json() == jongere.get("/api/me/plan", headers={"Accept-Encoding": "identity"}).json()


def test_plan_from_the_shortcut_looks_exactly_like_the_full_path(jongere: TestClient) -> None:
    """backend/checklists/shortcut.py answers cached plans before routing: same headers, same body."""
    from backend.checklists.shortcut import PlanShortcut

    shortcut = _middleware(jongere.app, PlanShortcut)
    for accept in ("identity", "gzip, deflate"):
        step = jongere.get("/api/me/plan").json()["items"][1]["step_id"]
        tick = {
            "state": "done",
            "client_updated_at": datetime.now(UTC).isoformat(),
            "client_id": f"shortcut-{accept[:4]}-01",
        }
        assert jongere.put(f"/api/me/progress/{step}", json=tick).status_code == 200
        before = shortcut.served
        full = jongere.get("/api/me/plan", headers={"Accept-Encoding": accept})  # the plan changed: full path
        assert shortcut.served == before
        fast = jongere.get("/api/me/plan", headers={"Accept-Encoding": accept})
        assert shortcut.served == before + 1, "the second read came from the shortcut"
        assert fast.status_code == full.status_code == 200
        # Every answer has its own request id (backend/requestlog.py); everything else is the same.
        assert fast.headers.pop("x-request-id") != full.headers.pop("x-request-id")
        assert dict(fast.headers) == dict(full.headers)
        assert fast.content == full.content
        assert {i["step_id"]: i["state"] for i in fast.json()["items"]}[step] == "done"
    # Without a valid session the shortcut answers nothing: the normal 401.
    jongere.cookies.set("sk_session", "not-a-session")
    assert jongere.get("/api/me/plan").status_code == 401


def _middleware(app: Any, kind: type) -> Any:
    layer = app.middleware_stack
    while layer is not None and not isinstance(layer, kind):
        layer = getattr(layer, "app", None)
    assert layer is not None, f"{kind.__name__} is in the middleware stack"
    return layer


def test_plan_without_profile_says_what_to_do(client: TestClient) -> None:
    signup(client)
    r = client.get("/api/me/plan")
    assert r.status_code == 404
    assert "gegevens" in r.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field", "text"),
    [
        ({"birth_date": "2008-02-30"}, "birth_date", "datum"),
        ({"birth_date": years_ago(11)}, "birth_date", "tussen 12 en 30"),
        ({"birth_date": years_ago(31)}, "birth_date", "tussen 12 en 30"),
        ({"gemeente_code": "GM9999"}, "gemeente_code", "gemeente"),
        ({"vertrekdatum": "2026-13-01"}, "vertrekdatum", "datum"),
        ({"vertrekdatum": "2099-01-01"}, "vertrekdatum", "vertrekdatum"),
        ({"situation": "op de maan"}, "situation", "Kies"),
        ({"future_gemeente_code": "GM9999"}, "future_gemeente_code", "gemeente"),
    ],
)
def test_bad_profile_gets_a_dutch_message_per_field(jongere: TestClient, body: dict, field: str, text: str) -> None:
    before = jongere.get("/api/me/profile").json()
    r = jongere.put("/api/me/profile", json=profile(**body))
    assert r.status_code == 422, r.text
    assert text.lower() in r.json()["fields"][field].lower()
    assert jongere.get("/api/me/profile").json() == before  # nothing saved was lost


def test_ticking_is_idempotent_and_last_writer_wins(jongere: TestClient) -> None:
    step = first_step(jongere)
    r = tick(jongere, step, "done", "phone-a-1")
    assert r.status_code == 200 and r.json()["applied"] is True
    again = tick(jongere, step, "done", "phone-a-1")
    assert again.json()["applied"] is False  # same client id: no change
    older = tick(jongere, step, "todo", "phone-b-1", minutes=-60)
    assert older.json()["applied"] is False and older.json()["state"] == "done"
    newer = tick(jongere, step, "not_for_me", "phone-b-2", minutes=1)
    assert newer.json()["applied"] is True
    item = next(i for i in jongere.get("/api/me/plan").json()["items"] if i["step_id"] == step)
    assert item["state"] == "not_for_me" and item["bucket"] == "klaar"


def test_a_clock_far_ahead_does_not_win_forever(jongere: TestClient) -> None:
    step = first_step(jongere)
    tick(jongere, step, "done", "fast-clock-1", minutes=60 * 24 * 365)
    r = tick(jongere, step, "todo", "normal-1", minutes=6)
    assert r.json()["applied"] is True


def test_unknown_step_or_state_is_422(jongere: TestClient) -> None:
    r = tick(jongere, "bestaat-niet")
    assert r.status_code == 422 and r.json()["fields"]["step_id"] == "Deze stap bestaat niet."
    r = jongere.put(
        f"/api/me/progress/{first_step(jongere)}",
        json={"state": "half", "client_updated_at": stamp(), "client_id": "c-123456"},
    )
    assert r.status_code == 422 and "state" in r.json()["fields"]


def test_batch_sync_applies_good_items_and_reports_bad_ones(jongere: TestClient) -> None:
    steps = [i["step_id"] for i in jongere.get("/api/me/plan").json()["items"][:2]]
    batch = [
        {"step_id": steps[0], "state": "done", "client_updated_at": stamp(), "client_id": "outbox-0001"},
        {"step_id": "bestaat-niet", "state": "done", "client_updated_at": stamp(), "client_id": "outbox-0002"},
        {"step_id": steps[1], "state": "skipped", "client_updated_at": stamp(), "client_id": "outbox-0003"},
    ]
    r = jongere.post("/api/me/progress", json=batch)
    assert r.status_code == 200, r.text
    results = r.json()
    assert [x["applied"] for x in results] == [True, False, True]
    assert results[1]["error"] == "Deze stap bestaat niet."
    saved = {p["step_id"]: p["state"] for p in jongere.get("/api/me/progress").json()}
    assert saved == {steps[0]: "done", steps[1]: "skipped"}
    assert [x["applied"] for x in jongere.post("/api/me/progress", json=batch).json()] == [False, False, False]


def test_anonymous_plan_needs_no_account_and_stores_nothing(client: TestClient) -> None:
    r = client.post("/api/plan", json={"profile": profile(), "progress": {}})
    assert r.status_code == 200, r.text
    step = r.json()["items"][0]["step_id"]
    r2 = client.post("/api/plan", json={"profile": profile(), "progress": {step: "done"}})
    assert next(i for i in r2.json()["items"] if i["step_id"] == step)["bucket"] == "klaar"
    bad = client.post("/api/plan", json={"profile": profile(gemeente_code="XX"), "progress": {}})
    assert bad.status_code == 422 and "gemeente_code" in bad.json()["fields"]


def test_vertrekdatum_adds_leaving_care_steps(client: TestClient) -> None:
    without = client.post("/api/plan", json={"profile": profile(situation="thuis")}).json()
    leaving = (today_nl() + timedelta(days=120)).isoformat()
    with_v = client.post("/api/plan", json={"profile": profile(vertrekdatum=leaving)}).json()
    assert len(with_v["items"]) > len(without["items"])


def test_nobody_reads_or_writes_another_persons_plan(client: TestClient) -> None:
    signup(client)
    client.put("/api/me/profile", json=profile())
    step = first_step(client)
    tick(client, step, "done", "anna-00001")
    other = new_client(client)
    signup(other)
    # Everything under /api/me is the caller's own: the other person sees their own (empty) data.
    assert other.get("/api/me/plan").status_code == 404
    assert other.get("/api/me/progress").json() == []
    tick(other, step, "todo", "bob-000001", minutes=5)
    assert {p["state"] for p in client.get("/api/me/progress").json()} == {"done"}
    anon = new_client(client)
    for method, path in [
        ("get", "/api/me/profile"),
        ("put", "/api/me/profile"),
        ("get", "/api/me/plan"),
        ("get", "/api/me/progress"),
        ("post", "/api/me/progress"),
        ("put", f"/api/me/progress/{step}"),
        ("get", "/api/me/readiness"),
    ]:
        kwargs = {"json": {}} if method in ("put", "post") else {}
        assert getattr(anon, method)(path, **kwargs).status_code == 401, path


def test_profile_date_of_29_february(jongere: TestClient) -> None:
    born = date(today_nl().year - 17, 2, 28)
    leap = next(y for y in range(born.year, born.year - 5, -1) if y % 4 == 0)
    r = jongere.put("/api/me/profile", json=profile(birth_date=f"{leap}-02-29"))
    assert r.status_code == 200, r.text
    # 18 years after a leap year is never a leap year: the birthday falls on 1 March.
    assert jongere.get("/api/me/plan").json()["birthday_18"] == f"{leap + 18}-03-01"


def test_plan_read_path_checks_the_session_like_every_other_route(jongere: TestClient, session) -> None:  # type: ignore[no-untyped-def]
    from sqlmodel import select

    from backend.accounts.models import AuthSession

    assert jongere.get("/api/me/plan").status_code == 200
    # A session not used for a while takes the full path (and is touched), then the fast path again.
    for row in session.exec(select(AuthSession)).all():
        row.last_used_at = row.last_used_at - timedelta(hours=1)
        session.add(row)
    session.commit()
    assert jongere.get("/api/me/plan").status_code == 200
    # An expired session is refused.
    for row in session.exec(select(AuthSession)).all():
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        session.add(row)
    session.commit()
    assert jongere.get("/api/me/plan").status_code == 401
    # Logged out: refused.
    signup(jongere)
    jongere.put("/api/me/profile", json=profile())
    assert jongere.delete("/api/session").status_code == 204
    assert jongere.get("/api/me/plan").status_code == 401


def test_future_gemeente_is_saved_and_the_same_one_means_none(jongere: TestClient) -> None:
    """Issue 12: where you will live after leaving (optional; bijstand and huur use it)."""
    r = jongere.put("/api/me/profile", json=profile(future_gemeente_code="gm0599"))
    assert r.status_code == 200, r.text
    assert jongere.get("/api/me/profile").json()["future_gemeente_code"] == "GM0599"
    same = jongere.put("/api/me/profile", json=profile(future_gemeente_code="GM0518"))
    assert same.json()["future_gemeente_code"] is None
    assert jongere.put("/api/me/profile", json=profile(future_gemeente_code="")).json()["future_gemeente_code"] is None


@pytest.mark.parametrize("situation", ["gezinshuis", "begeleid-wonen", "amv", "zelfstandig"])
def test_new_situations_are_accepted(jongere: TestClient, situation: str) -> None:
    r = jongere.put("/api/me/profile", json=profile(situation=situation))
    assert r.status_code == 200, r.text
    assert jongere.get("/api/me/plan").status_code == 200


def test_content_lists_the_situations_with_their_words(client: TestClient) -> None:
    body = client.get("/api/content").json()
    ids = [s["id"] for s in body["situations"]]
    assert ids == ["instelling", "pleeggezin", "gezinshuis", "begeleid-wonen", "amv", "thuis", "zelfstandig"]
    assert all(s["label"] for s in body["situations"])
    assert body["glossary"] and all(g["text"] for g in body["glossary"])


def test_plan_items_carry_the_amounts_of_their_own_date(jongere: TestClient) -> None:
    items = jongere.get("/api/me/plan").json()["items"]
    with_amounts = [i for i in items if i["amounts"]]
    assert with_amounts
    for item in with_amounts:
        assert all(text.startswith(("€", "ongeveer €")) for text in item["amounts"].values()), item


def test_readiness_is_the_callers_own(jongere: TestClient) -> None:
    leaving = (today_nl() + timedelta(days=20)).isoformat()
    jongere.put("/api/me/profile", json=profile(vertrekdatum=leaving))
    r = jongere.get("/api/me/readiness")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["vertrekdatum"] == leaving and body["ready"] is False
    assert {a["id"] for a in body["areas"]} >= {"wonen", "inkomen", "gezondheid"}
    assert jongere.get("/api/me/plan").json()["readiness"] == body
    other = new_client(jongere)
    signup(other)
    assert other.get("/api/me/readiness").status_code == 404  # no profile: not someone else's answer

"""Sharing with a mentor/JIM through the API: invites, consent per leefgebied, what a mentor may see, revoking,
messages and nudges, and the audit log. Every rule from the issue's authorization list has a test here."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from backend.accounts.models import UserAccount
from backend.clock import today_nl
from backend.config import Settings
from backend.reminders import push
from backend.reminders.worker import Worker
from backend.sharing import service
from backend.sharing.models import AuditEntry, Invite, Message, ShareLink
from tests.accounts.helpers import new_client, signup
from tests.reminders.conftest import PushService, profile_body, subscribe_device

FORBIDDEN_KEYS = {"birth_date", "birthday_16", "birthday_18", "gemeente_code", "vertrekdatum", "username", "situation"}


def keys_in(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_in(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_in(v)}
    return set()


def make_jongere(client: TestClient, name: str = "Sam", b18: date | None = None) -> TestClient:
    signup(client, display_name=name)
    b18 = b18 or today_nl() + timedelta(days=100)
    r = client.put("/api/me/profile", json=profile_body(b18))
    assert r.status_code == 200, r.text
    return client


def make_mentor(client: TestClient, name: str = "Mentor Anja") -> TestClient:
    other = new_client(client)
    body = signup(other, display_name=name, account_type="mentor")
    assert body["account"]["role"] == "mentor"
    return other


def invite(jongere: TestClient, leefgebieden: list[str], role: str = "jim") -> dict[str, Any]:
    r = jongere.post("/api/me/invites", json={"role": role, "leefgebieden": leefgebieden})
    assert r.status_code == 201, r.text
    return r.json()


def link(jongere: TestClient, mentor: TestClient, leefgebieden: list[str]) -> int:
    code = invite(jongere, leefgebieden)["code"]
    r = mentor.post(f"/api/invites/{code}/accept")
    assert r.status_code == 201, r.text
    return int(r.json()["link_id"])


@pytest.fixture
def jongere(client: TestClient) -> TestClient:
    return make_jongere(client)


@pytest.fixture
def mentor(client: TestClient) -> TestClient:
    return make_mentor(client)


# --- invites --------------------------------------------------------------------------------------------


def test_invite_code_link_and_expiry(jongere: TestClient, settings: Settings) -> None:
    made = invite(jongere, ["wonen", "inkomen"])
    assert re.fullmatch(f"[{service.CODE_ALPHABET}]{{8}}", made["code"])
    assert made["url"] == f"{settings.base_url.rstrip('/')}/meekijken/{made['code']}"
    expires = datetime.fromisoformat(made["expires_at"])
    assert timedelta(days=6, hours=23) < expires - datetime.now(UTC) <= timedelta(days=7)
    listed = jongere.get("/api/me/invites").json()
    assert [i["id"] for i in listed] == [made["id"]]
    assert listed[0]["leefgebieden"] == ["wonen", "inkomen"] and "code" not in listed[0]


def test_invite_validation(jongere: TestClient) -> None:
    r = jongere.post("/api/me/invites", json={"role": "jim", "leefgebieden": ["geheim"]})
    assert r.status_code == 422 and "geheim" in r.json()["fields"]["leefgebieden"]
    r = jongere.post("/api/me/invites", json={"role": "baas", "leefgebieden": []})
    assert r.status_code == 422 and "role" in r.json()["fields"]
    # Nothing ticked is allowed (the default): the mentor then sees no steps until the jongere ticks some.
    assert jongere.post("/api/me/invites", json={"role": "mentor"}).status_code == 201


def test_mentor_accepts_and_sees_only_what_is_shared(jongere: TestClient, mentor: TestClient) -> None:
    made = invite(jongere, ["wonen", "inkomen"])
    preview = mentor.get(f"/api/invites/{made['code'].lower()}")  # typed in lower case: still fine
    assert preview.status_code == 200, preview.text
    assert preview.json()["jongere_name"] == "Sam" and preview.json()["leefgebieden"] == ["wonen", "inkomen"]
    r = mentor.post(f"/api/invites/{made['code']}/accept")
    assert r.status_code == 201, r.text
    summary = r.json()
    assert summary["name"] == "Sam" and summary["age"] == 17 and summary["role_label"] == "JIM"
    assert [lg["leefgebied"] for lg in summary["leefgebieden"]] == ["wonen", "inkomen"]

    plan = mentor.get(f"/api/mentor/jongeren/{summary['link_id']}/plan")
    assert plan.status_code == 200
    # Never kept on the mentor's device (the service worker does not cache no-store answers).
    assert plan.headers["Cache-Control"] == "no-store"
    assert mentor.get("/api/mentor/jongeren").headers["Cache-Control"] == "no-store"
    body = plan.json()
    assert body["steps"] and {s["leefgebied"] for s in body["steps"]} <= {"wonen", "inkomen"}
    own = jongere.get("/api/me/plan").json()
    assert len(body["steps"]) == sum(1 for i in own["items"] if i["leefgebied"] in ("wonen", "inkomen"))
    assert not keys_in(body) & FORBIDDEN_KEYS
    assert not keys_in(mentor.get("/api/mentor/jongeren").json()) & FORBIDDEN_KEYS
    # The invite is used up and no longer listed.
    assert jongere.get("/api/me/invites").json() == []


def test_a_tick_shows_for_the_mentor(jongere: TestClient, mentor: TestClient) -> None:
    link_id = link(jongere, mentor, ["gezondheid"])
    step = next(s for s in mentor.get(f"/api/mentor/jongeren/{link_id}/plan").json()["steps"] if s["state"] == "todo")
    r = jongere.put(
        f"/api/me/progress/{step['step_id']}",
        json={"state": "done", "client_updated_at": datetime.now(UTC).isoformat(), "client_id": "tick-0001"},
    )
    assert r.status_code == 200, r.text
    after = mentor.get(f"/api/mentor/jongeren/{link_id}/plan").json()
    assert next(s for s in after["steps"] if s["step_id"] == step["step_id"])["state"] == "done"
    overview = mentor.get("/api/mentor/jongeren").json()[0]
    assert overview["leefgebieden"][0]["done"] == 1 and overview["last_activity"] is not None


@pytest.mark.parametrize("problem", ["used", "revoked", "expired", "unknown"])
def test_dead_invites_fail_with_a_clear_message(
    jongere: TestClient, mentor: TestClient, engine: Engine, problem: str
) -> None:
    made = invite(jongere, ["wonen"])
    code = made["code"]
    if problem == "used":
        assert mentor.post(f"/api/invites/{code}/accept").status_code == 201
        mentor = make_mentor(jongere, "Tweede")
    elif problem == "revoked":
        assert jongere.delete(f"/api/me/invites/{made['id']}").status_code == 204
    elif problem == "expired":
        with Session(engine) as s:
            row = s.get(Invite, made["id"])
            assert row is not None
            row.expires_at = datetime.now(UTC) - timedelta(minutes=1)
            s.add(row)
            s.commit()
    else:
        code = "ABCDEFGH" if code != "ABCDEFGH" else "HGFEDCBA"
    r = mentor.post(f"/api/invites/{code}/accept")
    expected = {"used": (410, "al gebruikt"), "revoked": (410, "ingetrokken"), "expired": (410, "verlopen")}
    status, words = expected.get(problem, (404, "kennen we niet"))
    assert r.status_code == status and words in r.json()["detail"]
    assert mentor.get("/api/mentor/jongeren").json() == []


def test_a_used_invite_cannot_be_revoked_and_others_invites_are_not_yours(
    jongere: TestClient, mentor: TestClient
) -> None:
    made = invite(jongere, ["wonen"])
    other = make_jongere(new_client(jongere), "Kim")
    assert other.delete(f"/api/me/invites/{made['id']}").status_code == 404
    assert mentor.delete(f"/api/me/invites/{made['id']}").status_code == 403
    mentor.post(f"/api/invites/{made['code']}/accept")
    r = jongere.delete(f"/api/me/invites/{made['id']}")
    assert r.status_code == 409 and "Wie kijkt mee" in r.json()["detail"]


def test_only_mentor_accounts_accept_and_never_twice(jongere: TestClient, mentor: TestClient) -> None:
    other = make_jongere(new_client(jongere), "Kim")
    made = invite(jongere, ["wonen"])
    r = other.post(f"/api/invites/{made['code']}/accept")
    assert r.status_code == 403 and "meekijk-account" in r.json()["detail"]
    assert mentor.post(f"/api/invites/{made['code']}/accept").status_code == 201
    second = invite(jongere, ["inkomen"])
    r = mentor.post(f"/api/invites/{second['code']}/accept")
    assert r.status_code == 409 and "al mee" in r.json()["detail"]
    # The second invite is still open for someone else.
    assert [i["id"] for i in jongere.get("/api/me/invites").json()] == [second["id"]]
    assert len(mentor.get("/api/mentor/jongeren").json()) == 1


def test_guessing_codes_is_rate_limited(jongere: TestClient, mentor: TestClient) -> None:
    real = invite(jongere, ["wonen"])["code"]
    for i in range(10):
        wrong = f"ZZZZZZ{service.CODE_ALPHABET[i]}{service.CODE_ALPHABET[i]}"
        assert mentor.post(f"/api/invites/{wrong}/accept").status_code == 404
    r = mentor.post(f"/api/invites/{real}/accept")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    # Another account (elsewhere) is not blocked by this one's guesses.
    assert make_mentor(jongere, "Ander").post(f"/api/invites/{real}/accept").status_code == 201


# --- consent: change, revoke, scope ---------------------------------------------------------------------


def test_changing_what_is_shared_takes_effect_on_the_next_request(jongere: TestClient, mentor: TestClient) -> None:
    link_id = link(jongere, mentor, ["wonen", "inkomen"])
    r = jongere.put(f"/api/me/followers/{link_id}", json={"leefgebieden": ["inkomen"], "nudges_enabled": False})
    assert r.status_code == 200 and r.json()["leefgebieden"] == ["inkomen"] and not r.json()["nudges_enabled"]
    steps = mentor.get(f"/api/mentor/jongeren/{link_id}/plan").json()["steps"]
    assert steps and {s["leefgebied"] for s in steps} == {"inkomen"}
    jongere.put(f"/api/me/followers/{link_id}", json={"leefgebieden": []})
    assert mentor.get(f"/api/mentor/jongeren/{link_id}/plan").json()["steps"] == []


def test_revoking_takes_effect_on_the_next_request(jongere: TestClient, mentor: TestClient) -> None:
    link_id = link(jongere, mentor, ["wonen"])
    assert mentor.get(f"/api/mentor/jongeren/{link_id}/plan").status_code == 200
    assert jongere.delete(f"/api/me/followers/{link_id}").status_code == 204
    r = mentor.get(f"/api/mentor/jongeren/{link_id}/plan")
    assert r.status_code == 404 and "niet (meer) mee" in r.json()["detail"]
    assert mentor.get("/api/mentor/jongeren").json() == []
    assert mentor.post(f"/api/mentor/jongeren/{link_id}/encouragements", json={"text": "Hoi"}).status_code == 404
    assert jongere.get("/api/me/followers").json()["followers"] == []


def test_a_mentor_may_stop_following(jongere: TestClient, mentor: TestClient) -> None:
    link_id = link(jongere, mentor, ["wonen"])
    assert mentor.delete(f"/api/mentor/jongeren/{link_id}").status_code == 204
    assert jongere.get("/api/me/followers").json()["followers"] == []
    assert "kijkt niet meer mee" in jongere.get("/api/me/audit").json()[0]["what"]


def test_mentors_see_only_their_own_jongeren(jongere: TestClient, mentor: TestClient) -> None:
    link_a = link(jongere, mentor, ["wonen"])
    other_mentor = make_mentor(jongere, "Ander")
    kim = make_jongere(new_client(jongere), "Kim")
    link_b = link(kim, other_mentor, ["inkomen"])
    assert [j["name"] for j in mentor.get("/api/mentor/jongeren").json()] == ["Sam"]
    assert [j["name"] for j in other_mentor.get("/api/mentor/jongeren").json()] == ["Kim"]
    for path in (f"/api/mentor/jongeren/{link_b}/plan",):
        assert mentor.get(path).status_code == 404
    assert mentor.post(f"/api/mentor/jongeren/{link_b}/encouragements", json={"text": "Hoi"}).status_code == 404
    assert mentor.delete(f"/api/mentor/jongeren/{link_b}").status_code == 404
    # Jongeren cannot use the mentor routes, and cannot touch another jongere's followers.
    assert jongere.get("/api/mentor/jongeren").status_code == 403
    assert jongere.get(f"/api/mentor/jongeren/{link_a}/plan").status_code == 403
    assert kim.put(f"/api/me/followers/{link_a}", json={"leefgebieden": ["wonen", "inkomen"]}).status_code == 404
    assert kim.delete(f"/api/me/followers/{link_a}").status_code == 404
    # A mentor has no followers list: never other mentors of the same jongere.
    assert mentor.get("/api/me/followers").status_code == 403
    assert mentor.post("/api/me/invites", json={"role": "jim", "leefgebieden": []}).status_code == 403


def test_anonymous_gets_401_everywhere(client: TestClient) -> None:
    calls = [
        ("post", "/api/me/invites"),
        ("get", "/api/me/invites"),
        ("delete", "/api/me/invites/1"),
        ("get", "/api/invites/ABCDEFGH"),
        ("post", "/api/invites/ABCDEFGH/accept"),
        ("get", "/api/me/followers"),
        ("put", "/api/me/followers/1"),
        ("delete", "/api/me/followers/1"),
        ("get", "/api/mentor/jongeren"),
        ("get", "/api/mentor/jongeren/1/plan"),
        ("post", "/api/mentor/jongeren/1/encouragements"),
        ("delete", "/api/mentor/jongeren/1"),
        ("get", "/api/me/audit"),
        ("get", "/api/me/messages"),
        ("post", "/api/me/messages/1/read"),
    ]
    for method, path in calls:
        kwargs: dict[str, Any] = (
            {"json": {"role": "jim", "leefgebieden": [], "text": "x"}} if method in ("post", "put") else {}
        )
        r = client.request(method.upper(), path, **kwargs)
        assert r.status_code == 401, (method, path, r.status_code)


def test_deleting_either_account_removes_the_link(jongere: TestClient, mentor: TestClient, engine: Engine) -> None:
    link_id = link(jongere, mentor, ["wonen"])
    kim = make_jongere(new_client(jongere), "Kim")
    link_kim = link(kim, mentor, ["wonen"])
    with Session(engine) as s:
        s.delete(s.exec(select(UserAccount).where(UserAccount.display_name == "Sam")).one())
        s.commit()
        assert s.get(ShareLink, link_id) is None and s.get(ShareLink, link_kim) is not None
        s.delete(s.exec(select(UserAccount).where(UserAccount.display_name == "Mentor Anja")).one())
        s.commit()
        assert s.get(ShareLink, link_kim) is None
        # Kim's audit stays hers: the mentor's entries keep the name they were written under.
        entries = s.exec(select(AuditEntry)).all()
        assert entries and all(e.actor_id is None and e.actor_name == "Mentor Anja" for e in entries)


# --- audit -------------------------------------------------------------------------------------------------


def test_every_mentor_read_is_logged_and_visible_to_the_jongere(
    jongere: TestClient, mentor: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "READ_WINDOW", timedelta(days=365_000))  # no window ends during the test
    link_id = link(jongere, mentor, ["wonen", "inkomen"])
    before = jongere.get("/api/me/audit").json()
    assert [e["action"] for e in before] == ["overzicht", "gekoppeld"]  # accepting shows the overview
    mentor.get("/api/mentor/jongeren")
    mentor.get(f"/api/mentor/jongeren/{link_id}/plan")
    entries = jongere.get("/api/me/audit").json()
    assert len(entries) == len(before) + 1  # the second overview counts in the first (test_audit_coalescing.py)
    newest = entries[0]
    assert newest["actor_name"] == "Mentor Anja" and newest["action"] == "plan"
    assert newest["what"] == "bekeek je stappen: Wonen, Inkomen & schulden"
    assert entries[1]["action"] == "overzicht" and entries[1]["times"] == 2
    assert entries[1]["what"] == "zag je voortgang in het overzicht: Wonen, Inkomen & schulden (2 keer)"
    follower = jongere.get("/api/me/followers").json()["followers"][0]
    assert follower["last_viewed_at"] == newest["created_at"]
    assert follower["name"] == "Mentor Anja" and follower["role_label"] == "JIM"
    # Nobody edits the audit log through the API.
    entry_id = newest["id"]
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        assert jongere.request(method, "/api/me/audit", json={}).status_code in (404, 405)
        assert jongere.request(method, f"/api/me/audit/{entry_id}", json={}).status_code in (404, 405)
    # The mentor sees nothing of the jongere's audit.
    assert all(e["action"] not in ("plan", "overzicht") for e in mentor.get("/api/me/audit").json())


# --- encouragements -------------------------------------------------------------------------------------


def test_encouragement_rules_and_inbox(jongere: TestClient, mentor: TestClient) -> None:
    link_id = link(jongere, mentor, ["wonen"])
    path = f"/api/mentor/jongeren/{link_id}/encouragements"
    assert mentor.post(path, json={"text": "x" * 281}).status_code == 422
    assert "280" in mentor.post(path, json={"text": "x" * 281}).json()["fields"]["text"]
    assert mentor.post(path, json={"text": "   "}).status_code == 422
    assert mentor.post(path, json={"text": "y" * 280}).status_code == 201
    r = mentor.post(path, json={"text": "Goed bezig!"})
    assert r.status_code == 201
    inbox = jongere.get("/api/me/messages").json()
    assert inbox["unread"] == 2 and inbox["items"][0]["text"] == "Goed bezig!"
    assert inbox["items"][0]["sender_name"] == "Mentor Anja" and inbox["items"][0]["kind"] == "encouragement"
    message_id = inbox["items"][0]["id"]
    assert mentor.post(f"/api/me/messages/{message_id}/read").status_code == 404  # not the mentor's
    assert jongere.post(f"/api/me/messages/{message_id}/read").json()["read"] is True
    assert jongere.get("/api/me/messages").json()["unread"] == 1
    # A jongere cannot send encouragements to herself through a link.
    assert jongere.post(path, json={"text": "Hoi"}).status_code == 403


def test_encouragements_are_limited_per_day(jongere: TestClient, mentor: TestClient) -> None:
    link_id = link(jongere, mentor, ["wonen"])
    path = f"/api/mentor/jongeren/{link_id}/encouragements"
    for _ in range(service.ENCOURAGEMENTS_PER_DAY.attempts):
        assert mentor.post(path, json={"text": "Hoi"}).status_code == 201
    r = mentor.post(path, json={"text": "Hoi"})
    assert r.status_code == 429 and "Retry-After" in r.headers


def _run_messages(settings: Settings, engine: Engine, now: datetime, scan: bool) -> int:
    async def go() -> int:
        async with push.PushSender(push.load_vapid(settings), concurrency=4) as sender:
            return await Worker(settings, engine, sender).run_messages(now, scan=scan)

    return asyncio.run(go())


def test_an_encouragement_arrives_as_a_push(
    jongere: TestClient, mentor: TestClient, engine: Engine, settings: Settings, push_service: PushService
) -> None:
    device = subscribe_device(jongere, push_service)
    link_id = link(jongere, mentor, ["wonen"])
    mentor.post(f"/api/mentor/jongeren/{link_id}/encouragements", json={"text": "Goed bezig met je huis!"})
    with Session(engine) as s:
        row = s.exec(select(Message)).one()
        when = row.push_after  # now, or the end of tonight's quiet hours
    assert _run_messages(settings, engine, when + timedelta(seconds=1), scan=False) == 1
    got = push_service.notifications(device["clientHash"])
    assert got[-1]["title"] == "Bericht van Mentor Anja" and got[-1]["body"] == "Goed bezig met je huis!"
    assert got[-1]["url"] == "/ik/berichten"
    with Session(engine) as s:
        assert s.exec(select(Message)).one().push_status == "sent"
    assert _run_messages(settings, engine, when + timedelta(seconds=2), scan=False) == 0  # once only


def test_no_push_at_night_or_when_push_is_off(jongere: TestClient, mentor: TestClient, engine: Engine) -> None:
    link_id = link(jongere, mentor, ["wonen"])
    night = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)  # 00:30 in Amsterdam
    with Session(engine) as s:
        user = s.get(UserAccount, s.get(ShareLink, link_id).jongere_id)  # type: ignore[union-attr]
        status, after = service._push_after(s, user.id, night)  # type: ignore[union-attr]
    assert status == "pending" and after == datetime(2026, 11, 21, 8, 0, tzinfo=UTC)  # 09:00 in Amsterdam
    jongere.put("/api/me/reminder-preferences", json={"push_enabled": False})
    mentor.post(f"/api/mentor/jongeren/{link_id}/encouragements", json={"text": "Hoi"})
    with Session(engine) as s:
        assert s.exec(select(Message)).one().push_status == "none"


# --- nudges ---------------------------------------------------------------------------------------------


def test_nudge_when_a_shared_step_is_two_weeks_overdue(client: TestClient, engine: Engine, settings: Settings) -> None:
    late = make_jongere(client, "Noor", b18=today_nl() - timedelta(days=60))
    mentor = make_mentor(client)
    quiet = make_mentor(client, "Stil")
    link_id = link(late, mentor, ["gezondheid", "inkomen"])
    link_quiet = link(late, quiet, ["gezondheid", "inkomen"])
    late.put(
        f"/api/me/followers/{link_quiet}", json={"leefgebieden": ["gezondheid", "inkomen"], "nudges_enabled": False}
    )
    steps = mentor.get(f"/api/mentor/jongeren/{link_id}/plan").json()["steps"]
    cutoff = today_nl() - timedelta(days=14)
    expected = [s for s in steps if s["overdue"] and date.fromisoformat(s["due_date"]) <= cutoff]
    assert expected, "the profile should give steps that are more than two weeks overdue"
    now = datetime.now(UTC)
    _run_messages(settings, engine, now, scan=True)
    got = mentor.get("/api/me/messages").json()
    assert got["unread"] == len(expected)
    assert {m["kind"] for m in got["items"]} == {"nudge"} and all("Noor" in m["text"] for m in got["items"])
    assert quiet.get("/api/me/messages").json()["unread"] == 0
    _run_messages(settings, engine, now, scan=True)  # a second scan adds nothing
    assert mentor.get("/api/me/messages").json()["unread"] == len(expected)
    # Nothing in the jongere's inbox, and nudges never reveal more than the shared step titles.
    assert late.get("/api/me/messages").json()["unread"] == 0


def test_accepting_an_invite_reads_only_that_jongere(jongere: TestClient, mentor: TestClient) -> None:
    kim = make_jongere(new_client(jongere), "Kim")
    link(kim, mentor, ["wonen"])
    before = kim.get("/api/me/audit").json()
    link(jongere, mentor, ["wonen"])
    assert kim.get("/api/me/audit").json() == before  # Sam's invite is no read of Kim's data
    assert [e["action"] for e in jongere.get("/api/me/audit").json()] == ["overzicht", "gekoppeld"]

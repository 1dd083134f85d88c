"""The reminders API: VAPID key, subscriptions (validation, SSRF, upsert), preferences, inbox; who may do what."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from backend.accounts.models import UserAccount
from backend.checklists.models import StepProgress, UserProfile
from backend.clock import now_utc, today_nl
from backend.config import ConfigError, Settings
from backend.errors import FieldErrors
from backend.reminders import push, service
from backend.reminders.models import PushKeys, PushSubscription, PushSubscriptionIn, Reminder
from tests.accounts.helpers import new_client, signup
from tests.reminders.conftest import device_keys, make_reminder, profile_body, reminder_rows

# --- VAPID ------------------------------------------------------------------------------------------------


def test_public_key_is_an_uncompressed_p256_point_and_stable(client: TestClient, settings: Settings) -> None:
    r = client.get("/api/push/public-key")  # no login needed
    assert r.status_code == 200
    key = r.json()["public_key"]
    raw = push.b64url_decode(key)
    assert len(raw) == 65 and raw[0] == 4 and "=" not in key
    assert client.get("/api/push/public-key").json()["public_key"] == key
    # Made on first run, kept in the data directory, readable by the owner only.
    path = settings.data_dir / push.KEY_FILE
    assert path.stat().st_mode & 0o077 == 0
    push._load_vapid.cache_clear()
    assert push.load_vapid(settings).public_key == key


def test_keys_from_settings(tmp_path: Path) -> None:
    private, public = push.generate_keys()
    s = Settings(env="test", data_dir=tmp_path, vapid_private_key=private, vapid_public_key=public)
    assert push.load_vapid(s).public_key == public
    assert not (tmp_path / push.KEY_FILE).exists()
    _other_private, other_public = push.generate_keys()
    with pytest.raises(ConfigError, match="VAPID_PUBLIC_KEY"):
        push.load_vapid(
            Settings(env="test", data_dir=tmp_path, vapid_private_key=private, vapid_public_key=other_public)
        )
    with pytest.raises(ConfigError, match="VAPID_PRIVATE_KEY"):
        push.load_vapid(Settings(env="test", data_dir=tmp_path, vapid_private_key="niet-goed"))


def test_vapid_subject(tmp_path: Path) -> None:
    assert (
        push.default_subject(Settings(base_url="https://startklaar.example.nl/app")) == "https://startklaar.example.nl"
    )
    assert push.default_subject(Settings(base_url="http://localhost:8000")) == "mailto:beheer@localhost"
    assert push.default_subject(Settings(vapid_subject="mailto:team@example.nl")) == "mailto:team@example.nl"
    with pytest.raises(ValueError, match="mailto"):
        Settings(vapid_subject="team@example.nl")


def test_cli_vapid_generate_prints_a_pair() -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "backend.cli", "vapid", "generate"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    lines = dict(line.split("=", 1) for line in out.stdout.strip().splitlines())
    private, public = lines["STARTKLAAR_VAPID_PRIVATE_KEY"], lines["STARTKLAAR_VAPID_PUBLIC_KEY"]
    assert len(push.b64url_decode(private)) == 32 and len(push.b64url_decode(public)) == 65
    assert push._load_vapid(private, public, "mailto:a@localhost", "/nonexistent").public_key == public


# --- subscriptions ------------------------------------------------------------------------------------------


def sub_body(endpoint: str = "https://push.example.net/abc", **keys: str) -> dict[str, Any]:
    k = device_keys()
    return {"endpoint": endpoint, "keys": {"p256dh": k.p256dh, "auth": k.auth} | keys}


def owners(session: Session) -> dict[str, int]:
    session.expire_all()
    return {s.endpoint: s.user_id for s in session.exec(select(PushSubscription)).all()}


def test_subscribe_upserts_by_endpoint_and_moves_between_people(client: TestClient, session: Session) -> None:
    assert client.post("/api/me/push-subscriptions", json=sub_body()).status_code == 401
    signup(client)
    body = sub_body()
    r = client.post("/api/me/push-subscriptions", json=body | {"expirationTime": None})
    assert r.status_code == 201, r.text
    assert r.json()["endpoint"] == body["endpoint"]
    again = sub_body()  # the same device subscribes again with new keys
    assert client.post("/api/me/push-subscriptions", json=again).status_code == 201
    rows = session.exec(select(PushSubscription)).all()
    assert len(rows) == 1 and rows[0].p256dh == again["keys"]["p256dh"]
    first_owner = rows[0].user_id
    assert client.post("/api/me/push-subscriptions", json=sub_body("https://push.example.net/2")).status_code == 201
    assert len(owners(session)) == 2

    # Someone else logs in on that device: the endpoint moves to them.
    other = new_client(client)
    signup(other)
    assert other.post("/api/me/push-subscriptions", json=sub_body()).status_code == 201
    now = owners(session)
    assert now[body["endpoint"]] != first_owner and now["https://push.example.net/2"] == first_owner


def test_unsubscribe_touches_only_your_own_device(client: TestClient, session: Session) -> None:
    signup(client)
    assert client.post("/api/me/push-subscriptions", json=sub_body()).status_code == 201
    other = new_client(client)
    assert other.request("DELETE", "/api/me/push-subscriptions", json={"endpoint": "x"}).status_code == 401
    signup(other)
    r = other.request("DELETE", "/api/me/push-subscriptions", json={"endpoint": "https://push.example.net/abc"})
    assert r.status_code == 204
    assert list(owners(session)) == ["https://push.example.net/abc"]  # not touched
    # CSRF header required on writes.
    token = client.headers.pop("X-CSRF-Token")
    r = client.request("DELETE", "/api/me/push-subscriptions", json={"endpoint": "https://push.example.net/abc"})
    assert r.status_code == 403
    assert client.post("/api/me/push-subscriptions", json=sub_body("https://push.example.net/n")).status_code == 403
    client.headers["X-CSRF-Token"] = token
    r = client.request("DELETE", "/api/me/push-subscriptions", json={"endpoint": "https://push.example.net/abc"})
    assert r.status_code == 204
    assert owners(session) == {}


def test_at_most_ten_devices_per_person(client: TestClient, session: Session) -> None:
    signup(client)
    for i in range(12):
        assert (
            client.post("/api/me/push-subscriptions", json=sub_body(f"https://push.example.net/{i}")).status_code == 201
        )
    kept = set(owners(session))
    assert len(kept) == service.MAX_DEVICES
    assert "https://push.example.net/11" in kept and "https://push.example.net/0" not in kept


@pytest.mark.parametrize(
    ("change", "field", "text"),
    [
        ({"endpoint": "ftp://push.example.net/x"}, "endpoint", "https://"),
        ({"endpoint": "https://push.example.net/" + "a" * 2048}, "endpoint", "te lang"),
        ({"endpoint": "https://user:pw@push.example.net/x"}, "endpoint", "geen geldig"),
        ({"endpoint": "https://push.example.net/a b"}, "endpoint", "geen geldig"),
        ({"keys": {"p256dh": "AAAA", "auth": device_keys().auth}}, "keys.p256dh", "65 bytes"),
        ({"keys": {"p256dh": push.b64url(b"\x04" + b"\x01" * 64), "auth": device_keys().auth}}, "keys.p256dh", "65"),
        ({"keys": {"p256dh": device_keys().p256dh, "auth": push.b64url(b"x" * 15)}}, "keys.auth", "16 bytes"),
        ({"keys": {"p256dh": device_keys().p256dh, "auth": "!!!"}}, "keys.auth", "16 bytes"),
    ],
)
def test_subscription_validation_in_dutch(client: TestClient, change: dict[str, Any], field: str, text: str) -> None:
    signup(client)
    r = client.post("/api/me/push-subscriptions", json=sub_body() | change)
    assert r.status_code == 422, r.text
    assert text in r.json()["fields"][field]


def test_missing_keys_are_a_field_error(client: TestClient) -> None:
    signup(client)
    r = client.post("/api/me/push-subscriptions", json={"endpoint": "https://push.example.net/x"})
    assert r.status_code == 422 and "keys" in r.json()["fields"]


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://push.example.net/x",  # not https
        "https://127.0.0.1/x",
        "https://localhost:8443/x",
        "https://10.1.2.3/x",
        "https://192.168.1.10/x",
        "https://169.254.169.254/latest/meta-data",  # cloud metadata
        "https://[::1]/x",
        "https://[fe80::1]/x",
        "https://[::ffff:127.0.0.1]/x",
        "https://0.0.0.0/x",
        "https://100.64.0.1/x",  # carrier-grade NAT
        "https://does-not-resolve.invalid/x",
    ],
)
def test_production_refuses_private_addresses(endpoint: str) -> None:
    k = device_keys()
    body = PushSubscriptionIn(endpoint=endpoint, keys=PushKeys(p256dh=k.p256dh, auth=k.auth))
    with pytest.raises(FieldErrors) as err:
        service.check_subscription(body, production=True)
    assert "endpoint" in err.value.fields


def test_production_accepts_public_https() -> None:
    k = device_keys()
    body = PushSubscriptionIn(endpoint="https://93.184.216.34/push/abc", keys=PushKeys(p256dh=k.p256dh, auth=k.auth))
    assert service.check_subscription(body, production=True)[0] == "https://93.184.216.34/push/abc"
    # Outside production the local test push service may be used.
    local = PushSubscriptionIn(endpoint="http://localhost:9999/notify/x", keys=body.keys)
    assert service.check_subscription(local, production=False)[0].startswith("http://localhost")


# --- preferences ---------------------------------------------------------------------------------------------


def test_preferences_defaults_and_changes(client: TestClient) -> None:
    assert client.get("/api/me/reminder-preferences").status_code == 401
    signup(client)
    r = client.get("/api/me/reminder-preferences")
    assert r.status_code == 200
    prefs = r.json()
    assert prefs["push_enabled"] is True
    assert (prefs["quiet_start"], prefs["quiet_end"]) == ("21:00", "09:00")
    assert prefs["paused_until"] is None and prefs["devices"] == 0
    all_ids = [o["id"] for o in prefs["options"]]
    assert prefs["leefgebieden"] == all_ids and "gezondheid" in all_ids

    week = (today_nl() + timedelta(days=7)).isoformat()
    change = {"push_enabled": False, "quiet_start": "22:30", "quiet_end": "07:15", "paused_until": week}
    r = client.put("/api/me/reminder-preferences", json=change | {"leefgebieden": ["wonen", "inkomen"]})
    assert r.status_code == 200, r.text
    got = client.get("/api/me/reminder-preferences").json()
    assert {k: got[k] for k in change} == change
    assert got["leefgebieden"] == ["wonen", "inkomen"]
    # A pause that is over counts as no pause (sending back an old GET must not fail).
    r = client.put("/api/me/reminder-preferences", json={"paused_until": (today_nl() - timedelta(days=1)).isoformat()})
    assert r.status_code == 200 and r.json()["paused_until"] is None
    assert r.json()["leefgebieden"] == all_ids  # a PUT sets everything; left out means the default


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"quiet_start": "25:00"}, "quiet_start"),
        ({"quiet_end": "9"}, "quiet_end"),
        ({"paused_until": (today_nl() + timedelta(days=400)).isoformat()}, "paused_until"),
        ({"leefgebieden": ["wonen", "maan"]}, "leefgebieden"),
    ],
)
def test_preferences_validation(client: TestClient, change: dict[str, Any], field: str) -> None:
    signup(client)
    r = client.put("/api/me/reminder-preferences", json=change)
    assert r.status_code == 422
    assert field in r.json()["fields"]


def test_preferences_need_csrf_and_are_per_person(client: TestClient) -> None:
    signup(client)
    token = client.headers.pop("X-CSRF-Token")
    assert client.put("/api/me/reminder-preferences", json={"push_enabled": False}).status_code == 403
    client.headers["X-CSRF-Token"] = token
    assert client.put("/api/me/reminder-preferences", json={"push_enabled": False}).status_code == 200
    other = new_client(client)
    signup(other)
    assert other.get("/api/me/reminder-preferences").json()["push_enabled"] is True


# --- inbox ---------------------------------------------------------------------------------------------------


def test_inbox_shows_due_reminders_of_this_person_only(client: TestClient, session: Session) -> None:
    assert client.get("/api/me/reminders").status_code == 401
    me = signup(client)
    other = new_client(client)
    signup(other)
    ids = {u.username: u.id for u in session.exec(select(UserAccount)).all()}
    mine = ids[me["username"]]
    theirs = next(i for n, i in ids.items() if n != me["username"])
    today = today_nl()
    older = make_reminder(session, mine, today - timedelta(days=3), rule_id="b-3m")
    newer = make_reminder(session, mine, today - timedelta(days=1), rule_id="b-1m")
    future = make_reminder(session, mine, today + timedelta(days=3), step_id="stemmen", rule_id="b")
    foreign = make_reminder(session, theirs, today - timedelta(days=1))
    newer.status = "inbox"
    session.add(newer)
    session.commit()
    ids_ = (older.id, newer.id, future.id, foreign.id)

    box = client.get("/api/me/reminders").json()
    assert [i["id"] for i in box["items"]] == [ids_[1], ids_[0]]  # newest first; not the future one
    assert box["unread"] == 2
    item = box["items"][0]
    assert item["step_id"] == "zorgverzekering-kiezen" and item["read"] is False and item["status"] == "inbox"
    assert item["title"] == "Tijd voor een stap" and item["url"] == "/stappen/zorgverzekering-kiezen"
    assert item["body"] == "Kies je zorgverzekering. Tik om te zien hoe." and item["due_at"]

    # Marking read: only your own, only due ones; CSRF needed.
    token = client.headers.pop("X-CSRF-Token")
    assert client.post(f"/api/me/reminders/{ids_[0]}/read").status_code == 403
    client.headers["X-CSRF-Token"] = token
    r = client.post(f"/api/me/reminders/{ids_[0]}/read")
    assert r.status_code == 200 and r.json()["read"] is True
    assert client.post(f"/api/me/reminders/{ids_[0]}/read").status_code == 200  # twice is fine
    assert client.get("/api/me/reminders").json()["unread"] == 1
    assert client.post(f"/api/me/reminders/{ids_[3]}/read").status_code == 404  # someone else's
    assert client.post(f"/api/me/reminders/{ids_[2]}/read").status_code == 404  # not due yet
    assert client.post("/api/me/reminders/999999/read").status_code == 404
    session.expire_all()
    foreign_row = session.get(Reminder, ids_[3])
    assert foreign_row is not None and foreign_row.read_at is None
    assert [i["id"] for i in other.get("/api/me/reminders").json()["items"]] == [ids_[3]]
    anonymous = new_client(client)
    assert anonymous.post(f"/api/me/reminders/{ids_[0]}/read").status_code == 401


def test_inbox_limit(client: TestClient) -> None:
    signup(client)
    assert client.get("/api/me/reminders?limit=0").status_code == 422
    assert client.get("/api/me/reminders?limit=5").status_code == 200


# --- recompute through the API ----------------------------------------------------------------------------------


def test_profile_and_progress_changes_recompute_idempotently(client: TestClient, session: Session) -> None:
    signup(client)
    b18 = today_nl() + timedelta(days=100)
    assert client.put("/api/me/profile", json=profile_body(b18)).status_code == 200
    first = {(r.step_id, r.rule_id, r.due_on) for r in reminder_rows(session)}
    assert first and all(r.status == "pending" for r in reminder_rows(session))
    assert all(r.send_at > now_utc() for r in reminder_rows(session))
    assert client.put("/api/me/profile", json=profile_body(b18)).status_code == 200  # same again
    assert {(r.step_id, r.rule_id, r.due_on) for r in reminder_rows(session)} == first
    assert len(reminder_rows(session)) == len(first)


def test_a_due_but_unsent_reminder_survives_a_recompute(session: Session) -> None:
    """Waiting for the end of quiet hours past midnight must not make it disappear on the next change."""
    user = UserAccount(username="wacht", password_hash="x", recovery_code_hash="x")
    session.add(user)
    session.flush()
    assert user.id is not None
    b18 = today_nl() + timedelta(days=100)
    session.add(UserProfile(user_id=user.id, birth_date=b18.replace(year=b18.year - 18), gemeente_code="GM0518"))
    service.recompute(session, user.id)
    [row] = reminder_rows(session, user_id=user.id, step_id="zorgverzekering-kiezen", rule_id="b-3m")
    key = (row.step_id, row.rule_id, row.due_on)
    # The day after its moment, still pending (e.g. quiet hours until 09:00), a change recomputes.
    next_day = service.send_moment(row.due_on) + timedelta(days=1)
    service.recompute(session, user.id, next_day)
    assert key in {(r.step_id, r.rule_id, r.due_on) for r in reminder_rows(session, user_id=user.id)}
    # ... but ticking the step off still cancels it.
    session.add(
        StepProgress(user_id=user.id, step_id=row.step_id, state="done", client_updated_at=next_day, client_id="x" * 8)
    )
    service.recompute(session, user.id, next_day)
    assert key not in {(r.step_id, r.rule_id, r.due_on) for r in reminder_rows(session, user_id=user.id)}


def test_openapi_lists_the_new_paths(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for p in (
        "/api/push/public-key",
        "/api/me/push-subscriptions",
        "/api/me/reminder-preferences",
        "/api/me/reminders",
        "/api/me/reminders/{reminder_id}/read",
    ):
        assert p in paths

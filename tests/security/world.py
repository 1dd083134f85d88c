"""A small, complete world for the security tests: one person per role, with real objects between them.

Everybody is made through the services (not the HTTP API), so building a world costs no rate-limited sign-ups
or logins and takes a few tens of milliseconds. A world is "fresh" state: new accounts, sessions, link, invite,
message, reminder, push device, editors and API client. The sociale kaart itself (gemeente A and B, their
published versions and a service in A) is made once per database and shared by the worlds built on it.

Each caller sends its own requests from its own client address (``TestClient(client=...)``), so the per-IP
rate limits of sign-up, corrections and invites never mix up the roles or the cases.
"""

from __future__ import annotations

import base64
import itertools
import os
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from backend.accounts import service as accounts
from backend.accounts.deps import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE
from backend.accounts.models import UserAccount, utcnow
from backend.checklists import service as checklists
from backend.checklists.models import ProfileIn
from backend.clock import today_nl
from backend.kaart import service as kaart
from backend.reminders import service as reminders
from backend.reminders.models import SENT, PushKeys, PushSubscriptionIn, Reminder
from backend.sharing import service as sharing
from backend.sharing.models import EncouragementIn, InviteIn

PASSWORD = "lang-genoeg-42"
NEW_PASSWORD = "nog-langer-genoeg-43"
ROLES = (
    "anonymous",
    "jongere",
    "other_jongere",
    "mentor_linked",
    "mentor_not_linked",
    "editor_a",
    "editor_b",
    "api_client",
    "admin",
)
A, B = "GM0014", "GM0363"  # Groningen and Amsterdam (the example kaarten)
EXAMPLE_DIR = Path(__file__).resolve().parents[2] / "sociale_kaart" / "voorbeelden"
EXAMPLES = {A: "GM0014-groningen.csv", B: "GM0363-amsterdam.csv"}

_ips = itertools.count(1)
_names = itertools.count(1)


def next_ip() -> str:
    """A client address nobody else used in this process (10.x.y.z)."""
    n = next(_ips)
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def unique(prefix: str) -> str:
    """A username-safe unique name (3..32 characters)."""
    return f"{prefix}{next(_names)}{uuid.uuid4().hex[:6]}"[:32]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def push_keys() -> dict[str, str]:
    """A valid PushSubscription.keys: a P-256 public point and a 16-byte auth secret."""
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return {"p256dh": b64url(point), "auth": b64url(os.urandom(16))}


def birth_date(age_days: int = 17 * 365 + 200) -> date:
    return today_nl() - timedelta(days=age_days)


def profile_json(gemeente: str = "GM0518") -> dict[str, Any]:
    return {"birth_date": birth_date().isoformat(), "gemeente_code": gemeente, "situation": "thuis"}


def first_step_id() -> str:
    return next(s.id for s in checklists.content().steps.values() if not s.recurring)


def csv_with(kaart_code: str, extra: str) -> bytes:
    """The example kaart of this gemeente plus one service, so every upload is new content (201, not 200)."""
    base = (EXAMPLE_DIR / EXAMPLES[kaart_code]).read_bytes()
    header = base.split(b"\n", 1)[0].decode("utf-8-sig").rstrip("\r")
    columns = header.split(",")
    row = dict.fromkeys(columns, "")
    row.update(
        {
            "organisatie": "Stichting Matrix",
            "dienst": f"Hulp {extra}",
            "dienst_id": f"M-{extra}"[:30],
            "omschrijving": "Hulp voor jongeren bij geldzaken.",
            "leefgebieden": "inkomen",
            "onderwerpen": "geldzaken",
            "kosten": "gratis",
            "telefoon": "050 000 10 00",
            "gecontroleerd_op": "2026-01-12",
        }
    )
    line = ",".join(row[c] for c in columns)
    return base.rstrip(b"\r\n") + b"\r\n" + line.encode() + b"\r\n"


# --- the sociale kaart, once per database ----------------------------------------------------------------


@dataclass(frozen=True)
class KaartFacts:
    A: str
    B: str
    vA: int  # the published version of A
    vB: int
    sA: str  # a service in A's published version


def load_kaart(app: FastAPI) -> KaartFacts:
    engine = app.state.engine
    versions: dict[str, int] = {}
    actor = kaart.Actor("security tests")
    with Session(engine) as s:
        for code, name in EXAMPLES.items():
            data = (EXAMPLE_DIR / name).read_bytes()
            result = kaart.parse_file(data, name, None, code, today_nl())
            version, _ = kaart.store_version(s, code, result, name, actor)
            kaart.publish(s, code, version.id, actor)  # type: ignore[arg-type]
            versions[code] = int(version.id)  # type: ignore[arg-type]
        s.commit()
    # Only A and B are loaded (no national kaart), so every result in A is A's own.
    r = TestClient(app, base_url="http://localhost", client=(next_ip(), 50000)).get(f"/api/kaart/{A}/services")
    assert r.status_code == 200 and r.json()["results"], r.text
    return KaartFacts(A, B, versions[A], versions[B], r.json()["results"][0]["id"])


# --- one world -----------------------------------------------------------------------------------------------


@dataclass
class Caller:
    """What a role sends: its session cookies and CSRF header, a bearer token, or nothing."""

    cookies: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class World:
    app: FastAPI
    kaart: KaartFacts
    callers: dict[str, Caller]
    usernames: dict[str, str]
    recovery_codes: dict[str, str]
    user_ids: dict[str, int]
    link_id: int  # jongere <-> mentor_linked
    invite_id: int  # the jongere's open invite
    invite_code: str
    message_id: int  # an encouragement from mentor_linked to the jongere
    reminder_id: int  # a reminder of the jongere whose moment has come
    push_endpoint: str  # the jongere's push device
    correction_id: int  # a correction about a service in A
    api_client_id: str
    api_client_secret: str
    spare_editor: str  # an editor of A nobody logs in as (admin routes act on it)
    step_id: str

    def client(self, role: str, *, csrf: bool = True, ip: str | None = None) -> TestClient:
        """A new client for one request as `role` (its own cookie jar, so a response never changes the world's)."""
        caller = self.callers[role]
        headers = dict(caller.headers)
        if not csrf:
            headers.pop(CSRF_HEADER, None)
        return TestClient(
            self.app,
            base_url="http://localhost",
            client=(ip or next_ip(), 50000),
            cookies=dict(caller.cookies),
            headers=headers,
            follow_redirects=False,
        )

    # Objects made on demand for one case, so a case that consumes them does not change the others.
    def new_editor(self, gemeente: str | None = None) -> str:
        name = unique("spare")
        with Session(self.app.state.engine) as s:
            kaart.create_editor(s, name, PASSWORD, gemeente or self.kaart.A)
            s.commit()
        return name

    def new_device(self, role: str = "jongere") -> str:
        """A push device of this person; returns its endpoint."""
        endpoint = f"https://push.example.com/send/{uuid.uuid4().hex}"
        with Session(self.app.state.engine) as s:
            body = PushSubscriptionIn(endpoint=endpoint, keys=PushKeys(**push_keys()))
            reminders.save_subscription(s, self.user_ids[role], body, production=False)
            s.commit()
        return endpoint

    def new_api_client(self) -> str:
        with Session(self.app.state.engine) as s:
            client, _ = kaart.create_api_client(s, self.kaart.A, unique("spare"), kaart.Actor("security tests"))
            s.commit()
            return client.client_id


def _session_caller(s: Session, user: UserAccount) -> Caller:
    new = accounts.start_session(s, user)
    cookies = {SESSION_COOKIE: new.token, CSRF_COOKIE: new.csrf_token}
    return Caller(cookies=cookies, headers={CSRF_HEADER: new.csrf_token})


def build_world(app: FastAPI, facts: KaartFacts) -> World:
    engine = app.state.engine
    now = utcnow()
    today = today_nl()
    base_url = app.state.settings.base_url
    users: dict[str, UserAccount] = {}
    codes: dict[str, str] = {}
    with Session(engine) as s:
        for role, kind, display in [
            ("jongere", "jongere", "Sam"),
            ("other_jongere", "jongere", "Noor"),
            ("mentor_linked", "mentor", "Mentor Anja"),
            ("mentor_not_linked", "mentor", "Mentor Bas"),
            ("admin", "admin", None),
        ]:
            users[role], codes[role] = accounts.create_account(s, unique(role[:6]), PASSWORD, kind, display)
        # A second admin, so "the last admin cannot leave" never depends on the order of the cases.
        accounts.create_account(s, unique("admin"), PASSWORD, "admin")
        for role, gemeente in [("editor_a", facts.A), ("editor_b", facts.B)]:
            out, codes[role] = kaart.create_editor(s, unique(role[:6]), PASSWORD, gemeente)
            users[role] = s.exec(select(UserAccount).where(UserAccount.username == out["username"])).one()
        spare_editor = unique("spare")
        kaart.create_editor(s, spare_editor, PASSWORD, facts.A)
        for role in ("jongere", "other_jongere"):
            checklists.put_profile(s, users[role].id, ProfileIn(**profile_json()), today)  # type: ignore[arg-type]
        made = sharing.create_invite(
            s, users["jongere"], InviteIn(role="mentor", leefgebieden=["wonen", "inkomen"]), base_url, now
        )
        link = sharing.accept_invite(s, users["mentor_linked"], made.code, now)
        s.flush()
        invite = sharing.create_invite(s, users["jongere"], InviteIn(role="jim", leefgebieden=["wonen"]), base_url, now)
        link_id = int(link.id)  # type: ignore[arg-type]
        message = sharing.send_encouragement(s, users["mentor_linked"], link_id, EncouragementIn(text="Hoi!"), now)
        step_id = first_step_id()
        reminder = Reminder(
            user_id=users["jongere"].id,  # type: ignore[arg-type]
            step_id=step_id,
            rule_id="test",
            due_on=today - timedelta(days=1),
            send_at=now - timedelta(hours=1),
            status=SENT,
            next_attempt_at=now - timedelta(hours=1),
            finished_at=now - timedelta(hours=1),
        )
        s.add(reminder)
        endpoint = f"https://push.example.com/send/{uuid.uuid4().hex}"
        reminders.save_subscription(
            s,
            users["jongere"].id,  # type: ignore[arg-type]
            PushSubscriptionIn(endpoint=endpoint, keys=PushKeys(**push_keys())),
            production=False,
        )
        correction = kaart.add_correction(s, facts.A, facts.sA, "Het telefoonnummer klopt niet.", None, None)
        api_client, secret = kaart.create_api_client(s, facts.A, unique("systeem"), kaart.Actor("security tests"))
        callers = {role: _session_caller(s, user) for role, user in users.items()}
        s.commit()
        ids = {role: int(u.id) for role, u in users.items()}  # type: ignore[arg-type]
        names = {role: u.username for role, u in users.items()}
        world = World(
            app=app,
            kaart=facts,
            callers=callers,
            usernames=names,
            recovery_codes=codes,
            user_ids=ids,
            link_id=link_id,
            invite_id=invite.id,
            invite_code=invite.code,
            message_id=message.id,
            reminder_id=int(reminder.id),  # type: ignore[arg-type]
            push_endpoint=endpoint,
            correction_id=int(correction.id),  # type: ignore[arg-type]
            api_client_id=api_client.client_id,
            api_client_secret=secret,
            spare_editor=spare_editor,
            step_id=step_id,
        )
    world.callers["anonymous"] = Caller()
    token = get_token(world)
    world.callers["api_client"] = Caller(headers={"Authorization": f"Bearer {token}"})
    return world


def basic_auth(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def get_token(world: World) -> str:
    c = TestClient(world.app, base_url="http://localhost", client=(next_ip(), 50000))
    r = c.post(
        "/api/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=basic_auth(world.api_client_id, world.api_client_secret),
    )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])

"""Privacy rights through the API: "Download mijn gegevens" (JSON and a readable page), "Verwijder mijn account"
(nothing that refers to the person is left, in any table, on SQLite and PostgreSQL), and the retention round
that deletes accounts unused for two years after a warning."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import String, create_engine, func, inspect, or_
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from backend.accounts.models import OidcIdentity, RateLimitHit, UserAccount
from backend.accounts.service import create_account
from backend.clock import today_nl
from backend.config import Settings
from backend.kaart.models import KaartApiClient, KaartCorrection, KaartVersion
from backend.privacy import service as privacy
from backend.reminders.models import PushSubscription, Reminder, ReminderDelivery
from backend.sharing import service as sharing
from backend.sharing.models import AuditEntry, Message
from tests.accounts.helpers import PASSWORD, login, new_client, signup
from tests.kaart.kaart_api import A, csv_bytes, load_examples, row, upload_and_publish
from tests.reminders.conftest import PushService, device_keys, profile_body, subscribe_device
from tests.sharing.test_sharing_api import _run_messages, invite, link

ENDPOINT = "https://push.voorbeeld.test/wpush/v2/geheim-token-123"
ISSUER = "https://login.zorgaanbieder.test"
STEPS_OVERDUE = today_nl() - timedelta(days=60)  # an 18th birthday two months ago: steps weeks overdue


@dataclass
class Person:
    client: TestClient
    id: int
    username: str
    display_name: str
    links: list[int] = field(default_factory=list)

    @property
    def needles(self) -> list[str]:
        return [self.username, self.display_name]


@dataclass
class World:
    jongere: Person  # Jinthe: a full profile, followed by Wibeke (and formerly by Ouwe)
    mentor: Person  # Wibeke: follows Jinthe and Kim, logs in through her organisation (OIDC)
    kim: Person  # another jongere Wibeke follows: must keep all her data


def _id(engine: Engine, username: str) -> int:
    with Session(engine) as s:
        return int(s.exec(select(UserAccount.id).where(UserAccount.username == username)).one())  # type: ignore[arg-type]


def person(client: TestClient, engine: Engine, username: str, name: str, **extra: Any) -> Person:
    c = new_client(client)
    signup(c, username, display_name=name, **extra)
    return Person(c, _id(engine, username), username, name)


def jongere(client: TestClient, engine: Engine, username: str, name: str, b18: date | None = None) -> Person:
    p = person(client, engine, username, name)
    r = p.client.put("/api/me/profile", json=profile_body(b18 or today_nl() + timedelta(days=100)))
    assert r.status_code == 200, r.text
    return p


def build_world(client: TestClient, engine: Engine, session: Session) -> World:
    """A person with something in every table that can refer to her, built through the API where it can be."""
    load_examples(session, ("landelijk",))
    jinthe = jongere(client, engine, "privacy-jinthe", "Jinthe", b18=STEPS_OVERDUE)
    j = jinthe.client
    step = next(i for i in j.get("/api/me/plan").json()["items"] if i["state"] == "todo")
    stamp = datetime.now(UTC).isoformat()
    r = j.put(
        f"/api/me/progress/{step['progress_key']}",
        json={"state": "done", "client_updated_at": stamp, "client_id": "tick-00001"},
    )
    assert r.status_code == 200, r.text
    r = j.put(
        "/api/me/reminder-preferences",
        json={"quiet_start": "22:00", "quiet_end": "08:00", "leefgebieden": ["wonen", "inkomen", "gezondheid"]},
    )
    assert r.status_code == 200, r.text
    keys = device_keys()
    r = j.post(
        "/api/me/push-subscriptions", json={"endpoint": ENDPOINT, "keys": {"p256dh": keys.p256dh, "auth": keys.auth}}
    )
    assert r.status_code == 201, r.text
    with Session(engine) as s:  # only the worker writes deliveries
        reminder = s.exec(select(Reminder).where(Reminder.user_id == jinthe.id)).first()
        sub = s.exec(select(PushSubscription).where(PushSubscription.user_id == jinthe.id)).one()
        assert reminder is not None
        s.add(ReminderDelivery(reminder_id=reminder.id, subscription_id=sub.id, status="sent", attempts=1))  # type: ignore[arg-type]
        s.commit()

    wibeke = person(client, engine, "privacy-wibeke", "Wibeke", account_type="mentor")
    ouwe = person(client, engine, "privacy-ouwe", "Ouwe", account_type="mentor")
    kim = jongere(client, engine, "privacy-kim", "Kim")
    link_j = link(j, wibeke.client, ["gezondheid", "inkomen"])
    ended = link(j, ouwe.client, ["gezondheid"])
    link_k = link(kim.client, wibeke.client, ["wonen"])
    jinthe.links, wibeke.links, kim.links = [link_j, ended], [link_j, link_k], [link_k]
    invite(j, ["wonen"])  # stays open
    m = wibeke.client
    assert m.get("/api/mentor/jongeren").status_code == 200
    for lk in (link_j, link_k):
        assert m.get(f"/api/mentor/jongeren/{lk}/plan").status_code == 200
        r = m.post(f"/api/mentor/jongeren/{lk}/encouragements", json={"text": "Goed bezig, zet hem op!"})
        assert r.status_code == 201, r.text
    with Session(engine) as s:
        assert sharing.scan_nudges(s, today_nl(), datetime.now(UTC)) > 0
        s.add(OidcIdentity(user_id=wibeke.id, issuer=ISSUER, subject="medewerker-42"))
        s.commit()
    # Ouwe's nudges stay in his inbox after Jinthe ends the link (their link_id becomes NULL).
    assert j.delete(f"/api/me/followers/{ended}").status_code == 204
    assert ouwe.client.get("/api/me/messages").json()["unread"] > 0

    # Counted attempts whose keys name the people.
    anon = new_client(client)
    for name in (jinthe.username, wibeke.username):
        assert anon.post("/api/session", json={"username": name, "password": "fout-fout-fout"}).status_code == 401
    recover = {"username": jinthe.username, "recovery_code": "AAAA-BBBB-CCCC-DDDD", "new_password": "nieuw-genoeg-42"}
    assert anon.post("/api/session/recover", json=recover).status_code == 401
    assert m.get("/api/invites/ZZZZZZZZ").status_code == 404
    assert j.request("DELETE", "/api/me", json={"password": "fout-fout-fout"}).status_code == 401

    # A "Klopt dit niet?" remark with contact details.
    national = j.get("/api/kaart/GM0518/services", params={"q": "113"}).json()["results"][0]
    r = j.post(
        f"/api/kaart/GM0518/services/{national['id']}/corrections",
        json={"message": "Het nummer klopt niet meer.", "contact": "jinthe@voorbeeld.test"},
    )
    assert r.status_code == 201, r.text
    return World(jinthe, wibeke, kim)


@pytest.fixture
def world(client: TestClient, engine: Engine, session: Session) -> World:
    return build_world(client, engine, session)


# --- "no row refers to the person" -------------------------------------------------------------------------


def _refers_to_account(column: Any) -> bool:
    return any(fk.column.table.name == "user_account" for fk in column.foreign_keys) or (
        column.table.name == "user_account" and column.name == "id"
    )


def _is_text(column: Any) -> bool:
    # String and Text, also behind a TypeDecorator such as SQLModel's AutoString
    return isinstance(getattr(column.type, "impl_instance", column.type), String)


def leftovers(engine: Engine, who: Person) -> list[str]:
    """Every row in every table that still refers to `who`: by account id (any foreign key to user_account),
    by username or display name (any text column), or by id in a rate-limit key."""
    id_keys = {f"invite-user:{who.id}", privacy.delete_attempt_key(who.id), *(f"encourage:{i}" for i in who.links)}
    found: list[str] = []
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names()) - {"alembic_version"}
        assert tables == set(SQLModel.metadata.tables), "every table in the database is checked"
        for table in SQLModel.metadata.sorted_tables:
            for column in table.columns:
                if _refers_to_account(column):
                    where = column == who.id
                elif _is_text(column):
                    where = or_(*(func.lower(column).contains(n.lower(), autoescape=True) for n in who.needles))
                else:
                    continue
                for value in conn.execute(sa_select(column).where(where).limit(3)).scalars():
                    found.append(f"{table.name}.{column.name}: {str(value)[:80]!r}")
            if table.name == "rate_limit_hit":
                for key in conn.execute(sa_select(table.c.key).where(table.c.key.in_(id_keys))).scalars():
                    found.append(f"rate_limit_hit.key: {key!r}")
    return found


def test_the_check_finds_a_person(world: World, engine: Engine) -> None:
    """The check itself works: before deleting, it finds the person in many tables, by id and by name."""
    found = leftovers(engine, world.jongere)
    columns = {x.split(":")[0] for x in found}
    assert {"kaart_correction.contact", "message.sender_name", "message.text", "user_account.username"} <= columns
    assert {"rate_limit_hit.key", "kaart_correction.user_id", "share_link.jongere_id"} <= columns
    assert "audit_entry.actor_name" in {x.split(":")[0] for x in leftovers(engine, world.mentor)}
    tables = {x.split(".")[0] for x in found}
    expected = {"user_account", "auth_session", "user_profile", "step_progress", "push_subscription"}
    expected |= {"reminder_preferences", "reminder", "invite", "share_link", "message", "audit_entry"}
    expected |= {"rate_limit_hit", "kaart_correction"}
    assert expected <= tables
    assert {"oidc_identity", "audit_entry", "rate_limit_hit"} <= {
        x.split(".")[0] for x in leftovers(engine, world.mentor)
    }


def test_every_reference_to_an_account_cascades_or_detaches(engine: Engine) -> None:
    """In the migrated database (not just the models): deleting an account never fails on a foreign key and
    never leaves a row pointing at it."""
    insp = inspect(engine)
    personal = {"user_account"}
    fks = {t: insp.get_foreign_keys(t) for t in insp.get_table_names()}
    changed = True
    while changed:  # tables whose rows go with an account, directly or through another such table
        before = len(personal)
        personal |= {t for t, keys in fks.items() for fk in keys if fk["referred_table"] in personal}
        changed = len(personal) != before
    checked = 0
    for table, keys in fks.items():
        for fk in keys:
            if fk["referred_table"] in personal:
                ondelete = (fk.get("options") or {}).get("ondelete", "")
                assert ondelete.upper() in ("CASCADE", "SET NULL"), (table, fk)
                checked += 1
    assert checked >= 17


def test_delete_refuses_when_sqlite_foreign_keys_are_off(sqlite_template: Path, tmp_path: Path) -> None:
    path = tmp_path / "zonder-fk.db"
    shutil.copyfile(sqlite_template, path)
    plain = create_engine(f"sqlite:///{path}")  # no PRAGMA foreign_keys: cascades would not happen
    with Session(plain) as s:
        user, _ = create_account(s, "privacy-geen-fk", PASSWORD)
        s.flush()
        with pytest.raises(RuntimeError, match="foreign keys"):
            privacy.delete_person(s, user)
    plain.dispose()


# --- delete ------------------------------------------------------------------------------------------------


def test_deleting_a_jongere_leaves_nothing_that_refers_to_her(world: World, engine: Engine) -> None:
    jinthe, wibeke, kim = world.jongere, world.mentor, world.kim
    assert jinthe.client.request("DELETE", "/api/me", json={"password": PASSWORD}).status_code == 204
    assert leftovers(engine, jinthe) == []

    # Logged out, and the account is gone for good.
    assert jinthe.client.get("/api/me").status_code == 401
    again = new_client(jinthe.client)
    assert again.post("/api/session", json={"username": jinthe.username, "password": PASSWORD}).status_code == 401
    with Session(engine) as s:
        remark = s.exec(select(KaartCorrection)).one()
        assert remark.message == "Het nummer klopt niet meer." and remark.contact is None and remark.user_id is None

    # Everyone else keeps their data.
    assert [j["name"] for j in wibeke.client.get("/api/mentor/jongeren").json()] == ["Kim"]
    assert kim.client.get("/api/me/profile").status_code == 200
    assert [m["sender_name"] for m in kim.client.get("/api/me/messages").json()["items"]] == ["Wibeke"]
    assert {e["actor_name"] for e in kim.client.get("/api/me/audit").json()} == {"Wibeke"}
    # No nudge about her is left in any mentor's inbox (also not through the link she ended).
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(Message).where(Message.kind == "nudge")).one() == 0


def test_a_new_account_never_sees_a_deleted_persons_plan(client: TestClient, engine: Engine) -> None:
    """SQLite may give the next account the id of a deleted one; the plan cache must not hand over her plan."""
    first = jongere(client, engine, "privacy-eerste", "Eerste", b18=today_nl() + timedelta(days=100))
    assert first.client.get("/api/me/plan").status_code == 200  # now cached under (id, revision 1, today)
    assert first.client.request("DELETE", "/api/me", json={"password": PASSWORD}).status_code == 204
    b18 = today_nl() + timedelta(days=400)
    b18 += timedelta(days=1) if (b18.month, b18.day) == (2, 29) else timedelta(0)
    second = jongere(client, engine, "privacy-tweede", "Tweede", b18=b18)
    assert second.client.get("/api/me/plan").json()["birthday_18"] == b18.isoformat()


def test_deleting_a_mentor_keeps_the_jongeren_logs_without_the_name(world: World, engine: Engine) -> None:
    jinthe, wibeke, kim = world.jongere, world.mentor, world.kim
    m = wibeke.client
    # Kim ended her link earlier: Wibeke's encouragement to her is no longer tied to a link.
    assert kim.client.delete(f"/api/me/followers/{kim.links[0]}").status_code == 204
    # She logs in through her organisation: no password to give, so she confirms with a word.
    r = m.request("DELETE", "/api/me", json={"password": PASSWORD})
    assert r.status_code == 422 and "VERWIJDER" in r.json()["fields"]["confirm"]
    r = m.request("DELETE", "/api/me", json={"confirm": "nee"})
    assert r.status_code == 422 and "VERWIJDER" in r.json()["fields"]["confirm"]
    r = m.request("DELETE", "/api/me", json={"confirm": "verwijder"})
    assert r.status_code == 204
    assert "sk_session=" in r.headers.get("set-cookie", "") and m.get("/api/me").status_code == 401
    assert leftovers(engine, wibeke) == []

    for jongere_ in (jinthe, kim):
        audit = jongere_.client.get("/api/me/audit").json()
        assert audit and "Wibeke" not in {e["actor_name"] for e in audit}
        assert "Verwijderd account" in {e["actor_name"] for e in audit}
        inbox = jongere_.client.get("/api/me/messages").json()["items"]
        assert [(x["sender_name"], x["text"]) for x in inbox] == [("Verwijderd account", "Goed bezig, zet hem op!")]
        assert jongere_.client.get("/api/me/followers").json()["followers"] == []
    # Ouwe, who stopped following earlier, is still named in Jinthe's log.
    assert "Ouwe" in {e["actor_name"] for e in jinthe.client.get("/api/me/audit").json()}


def test_deleting_editors_and_admins_keeps_the_kaart_history_without_names(
    client: TestClient, engine: Engine, session: Session
) -> None:
    for name in ("privacy-anouk", "privacy-bert"):
        create_account(session, name, PASSWORD, role="admin")
    session.commit()
    anouk, bert = new_client(client), new_client(client)
    login(anouk, "privacy-anouk")
    login(bert, "privacy-bert")
    r = anouk.post(
        "/api/admin/editors", json={"username": "privacy-redacteur", "password": PASSWORD, "gemeente_code": A}
    )
    assert r.status_code == 201, r.text
    editor = new_client(client)
    login(editor, "privacy-redacteur")
    vid = upload_and_publish(editor, A, csv_bytes([row("Schuldhulpmaatje")]))
    service_id = editor.get(f"/api/kaart/{A}/services", params={"q": "Schuldhulpmaatje"}).json()["results"][0]["id"]
    r = new_client(client).post(
        f"/api/kaart/{A}/services/{service_id}/corrections", json={"message": "Adres klopt niet"}
    )
    assert r.status_code == 201
    cid = editor.get(f"/api/beheer/kaart/{A}/corrections").json()[0]["id"]
    assert editor.post(f"/api/beheer/kaart/{A}/corrections/{cid}/resolve").status_code == 200
    assert (
        anouk.post("/api/admin/api-clients", json={"gemeente_code": A, "name": "Systeem Groningen"}).status_code == 201
    )

    mine = editor.get("/api/me/export").json()["kaart"]
    assert mine["gemeenten"] == [A]
    assert {a["what"] for a in mine["actions"]} >= {f"versie {vid} gemaakt", f"versie {vid} gepubliceerd"}
    assert any("afgehandeld" in a["what"] for a in mine["actions"])

    editor_p = Person(editor, _id(engine, "privacy-redacteur"), "privacy-redacteur", "privacy-redacteur")
    anouk_p = Person(anouk, _id(engine, "privacy-anouk"), "privacy-anouk", "privacy-anouk")
    assert editor.request("DELETE", "/api/me", json={"password": PASSWORD}).status_code == 204
    assert anouk.request("DELETE", "/api/me", json={"password": PASSWORD}).status_code == 204
    assert leftovers(engine, editor_p) == [] and leftovers(engine, anouk_p) == []
    with Session(engine) as s:
        version = s.get(KaartVersion, vid)
        assert version is not None
        assert (version.created_by, version.published_by) == ("redacteur (verwijderd account)",) * 2
        assert s.get(KaartCorrection, cid).resolved_by == "redacteur (verwijderd account)"  # type: ignore[union-attr]
        assert s.exec(select(KaartApiClient.created_by)).one() == "beheerder (verwijderd account)"
    # The version is still published: the kaart does not depend on the people who made it.
    assert editor.get(f"/api/kaart/{A}/services", params={"q": "Schuldhulpmaatje"}).json()["results"]
    # The last admin cannot leave: nobody could manage editors any more.
    r = bert.request("DELETE", "/api/me", json={"password": PASSWORD})
    assert r.status_code == 409 and "laatste beheerder" in r.json()["detail"]


def test_who_may_delete_and_wrong_passwords(client: TestClient, engine: Engine) -> None:
    anon = new_client(client)
    assert anon.get("/api/me/export").status_code == 401
    assert anon.get("/api/me/export.html").status_code == 401
    assert anon.request("DELETE", "/api/me", json={"password": PASSWORD}).status_code == 401

    sam = jongere(client, engine, "privacy-sam", "Sam")
    noa = jongere(client, engine, "privacy-noa", "Noa")
    # Only yourself: there is no route that takes someone else's id.
    assert sam.client.request("DELETE", f"/api/me/{noa.id}", json={"password": PASSWORD}).status_code == 404
    # A cookie alone is not enough (CSRF).
    bare = TestClient(client.app, base_url="http://localhost", cookies=dict(sam.client.cookies))
    assert bare.request("DELETE", "/api/me", json={"password": PASSWORD}).status_code == 403

    r = sam.client.request("DELETE", "/api/me", json={})
    assert r.status_code == 422 and "wachtwoord" in r.json()["fields"]["password"]
    for _ in range(privacy.DELETE_PER_USER.attempts):
        r = sam.client.request("DELETE", "/api/me", json={"password": "niet-mijn-wachtwoord"})
        assert r.status_code == 401 and "niet verwijderd" in r.json()["detail"]
    r = sam.client.request("DELETE", "/api/me", json={"password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert sam.client.get("/api/me").status_code == 200 and sam.client.get("/api/me/profile").status_code == 200

    # Someone else's guesses do not stop Noa; her export holds nothing of Sam.
    export = noa.client.get("/api/me/export")
    assert export.status_code == 200 and "privacy-sam" not in export.text and "Sam" not in export.text
    assert noa.client.request("DELETE", "/api/me", json={"password": PASSWORD}).status_code == 204
    assert sam.client.get("/api/me").status_code == 200


# --- export ------------------------------------------------------------------------------------------------


def test_export_holds_everything_about_the_jongere_and_no_secrets(world: World) -> None:
    r = world.jongere.client.get("/api/me/export")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert (
        r.headers["content-disposition"] == f'attachment; filename="startklaar-gegevens-{today_nl().isoformat()}.json"'
    )
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["account"]["username"] == "privacy-jinthe" and body["account"]["display_name"] == "Jinthe"
    assert body["profile"]["birth_date"] == STEPS_OVERDUE.replace(year=STEPS_OVERDUE.year - 18).isoformat()
    assert body["profile"]["gemeente_code"] == "GM0518" and body["profile"]["gemeente"] == "Den Haag"
    assert [p["state"] for p in body["progress"]] == ["done"] and body["progress"][0]["title"]
    assert body["reminder_preferences"]["quiet_start"] == "22:00"
    assert {"Wonen", "Inkomen & schulden"} < set(body["reminder_preferences"]["leefgebieden"])
    assert body["reminders"] and {"step_id", "title", "due_on", "status", "read"} <= set(body["reminders"][0])
    assert [d["endpoint_host"] for d in body["push_subscriptions"]] == ["push.voorbeeld.test"]
    [follower] = body["followers"]
    assert follower["name"] == "Wibeke" and follower["role_label"] == "JIM" and follower["last_viewed_at"]
    assert "Inkomen & schulden" in follower["leefgebieden"]
    assert len(body["open_invites"]) == 1 and "code" not in body["open_invites"][0]
    assert [(m["sender_name"], m["text"]) for m in body["messages"]] == [("Wibeke", "Goed bezig, zet hem op!")]
    assert {e["actor_name"] for e in body["audit"]} == {"Wibeke", "Ouwe"}
    assert any(e["what"].startswith("bekeek je stappen") for e in body["audit"])
    assert body["sessions"]["count"] == 1 and body["oidc_identities"] == []
    assert {a["what"] for a in body["attempts"]} >= {"inloggen", "wachtwoord herstellen", "account verwijderen"}
    [remark] = body["kaart"]["corrections_sent"]
    assert remark["contact"] == "jinthe@voorbeeld.test" and body["kaart"]["gemeenten"] == []
    # Nothing secret: no hashes, tokens, invite codes or push keys.
    for secret in ("$argon2", "geheim-token-123", "wpush", "p256dh", "code_hash", "token_hash", "csrf"):
        assert secret not in r.text, secret


def test_export_for_a_mentor_names_jongeren_by_first_name_only(world: World) -> None:
    body = world.mentor.client.get("/api/me/export").json()
    assert [(f["name"], f["role_label"]) for f in body["following"]] == [("Jinthe", "JIM"), ("Kim", "JIM")]
    assert [m["to"] for m in body["messages_sent"]] == ["Jinthe", "Kim"]
    assert body["views"] and {v["jongere"] for v in body["views"]} == {"Jinthe", "Kim"}
    assert body["oidc_identities"][0]["issuer"] == ISSUER and "medewerker-42" not in str(body)
    assert {a["what"] for a in body["attempts"]} >= {"inloggen", "code van een uitnodiging invullen"}
    assert any(a["what"].startswith("aanmoedigingen") for a in body["attempts"])
    text = str(body)
    assert "privacy-jinthe" not in text and "privacy-kim" not in text and "birth_date" not in text


def test_export_page_is_readable_and_escaped(client: TestClient, engine: Engine) -> None:
    sam = jongere(client, engine, "privacy-sam", "Sam")
    mentor = person(client, engine, "privacy-html", '<b onclick="x()">Mentor</b>', account_type="mentor")
    lk = link(sam.client, mentor.client, ["wonen"])
    text = '<script>alert("hoi")</script> & <style>body{}</style>'
    assert mentor.client.post(f"/api/mentor/jongeren/{lk}/encouragements", json={"text": text}).status_code == 201
    r = sam.client.get("/api/me/export.html")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    page = r.text
    assert page.startswith("<!doctype html>") and '<html lang="nl">' in page
    assert '<link rel="stylesheet" href="/css/app.css">' in page
    assert "Mijn gegevens bij Startklaar" in page and "Wie kijkt met je mee" in page
    assert "&lt;script&gt;alert(&quot;hoi&quot;)&lt;/script&gt; &amp; &lt;style&gt;" in page
    assert "&lt;b onclick=&quot;x()&quot;&gt;Mentor&lt;/b&gt;" in page
    lowered = page.lower()
    assert "<script" not in lowered and "<style" not in lowered and " style=" not in lowered
    assert "onclick=" not in page.replace("onclick=&quot;", "")


def test_export_page_for_everyone_in_the_world(world: World) -> None:
    """Every section renders for every kind of person (no errors on empty or missing parts)."""
    for who in (world.jongere, world.mentor, world.kim):
        r = who.client.get("/api/me/export.html")
        assert r.status_code == 200 and who.display_name in r.text
    jongere_page = world.jongere.client.get("/api/me/export.html").text
    assert "push.voorbeeld.test" in jongere_page and "Wie kijkt met je mee" in jongere_page
    assert "Met wie jij meekijkt" not in jongere_page and "Sociale kaart" in jongere_page  # her remark
    mentor_page = world.mentor.client.get("/api/me/export.html").text
    assert "Met wie jij meekijkt" in mentor_page and "Wie kijkt met je mee" not in mentor_page
    assert "Waar jij naar keek" in mentor_page and ISSUER in mentor_page


# --- retention ---------------------------------------------------------------------------------------------


def _set_last_seen(engine: Engine, user_id: int, when: datetime) -> None:
    with Session(engine) as s:
        user = s.get(UserAccount, user_id)
        assert user is not None
        user.last_seen_at = when
        s.add(user)
        s.commit()


def _round(engine: Engine, now: datetime) -> privacy.RetentionRound:
    with Session(engine) as s:
        done = privacy.retention_round(s, now)
        s.commit()
    return done


def _warnings(engine: Engine, user_id: int) -> list[Message]:
    with Session(engine) as s:
        return list(s.exec(select(Message).where(Message.recipient_id == user_id, Message.kind == "retention")).all())


def test_unused_accounts_are_warned_then_deleted(world: World, engine: Engine) -> None:
    now = datetime.now(UTC)
    jinthe = world.jongere
    _set_last_seen(engine, jinthe.id, now - timedelta(days=701))
    assert _round(engine, now) == privacy.RetentionRound(warned=1, deleted=0)
    [warning] = _warnings(engine, jinthe.id)
    assert warning.text == (
        "Je account wordt over een maand verwijderd, omdat je het 2 jaar niet hebt gebruikt. Log in om het te houden."
    )
    assert (warning.sender_name, warning.url, warning.link_id, warning.push_status) == (
        "Startklaar",
        "/ik",
        None,
        "pending",
    )
    assert _round(engine, now + timedelta(hours=1)) == privacy.RetentionRound(0, 0)  # warned once
    assert _round(engine, now + timedelta(days=29)) == privacy.RetentionRound(0, 0)  # not yet 24 months
    assert _round(engine, now + timedelta(days=30, minutes=1)) == privacy.RetentionRound(warned=0, deleted=1)
    assert leftovers(engine, jinthe) == []
    for other in (world.mentor, world.kim):  # used recently: untouched
        assert other.client.get("/api/me").status_code == 200


def test_a_login_after_the_warning_keeps_the_account(client: TestClient, engine: Engine, session: Session) -> None:
    now = datetime.now(UTC)
    back = jongere(client, engine, "privacy-terug", "Terug")
    quiet = jongere(client, engine, "privacy-stil", "Stil")
    create_account(session, "privacy-baas", PASSWORD, role="admin")
    session.commit()
    admin_id = _id(engine, "privacy-baas")
    for uid in (back.id, quiet.id, admin_id):
        _set_last_seen(engine, uid, now - timedelta(days=710))
    assert _round(engine, now) == privacy.RetentionRound(warned=2, deleted=0)  # never the admin
    assert _warnings(engine, admin_id) == []

    _set_last_seen(engine, back.id, now + timedelta(days=1))  # she logged in the next day
    later = now + timedelta(days=31)
    assert _round(engine, later) == privacy.RetentionRound(warned=0, deleted=1)  # only the quiet one
    assert _warnings(engine, back.id) == []  # the old warning no longer holds, and is gone
    with Session(engine) as s:
        assert s.get(UserAccount, quiet.id) is None and s.get(UserAccount, back.id) is not None
        assert s.get(UserAccount, admin_id) is not None

    # Two years after that login: a new warning first, deleted a month after it (not at once).
    gone = now + timedelta(days=1 + 731)
    assert _round(engine, gone) == privacy.RetentionRound(warned=1, deleted=0)
    assert _round(engine, gone + timedelta(days=30)) == privacy.RetentionRound(warned=0, deleted=1)
    with Session(engine) as s:
        assert s.get(UserAccount, back.id) is None and s.get(UserAccount, admin_id) is not None


def test_counted_attempts_are_kept_a_day_at_most(client: TestClient, engine: Engine) -> None:
    anon = new_client(client)
    assert anon.post("/api/session", json={"username": "privacy-wie", "password": "fout-fout-fout"}).status_code == 401
    with Session(engine) as s:
        s.add(RateLimitHit(key="login-user:privacy-oud", window_start=datetime.now(UTC) - timedelta(days=2), count=3))
        s.commit()
    _round(engine, datetime.now(UTC))
    with Session(engine) as s:
        keys = set(s.exec(select(RateLimitHit.key)).all())
    assert "login-user:privacy-oud" not in keys and "login-user:privacy-wie" in keys  # today's still count


def test_the_worker_warns_and_pushes_the_warning(
    client: TestClient, engine: Engine, settings: Settings, push_service: PushService
) -> None:
    sam = jongere(client, engine, "privacy-sam", "Sam")
    device = subscribe_device(sam.client, push_service)
    now = datetime.combine(today_nl() + timedelta(days=1), time(10, 0), tzinfo=UTC)  # daytime in Amsterdam
    _set_last_seen(engine, sam.id, now - timedelta(days=705))
    assert _run_messages(settings, engine, now, scan=True) == 1
    got = push_service.notifications(device["clientHash"])[-1]
    assert got["title"] == "Bericht van Startklaar" and got["body"] == privacy.RETENTION_TEXT and got["url"] == "/ik"
    inbox = sam.client.get("/api/me/messages").json()["items"]
    assert [(m["kind"], m["sender_name"]) for m in inbox] == [("retention", "Startklaar")]
    # The audit of who looked is not touched by retention warnings.
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(AuditEntry)).one() == 0

"""Names and messages people show each other through sharing (security review, issue 11): no bidi override or
invisible characters, and no name that passes for Startklaar, also for names stored before they were checked
or taken from an organisation's login (OpenID Connect)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from backend.accounts.models import NAME_PRODUCT, UserAccount
from backend.sharing.service import MESSAGE_HIDDEN
from tests.accounts.helpers import new_client, signup
from tests.sharing.test_sharing_api import link, make_jongere, make_mentor


def set_display_name(session: Session, current: str, stored: str) -> None:
    """As an older release or an OpenID Connect login could have stored it, past today's checks."""
    user = session.exec(select(UserAccount).where(UserAccount.display_name == current)).one()
    user.display_name = stored
    session.add(user)
    session.commit()


def test_a_stored_mentor_name_is_shown_clean_or_not_at_all(client: TestClient, session: Session) -> None:
    jongere = make_jongere(client, "Sam")
    mentor = make_mentor(client, "Anja")
    link_id = link(jongere, mentor, ["wonen"])
    set_display_name(session, "Anja", "An\u202eja\u200b")
    assert [f["name"] for f in jongere.get("/api/me/followers").json()["followers"]] == ["Anja"]
    url = f"/api/mentor/jongeren/{link_id}/encouragements"
    assert mentor.post(url, json={"text": "Goed bezig!"}).status_code == 201
    (message,) = jongere.get("/api/me/messages").json()["items"]
    assert message["sender_name"] == "Anja"

    set_display_name(session, "An\u202eja\u200b", "Startklaar")
    username = mentor.get("/api/me").json()["username"]
    assert [f["name"] for f in jongere.get("/api/me/followers").json()["followers"]] == [username]
    mentor.get(f"/api/mentor/jongeren/{link_id}/plan")
    assert {a["actor_name"] for a in jongere.get("/api/me/audit").json()} <= {"Anja", username}


def test_a_stored_jongere_name_is_shown_clean(client: TestClient, session: Session) -> None:
    jongere = make_jongere(client, "Sam")
    mentor = make_mentor(client, "Anja")
    link(jongere, mentor, ["wonen"])
    set_display_name(session, "Sam", "Sam\u2066\u202eX\u2069")
    assert [j["name"] for j in mentor.get("/api/mentor/jongeren").json()] == ["SamX"]
    set_display_name(session, "Sam\u2066\u202eX\u2069", "Beheer")
    assert [j["name"] for j in mentor.get("/api/mentor/jongeren").json()] == ["Jongere"]


def test_a_mentor_cannot_sign_up_as_startklaar(client: TestClient) -> None:
    r = new_client(client).post(
        "/api/accounts",
        json={"username": "echtementor", "password": "lang-genoeg-42", "display_name": "Team Startklaar"},
    )
    assert r.status_code == 422
    assert r.json()["fields"]["display_name"] == NAME_PRODUCT
    signup(new_client(client), "echtementor2", display_name="Mentor Anja", account_type="mentor")


def test_an_encouragement_with_hidden_characters_is_refused(client: TestClient) -> None:
    jongere = make_jongere(client, "Sam")
    mentor = make_mentor(client, "Anja")
    link_id = link(jongere, mentor, ["wonen"])
    for text in ("Klik op moc.\u202eliam.nl", "Hoi\u200bSam", "Hoi \u2066Sam\u2069", "Hoi\ue000"):
        r = mentor.post(f"/api/mentor/jongeren/{link_id}/encouragements", json={"text": text})
        assert r.status_code == 422, (text, r.text)
        assert r.json()["fields"]["text"] == MESSAGE_HIDDEN
    assert jongere.get("/api/me/messages").json()["items"] == []
    text = "Top gedaan 👩\u200d💻\nGa zo door!"
    ok = mentor.post(f"/api/mentor/jongeren/{link_id}/encouragements", json={"text": text})
    assert ok.status_code == 201, ok.text
    assert jongere.get("/api/me/messages").json()["items"][0]["text"] == "Top gedaan 👩\u200d💻 Ga zo door!"

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from backend.accounts import service
from backend.accounts.models import RateLimitHit, UserAccount, utcnow
from tests.accounts.helpers import PASSWORD, login, new_client, signup


def test_create_account_logs_in_and_shows_a_recovery_code_once(client: TestClient, session: Session) -> None:
    r = client.post("/api/accounts", json={"username": "Sanne_18", "password": PASSWORD, "display_name": " Sanne "})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["account"]["username"] == "sanne_18"
    assert body["account"]["display_name"] == "Sanne"
    assert body["account"]["role"] == "jongere"
    assert re.fullmatch(r"[A-Z2-9]{4}(-[A-Z2-9]{4}){3}", body["recovery_code"])
    cookie = r.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookie if c.startswith("sk_session="))
    assert "HttpOnly" in session_cookie and "SameSite=lax" in session_cookie
    client.headers["X-CSRF-Token"] = body["csrf_token"]
    assert client.get("/api/me").json()["username"] == "sanne_18"
    user = session.exec(select(UserAccount).where(UserAccount.username == "sanne_18")).one()
    assert user.password_hash.startswith("$argon2id$")
    assert body["recovery_code"] not in user.recovery_code_hash  # only a hash is stored


def test_production_cookies_are_secure(client: TestClient) -> None:
    client.app.state.settings.base_url = "https://startklaar.example.nl"
    r = client.post("/api/accounts", json={"username": "veilig", "password": PASSWORD})
    assert all("Secure" in c for c in r.headers.get_list("set-cookie"))


def test_account_asks_no_email_phone_or_bsn(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["AccountCreate"]["properties"]
    assert set(schema) == {"username", "password", "display_name", "account_type"}


def test_bad_signups_get_dutch_field_messages(client: TestClient) -> None:
    r = client.post("/api/accounts", json={"username": "ab", "password": "kort"})
    assert r.status_code == 422
    fields = r.json()["fields"]
    assert "gebruikersnaam" in fields["username"]
    assert "te kort" in fields["password"]
    r = client.post("/api/accounts", json={"username": "goedenaam", "password": "wachtwoord"})
    assert "te makkelijk" in r.json()["fields"]["password"]
    signup(client, "bestaat")
    r = new_client(client).post("/api/accounts", json={"username": "BESTAAT", "password": PASSWORD})
    assert r.status_code == 409
    assert "al in gebruik" in r.json()["fields"]["username"]


def test_malformed_json_is_422_with_a_dutch_message(client: TestClient) -> None:
    r = client.post("/api/accounts", content=b"{niet json", headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["msg"] == "Dit is geen geldige JSON."
    r = client.post("/api/accounts", json={"username": "x"})
    assert r.json()["fields"]["password"] == "Dit veld is verplicht."


def test_login_logout_and_wrong_password(client: TestClient) -> None:
    acc = signup(client)
    client.delete("/api/session")
    assert client.get("/api/me").status_code == 401
    r = client.post("/api/session", json={"username": acc["username"], "password": "fout-wachtwoord"})
    assert r.status_code == 401
    assert r.json()["detail"] == "Je gebruikersnaam of wachtwoord klopt niet."
    r = client.post("/api/session", json={"username": "bestaat-niet", "password": "fout-wachtwoord"})
    assert r.status_code == 401 and r.json()["detail"] == "Je gebruikersnaam of wachtwoord klopt niet."
    login(client, acc["username"].upper())
    assert client.get("/api/me").status_code == 200


def test_login_gives_a_new_session_id(client: TestClient) -> None:
    acc = signup(client)
    first = client.cookies.get("sk_session")
    login(client, acc["username"])
    second = client.cookies.get("sk_session")
    assert first and second and first != second
    other = new_client(client)
    other.cookies.set("sk_session", first)
    assert other.get("/api/me").status_code == 401  # the old id is dead


def test_login_is_rate_limited_with_retry_after(client: TestClient) -> None:
    acc = signup(client)
    other = new_client(client)  # a device that never logged in as this person
    for _ in range(5):
        r = other.post("/api/session", json={"username": acc["username"], "password": "fout-wachtwoord"})
        assert r.status_code == 401
    r = other.post("/api/session", json={"username": acc["username"], "password": PASSWORD})
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) > 0
    assert "Te veel pogingen" in r.json()["detail"]


def test_rate_limit_window_ends_so_no_one_is_locked_out_forever(session: Session) -> None:
    limit = service.Limit(2, timedelta(minutes=15))
    now = utcnow()
    for _ in range(2):
        service.record_failure(session, "k", limit, now)
    session.commit()
    try:
        service.check_rate_limit(session, "k", limit, now)
        raise AssertionError("should be limited")
    except service.TooManyAttempts as exc:
        assert 0 < int(exc.headers["Retry-After"]) <= 15 * 60 + 1
    service.check_rate_limit(session, "k", limit, now + timedelta(minutes=16))  # a new window: allowed
    assert session.exec(select(RateLimitHit)).first() is not None


def test_writes_need_the_csrf_header(client: TestClient) -> None:
    signup(client)
    token = client.headers.pop("X-CSRF-Token")
    r = client.post("/api/me/password", json={"current_password": PASSWORD, "new_password": "nog-langer-99"})
    assert r.status_code == 403
    client.headers["X-CSRF-Token"] = "verkeerd"
    assert client.delete("/api/session").status_code == 403
    client.headers["X-CSRF-Token"] = token
    assert client.delete("/api/session").status_code == 204


def test_change_password_ends_other_sessions(client: TestClient) -> None:
    acc = signup(client)
    phone2 = new_client(client)
    login(phone2, acc["username"])
    r = client.post("/api/me/password", json={"current_password": PASSWORD, "new_password": "nog-langer-99"})
    assert r.status_code == 200, r.text
    client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    assert client.get("/api/me").status_code == 200  # this device got a fresh session
    assert phone2.get("/api/me").status_code == 401  # the other device is logged out
    login(phone2, acc["username"], "nog-langer-99")
    r = client.post("/api/me/password", json={"current_password": "fout", "new_password": "nog-langer-100"})
    assert r.status_code == 422 and "klopt niet" in r.json()["fields"]["current_password"]


def test_recovery_code_sets_a_new_password_and_is_spent(client: TestClient) -> None:
    acc = signup(client)
    code = acc["recovery_code"]
    anon = new_client(client)
    body = {"username": acc["username"], "recovery_code": code.lower(), "new_password": "vergeten-maar-nieuw"}
    r = anon.post("/api/session/recover", json=body)
    assert r.status_code == 200, r.text
    fresh = r.json()["recovery_code"]
    assert fresh != code
    assert client.get("/api/me").status_code == 401  # old sessions end
    assert anon.get("/api/me").status_code == 200
    r = new_client(client).post("/api/session/recover", json=body | {"new_password": "nog-een-keer-1"})
    assert r.status_code == 401
    login(new_client(client), acc["username"], "vergeten-maar-nieuw")


def test_me_needs_a_login(client: TestClient) -> None:
    assert client.get("/api/me").status_code == 401
    assert client.delete("/api/session").status_code == 401
    assert client.post("/api/me/password", json={"current_password": "a", "new_password": "b"}).status_code == 401


def test_sign_up_as_mentor_but_never_as_editor_or_admin(client: TestClient) -> None:
    for role in ("editor", "admin"):
        r = client.post(
            "/api/accounts", json={"username": f"wil-{role}", "password": "lang-genoeg-42", "account_type": role}
        )
        assert r.status_code == 422, r.text
    r = client.post("/api/accounts", json={"username": "anja", "password": "lang-genoeg-42", "account_type": "mentor"})
    assert r.status_code == 201 and r.json()["account"]["role"] == "mentor"
    assert client.get("/api/me").json()["role"] == "mentor"


def test_log_out_everywhere_ends_every_session(client: TestClient) -> None:
    body = signup(client, "overal")
    phone = new_client(client)
    login(phone, body["username"])
    laptop = new_client(client)
    login(laptop, body["username"])
    assert phone.get("/api/me").status_code == 200 and laptop.get("/api/me").status_code == 200
    assert phone.delete("/api/session", params={"overal": "true"}).status_code == 204
    for c in (client, phone, laptop):
        assert c.get("/api/me").status_code == 401

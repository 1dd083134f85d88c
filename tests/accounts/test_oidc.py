"""OpenID Connect login for professionals, against a real (small) provider built on Authlib's server side.

The tests play the browser: our app's login redirect goes to the provider (real HTTP on localhost), the
provider's redirect comes back to our callback, which exchanges the code with the provider over HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from joserfc.jwk import RSAKey
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from backend.accounts import oidc, oidc_routes, service
from backend.accounts.models import OidcIdentity, UserAccount
from backend.config import ConfigError, OidcProvider, Settings
from tests.accounts.helpers import new_client, signup
from tests.accounts.oidc_provider import CLIENT_ID, CLIENT_SECRET, TestProvider

NAME = "test"
LABEL = "Inloggen met Testorganisatie"
CALLBACK = f"http://localhost/api/auth/oidc/{NAME}/callback"


@pytest.fixture(scope="module")
def running_provider() -> Iterator[TestProvider]:
    provider = TestProvider().start()
    provider.register_client(CALLBACK)
    yield provider
    provider.stop()


@pytest.fixture
def op(running_provider: TestProvider) -> Iterator[TestProvider]:
    running_provider.reset()
    oidc.clear_caches()
    yield running_provider
    running_provider.reset()
    oidc.clear_caches()


@pytest.fixture
def settings(settings: Settings, op: TestProvider) -> Settings:
    settings.oidc_providers = [
        OidcProvider(name=NAME, label=LABEL, issuer=op.issuer, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    ]
    return settings


# --- playing the browser -----------------------------------------------------------------------------------


def start(client: TestClient, next_path: str | None = None) -> str:
    """GET our login route; returns the provider's authorization URL."""
    params = {"next": next_path} if next_path is not None else {}
    r = client.get(f"/api/auth/oidc/{NAME}/login", params=params, follow_redirects=False)
    assert r.status_code == 302, r.text
    return r.headers["location"]


def authorize(url: str) -> str:
    """The provider's authorization endpoint (it approves its current user); returns our callback URL."""
    r = httpx.get(url, follow_redirects=False)
    assert r.status_code == 302, r.text
    return r.headers["location"]


def login(client: TestClient, next_path: str | None = None) -> httpx.Response:
    r = client.get(authorize(start(client, next_path)), follow_redirects=False)
    if "sk_csrf" in client.cookies:
        client.headers["X-CSRF-Token"] = client.cookies["sk_csrf"]
    return r


def error_code(r: httpx.Response) -> str:
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    assert location.startswith("/inloggen?fout="), location
    assert "sk_session=" not in r.headers.get("set-cookie", "")
    return location.removeprefix("/inloggen?fout=")


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=urlencode({**query(url), **changes})))


def count(engine: Engine, model: type) -> int:
    with Session(engine) as s:
        return int(s.exec(select(func.count()).select_from(model)).one())


def sessions_of(engine: Engine, user_id: int | None) -> int:
    assert user_id is not None
    with Session(engine) as s:
        return service.count_sessions(s, user_id)


def account(engine: Engine, username: str) -> UserAccount:
    with Session(engine) as s:
        return s.exec(select(UserAccount).where(UserAccount.username == username)).one()


# --- the happy path ----------------------------------------------------------------------------------------


def test_providers_are_listed_for_the_login_screen(client: TestClient) -> None:
    r = client.get("/api/auth/oidc/providers")
    assert r.status_code == 200
    assert r.json() == [{"name": NAME, "label": LABEL}]
    assert CLIENT_SECRET not in r.text and "issuer" not in r.text


def test_login_redirects_with_pkce_state_and_nonce_and_seals_them_in_a_cookie(
    client: TestClient, op: TestProvider
) -> None:
    r = client.get(f"/api/auth/oidc/{NAME}/login", follow_redirects=False)
    assert r.status_code == 302
    url = r.headers["location"]
    assert url.startswith(f"{op.issuer}/authorize?")
    params = query(url)
    assert params["response_type"] == "code"
    assert params["client_id"] == CLIENT_ID
    assert params["redirect_uri"] == CALLBACK
    assert params["scope"] == "openid profile"
    assert params["code_challenge_method"] == "S256"
    assert len(params["state"]) >= 32 and len(params["nonce"]) >= 32 and len(params["code_challenge"]) == 43
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("sk_oidc=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Max-Age=600" in cookie
    assert "Path=/api/auth/oidc" in cookie
    value = client.cookies["sk_oidc"]
    for secret in (params["state"], params["nonce"], params["code_challenge"]):
        assert secret not in value  # encrypted, not just signed
    # Every login gets fresh values.
    again = query(start(client))
    assert again["state"] != params["state"] and again["nonce"] != params["nonce"]


def test_first_login_creates_a_mentor_account_and_a_session(client: TestClient, engine: Engine) -> None:
    r = login(client)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/meekijken"
    cookies = r.headers.get_list("set-cookie")
    assert any(c.startswith("sk_session=") and "HttpOnly" in c for c in cookies)
    assert any(c.startswith('sk_oidc=""') or c.startswith("sk_oidc=;") for c in cookies)  # the login cookie is spent
    me = client.get("/api/me").json()
    assert me["role"] == "mentor"
    assert me["display_name"] == "Mila"
    assert me["username"].startswith("oidc-")
    user = account(engine, me["username"])
    assert user.password_hash.startswith("$argon2id$") and user.recovery_code_hash.startswith("$argon2id$")
    with Session(engine) as s:
        identity = s.exec(select(OidcIdentity)).one()
    assert identity.user_id == user.id
    assert identity.issuer == client.app.state.settings.oidc_providers[0].issuer
    assert identity.subject == "medewerker-1"
    # A write with the CSRF token from the cookie works like after a password login.
    assert client.delete("/api/session").status_code == 204
    # No password can log in to this account.
    r = client.post("/api/session", json={"username": me["username"], "password": "lang-genoeg-42"})
    assert r.status_code == 401


def test_a_second_login_maps_to_the_same_account(client: TestClient, engine: Engine) -> None:
    first = login(client)
    assert first.status_code == 303
    username = client.get("/api/me").json()["username"]
    other = new_client(client)
    second = login(other, "/meekijken/3")
    assert second.headers["location"] == "/meekijken/3"
    assert other.get("/api/me").json()["username"] == username
    assert count(engine, UserAccount) == 1
    assert count(engine, OidcIdentity) == 1
    assert sessions_of(engine, account(engine, username).id) == 2


def test_display_name_falls_back_to_name_and_is_cut_to_40_characters(client: TestClient, op: TestProvider) -> None:
    op.user = {"sub": "medewerker-2", "name": "  " + "Alexandra Wilhelmina van Oranje-Nassau " * 2}
    assert login(client).status_code == 303
    name = client.get("/api/me").json()["display_name"]
    assert name == "Alexandra Wilhelmina van Oranje-Nassau A"[:40].strip()
    assert len(name) <= 40
    op.user = {"sub": "medewerker-3"}  # no name at all
    other = new_client(client)
    assert login(other).status_code == 303
    assert other.get("/api/me").json()["display_name"] is None


def test_a_new_login_ends_the_session_that_was_in_the_browser(client: TestClient, engine: Engine) -> None:
    jongere = signup(client)
    old = client.cookies["sk_session"]
    assert login(client).status_code == 303
    assert client.cookies["sk_session"] != old
    assert client.get("/api/me").json()["role"] == "mentor"
    assert sessions_of(engine, account(engine, jongere["username"]).id) == 0


# --- what must fail ----------------------------------------------------------------------------------------


def test_a_wrong_state_is_rejected(client: TestClient, engine: Engine) -> None:
    callback = authorize(start(client))
    r = client.get(with_query(callback, state="een-andere-state"), follow_redirects=False)
    assert error_code(r) == "status"
    assert client.get("/api/me").status_code == 401
    assert count(engine, UserAccount) == 0
    # The login cookie is spent: the real callback does not work afterwards either.
    assert error_code(client.get(callback, follow_redirects=False)) == "verlopen"


def test_a_callback_from_another_browser_is_rejected(client: TestClient) -> None:
    callback = authorize(start(client))
    other = new_client(client)
    assert error_code(other.get(callback, follow_redirects=False)) == "verlopen"
    # A login cookie sealed with another secret (another installation) does not open either.
    other.cookies.set("sk_oidc", oidc.seal("een-ander-geheim-" + "y" * 40, {"p": NAME}), path="/api/auth/oidc")
    assert error_code(other.get(callback, follow_redirects=False)) == "verlopen"


def test_a_login_that_took_over_10_minutes_is_rejected(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    callback = authorize(start(client))
    monkeypatch.setattr(oidc, "_now", lambda: time.time() + 601)
    assert error_code(client.get(callback, follow_redirects=False)) == "verlopen"


def test_an_error_from_the_provider_is_reported(client: TestClient, op: TestProvider) -> None:
    op.deny = True
    callback = authorize(start(client))
    assert query(callback)["error"] == "access_denied"
    assert error_code(client.get(callback, follow_redirects=False)) == "geweigerd"


def test_a_callback_naming_another_issuer_is_rejected(client: TestClient) -> None:
    callback = authorize(start(client))
    r = client.get(with_query(callback, iss="https://evil.example"), follow_redirects=False)
    assert error_code(r) == "status"


@pytest.mark.parametrize("same_kid", [True, False], ids=["same-kid", "unknown-kid"])
def test_an_id_token_signed_with_another_key_is_rejected(
    client: TestClient, op: TestProvider, engine: Engine, same_kid: bool
) -> None:
    forged = RSAKey.generate_key(2048, parameters={"kid": op.key.kid} if same_kid else None, auto_kid=not same_kid)
    op.id_token_key = forged
    assert error_code(login(client)) == "token"
    assert count(engine, UserAccount) == 0
    if not same_kid:
        assert op.hits["/jwks"] == 2  # an unknown kid refetches the key set once (rotation), then fails


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"nonce": "een-andere-nonce"}, "nonce mismatch"),
        ({"nonce": None}, "nonce missing"),
        ({"aud": ["een-andere-client"]}, "audience"),
        ({"iss": "https://evil.example"}, "issuer"),
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "expired"),
        ({"sub": None}, "no subject"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_an_id_token_with_wrong_claims_is_rejected(
    client: TestClient, op: TestProvider, engine: Engine, changes: dict[str, Any], why: str
) -> None:
    op.id_token_changes = changes  # re-signed with the provider's real key: only the claims are wrong
    assert error_code(login(client)) == "token", why
    assert count(engine, UserAccount) == 0


def test_pkce_the_provider_requires_the_verifier_and_our_client_sends_the_right_one(
    client: TestClient, op: TestProvider
) -> None:
    url = start(client)
    challenge = query(url)["code_challenge"]
    # The provider refuses an authorization request without a challenge (an error sent back to the client) ...
    no_pkce = {k: v for k, v in query(url).items() if not k.startswith("code_challenge")}
    refused = authorize(urlunsplit(urlsplit(url)._replace(query=urlencode(no_pkce))))
    assert refused.startswith(CALLBACK) and query(refused)["error"] == "invalid_request"
    # ... and a code exchange without, or with a wrong, code_verifier.
    callback = authorize(url)
    code = query(callback)["code"]
    token_request = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    auth = (CLIENT_ID, CLIENT_SECRET)
    r = httpx.post(f"{op.issuer}/token", data=token_request, auth=auth)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    r = httpx.post(f"{op.issuer}/token", data={**token_request, "code_verifier": "x" * 64}, auth=auth)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    # Our callback exchanges the same code, so it sent the verifier that belongs to the challenge.
    r = client.get(callback, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/meekijken"
    verifier = op.token_requests[-1]["code_verifier"]
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    assert digest == challenge
    # A code works once.
    r = httpx.post(f"{op.issuer}/token", data={**token_request, "code_verifier": verifier}, auth=auth)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "next_path", ["//evil.example", "https://evil.example/meekijken", "/\\evil.example", "meekijken", "/a\r\nb", ""]
)
def test_next_must_be_a_local_path(client: TestClient, next_path: str) -> None:
    r = login(client, next_path)
    assert r.status_code == 303 and r.headers["location"] == "/meekijken"


def test_next_keeps_a_local_path_with_query(client: TestClient) -> None:
    r = login(client, "/meekijken/12?tab=plan")
    assert r.headers["location"] == "/meekijken/12?tab=plan"


def test_an_unknown_provider_is_404(client: TestClient) -> None:
    for path in ("/api/auth/oidc/bestaat-niet/login", "/api/auth/oidc/bestaat-niet/callback?code=x&state=y"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 404
        assert r.json()["detail"] == "Deze manier van inloggen bestaat niet (meer)."


def test_an_identity_of_a_non_mentor_account_never_makes_it_a_mentor(
    client: TestClient, op: TestProvider, engine: Engine
) -> None:
    jongere = signup(client)
    client.delete("/api/session")
    user = account(engine, jongere["username"])
    with Session(engine) as s:
        s.add(OidcIdentity(user_id=user.id, issuer=op.issuer, subject="medewerker-1"))
        s.commit()
    assert error_code(login(client)) == "account"
    assert account(engine, jongere["username"]).role == "jongere"
    assert sessions_of(engine, user.id) == 0
    assert client.get("/api/me").status_code == 401


# --- provider metadata ---------------------------------------------------------------------------------------


def test_discovery_and_keys_are_cached_and_a_rotated_key_is_fetched(client: TestClient, op: TestProvider) -> None:
    assert login(client).status_code == 303
    assert login(new_client(client)).status_code == 303
    assert op.hits["/.well-known/openid-configuration"] == 1
    assert op.hits["/jwks"] == 1
    op.rotate_key()
    assert login(new_client(client)).status_code == 303
    assert op.hits["/jwks"] == 2


def test_a_provider_that_is_down_or_names_another_issuer_gives_a_clear_error(
    client: TestClient, op: TestProvider
) -> None:
    op.discovery_changes = {"issuer": "https://evil.example"}
    r = client.get(f"/api/auth/oidc/{NAME}/login", follow_redirects=False)
    assert error_code(r) == "aanbieder"
    settings = client.app.state.settings
    settings.oidc_providers = [
        *settings.oidc_providers,
        OidcProvider(name="weg", label="Inloggen met Weg", issuer="http://127.0.0.1:9", client_id="x"),
    ]
    assert error_code(client.get("/api/auth/oidc/weg/login", follow_redirects=False)) == "aanbieder"


def test_callback_failures_are_rate_limited_per_ip(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(oidc_routes, "CALLBACK_FAILURES_PER_IP", service.Limit(3, timedelta(minutes=15)))
    for _ in range(3):
        r = client.get(f"/api/auth/oidc/{NAME}/callback?code=x&state=y", follow_redirects=False)
        assert error_code(r) == "verlopen"
    assert error_code(login(client)) == "te-veel"
    assert client.get("/api/me").status_code == 401


# --- settings ------------------------------------------------------------------------------------------------


def _provider(**changes: Any) -> dict[str, Any]:
    return {
        "name": "mijn-org",
        "label": "Inloggen met Mijn Organisatie",
        "issuer": "https://login.example.nl",
        "client_id": "startklaar",
        "client_secret": "heel-geheim",
        **changes,
    }


def test_providers_come_from_a_json_list_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "STARTKLAAR_OIDC_PROVIDERS", json.dumps([_provider(), _provider(name="tweede", scopes="openid")])
    )
    settings = Settings(_env_file=None)
    first, second = settings.oidc_providers
    assert first.scopes == "openid profile" and second.scopes == "openid"
    assert first.label == "Inloggen met Mijn Organisatie"
    assert "heel-geheim" not in repr(settings)
    assert Settings(_env_file=None, oidc_providers=[]).oidc_providers == []


@pytest.mark.parametrize(
    "bad",
    [
        [_provider(), _provider()],  # the same name twice
        [_provider(name="Mijn Org")],  # not a slug
        [_provider(issuer="http://login.example.nl")],  # http outside localhost
        [_provider(issuer="http://localhost.evil.example")],
        [_provider(scopes="profile")],  # no openid
    ],
)
def test_bad_provider_settings_are_refused(bad: list[dict[str, Any]]) -> None:
    with pytest.raises(ValidationError):
        Settings(_env_file=None, oidc_providers=bad)


def test_production_needs_https_issuers(tmp_path: Any) -> None:
    settings = Settings(
        _env_file=None,
        env="production",
        secret_key="s" * 48,
        base_url="https://startklaar.example.nl",
        data_dir=tmp_path,
        oidc_providers=[_provider(issuer="http://localhost:8080")],
    )
    with pytest.raises(ConfigError, match="https://"):
        settings.prepare()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "/meekijken"),
        ("/ik", "/ik"),
        ("//evil.example", "/meekijken"),
        ("/\\evil.example", "/meekijken"),
        ("/ok\\bad", "/meekijken"),
        ("javascript:alert(1)", "/meekijken"),
        ("/" + "a" * 600, "/meekijken"),
    ],
)
def test_safe_next(value: str | None, expected: str) -> None:
    assert oidc.safe_next(value) == expected

"""OAuth2 client credentials for gemeente systems, and the bearer-protected gemeente API."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from backend.kaart.models import KaartApiClient, KaartApiToken
from tests.kaart.kaart_api import (
    EXAMPLES,
    MONDAY_10,
    A,
    B,
    basic,
    bearer,
    csv_bytes,
    get_token,
    make_api_client,
    names,
    row,
)

pytestmark = pytest.mark.usefixtures("set_now")


def test_token_flow_with_basic_and_form_auth(admin: TestClient, client: TestClient, session: Session) -> None:
    client_id, secret = make_api_client(admin, A)
    r = client.post("/api/oauth/token", data={"grant_type": "client_credentials"}, headers=basic(client_id, secret))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["scope"] == f"kaart:{A}"
    assert r.headers["cache-control"] == "no-store"
    form = client.post(
        "/api/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "scope": f"kaart:{A}",
        },
    )
    assert form.status_code == 200
    # Only hashes are stored: neither the secret nor the token appears in the database.
    stored = session.exec(select(KaartApiClient)).one()
    assert secret not in stored.secret_hash
    tokens = session.exec(select(KaartApiToken)).all()
    assert len(tokens) == 2 and all(body["access_token"] not in t.token_hash for t in tokens)
    assert stored.last_used_at is not None


def test_token_errors(admin: TestClient, client: TestClient) -> None:
    client_id, secret = make_api_client(admin, A)
    wrong = client.post("/api/oauth/token", data={"grant_type": "client_credentials"}, headers=basic(client_id, "x"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert wrong.json()["detail"] == "De client_id of het client_secret klopt niet."
    unknown = client.post("/api/oauth/token", data={"grant_type": "client_credentials"}, headers=basic("skc_nee", "x"))
    assert unknown.status_code == 401 and unknown.json()["error"] == "invalid_client"
    grant = client.post("/api/oauth/token", data={"grant_type": "password"}, headers=basic(client_id, secret))
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"
    missing = client.post("/api/oauth/token", data={}, headers=basic(client_id, secret))
    assert missing.status_code == 400 and missing.json()["error"] == "unsupported_grant_type"
    other_scope = client.post(
        "/api/oauth/token",
        data={"grant_type": "client_credentials", "scope": f"kaart:{B}"},
        headers=basic(client_id, secret),
    )
    assert other_scope.status_code == 400 and other_scope.json()["error"] == "invalid_scope"
    no_auth = client.post("/api/oauth/token", data={"grant_type": "client_credentials"})
    assert no_auth.status_code in (400, 401) and no_auth.json()["error"] == "invalid_client"


def test_token_failures_are_rate_limited(admin: TestClient, client: TestClient) -> None:
    client_id, _ = make_api_client(admin, A)
    codes = [
        client.post(
            "/api/oauth/token", data={"grant_type": "client_credentials"}, headers=basic(client_id, "fout")
        ).status_code
        for _ in range(31)
    ]
    assert codes[:30] == [401] * 30 and codes[30] == 429


def test_gemeente_api_upload_publish_export(admin: TestClient, client: TestClient) -> None:
    client_id, secret = make_api_client(admin, A)
    token = get_token(client, client_id, secret)
    api = f"/api/gemeente-api/{A}"
    # Raw body with a Content-Type, as systems send it (here HSDS JSON).
    hsds_json = _hsds_of_example(admin)
    r = client.post(f"{api}/uploads", content=hsds_json, headers={**bearer(token), "Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    version = r.json()["version"]
    assert version["source_format"] == "hsds-json" and version["created_by"].startswith("API-koppeling Systeem")
    again = client.post(
        f"{api}/uploads", files={"file": ("k.json", hsds_json, "application/json")}, headers=bearer(token)
    )
    assert again.status_code == 200 and again.json()["version"]["id"] == version["id"]

    check = client.post(
        f"{api}/validate", files={"file": ("k.csv", b"organisatie\nx\n", "text/csv")}, headers=bearer(token)
    )
    assert check.status_code == 200 and check.json()["ok"] is False

    r = client.post(f"{api}/versions/{version['id']}/publish", headers=bearer(token))
    assert r.status_code == 200 and r.json()["current"] is True
    assert len(names(client.get(f"/api/kaart/{A}/services", params={"per_page": 100}))) == 14
    assert [v["id"] for v in client.get(f"{api}/versions", headers=bearer(token)).json()] == [version["id"]]
    exported = client.get(f"{api}/export", headers=bearer(token))
    assert exported.status_code == 200 and len(json.loads(exported.content)) == 14
    r = client.post(
        f"{api}/uploads", content=csv_bytes([row("Nieuw")]), headers={**bearer(token), "Content-Type": "text/csv"}
    )
    v2 = r.json()["version"]["id"]
    client.post(f"{api}/versions/{v2}/publish", headers=bearer(token))
    assert client.post(f"{api}/rollback", headers=bearer(token)).json()["id"] == version["id"]


def _hsds_of_example(admin: TestClient) -> bytes:
    r = admin.post(f"/api/beheer/kaart/{A}/validate", files={"file": ("k.csv", EXAMPLES[A].read_bytes(), "text/csv")})
    assert r.json()["ok"]
    from backend.kaart import hsds
    from backend.kaart.parsing import parse_upload

    return hsds.to_hsds_json(parse_upload(EXAMPLES[A].read_bytes(), "k.csv", namespace=A).kaart)


def test_token_scope_expiry_and_revocation(
    admin: TestClient, client: TestClient, session: Session, set_now: Callable[[datetime], None]
) -> None:
    id_a, secret_a = make_api_client(admin, A)
    token = get_token(client, id_a, secret_a)
    ok = client.get(f"/api/gemeente-api/{A}/versions", headers=bearer(token))
    assert ok.status_code == 200
    other = client.get(f"/api/gemeente-api/{B}/versions", headers=bearer(token))
    assert other.status_code == 403 and other.json()["detail"] == "Dit toegangstoken hoort bij een andere gemeente."
    upload_b = client.post(
        f"/api/gemeente-api/{B}/uploads", content=b"x", headers={**bearer(token), "Content-Type": "text/csv"}
    )
    assert upload_b.status_code == 403

    missing = client.get(f"/api/gemeente-api/{A}/versions")
    assert missing.status_code == 401 and "Bearer" in missing.json()["detail"]
    assert missing.headers["www-authenticate"].startswith("Bearer")
    bogus = client.get(f"/api/gemeente-api/{A}/versions", headers=bearer("onzin"))
    assert bogus.status_code == 401 and "onbekend" in bogus.json()["detail"]

    set_now(MONDAY_10 + timedelta(hours=1, seconds=1))  # tokens live one hour
    expired = client.get(f"/api/gemeente-api/{A}/versions", headers=bearer(token))
    assert expired.status_code == 401 and "verlopen" in expired.json()["detail"]

    fresh = get_token(client, id_a, secret_a)
    assert session.exec(select(KaartApiToken).where(col(KaartApiToken.token_hash).is_not(None))).all()
    assert admin.delete(f"/api/admin/api-clients/{id_a}").status_code == 204
    revoked = client.get(f"/api/gemeente-api/{A}/versions", headers=bearer(fresh))
    assert revoked.status_code == 401
    gone = client.post("/api/oauth/token", data={"grant_type": "client_credentials"}, headers=basic(id_a, secret_a))
    assert gone.status_code == 401

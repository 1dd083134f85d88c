"""Admins manage gemeente editors and API clients."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.accounts.helpers import PASSWORD, new_client
from tests.kaart.kaart_api import A, B


def test_editors_are_created_listed_linked_and_deleted(admin: TestClient) -> None:
    r = admin.post(
        "/api/admin/editors", json={"username": "Redactie.Gron", "password": PASSWORD, "gemeente_code": "gm0014"}
    )
    assert r.status_code == 201
    body = r.json()
    assert body["username"] == "redactie.gron" and body["role"] == "editor" and body["gemeenten"] == [A]
    assert len(body["recovery_code"]) == 19

    again = admin.post(
        "/api/admin/editors", json={"username": "redactie.gron", "password": PASSWORD, "gemeente_code": A}
    )
    assert again.status_code == 409 and "al in gebruik" in again.json()["fields"]["username"]
    unknown = admin.post(
        "/api/admin/editors", json={"username": "nieuw1", "password": PASSWORD, "gemeente_code": "GM9"}
    )
    assert unknown.status_code == 422 and unknown.json()["fields"]["gemeente_code"] == "Deze gemeente kennen we niet."
    weak = admin.post("/api/admin/editors", json={"username": "nieuw2", "password": "kort", "gemeente_code": A})
    assert weak.status_code == 422 and "te kort" in weak.json()["fields"]["password"]

    editor = new_client(admin)
    login = editor.post("/api/session", json={"username": "redactie.gron", "password": PASSWORD})
    assert login.status_code == 200 and login.json()["account"]["role"] == "editor"
    editor.headers["X-CSRF-Token"] = login.json()["csrf_token"]
    assert [k["kaart"] for k in editor.get("/api/beheer/kaarten").json()] == [A]

    added = admin.post("/api/admin/editors/redactie.gron/gemeenten", json={"gemeente_code": B})
    assert added.status_code == 200 and added.json()["gemeenten"] == [A, B]
    assert [k["kaart"] for k in editor.get("/api/beheer/kaarten").json()] == [A, B]
    assert admin.get("/api/admin/editors").json()[0]["gemeenten"] == [A, B]
    assert admin.delete(f"/api/admin/editors/redactie.gron/gemeenten/{B}").status_code == 204
    assert editor.get(f"/api/beheer/kaart/{B}/versions").status_code == 403
    assert admin.delete(f"/api/admin/editors/redactie.gron/gemeenten/{B}").status_code == 404

    assert admin.delete("/api/admin/editors/redactie.gron").status_code == 204
    assert editor.get(f"/api/beheer/kaart/{A}/versions").status_code == 401  # its sessions ended
    assert admin.get("/api/admin/editors").json() == []
    # An admin is no editor: it cannot be deleted through this endpoint.
    assert admin.delete("/api/admin/editors/" + admin.get("/api/me").json()["username"]).status_code == 404


def test_api_clients_show_their_secret_once(admin: TestClient) -> None:
    r = admin.post("/api/admin/api-clients", json={"gemeente_code": A, "name": "Zaaksysteem"})
    assert r.status_code == 201
    body = r.json()
    assert body["client_id"].startswith("skc_") and len(body["client_secret"]) >= 40
    assert body["scope"] == f"kaart:{A}" and body["token_url"] == "http://localhost/api/oauth/token"
    listed = admin.get("/api/admin/api-clients").json()
    assert [c["client_id"] for c in listed] == [body["client_id"]]
    assert "client_secret" not in listed[0] and body["client_secret"] not in str(listed)
    bad = admin.post("/api/admin/api-clients", json={"gemeente_code": A, "name": ""})
    assert bad.status_code == 422
    assert admin.delete(f"/api/admin/api-clients/{body['client_id']}").status_code == 204
    assert admin.get("/api/admin/api-clients").json() == []

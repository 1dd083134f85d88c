"""The read-only HSDS 3.0 API: root, pagination, filters, full services that validate against the schemas."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from backend.kaart.hsds import TAXONOMY_ONDERWERPEN
from backend.kaart.records import stable_id
from tests.kaart.kaart_api import MONDAY_10, A, csv_bytes, load_examples, make_editor, row, upload, upload_and_publish

pytestmark = pytest.mark.usefixtures("set_now")


def page(client: TestClient, kaart: str = A, **params: Any) -> dict[str, Any]:
    r = client.get(f"/api/hsds/{kaart}/services", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_root_and_pagination(client: TestClient, session: Session) -> None:
    versions = load_examples(session, ("landelijk", A))
    root = client.get(f"/api/hsds/{A}/").json()
    assert root["version"] == "3.0" and root["openapi_url"].endswith("/openapi.json")
    assert root["published_version_id"] == versions[A] and root["total_services"] == 14
    assert client.get(f"/api/hsds/{A}").status_code == 200

    first = page(client, per_page=5)
    assert (first["total_items"], first["total_pages"], first["page_number"], first["size"]) == (14, 3, 1, 5)
    assert first["first_page"] is True and first["last_page"] is False and first["empty"] is False
    last = page(client, per_page=5, page=3)
    assert last["size"] == 4 and last["last_page"] is True
    ids = [s["id"] for p in (1, 2, 3) for s in page(client, per_page=5, page=p)["contents"]]
    assert len(set(ids)) == 14
    beyond = page(client, per_page=5, page=9)
    assert beyond["contents"] == [] and beyond["size"] == 0
    # Without full=true, only the service's own fields (HSDS service_list).
    assert all(not isinstance(v, list | dict) for v in first["contents"][0].values())
    assert page(client, "landelijk")["total_items"] == 35
    assert page(client, "GM0518")["empty"] is True  # nothing published
    assert client.get("/api/hsds/GM9999/services").status_code == 404
    assert client.get(f"/api/hsds/{A}/services", params={"per_page": 1000}).status_code == 422


def test_filters(client: TestClient, session: Session) -> None:
    load_examples(session, (A,))
    schulden = page(client, taxonomy_term_id="schulden")
    by_uuid = page(client, taxonomy_term_id=stable_id("taxonomy_term", TAXONOMY_ONDERWERPEN, "schulden"))
    assert schulden["total_items"] >= 1 and schulden == by_uuid
    assert page(client, taxonomy_term_id="bestaat-niet")["total_items"] == 0
    found = page(client, search="schuld")
    assert found["total_items"] >= 1 and "chuld" in found["contents"][0]["name"]
    near = page(client, postcode="9712")["contents"]
    assert near and page(client, postcode="9712")["total_items"] < 14
    wider = page(client, postcode="9712", proximity=5000)["total_items"]
    assert wider >= page(client, postcode="9712")["total_items"]
    assert client.get(f"/api/hsds/{A}/services", params={"postcode": "abc"}).status_code == 422


def test_modified_after_tracks_changed_services(
    admin: TestClient, client: TestClient, set_now: Callable[[datetime], None]
) -> None:
    editor = make_editor(admin, A)
    upload_and_publish(editor, A, csv_bytes([row("Blijft"), row("Verandert")]))
    set_now(MONDAY_10 + timedelta(days=1))
    upload_and_publish(editor, A, csv_bytes([row("Blijft"), row("Verandert", omschrijving="Nieuwe tekst.")]))
    cut = MONDAY_10 + timedelta(hours=1)
    changed = page(client, modified_after=cut.isoformat())
    assert [s["name"] for s in changed["contents"]] == ["Verandert"]
    assert page(client)["total_items"] == 2


def test_full_services_validate_against_the_schemas(
    client: TestClient, session: Session, service_validator: Any
) -> None:
    load_examples(session, (A, "landelijk"))
    for kaart in (A, "landelijk"):
        full = page(client, kaart, full="true", per_page=100)["contents"]
        assert full and all("attributes" in s or "organization" in s for s in full)
        errors = [f"{s['name']}: {e.message}" for s in full for e in service_validator.iter_errors(s)]
        assert errors == []
        one = client.get(f"/api/hsds/{kaart}/services/{full[0]['id']}").json()
        assert one == full[0]
    assert client.get(f"/api/hsds/{A}/services/00000000-0000-0000-0000-000000000000").status_code == 404


def test_drafts_are_not_in_the_hsds_api(admin: TestClient, client: TestClient) -> None:
    upload_and_publish(admin, A, csv_bytes([row("Gepubliceerd")]))
    upload(admin, A, csv_bytes([row("Concept")]))
    assert [s["name"] for s in page(client)["contents"]] == ["Gepubliceerd"]

"""Who may call what: every sociale kaart endpoint against anonymous, jongere, editor A, editor B, admin and
API clients A and B. An editor of gemeente A can never change gemeente B, not even with B's ids."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.accounts.helpers import new_client
from tests.kaart.kaart_api import (
    EXAMPLES,
    A,
    B,
    bearer,
    get_token,
    load_examples,
    make_api_client,
    make_editor,
    make_jongere,
)

pytestmark = pytest.mark.usefixtures("set_now")

ACTORS = ("anoniem", "jongere", "redacteur_a", "redacteur_b", "beheerder", "api_a", "api_b")


def _expect(default: int, **overrides: int) -> dict[str, int]:
    return {actor: overrides.get(actor, default) for actor in ACTORS}


COOKIE_ONLY = {"api_a": 401, "api_b": 401, "anoniem": 401, "jongere": 403, "redacteur_b": 403}
BEARER_ONLY = {"anoniem": 401, "jongere": 401, "redacteur_a": 401, "redacteur_b": 401, "beheerder": 401, "api_b": 403}
# gemeente B's path with gemeente A's ids: editor B finds nothing, editor A may not even look
CROSS = {**COOKIE_ONLY, "redacteur_a": 403, "redacteur_b": 404}
ADMIN_ONLY = {"anoniem": 401, "jongere": 403, "redacteur_a": 403, "redacteur_b": 403, "api_a": 401, "api_b": 401}


@pytest.fixture
def world(client: TestClient, admin: TestClient, session: Session) -> dict[str, Any]:
    versions = load_examples(session, ("landelijk", A, B))
    service_a = client.get(f"/api/kaart/{A}/services").json()["results"][0]["id"]
    national = client.get(f"/api/kaart/{A}/services", params={"q": "113"}).json()["results"][0]["id"]
    correction = client.post(
        f"/api/kaart/{A}/services/{service_a}/corrections", json={"message": "Telefoon klopt niet"}
    )
    assert correction.status_code == 201
    id_a, secret_a = make_api_client(admin, A)
    id_b, secret_b = make_api_client(admin, B)
    api_a, api_b = new_client(client), new_client(client)
    api_a.headers.update(bearer(get_token(client, id_a, secret_a)))
    api_b.headers.update(bearer(get_token(client, id_b, secret_b)))
    return {
        "clients": {
            "anoniem": new_client(client),
            "jongere": make_jongere(client),
            "redacteur_a": make_editor(admin, A),
            "redacteur_b": make_editor(admin, B),
            "beheerder": admin,
            "api_a": api_a,
            "api_b": api_b,
        },
        "vA": versions[A],
        "vB": versions[B],
        "sA": service_a,
        "national": national,
        "cA": correction.json()["id"],
    }


def _file() -> dict[str, Any]:
    return {"files": {"file": ("groningen.csv", EXAMPLES[A].read_bytes(), "text/csv")}}


def _raw() -> dict[str, Any]:
    return {"content": EXAMPLES[A].read_bytes(), "headers": {"Content-Type": "text/csv"}}


Case = tuple[str, str, Callable[[dict[str, Any]], dict[str, Any]], dict[str, int]]


def cases() -> list[Case]:
    none: Callable[[dict[str, Any]], dict[str, Any]] = lambda w: {}  # noqa: E731
    to_a: Callable[[dict[str, Any]], dict[str, Any]] = lambda w: {"json": {"version_id": w["vA"]}}  # noqa: E731
    editor = {"json": {"username": "x", "password": "y", "gemeente_code": A}}
    api_client = {"json": {"gemeente_code": "GM9999", "name": "x"}}
    remark = {"json": {"message": "Klopt niet"}}
    link = {"json": {"gemeente_code": A}}
    b = "/api/beheer/kaart"
    g = "/api/gemeente-api"
    return [
        # beheer: editors of the gemeente and admins, with a cookie session
        ("GET", "/api/beheer/kaarten", none, _expect(200, anoniem=401, jongere=403, api_a=401, api_b=401)),
        ("GET", f"{b}/{A}/versions", none, _expect(200, **COOKIE_ONLY)),
        ("GET", f"{b}/{A}/versions/{{vA}}", none, _expect(200, **COOKIE_ONLY)),
        ("GET", f"{b}/{A}/versions/{{vA}}/services", none, _expect(200, **COOKIE_ONLY)),
        ("GET", f"{b}/{A}/versions/{{vA}}/services/{{sA}}", none, _expect(200, **COOKIE_ONLY)),
        ("POST", f"{b}/{A}/uploads", lambda w: _file(), _expect(200, **COOKIE_ONLY)),
        ("POST", f"{b}/{A}/validate", lambda w: _file(), _expect(200, **COOKIE_ONLY)),
        ("POST", f"{b}/{A}/versions/{{vA}}/publish", none, _expect(200, **COOKIE_ONLY)),
        ("POST", f"{b}/{A}/rollback", to_a, _expect(200, **COOKIE_ONLY)),
        ("GET", f"{b}/{A}/export", none, _expect(200, **COOKIE_ONLY)),
        ("GET", f"{b}/{A}/corrections", none, _expect(200, **COOKIE_ONLY)),
        ("POST", f"{b}/{A}/corrections/{{cA}}/resolve", none, _expect(200, **COOKIE_ONLY)),
        # the national kaart: admins only
        ("GET", f"{b}/landelijk/versions", none, _expect(200, **{**COOKIE_ONLY, "redacteur_a": 403})),
        # editor B using its own path with gemeente A's ids finds nothing
        ("GET", f"{b}/{B}/versions/{{vA}}", none, _expect(404, **CROSS)),
        ("POST", f"{b}/{B}/versions/{{vA}}/publish", none, _expect(404, **CROSS)),
        ("POST", f"{b}/{B}/rollback", to_a, _expect(404, **CROSS)),
        ("POST", f"{b}/{B}/corrections/{{cA}}/resolve", none, _expect(404, **CROSS)),
        # API for gemeente systems: bearer tokens of that gemeente only
        ("GET", f"{g}/{A}/versions", none, _expect(200, **BEARER_ONLY)),
        ("POST", f"{g}/{A}/uploads", lambda w: _raw(), _expect(200, **BEARER_ONLY)),
        ("POST", f"{g}/{A}/validate", lambda w: _raw(), _expect(200, **BEARER_ONLY)),
        ("POST", f"{g}/{A}/versions/{{vA}}/publish", none, _expect(200, **BEARER_ONLY)),
        ("POST", f"{g}/{A}/rollback", to_a, _expect(200, **BEARER_ONLY)),
        ("GET", f"{g}/{A}/export", none, _expect(200, **BEARER_ONLY)),
        ("POST", f"{g}/{A}/versions/{{vB}}/publish", none, _expect(404, **BEARER_ONLY)),
        # admin
        ("GET", "/api/admin/editors", none, _expect(200, **ADMIN_ONLY)),
        ("GET", "/api/admin/api-clients", none, _expect(200, **ADMIN_ONLY)),
        ("POST", "/api/admin/editors", lambda w: editor, _expect(422, **ADMIN_ONLY)),
        ("POST", "/api/admin/api-clients", lambda w: api_client, _expect(422, **ADMIN_ONLY)),
        ("DELETE", "/api/admin/editors/niemand", none, _expect(404, **ADMIN_ONLY)),
        ("POST", "/api/admin/editors/niemand/gemeenten", lambda w: link, _expect(404, **ADMIN_ONLY)),
        ("DELETE", f"/api/admin/editors/niemand/gemeenten/{A}", none, _expect(404, **ADMIN_ONLY)),
        ("DELETE", "/api/admin/api-clients/skc_niemand", none, _expect(404, **ADMIN_ONLY)),
        # public: everyone
        ("GET", f"/api/kaart/{A}/services", none, _expect(200)),
        ("GET", f"/api/kaart/{A}/services/{{sA}}", none, _expect(200)),
        ("GET", f"/api/kaart/{B}/services/{{sA}}", none, _expect(404)),
        ("GET", f"/api/kaart/{B}/services/{{national}}", none, _expect(200)),
        ("POST", f"/api/kaart/{A}/services/{{sA}}/corrections", lambda w: remark, _expect(201)),
        ("GET", "/api/postcodes/9712", none, _expect(200)),
        ("GET", f"/api/hsds/{A}/", none, _expect(200)),
        ("GET", f"/api/hsds/{A}/services", none, _expect(200)),
        ("GET", f"/api/hsds/{A}/services/{{sA}}", none, _expect(200)),
        ("GET", "/api/hsds/landelijk/services/{national}", none, _expect(200)),
    ]  # fmt: skip


def test_every_endpoint_answers_each_kind_of_caller_as_expected(world: dict[str, Any]) -> None:
    problems = []
    for method, template, kwargs, expected in cases():
        path = template.format(**{k: v for k, v in world.items() if k != "clients"})
        for actor, want in expected.items():
            c: TestClient = world["clients"][actor]
            got = c.request(method, path, **kwargs(world)).status_code
            if got != want:
                problems.append(f"{method} {path} as {actor}: {got}, expected {want}")
    assert problems == []


def test_editor_of_a_cannot_touch_b_even_via_the_api_objects(world: dict[str, Any], session: Session) -> None:
    """After all the attempts above, B's kaart is unchanged: same current version, no new versions."""
    editor_a: TestClient = world["clients"]["redacteur_a"]
    for method, path, kw in [
        ("POST", f"/api/beheer/kaart/{B}/uploads", _file()),
        ("POST", f"/api/beheer/kaart/{B}/versions/{world['vB']}/publish", {}),
        ("POST", f"/api/beheer/kaart/{B}/rollback", {}),
        ("GET", f"/api/beheer/kaart/{B}/export", {}),
    ]:
        assert editor_a.request(method, path, **kw).status_code == 403
    admin: TestClient = world["clients"]["beheerder"]
    versions = admin.get(f"/api/beheer/kaart/{B}/versions").json()
    assert [(v["id"], v["current"]) for v in versions] == [(world["vB"], True)]

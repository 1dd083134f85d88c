"""Bad input is a 4xx, never a server error: deterministic regression tests for what Schemathesis found.

- Text with a NUL character (U+0000): PostgreSQL cannot store it in text (psycopg refuses it), SQLite can.
  Every write that stores caller text, and lookups that send a parameter to the database, must answer 4xx (or
  succeed, on SQLite), never 5xx.
- Ids beyond the database's integer range (2**31 on PostgreSQL, 2**63 on SQLite) in paths, queries and
  bodies: 422, never "integer out of range" or an OverflowError.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.security.world import PASSWORD, World, build_world, load_kaart, next_ip, push_keys

NUL = "\x00"


def nul_cases(w: World) -> list[tuple[str, str, str, dict[str, Any]]]:
    a, s_a = w.kaart.A, w.kaart.sA
    fix = f"/api/kaart/{a}/services/{s_a}/corrections"  # "Klopt dit niet?"
    resolve = f"/api/beheer/kaart/{a}/corrections/{w.correction_id}/resolve"
    editor = {"username": "red1", "password": PASSWORD, "gemeente_code": NUL}
    device = {"endpoint": f"https://p.example/{NUL}", "keys": push_keys()}
    tick = {"state": "done", "client_updated_at": "2026-01-01T00:00:00Z", "client_id": f"abcdefgh{NUL}"}
    return [
        ("anonymous", "POST", fix, {"json": {"message": f"a{NUL}bcdef"}}),
        ("anonymous", "POST", fix, {"json": {"message": "abc", "contact": NUL}}),
        ("anonymous", "GET", f"/api/kaart/{a}/services", {"params": {"q": f"a{NUL}b", "postcode": f"97{NUL}2"}}),
        ("anonymous", "GET", f"/api/hsds/{a}/services", {"params": {"search": f"a{NUL}b"}}),
        ("anonymous", "GET", f"/api/kaart/{a}/services/a%00b", {}),
        ("anonymous", "GET", "/api/gemeenten", {"params": {"q": f"a{NUL}b"}}),
        ("anonymous", "GET", "/api/postcodes/97%0012", {}),
        ("anonymous", "POST", "/api/session", {"json": {"username": f"a{NUL}b", "password": PASSWORD}}),
        ("anonymous", "POST", "/api/accounts", {"json": {"username": f"abc{NUL}", "password": PASSWORD}}),
        ("anonymous", "POST", "/api/accounts", {"json": {"username": "abcdefg", "password": PASSWORD + NUL}}),
        (
            "anonymous",
            "POST",
            "/api/session/recover",
            {"json": {"username": f"a{NUL}b", "recovery_code": NUL, "new_password": PASSWORD}},
        ),
        (
            "anonymous",
            "POST",
            "/api/oauth/token",
            {"data": {"grant_type": "client_credentials", "client_id": f"a{NUL}", "client_secret": "b"}},
        ),
        ("jongere", "PUT", "/api/me/profile", {"json": {"birth_date": "2008-01-01", "gemeente_code": f"GM{NUL}14"}}),
        ("jongere", "PUT", f"/api/me/progress/{w.step_id}", {"json": tick}),
        ("jongere", "POST", "/api/me/progress", {"json": [{**tick, "step_id": w.step_id}]}),
        ("jongere", "PUT", "/api/me/progress/ab%00c", {"json": {**tick, "client_id": "abcdefgh"}}),
        ("jongere", "POST", "/api/me/invites", {"json": {"role": "mentor", "leefgebieden": [f"wo{NUL}nen"]}}),
        ("jongere", "GET", "/api/invites/AB%00CD", {}),
        ("jongere", "POST", "/api/me/push-subscriptions", {"json": device}),
        ("jongere", "DELETE", "/api/me/push-subscriptions", {"json": {"endpoint": f"https://p.example/{NUL}"}}),
        ("jongere", "PUT", "/api/me/reminder-preferences", {"json": {"quiet_start": f"2{NUL}:00"}}),
        ("jongere", "POST", "/api/me/password", {"json": {"current_password": NUL, "new_password": PASSWORD + NUL}}),
        ("jongere", "DELETE", "/api/me", {"json": {"password": f"x{NUL}"}}),
        ("mentor_linked", "POST", f"/api/mentor/jongeren/{w.link_id}/encouragements", {"json": {"text": f"Hoi{NUL}"}}),
        ("editor_a", "POST", resolve, {"json": {"resolution": NUL}}),
        ("editor_a", "GET", "/api/beheer/kaart/GM%0014/versions", {}),
        ("admin", "POST", "/api/admin/editors", {"json": editor}),
        ("admin", "DELETE", "/api/admin/editors/red%00", {}),
        ("admin", "POST", f"/api/admin/editors/{w.spare_editor}/gemeenten", {"json": {"gemeente_code": f"GM{NUL}"}}),
        ("admin", "POST", "/api/admin/api-clients", {"json": {"gemeente_code": a, "name": f"n{NUL}"}}),
        ("admin", "DELETE", "/api/admin/api-clients/skc%00", {}),
    ]  # fmt: skip


def big_id_cases(w: World) -> list[tuple[str, str, str, dict[str, Any]]]:
    a = w.kaart.A
    out: list[tuple[str, str, str, dict[str, Any]]] = []
    for big in (2**31, 2**63, -(2**63) - 1, 2**70):
        out += [
            ("editor_a", "GET", f"/api/beheer/kaart/{a}/versions/{big}", {}),
            ("editor_a", "GET", f"/api/beheer/kaart/{a}/versions/{big}/services", {}),
            ("editor_a", "GET", f"/api/beheer/kaart/{a}/versions/{big}/services/{w.kaart.sA}", {}),
            ("editor_a", "POST", f"/api/beheer/kaart/{a}/versions/{big}/publish", {}),
            ("editor_a", "POST", f"/api/beheer/kaart/{a}/rollback", {"json": {"version_id": big}}),
            ("editor_a", "GET", f"/api/beheer/kaart/{a}/export", {"params": {"version_id": big}}),
            ("editor_a", "POST", f"/api/beheer/kaart/{a}/corrections/{big}/resolve", {}),
            ("api_client", "GET", f"/api/gemeente-api/{a}/export", {"params": {"version_id": big}}),
            ("api_client", "POST", f"/api/gemeente-api/{a}/versions/{big}/publish", {}),
            ("api_client", "POST", f"/api/gemeente-api/{a}/rollback", {"json": {"version_id": big}}),
            ("jongere", "DELETE", f"/api/me/invites/{big}", {}),
            ("jongere", "PUT", f"/api/me/followers/{big}", {"json": {"leefgebieden": []}}),
            ("jongere", "DELETE", f"/api/me/followers/{big}", {}),
            ("jongere", "POST", f"/api/me/messages/{big}/read", {}),
            ("jongere", "POST", f"/api/me/reminders/{big}/read", {}),
            ("mentor_linked", "GET", f"/api/mentor/jongeren/{big}/plan", {}),
            ("mentor_linked", "POST", f"/api/mentor/jongeren/{big}/encouragements", {"json": {"text": "Hoi"}}),
            ("mentor_linked", "DELETE", f"/api/mentor/jongeren/{big}", {}),
        ]
    return out


def _problems(
    app: FastAPI, world: World, cases: list[tuple[str, str, str, dict[str, Any]]], want_422: bool
) -> list[str]:
    problems = []
    for role, method, path, kwargs in cases:
        caller = world.callers[role]
        client = TestClient(
            app,
            base_url="http://localhost",
            client=(next_ip(), 50000),
            cookies=dict(caller.cookies),
            headers=dict(caller.headers),
            raise_server_exceptions=False,
        )
        r = client.request(method, path, **kwargs)
        if r.status_code >= 500 or (want_422 and r.status_code != 422):
            problems.append(f"{method} {path!r} as {role}: {r.status_code} {r.text[:200]}")
    return problems


def test_text_with_a_nul_character_is_a_4xx_never_a_5xx(app: FastAPI) -> None:
    world = build_world(app, load_kaart(app))
    assert _problems(app, world, nul_cases(world), want_422=False) == []


def test_ids_beyond_the_integer_range_are_a_422(app: FastAPI) -> None:
    world = build_world(app, load_kaart(app))
    assert _problems(app, world, big_id_cases(world), want_422=True) == []

"""The authorization matrix: every API route x every kind of caller -> the status code it must get.

Callers: anonymous, jongere, other jongere, mentor linked (to the jongere), mentor not linked, editor of gemeente
A, editor of gemeente B, API client (bearer token for A) and admin. Every request uses real ids from the world
(tests/security/world.py): the jongere's link, invite, message and reminder, gemeente A's version, service and
correction. So "other jongere" and "mentor not linked" really ask for someone else's objects.

The rules, as status codes:
  2xx  allowed (200, 201, 204)
  401  no session (anonymous; the API client has a bearer token, which only the gemeente API accepts)
  403  signed in, but this kind of account may not do this (or: editor of another gemeente)
  404  the object exists but is not yours, and the API does not say it exists (link, message, reminder, ...)
  409  allowed, but refused for the state (a mentor who already follows this jongere accepting another invite)

`test_every_route_is_in_the_matrix` enumerates the app's routes: a new route fails the suite until someone
decides in MATRIX who may call it. VARIANTS adds second requests for some routes with someone else's objects in
them (editor B with A's version, A's API client on B, asking for the admin role at sign-up ...), and
`test_cookie_writes_need_the_csrf_header` sends every cookie-authenticated write without its CSRF token.

Routes that end the caller's own session or consume a one-time object (Entry.fresh) run in a world of their own
per case; all others share one world per database and are written so that their order does not matter (unique
names and contents, per-case spare objects for the admin deletions, idempotent publish/rollback of A's
published version). About 900 cases per database; each database runs in well under a minute.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlmodel import Session, select

from backend.accounts.deps import CSRF_HEADER
from backend.accounts.models import UserAccount
from backend.app import create_app
from backend.reminders.models import PushSubscription
from tests.dbutil import app_settings, empty_pg_tables
from tests.security.world import (
    NEW_PASSWORD,
    PASSWORD,
    ROLES,
    KaartFacts,
    World,
    basic_auth,
    build_world,
    csv_with,
    load_kaart,
    profile_json,
    push_keys,
    unique,
)

# --- expectations ----------------------------------------------------------------------------------------


def everyone(status: int) -> dict[str, int]:
    """Public: every caller gets the same answer."""
    return dict.fromkeys(ROLES, status)


def signed_in(status: int, **overrides: int) -> dict[str, int]:
    """Any account with a session; anonymous and the API client (no session cookie) get 401."""
    return {**dict.fromkeys(ROLES, status), "anonymous": 401, "api_client": 401, **overrides}


def only(status: int, *roles: str, **overrides: int) -> dict[str, int]:
    """Only these accounts; every other signed-in account gets 403."""
    return signed_in(403, **dict.fromkeys(roles, status), **overrides)


def bearer_only(status: int) -> dict[str, int]:
    """The gemeente API: only a bearer token of that gemeente; cookies count for nothing (401)."""
    return {**dict.fromkeys(ROLES, 401), "api_client": status}


EDITORS_OF_A = ("editor_a", "admin")
JONGEREN = ("jongere", "other_jongere")
MENTORS = ("mentor_linked", "mentor_not_linked")


# --- requests --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    path: str
    kwargs: dict[str, Any] = field(default_factory=dict)


Build = Callable[[World, str], Call]


@dataclass(frozen=True)
class Entry:
    build: Build
    expect: dict[str, int]
    rule: str
    fresh: bool = False  # needs a world of its own per case (session-ending, one-time objects)
    after: Callable[[World, str, Call], None] | None = None  # an extra check on the world after the call


def at(path: str) -> Build:
    return lambda w, role: Call(path.format(**_ids(w)))


def send(path: str, **kwargs: Any) -> Build:
    return lambda w, role: Call(path.format(**_ids(w)), kwargs)


def _ids(w: World) -> dict[str, Any]:
    k = w.kaart
    return {
        "A": k.A,
        "B": k.B,
        "vA": k.vA,
        "vB": k.vB,
        "sA": k.sA,
        "cA": w.correction_id,
        "link": w.link_id,
        "invite": w.invite_id,
        "code": w.invite_code,
        "message": w.message_id,
        "reminder": w.reminder_id,
        "step": w.step_id,
        "spare_editor": w.spare_editor,
    }


def _progress(w: World) -> dict[str, Any]:
    return {"state": "done", "client_updated_at": datetime.now(UTC).isoformat(), "client_id": unique("tick")}


def _csv_file(w: World) -> dict[str, Any]:
    return {"files": {"file": ("kaart.csv", csv_with(w.kaart.A, unique("x")), "text/csv")}}


def _csv_raw(w: World) -> dict[str, Any]:
    return {"content": csv_with(w.kaart.A, unique("x")), "headers": {"Content-Type": "text/csv"}}


def _role_of(w: World, username: str, role: str) -> None:
    with Session(w.app.state.engine) as s:
        user = s.exec(select(UserAccount).where(UserAccount.username == username)).one()
    assert user.role == role, f"{username} became {user.role}"


def _remove_device(w: World, role: str) -> Call:
    endpoint = w.new_device("jongere")  # one per case: the jongere's own call removes it
    return Call(f"{ME}/push-subscriptions", {"json": {"endpoint": endpoint}})


def _device_still_there(w: World, role: str, call: Call) -> None:
    """Removing a push device only ever removes your own: the jongere's device survives everyone else's call."""
    endpoint = call.kwargs["json"]["endpoint"]
    with Session(w.app.state.engine) as s:
        found = s.exec(select(PushSubscription).where(PushSubscription.endpoint == endpoint)).first()
    assert (found is None) == (role == "jongere"), f"{role}: the jongere's device {'stayed' if found else 'went'}"


ME = "/api/me"
BEHEER = "/api/beheer/kaart/{A}"
GAPI = "/api/gemeente-api/{A}"

MATRIX: dict[tuple[str, str], Entry] = {
    # --- system ---------------------------------------------------------------------------------------------
    ("GET", "/healthz"): Entry(at("/healthz"), everyone(200), "public"),
    ("GET", "/readyz"): Entry(at("/readyz"), everyone(200), "public"),
    ("GET", "/api/gemeenten"): Entry(at("/api/gemeenten?q=gron"), everyone(200), "public"),
    ("GET", "/api/content"): Entry(at("/api/content"), everyone(200), "public"),
    ("POST", "/api/plan"): Entry(
        lambda w, r: Call("/api/plan", {"json": {"profile": profile_json(), "progress": {}}}),
        everyone(200),
        "public: the plan without an account stores nothing",
    ),
    # --- accounts -------------------------------------------------------------------------------------------
    ("POST", "/api/accounts"): Entry(
        lambda w, r: Call("/api/accounts", {"json": {"username": unique("nieuw"), "password": PASSWORD}}),
        everyone(201),
        "public: anyone may sign up (jongere or mentor; other roles only by an admin)",
    ),
    ("POST", "/api/session"): Entry(
        lambda w, r: Call("/api/session", {"json": {"username": w.usernames["jongere"], "password": PASSWORD}}),
        everyone(200),
        "public: the credentials are the authorization",
        fresh=True,
    ),
    ("DELETE", "/api/session"): Entry(at("/api/session"), signed_in(204), "own session", fresh=True),
    ("GET", ME): Entry(at(ME), signed_in(200), "own account"),
    ("POST", f"{ME}/password"): Entry(
        send(f"{ME}/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
        signed_in(200),
        "own account, with the current password",
        fresh=True,
    ),
    ("POST", "/api/session/recover"): Entry(
        lambda w, r: Call(
            "/api/session/recover",
            {
                "json": {
                    "username": w.usernames["jongere"],
                    "recovery_code": w.recovery_codes["jongere"],
                    "new_password": NEW_PASSWORD,
                }
            },
        ),
        everyone(200),
        "public: the recovery code is the authorization",
        fresh=True,
    ),
    ("GET", "/api/auth/oidc/providers"): Entry(at("/api/auth/oidc/providers"), everyone(200), "public"),
    ("GET", "/api/auth/oidc/{name}/login"): Entry(
        at("/api/auth/oidc/onbekend/login"), everyone(404), "public; no provider is configured here"
    ),
    ("GET", "/api/auth/oidc/{name}/callback"): Entry(
        at("/api/auth/oidc/onbekend/callback?code=x&state=y"), everyone(404), "public; no provider is configured"
    ),
    # --- plan and progress (own data; only jongeren have a profile in this world) ----------------------------
    ("GET", f"{ME}/profile"): Entry(
        at(f"{ME}/profile"), signed_in(404, jongere=200, other_jongere=200), "own profile (404: none yet)"
    ),
    ("PUT", f"{ME}/profile"): Entry(
        lambda w, r: Call(f"{ME}/profile", {"json": profile_json()}),
        signed_in(200),
        "own profile (any account may keep one)",
        fresh=True,  # would give the other roles a profile, changing GET /api/me/profile and /api/me/plan
    ),
    ("GET", f"{ME}/plan"): Entry(
        at(f"{ME}/plan"), signed_in(404, jongere=200, other_jongere=200), "own plan (404: no profile yet)"
    ),
    ("GET", f"{ME}/readiness"): Entry(
        at(f"{ME}/readiness"), signed_in(404, jongere=200, other_jongere=200), "own big-5 check (404: no profile yet)"
    ),
    ("GET", f"{ME}/progress"): Entry(at(f"{ME}/progress"), signed_in(200), "own progress"),
    ("PUT", f"{ME}/progress/{{step_id}}"): Entry(
        lambda w, r: Call(f"{ME}/progress/{w.step_id}", {"json": _progress(w)}), signed_in(200), "own progress"
    ),
    ("POST", f"{ME}/progress"): Entry(
        lambda w, r: Call(f"{ME}/progress", {"json": [{**_progress(w), "step_id": w.step_id}]}),
        signed_in(200),
        "own progress",
    ),
    # --- sociale kaart: public ------------------------------------------------------------------------------
    ("GET", "/api/kaart/{gemeente_code}/services"): Entry(at("/api/kaart/{A}/services"), everyone(200), "public"),
    ("GET", "/api/kaart/{gemeente_code}/services/{service_id}"): Entry(
        at("/api/kaart/{A}/services/{sA}"), everyone(200), "public"
    ),
    ("POST", "/api/kaart/{gemeente_code}/services/{service_id}/corrections"): Entry(
        send("/api/kaart/{A}/services/{sA}/corrections", json={"message": "Het adres klopt niet."}),
        everyone(201),
        "public: reporting a mistake needs no account",
    ),
    ("GET", "/api/postcodes/{postcode}"): Entry(at("/api/postcodes/9712"), everyone(200), "public"),
    ("GET", "/api/hsds/{kaart}/"): Entry(at("/api/hsds/{A}/"), everyone(200), "public, read-only HSDS"),
    ("GET", "/api/hsds/{kaart}"): Entry(at("/api/hsds/{A}"), everyone(200), "public, read-only HSDS"),
    ("GET", "/api/hsds/{kaart}/services"): Entry(at("/api/hsds/{A}/services"), everyone(200), "public"),
    ("GET", "/api/hsds/{kaart}/services/{service_id}"): Entry(
        at("/api/hsds/{A}/services/{sA}"), everyone(200), "public"
    ),
    ("POST", "/api/oauth/token"): Entry(
        lambda w, r: Call(
            "/api/oauth/token",
            {
                "data": {"grant_type": "client_credentials"},
                "headers": basic_auth(w.api_client_id, w.api_client_secret),
            },
        ),
        everyone(200),
        "public: the client credentials are the authorization",
    ),
    # --- sociale kaart: beheer (editors of that gemeente and admins, cookie session) ------------------------
    ("GET", "/api/beheer/kaarten"): Entry(
        at("/api/beheer/kaarten"), only(200, "editor_a", "editor_b", "admin"), "editors and admins"
    ),
    ("POST", "/api/beheer/kaart/{kaart}/uploads"): Entry(
        lambda w, r: Call(f"/api/beheer/kaart/{w.kaart.A}/uploads", _csv_file(w)),
        only(201, *EDITORS_OF_A),
        "editors of A and admins",
    ),
    ("POST", "/api/beheer/kaart/{kaart}/validate"): Entry(
        lambda w, r: Call(f"/api/beheer/kaart/{w.kaart.A}/validate", _csv_file(w)),
        only(200, *EDITORS_OF_A),
        "editors of A and admins",
    ),
    ("GET", "/api/beheer/kaart/{kaart}/versions"): Entry(
        at(f"{BEHEER}/versions"), only(200, *EDITORS_OF_A), "editors of A and admins"
    ),
    ("GET", "/api/beheer/kaart/{kaart}/versions/{version_id}"): Entry(
        at(f"{BEHEER}/versions/{{vA}}"), only(200, *EDITORS_OF_A), "editors of A and admins"
    ),
    ("GET", "/api/beheer/kaart/{kaart}/versions/{version_id}/services"): Entry(
        at(f"{BEHEER}/versions/{{vA}}/services"), only(200, *EDITORS_OF_A), "editors of A and admins"
    ),
    ("GET", "/api/beheer/kaart/{kaart}/versions/{version_id}/services/{service_id}"): Entry(
        at(f"{BEHEER}/versions/{{vA}}/services/{{sA}}"), only(200, *EDITORS_OF_A), "editors of A and admins"
    ),
    ("POST", "/api/beheer/kaart/{kaart}/versions/{version_id}/publish"): Entry(
        at(f"{BEHEER}/versions/{{vA}}/publish"),  # the published version again: idempotent, order-free
        only(200, *EDITORS_OF_A),
        "editors of A and admins",
    ),
    ("POST", "/api/beheer/kaart/{kaart}/rollback"): Entry(
        lambda w, r: Call(f"/api/beheer/kaart/{w.kaart.A}/rollback", {"json": {"version_id": w.kaart.vA}}),
        only(200, *EDITORS_OF_A),
        "editors of A and admins",
    ),
    ("GET", "/api/beheer/kaart/{kaart}/export"): Entry(
        at(f"{BEHEER}/export"), only(200, *EDITORS_OF_A), "editors of A and admins"
    ),
    ("GET", "/api/beheer/kaart/{kaart}/corrections"): Entry(
        at(f"{BEHEER}/corrections"), only(200, *EDITORS_OF_A), "editors of A and admins"
    ),
    ("POST", "/api/beheer/kaart/{kaart}/corrections/{correction_id}/resolve"): Entry(
        send(f"{BEHEER}/corrections/{{cA}}/resolve", json={"resolution": "Aangepast."}),
        only(200, *EDITORS_OF_A),
        "editors of A and admins",
    ),
    # --- admin ----------------------------------------------------------------------------------------------
    ("POST", "/api/admin/editors"): Entry(
        lambda w, r: Call(
            "/api/admin/editors",
            {"json": {"username": unique("redacteur"), "password": PASSWORD, "gemeente_code": w.kaart.A}},
        ),
        only(201, "admin"),
        "admins",
    ),
    ("GET", "/api/admin/editors"): Entry(at("/api/admin/editors"), only(200, "admin"), "admins"),
    ("DELETE", "/api/admin/editors/{username}"): Entry(
        lambda w, r: Call(f"/api/admin/editors/{w.new_editor()}"), only(204, "admin"), "admins"
    ),
    ("POST", "/api/admin/editors/{username}/gemeenten"): Entry(
        lambda w, r: Call(f"/api/admin/editors/{w.spare_editor}/gemeenten", {"json": {"gemeente_code": w.kaart.B}}),
        only(200, "admin"),
        "admins",
    ),
    ("DELETE", "/api/admin/editors/{username}/gemeenten/{gemeente_code}"): Entry(
        lambda w, r: Call(f"/api/admin/editors/{w.new_editor()}/gemeenten/{w.kaart.A}"), only(204, "admin"), "admins"
    ),
    ("POST", "/api/admin/api-clients"): Entry(
        lambda w, r: Call("/api/admin/api-clients", {"json": {"gemeente_code": w.kaart.A, "name": unique("sys")}}),
        only(201, "admin"),
        "admins",
    ),
    ("GET", "/api/admin/api-clients"): Entry(at("/api/admin/api-clients"), only(200, "admin"), "admins"),
    ("DELETE", "/api/admin/api-clients/{client_id}"): Entry(
        lambda w, r: Call(f"/api/admin/api-clients/{w.new_api_client()}"), only(204, "admin"), "admins"
    ),
    # --- API for gemeente systems (bearer token of gemeente A) ----------------------------------------------
    ("POST", "/api/gemeente-api/{gemeente_code}/uploads"): Entry(
        lambda w, r: Call(f"/api/gemeente-api/{w.kaart.A}/uploads", _csv_raw(w)), bearer_only(201), "API client of A"
    ),
    ("POST", "/api/gemeente-api/{gemeente_code}/validate"): Entry(
        lambda w, r: Call(f"/api/gemeente-api/{w.kaart.A}/validate", _csv_raw(w)), bearer_only(200), "API client of A"
    ),
    ("GET", "/api/gemeente-api/{gemeente_code}/versions"): Entry(
        at(f"{GAPI}/versions"), bearer_only(200), "API client of A"
    ),
    ("POST", "/api/gemeente-api/{gemeente_code}/versions/{version_id}/publish"): Entry(
        at(f"{GAPI}/versions/{{vA}}/publish"), bearer_only(200), "API client of A"
    ),
    ("POST", "/api/gemeente-api/{gemeente_code}/rollback"): Entry(
        lambda w, r: Call(f"/api/gemeente-api/{w.kaart.A}/rollback", {"json": {"version_id": w.kaart.vA}}),
        bearer_only(200),
        "API client of A",
    ),
    ("GET", "/api/gemeente-api/{gemeente_code}/export"): Entry(
        at(f"{GAPI}/export"), bearer_only(200), "API client of A"
    ),
    # --- reminders ------------------------------------------------------------------------------------------
    ("GET", "/api/push/public-key"): Entry(at("/api/push/public-key"), everyone(200), "public"),
    ("POST", f"{ME}/push-subscriptions"): Entry(
        lambda w, r: Call(
            f"{ME}/push-subscriptions",
            {"json": {"endpoint": f"https://push.example.com/send/{unique('d')}", "keys": push_keys()}},
        ),
        signed_in(201),
        "own devices",
    ),
    ("DELETE", f"{ME}/push-subscriptions"): Entry(
        _remove_device,
        signed_in(204),
        "own devices: 204 for anyone, but only the owner's call removes the jongere's device",
        after=_device_still_there,
    ),
    ("GET", f"{ME}/reminder-preferences"): Entry(at(f"{ME}/reminder-preferences"), signed_in(200), "own"),
    ("PUT", f"{ME}/reminder-preferences"): Entry(
        send(f"{ME}/reminder-preferences", json={"push_enabled": True, "quiet_start": "21:00", "quiet_end": "09:00"}),
        signed_in(200),
        "own",
    ),
    ("GET", f"{ME}/reminders"): Entry(at(f"{ME}/reminders"), signed_in(200), "own inbox"),
    ("POST", f"{ME}/reminders/{{reminder_id}}/read"): Entry(
        at(f"{ME}/reminders/{{reminder}}/read"),
        signed_in(404, jongere=200),
        "the jongere's reminder: hidden (404) from everyone else",
    ),
    # --- sharing: the jongere -------------------------------------------------------------------------------
    ("POST", f"{ME}/invites"): Entry(
        send(f"{ME}/invites", json={"role": "mentor", "leefgebieden": ["wonen"]}),
        only(201, *JONGEREN),
        "jongeren only",
    ),
    ("GET", f"{ME}/invites"): Entry(at(f"{ME}/invites"), only(200, *JONGEREN), "jongeren only"),
    ("DELETE", f"{ME}/invites/{{invite_id}}"): Entry(
        at(f"{ME}/invites/{{invite}}"),
        only(204, "jongere", other_jongere=404),
        "the jongere's invite: other jongeren get 404, other roles 403",
        fresh=True,
    ),
    ("GET", f"{ME}/followers"): Entry(at(f"{ME}/followers"), only(200, *JONGEREN), "jongeren only"),
    ("PUT", f"{ME}/followers/{{link_id}}"): Entry(
        send(f"{ME}/followers/{{link}}", json={"leefgebieden": ["wonen", "inkomen"]}),
        only(200, "jongere", other_jongere=404),
        "the jongere's link: other jongeren get 404, other roles 403 (a mentor uses the mentor routes)",
    ),
    ("DELETE", f"{ME}/followers/{{link_id}}"): Entry(
        at(f"{ME}/followers/{{link}}"),
        only(204, "jongere", other_jongere=404),
        "the jongere's link: other jongeren get 404, other roles 403",
        fresh=True,
    ),
    ("GET", f"{ME}/audit"): Entry(at(f"{ME}/audit"), signed_in(200), "own audit log"),
    ("GET", f"{ME}/messages"): Entry(at(f"{ME}/messages"), signed_in(200), "own messages"),
    ("POST", f"{ME}/messages/{{message_id}}/read"): Entry(
        at(f"{ME}/messages/{{message}}/read"),
        signed_in(404, jongere=200),
        "the jongere's message: hidden (404) from everyone else, its sender too",
    ),
    # --- sharing: the mentor --------------------------------------------------------------------------------
    ("GET", "/api/invites/{code}"): Entry(
        at("/api/invites/{code}"), signed_in(200), "any account holding the code may see who invites (log in first)"
    ),
    ("POST", "/api/invites/{code}/accept"): Entry(
        at("/api/invites/{code}/accept"),
        only(201, "mentor_not_linked", mentor_linked=409),
        "mentor accounts; one who already follows this jongere gets 409",
        fresh=True,
    ),
    ("GET", "/api/mentor/jongeren"): Entry(at("/api/mentor/jongeren"), only(200, *MENTORS), "mentors only"),
    ("GET", "/api/mentor/jongeren/{link_id}/plan"): Entry(
        at("/api/mentor/jongeren/{link}/plan"),
        only(200, "mentor_linked", mentor_not_linked=404),
        "the linked mentor; other mentors get 404, other roles 403",
    ),
    ("POST", "/api/mentor/jongeren/{link_id}/encouragements"): Entry(
        send("/api/mentor/jongeren/{link}/encouragements", json={"text": "Zet hem op!"}),
        only(201, "mentor_linked", mentor_not_linked=404),
        "the linked mentor; other mentors get 404, other roles 403",
    ),
    ("DELETE", "/api/mentor/jongeren/{link_id}"): Entry(
        at("/api/mentor/jongeren/{link}"),
        only(204, "mentor_linked", mentor_not_linked=404),
        "the linked mentor; other mentors get 404, other roles 403",
        fresh=True,
    ),
    # --- privacy --------------------------------------------------------------------------------------------
    ("GET", f"{ME}/export"): Entry(at(f"{ME}/export"), signed_in(200), "own data"),
    ("GET", f"{ME}/export.html"): Entry(at(f"{ME}/export.html"), signed_in(200), "own data"),
    ("DELETE", ME): Entry(
        send(ME, json={"password": PASSWORD}), signed_in(204), "own account, with the password", fresh=True
    ),
    # --- everything else under /api: a JSON 404 for everyone ------------------------------------------------
    **{
        (method, "/api/{path:path}"): Entry(at("/api/bestaat-niet"), everyone(404), "no such route")
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
    },
}


# Second requests for some routes: the same route with someone else's objects in it. Keyed by (method, route,
# what is different); they run like MATRIX entries but are not needed for the completeness check.
CROSS = {
    "anonymous": 401,
    "api_client": 401,
    **dict.fromkeys(("jongere", "other_jongere", "mentor_linked", "mentor_not_linked"), 403),
}
VARIANTS: dict[tuple[str, str, str], Entry] = {
    ("GET", "/api/beheer/kaart/{kaart}/versions/{version_id}", "B's path, A's version"): Entry(
        at("/api/beheer/kaart/{B}/versions/{vA}"),
        {**CROSS, "editor_a": 403, "editor_b": 404, "admin": 404},
        "an editor of B finds nothing of A's through B's kaart; an editor of A may not look at B at all",
    ),
    ("POST", "/api/beheer/kaart/{kaart}/versions/{version_id}/publish", "B's path, A's version"): Entry(
        at("/api/beheer/kaart/{B}/versions/{vA}/publish"),
        {**CROSS, "editor_a": 403, "editor_b": 404, "admin": 404},
        "publishing A's version as B's is impossible for everyone",
    ),
    ("POST", "/api/beheer/kaart/{kaart}/rollback", "B's path, A's version"): Entry(
        lambda w, r: Call(f"/api/beheer/kaart/{w.kaart.B}/rollback", {"json": {"version_id": w.kaart.vA}}),
        {**CROSS, "editor_a": 403, "editor_b": 404, "admin": 404},
        "rolling B back to A's version is impossible for everyone",
    ),
    ("POST", "/api/beheer/kaart/{kaart}/corrections/{correction_id}/resolve", "B's path, A's correction"): Entry(
        at("/api/beheer/kaart/{B}/corrections/{cA}/resolve"),
        {**CROSS, "editor_a": 403, "editor_b": 404, "admin": 404},
        "an editor of B cannot close a correction about A",
    ),
    ("POST", "/api/beheer/kaart/{kaart}/uploads", "B's kaart"): Entry(
        lambda w, r: Call(f"/api/beheer/kaart/{w.kaart.B}/uploads", _csv_file(w)),
        {**CROSS, "editor_a": 403, "editor_b": 201, "admin": 201},
        "an editor of A cannot upload to B",
    ),
    ("GET", "/api/beheer/kaart/{kaart}/versions", "the national kaart"): Entry(
        at("/api/beheer/kaart/landelijk/versions"),
        {**CROSS, "editor_a": 403, "editor_b": 403, "admin": 200},
        "only admins edit the national kaart",
    ),
    ("GET", "/api/gemeente-api/{gemeente_code}/versions", "gemeente B"): Entry(
        at("/api/gemeente-api/{B}/versions"),
        {**bearer_only(200), "api_client": 403},
        "a token of A is not valid for B (403 insufficient_scope)",
    ),
    ("POST", "/api/gemeente-api/{gemeente_code}/versions/{version_id}/publish", "A's path, B's version"): Entry(
        at("/api/gemeente-api/{A}/versions/{vB}/publish"),
        bearer_only(404),
        "A's client cannot publish B's version through A's path",
    ),
    ("POST", "/api/accounts", "asking for the admin role"): Entry(
        lambda w, r: Call(
            "/api/accounts", {"json": {"username": unique("baas"), "password": PASSWORD, "account_type": "admin"}}
        ),
        everyone(422),
        "sign-up gives only jongere or mentor accounts; editor and admin come from an admin",
    ),
    ("POST", "/api/accounts", "asking for the editor role"): Entry(
        lambda w, r: Call(
            "/api/accounts", {"json": {"username": unique("red"), "password": PASSWORD, "role": "editor"}}
        ),
        everyone(201),
        "an unknown field is ignored: the account is a jongere (checked after the call)",
        after=lambda w, r, call: _role_of(w, call.kwargs["json"]["username"], "jongere"),
    ),
    ("GET", "/api/mentor/jongeren/{link_id}/plan", "a link id that does not exist"): Entry(
        lambda w, r: Call(f"/api/mentor/jongeren/{w.link_id + 100000}/plan"),
        only(404, *MENTORS),
        "unknown and not-yours look the same (404)",
    ),
}
ENTRIES: dict[tuple[str, ...], Entry] = {**MATRIX, **VARIANTS}

# --- the app's routes -----------------------------------------------------------------------------------


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every API route: under /api, plus /healthz and /readyz."""
    try:  # FastAPI >= 0.13x keeps included routers as nodes; this walks them
        from fastapi.routing import iter_route_contexts

        found = [(rc.original_route, rc.path, rc.methods) for rc in iter_route_contexts(app.routes)]
    except ImportError:  # older FastAPI: app.routes is already flat
        found = [(r, getattr(r, "path", ""), getattr(r, "methods", None)) for r in app.routes]
    out = set()
    for route, path, methods in found:
        if isinstance(route, APIRoute) and (path.startswith("/api/") or path in ("/healthz", "/readyz")):
            out |= {(m, path) for m in methods or ()}
    return out


# --- databases and worlds, one per module and database ----------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def matrix_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """One app and database for the whole matrix on this backend (the shared world and the fresh ones)."""
    tmp = tmp_path_factory.mktemp(f"matrix-{request.param}")
    if request.param == "sqlite":
        path = tmp / "matrix.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("pg_database")
        empty_pg_tables(url)
    app = create_app(app_settings(url, tmp / "data"))
    yield app
    app.state.engine.dispose()


@pytest.fixture(scope="module")
def kaart_facts(matrix_app: FastAPI) -> KaartFacts:
    return load_kaart(matrix_app)


@pytest.fixture(scope="module")
def shared_world(matrix_app: FastAPI, kaart_facts: KaartFacts) -> World:
    return build_world(matrix_app, kaart_facts)


# --- the tests -----------------------------------------------------------------------------------------------


def test_every_route_is_in_the_matrix(matrix_app: FastAPI) -> None:
    """A new route fails here until its line in MATRIX says who may call it; a removed one, until it goes."""
    routes = app_routes(matrix_app)
    missing = sorted(routes - MATRIX.keys())
    stale = sorted(MATRIX.keys() - routes)
    assert not missing, f"routes without an entry in MATRIX (decide who may call them): {missing}"
    assert not stale, f"entries in MATRIX for routes that no longer exist: {stale}"
    for key, entry in ENTRIES.items():
        assert set(entry.expect) == set(ROLES), f"{key}: expectation must name every role"


CASES = [
    pytest.param(key, role, id=" ".join(key[:2]) + (f" [{key[2]}]" if len(key) > 2 else "") + f" as {role}")
    for key in ENTRIES
    for role in ROLES
]


@pytest.mark.parametrize(("route", "role"), CASES)
def test_authorization(
    route: tuple[str, ...], role: str, matrix_app: FastAPI, kaart_facts: KaartFacts, shared_world: World
) -> None:
    entry = ENTRIES[route]
    world = build_world(matrix_app, kaart_facts) if entry.fresh else shared_world
    call = entry.build(world, role)
    response = world.client(role).request(route[0], call.path, **call.kwargs)
    want = entry.expect[role]
    assert response.status_code == want, (
        f"{route[0]} {call.path} as {role}: {response.status_code}, expected {want} ({entry.rule})\n"
        f"{response.text[:500]}"
    )
    if entry.after is not None:
        entry.after(world, role, call)


# Writes that use the session cookie must carry the CSRF header (double submit); without it: 403, nothing done.
def _cookie_roles_allowed(entry: Entry) -> list[str]:
    return [r for r in ROLES if 200 <= entry.expect[r] < 300 and r not in ("anonymous", "api_client")]


CSRF_CASES = [
    pytest.param(key, id=f"{key[0]} {key[1]}")
    for key, entry in MATRIX.items()
    if key[0] not in ("GET", "HEAD", "OPTIONS") and entry.expect["anonymous"] == 401 and _cookie_roles_allowed(entry)
] + [pytest.param(("POST", "/api/kaart/{gemeente_code}/services/{service_id}/corrections"), id="corrections")]


@pytest.mark.parametrize("token", ["missing", "another session's"])
@pytest.mark.parametrize("route", CSRF_CASES)
def test_cookie_writes_need_the_csrf_header(
    route: tuple[str, str], token: str, matrix_app: FastAPI, kaart_facts: KaartFacts, shared_world: World
) -> None:
    """As the jongere (or, for routes the jongere may not use, a role that may) without its X-CSRF-Token, or
    with the valid token of another session: 403, and nothing happens."""
    entry = MATRIX[route]
    allowed = _cookie_roles_allowed(entry)
    role = "jongere" if "jongere" in allowed else allowed[0]
    world = build_world(matrix_app, kaart_facts) if entry.fresh else shared_world
    call = entry.build(world, role)
    client = world.client(role, csrf=False)
    if token != "missing":
        other = "other_jongere" if role != "other_jongere" else "jongere"
        client.headers[CSRF_HEADER] = world.callers[other].headers[CSRF_HEADER]
    response = client.request(route[0], call.path, **call.kwargs)
    assert response.status_code == 403, f"{route[0]} {call.path} as {role}, {token} CSRF token: {response.status_code}"

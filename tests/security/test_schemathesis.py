"""Schemathesis against /openapi.json: every operation, as every kind of caller, must never answer 5xx and
never answer with a body that contradicts the documented schema for that status code.

One test per caller (anonymous, jongere, mentor, editor, admin, API client) and database. Each test gets a
fresh database and world (tests/security/world.py); the app and its data then live on across all operations
and examples of that caller, the way a real client would find them. Requests carry the caller's session cookie
and X-CSRF-Token (or bearer token), so the generated data gets past authentication into the routes.

Per operation three kinds of cases are drawn: data that fits the schema, the same with the path parameters set
to real ids from the world (gemeente A, its version and service, the jongere's link, message, reminder ...; so
editors and mentors reach their real objects), and data that does not fit the schema (must be a 4xx, never 5xx).

Bounded for CI: MAX_EXAMPLES per operation per caller, derandomized (the same cases every run), no example
database. Schemathesis's pytest plugin (`@schema.parametrize()`) does not work with pytest 9.2 (it sets
`Node._nodeid`, which pytest no longer has), so each operation runs as a plain Hypothesis test on the
operation's strategy (`APIOperation.as_strategy`), and all failures are reported together at the end.

Both databases: PostgreSQL refuses input SQLite stores (a NUL character in text, ids of 2**31 and more), and
the 500s found so far were PostgreSQL-only; at 15 examples each database takes about 75 s on the 2-core CI
machine. The other callers of the matrix (other jongere, mentor not linked, editor B) would only repeat these
runs with another account: what they may reach is the authorization matrix's job (test_authz_matrix.py).

Operations that end the caller's own session (logout, delete my account, new password) get a new session for
that call, so they are tested too without logging the caller out for the rest of the run.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.config import SchemathesisConfig
from sqlmodel import Session

from backend.accounts import service as accounts
from backend.accounts.deps import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE
from backend.accounts.models import UserAccount
from tests.security.world import World, build_world, load_kaart

# CI's bound; STARTKLAAR_FUZZ_EXAMPLES=200 (say) digs deeper on a local run.
MAX_EXAMPLES = int(os.environ.get("STARTKLAAR_FUZZ_EXAMPLES", "15"))
FUZZ_ROLES = ("anonymous", "jongere", "mentor_linked", "editor_a", "admin", "api_client")
SESSION_ENDING = {("DELETE", "/api/session"), ("DELETE", "/api/me"), ("POST", "/api/me/password")}
CONFIG = SchemathesisConfig.from_dict({"seed": 20260302, "generation": {"deterministic": True, "database": "none"}})
SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
)


def real_ids(world: World) -> dict[str, Any]:
    k = world.kaart
    return {
        "kaart": k.A,
        "gemeente_code": k.A,
        "version_id": k.vA,
        "service_id": k.sA,
        "correction_id": world.correction_id,
        "link_id": world.link_id,
        "invite_id": world.invite_id,
        "code": world.invite_code,
        "message_id": world.message_id,
        "reminder_id": world.reminder_id,
        "step_id": world.step_id,
        "postcode": "9712",
        "username": world.spare_editor,
        "client_id": world.api_client_id,
    }


def strategy(operation: Any, world: World) -> st.SearchStrategy[Any]:
    names = {p.name for p in operation.path_parameters}
    fixed = {k: v for k, v in real_ids(world).items() if k in names}
    kinds = [operation.as_strategy(GenerationMode.POSITIVE)]
    if fixed:
        kinds.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=fixed))
    kinds.append(operation.as_strategy(GenerationMode.NEGATIVE))
    return st.one_of(kinds)


def fresh_session(world: World, role: str) -> tuple[dict[str, str], dict[str, str]]:
    with Session(world.app.state.engine) as s:
        user = s.get(UserAccount, world.user_ids[role])
        if user is None:  # deleted by an earlier example: nothing left to authenticate as
            return {}, {}
        new = accounts.start_session(s, user)
        s.commit()
    return {SESSION_COOKIE: new.token, CSRF_COOKIE: new.csrf_token}, {CSRF_HEADER: new.csrf_token}


def check_operation(operation: Any, world: World, role: str) -> None:
    caller = world.callers[role]

    @SETTINGS
    @given(case=strategy(operation, world))
    def run(case: Any) -> None:
        cookies, headers = dict(caller.cookies), dict(caller.headers)
        ending = bool(cookies) and (case.method.upper(), case.path) in SESSION_ENDING
        if ending:
            cookies, headers = fresh_session(world, role)
        # http://localhost: OAuth2 refuses plain http on any other host (insecure_transport).
        response = case.call(base_url="http://localhost", headers=headers, cookies=cookies)
        if ending:  # "log out everywhere" ends the caller's own session too: give it a new one
            fresh_cookies, fresh_headers = fresh_session(world, role)
            caller.cookies.update(fresh_cookies)
            caller.headers.update(fresh_headers)
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

    run()


@pytest.mark.parametrize("role", FUZZ_ROLES)
def test_no_server_errors_and_responses_match_the_schema(app: FastAPI, role: str) -> None:
    world = build_world(app, load_kaart(app))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)
    failures = []
    operations = 0
    try:
        for result in schema.get_all_operations():
            operation = result.ok()
            operations += 1
            try:
                check_operation(operation, world, role)
            except (Exception, BaseExceptionGroup) as exc:  # collected, then reported together
                # (schemathesis's FailureGroup is a BaseExceptionGroup, not an Exception)
                failures.append(f"--- {operation.label} as {role}:\n{str(exc)[:3000]}")
    finally:
        # Schemathesis keeps the app's lifespan running for the rest of the process; end it with the test.
        from schemathesis.python.asgi import shutdown_lifespans

        shutdown_lifespans()
    assert operations > 70, f"only {operations} operations in /openapi.json"
    assert not failures, f"{len(failures)} operation(s) failed:\n" + "\n".join(failures)

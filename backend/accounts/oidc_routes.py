"""OpenID Connect login for professionals: the provider list, the start and the callback (logic in oidc.py).

An unknown provider name is a JSON 404. Everything that goes wrong during the browser round trip ends in a
303 to `/inloggen?fout=<code>` (codes in oidc.py: verlopen, status, geweigerd, aanbieder, token, account,
te-veel), so the person lands on the login screen with a message instead of on a JSON page.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse

from backend.accounts import oidc, service
from backend.accounts.deps import SESSION_COOKIE, client_ip
from backend.accounts.routes import _set_session_cookies
from backend.config import OidcProvider, Settings
from backend.db import OneHopRoute, SessionDep
from backend.errors import AppError

log = logging.getLogger("startklaar.oidc")

router = APIRouter(prefix="/api/auth/oidc", tags=["accounts"], route_class=OneHopRoute)

# Failed callbacks per IP address (a wrong state, a forged token, ...).
CALLBACK_FAILURES_PER_IP = service.Limit(30, timedelta(minutes=15))


def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def _provider(request: Request, name: str) -> OidcProvider:
    provider = oidc.find_provider(_settings(request), name)
    if provider is None:
        raise AppError(404, "Deze manier van inloggen bestaat niet (meer).")
    return provider


def _redirect(request: Request, location: str, status_code: int = 303) -> RedirectResponse:
    response = RedirectResponse(location, status_code=status_code, headers={"Cache-Control": "no-store"})
    # The login cookie is single use: whatever the outcome, it goes.
    response.delete_cookie(
        oidc.STATE_COOKIE,
        path=oidc.STATE_COOKIE_PATH,
        secure=_settings(request).secure_cookies,
        httponly=True,
        samesite="lax",
    )
    return response


def _failed(request: Request, error: oidc.OidcError) -> RedirectResponse:
    log.info("OpenID Connect login failed (%s): %s", error.code, error.reason)
    return _redirect(request, f"/inloggen?fout={error.code}")


@router.get("/providers", response_model=list[oidc.ProviderOut])
def providers(request: Request) -> list[oidc.ProviderOut]:
    """De organisaties waarmee professionals kunnen inloggen (voor de knoppen op het inlogscherm)."""
    return oidc.public_providers(_settings(request))


@router.get("/{name}/login", status_code=302, response_class=RedirectResponse, responses={404: {}})
def login(
    name: str, request: Request, next_path: Annotated[str | None, Query(alias="next", max_length=2000)] = None
) -> RedirectResponse:
    """Inloggen bij je organisatie: stuurt je door naar hun inlogpagina en daarna terug naar `next`."""
    provider = _provider(request, name)
    try:
        url, sealed = oidc.start_login(_settings(request), provider, next_path)
    except oidc.OidcError as error:
        return _failed(request, error)
    response = RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})
    response.set_cookie(
        oidc.STATE_COOKIE,
        sealed,
        max_age=oidc.STATE_SECONDS,
        path=oidc.STATE_COOKIE_PATH,
        secure=_settings(request).secure_cookies,
        httponly=True,
        samesite="lax",  # sent on the provider's top-level redirect back to us
    )
    return response


@router.get("/{name}/callback", status_code=303, response_class=RedirectResponse, responses={404: {}})
def callback(name: str, request: Request, session: SessionDep) -> RedirectResponse:
    """Terugkomst van de organisatie: controleert alles, logt je in en stuurt je door."""
    provider = _provider(request, name)
    key = f"oidc-ip:{client_ip(request)}"
    try:
        service.check_rate_limit(session, key, CALLBACK_FAILURES_PER_IP)
    except service.TooManyAttempts:
        return _failed(request, oidc.OidcError(oidc.ERR_TOO_MANY, f"rate limit for {key}"))
    try:
        user, next_path = oidc.finish_login(
            session, _settings(request), provider, request.cookies.get(oidc.STATE_COOKIE), request.query_params
        )
    except oidc.OidcError as error:
        # The failure is counted in a transaction of its own (accounts.service.record_failures).
        service.record_failure(session, key, CALLBACK_FAILURES_PER_IP)
        return _failed(request, error)
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        service.end_session(session, old)  # a new login never reuses a session id
    new = service.start_session(session, user)
    response = _redirect(request, next_path)
    _set_session_cookies(request, response, new)
    return response

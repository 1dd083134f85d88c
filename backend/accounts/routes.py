from __future__ import annotations

import logging
from datetime import timedelta

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import JSONResponse

from backend.accounts import service
from backend.accounts.deps import CSRF_COOKIE, SESSION_COOKIE, CurrentUser, client_ip
from backend.accounts.models import (
    AccountCreate,
    AccountOut,
    CreatedAccountOut,
    Credentials,
    PasswordChange,
    Recovery,
    RecoveryCodeOut,
    SessionOut,
    UserAccount,
)
from backend.db import OneHopRoute, SessionDep
from backend.errors import FieldErrors

router = APIRouter(prefix="/api", tags=["accounts"], route_class=OneHopRoute)

log = logging.getLogger("startklaar.security")

# Failed logins from a device that never logged in as this person (README: "Rate limits").
LOGIN_PER_USER_IP = service.Limit(5, timedelta(minutes=15))
LOGIN_PER_IP = service.Limit(100, timedelta(minutes=15))
# Bounded in time: an attacker can slow an account down on new devices, never on the owner's own (below).
LOGIN_PER_USER = service.Limit(20, timedelta(hours=1))
# Failed logins from a device that logged in as this person before (its device cookie): only this limit.
LOGIN_PER_DEVICE = service.Limit(10, timedelta(minutes=15))
# Sign-ups per address, every attempt counting: a group of 25-40 in one room (a VertrekTraining behind one NAT)
# gets in at once; a script is stopped after 40 in ten minutes and 100 a day.
SIGNUP_PER_IP_BURST = service.Limit(40, timedelta(minutes=10))
SIGNUP_PER_IP_DAY = service.Limit(100, timedelta(days=1))
# Wrong current passwords when changing it (someone at an unlocked phone guessing).
PASSWORD_CHANGE_PER_USER = service.Limit(5, timedelta(minutes=15))

DEVICE_COOKIE = "sk_device"
DEVICE_MAX_AGE = int(timedelta(days=400).total_seconds())
WRONG_LOGIN = "Je gebruikersnaam of wachtwoord klopt niet."


def _set_session_cookies(
    request: Request, response: Response, new: service.NewSession, username: str | None = None
) -> None:
    settings = request.app.state.settings
    secure = settings.secure_cookies
    max_age = int(service.SESSION_MAX.total_seconds())
    response.set_cookie(SESSION_COOKIE, new.token, max_age=max_age, httponly=True, secure=secure, samesite="lax")
    if username is not None:  # this device knew the password: see service.known_device
        token = service.new_device_token(settings.secret_key, username)
        response.set_cookie(
            DEVICE_COOKIE, token, max_age=DEVICE_MAX_AGE, httponly=True, secure=secure, samesite="strict"
        )
    # Readable by our own JavaScript, which echoes it in X-CSRF-Token (double submit).
    response.set_cookie(CSRF_COOKIE, new.csrf_token, max_age=max_age, httponly=False, secure=secure, samesite="lax")


def _clear_session_cookies(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)


def _out(user: UserAccount) -> AccountOut:
    return AccountOut.model_validate(user, from_attributes=True)


@router.post("/accounts", status_code=status.HTTP_201_CREATED, response_model=CreatedAccountOut)
def create_account(body: AccountCreate, request: Request, response: Response, session: SessionDep) -> CreatedAccountOut:
    """Maak een account (gebruikersnaam + wachtwoord). Je krijgt één keer een herstelcode te zien."""
    ip = client_ip(request)
    service.count_attempt(
        session, [(f"signup-ip:{ip}", SIGNUP_PER_IP_BURST), (f"signup-ip-day:{ip}", SIGNUP_PER_IP_DAY)]
    )
    user, code = service.create_account(
        session, body.username, body.password, role=body.account_type, display_name=body.display_name, chosen=True
    )
    new = service.start_session(session, user)
    _set_session_cookies(request, response, new, user.username)
    log.info("account aangemaakt: user_id=%s rol=%s ip=%s", user.id, user.role, ip)
    return CreatedAccountOut(account=_out(user), csrf_token=new.csrf_token, recovery_code=code)


@router.post("/session", response_model=SessionOut, responses={401: {}, 429: {}})
def login(body: Credentials, request: Request, response: Response, session: SessionDep) -> SessionOut | JSONResponse:
    """Inloggen. Na te veel foute pogingen moet je even wachten (429 met Retry-After)."""
    name = service.normalise_username(body.username)[:64]
    ip = client_ip(request)
    device = service.known_device(request.app.state.settings.secret_key, request.cookies.get(DEVICE_COOKIE), name)
    if device is not None:
        keys = [(f"login-device:{device}", LOGIN_PER_DEVICE)]
    else:
        keys = [
            (f"login-user-ip:{name}:{ip}", LOGIN_PER_USER_IP),
            (f"login-ip:{ip}", LOGIN_PER_IP),
            (f"login-user:{name}", LOGIN_PER_USER),
        ]
    for key, limit in keys:
        service.check_rate_limit(session, key, limit)
    user = service.authenticate(session, body.username, body.password)
    if user is None:
        service.record_failures(session, keys)  # in a transaction of its own: kept whatever the request does
        log.warning("inloggen mislukt: gebruikersnaam=%r ip=%s bekend_apparaat=%s", name, ip, device is not None)
        return JSONResponse({"detail": WRONG_LOGIN}, status_code=401)
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        service.end_session(session, old)  # a new login never reuses a session id
    new = service.start_session(session, user)
    _set_session_cookies(request, response, new, user.username)
    log.info("ingelogd: user_id=%s ip=%s bekend_apparaat=%s", user.id, ip, device is not None)
    return SessionOut(account=_out(user), csrf_token=new.csrf_token)


@router.delete("/session", status_code=status.HTTP_204_NO_CONTENT)
def logout(
    request: Request,
    response: Response,
    user: CurrentUser,
    session: SessionDep,
    overal: bool = Query(
        False, description="true: uitloggen op al je apparaten (bijvoorbeeld als je telefoon kwijt is)"
    ),
) -> Response:
    """Uitloggen op dit apparaat, of met ?overal=true op al je apparaten."""
    token = request.cookies.get(SESSION_COOKIE)
    if overal:
        service.end_all_sessions(session, user.id)
    elif token:
        service.end_session(session, token)
    resp = Response(status_code=status.HTTP_204_NO_CONTENT)
    _clear_session_cookies(resp)
    return resp


@router.get("/me", response_model=AccountOut)
def me(user: CurrentUser) -> AccountOut:
    return _out(user)


@router.post("/me/password", response_model=SessionOut)
def change_password(
    body: PasswordChange, request: Request, response: Response, user: CurrentUser, session: SessionDep
) -> SessionOut:
    """Nieuw wachtwoord. Alle sessies stoppen; dit apparaat krijgt meteen een nieuwe."""
    key = f"password-change:{user.id}"
    service.check_rate_limit(session, key, PASSWORD_CHANGE_PER_USER)
    try:
        service.change_password(session, user, body.current_password, body.new_password)
    except FieldErrors as exc:
        if "current_password" in exc.fields:
            service.record_failure(session, key, PASSWORD_CHANGE_PER_USER)  # kept although the request fails
            log.warning("wachtwoord wijzigen: huidig wachtwoord fout: user_id=%s ip=%s", user.id, client_ip(request))
        raise
    new = service.start_session(session, user)
    _set_session_cookies(request, response, new, user.username)
    log.info("wachtwoord gewijzigd: user_id=%s", user.id)
    return SessionOut(account=_out(user), csrf_token=new.csrf_token)


@router.post("/session/recover", response_model=RecoveryCodeOut, responses={401: {}, 429: {}})
def recover(
    body: Recovery, request: Request, response: Response, session: SessionDep
) -> RecoveryCodeOut | JSONResponse:
    """Wachtwoord vergeten: kies een nieuw wachtwoord met je herstelcode. Je krijgt een nieuwe herstelcode."""
    name = service.normalise_username(body.username)[:64]
    keys = [
        (f"recover-user:{name}", LOGIN_PER_USER),
        (f"login-ip:{client_ip(request)}", LOGIN_PER_IP),
    ]
    for key, limit in keys:
        service.check_rate_limit(session, key, limit)
    result = service.recover(session, body.username, body.recovery_code, body.new_password)
    if result is None:
        service.record_failures(session, keys)
        log.warning("herstelcode fout: gebruikersnaam=%r ip=%s", name, client_ip(request))
        return JSONResponse({"detail": "Je gebruikersnaam of herstelcode klopt niet."}, status_code=401)
    user, fresh = result
    new = service.start_session(session, user)
    _set_session_cookies(request, response, new, user.username)
    log.info("wachtwoord hersteld met herstelcode: user_id=%s", user.id)
    return RecoveryCodeOut(recovery_code=fresh)

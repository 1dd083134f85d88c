"""Who is asking: typed dependencies for routes (CurrentUser, role checks, CSRF on cookie writes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from backend.accounts import service
from backend.accounts.models import AuthSession, UserAccount
from backend.db import SessionDep
from backend.errors import AppError

SESSION_COOKIE = "sk_session"
CSRF_COOKIE = "sk_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class NotLoggedIn(AppError):
    def __init__(self) -> None:
        super().__init__(401, "Log eerst in.")


def _current(request: Request, session: SessionDep) -> tuple[UserAccount, AuthSession] | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    found = service.session_user(session, token)
    if found is None:
        return None
    if request.method not in SAFE_METHODS and not service.csrf_matches(found[1], request.headers.get(CSRF_HEADER)):
        raise AppError(403, "Je sessie kon niet worden gecontroleerd. Laad de pagina opnieuw en probeer het nog eens.")
    return found


def get_current_user(request: Request, session: SessionDep) -> UserAccount:
    found = _current(request, session)
    if found is None:
        raise NotLoggedIn()
    return found[0]


def get_optional_user(request: Request, session: SessionDep) -> UserAccount | None:
    found = _current(request, session)
    return found[0] if found else None


CurrentUser = Annotated[UserAccount, Depends(get_current_user)]
OptionalUser = Annotated[UserAccount | None, Depends(get_optional_user)]


def require_role(*roles: str):  # type: ignore[no-untyped-def]
    def check(user: CurrentUser) -> UserAccount:
        if user.role not in roles:
            raise AppError(403, "Dit mag je niet doen met dit account.")
        return user

    return Depends(check)


def client_ip(request: Request) -> str:
    # uvicorn's proxy-headers handling has already put the real client address here.
    return request.client.host if request.client else "unknown"

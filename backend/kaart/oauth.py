"""OAuth2 client credentials for gemeente systems, built from Authlib's server-side pieces.

Authlib ships the protocol (``AuthorizationServer`` + ``ClientCredentialsGrant`` for the token endpoint,
``ResourceProtector`` + ``BearerTokenValidator`` for protected endpoints) but no Starlette integration; the
small adapters here feed it FastAPI requests and our tables. Tokens are opaque, live one hour, and only
their SHA-256 is stored. Each client is scoped to one gemeente (scope "kaart:GM0014").
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from authlib.oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Error, OAuth2Request, TokenMixin, grants
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenGenerator, BearerTokenValidator
from authlib.oauth2.rfc6750.errors import InsufficientScopeError, InvalidTokenError
from fastapi.responses import JSONResponse
from sqlalchemy import delete
from sqlmodel import Session, col, select

from backend.errors import AppError
from backend.kaart.models import KaartApiClient, KaartApiToken
from backend.kaart.service import Actor, scope_for, secret_matches

TOKEN_LIFETIME = timedelta(hours=1)

# error code -> Dutch description (ASCII only: RFC 6749 forbids other characters there).
_DUTCH = {
    "invalid_client": "De client_id of het client_secret klopt niet.",
    "unsupported_grant_type": "Gebruik grant_type=client_credentials.",
    "unauthorized_client": "Deze koppeling mag deze grant_type niet gebruiken.",
    "invalid_scope": "Deze koppeling mag alleen de scope van haar eigen gemeente vragen (kaart:GMxxxx).",
    "invalid_request": "Het verzoek is niet compleet. Stuur grant_type en de gegevens van de koppeling.",
    "insecure_transport": "Gebruik https.",
}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class _Client(ClientMixin):
    def __init__(self, row: KaartApiClient) -> None:
        self.row = row

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        allowed = scope_for(self.row.gemeente_code)
        if not scope:
            return allowed
        return allowed if set(scope.split()) <= {allowed} else None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return secret_matches(self.row, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


class _ClientCredentials(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


class _Request(OAuth2Request):
    """A FastAPI request (already read) in the shape Authlib wants."""

    def __init__(self, method: str, url: str, headers: Any, form: dict[str, str]) -> None:
        super().__init__(method, url, headers=headers)
        self._form = form
        self.payload = BasicOAuth2Payload(form)

    @property
    def args(self) -> dict[str, str]:
        return {}

    @property
    def form(self) -> dict[str, str]:
        return self._form


class KaartAuthorizationServer(AuthorizationServer):
    """One per token request: it holds the request's database session."""

    def __init__(self, session: Session, now: datetime) -> None:
        super().__init__()
        self.session = session
        self.now = now
        self.register_grant(_ClientCredentials)
        self.register_token_generator(
            "default",
            BearerTokenGenerator(
                lambda **_: secrets.token_urlsafe(32), expires_generator=int(TOKEN_LIFETIME.total_seconds())
            ),
        )

    def query_client(self, client_id: str) -> _Client | None:
        row = self.session.exec(select(KaartApiClient).where(KaartApiClient.client_id == client_id)).first()
        return _Client(row) if row else None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        client: _Client = request.client  # type: ignore[assignment]
        row = client.row
        # Expired tokens of this client are of no use any more: clean them up here.
        self.session.exec(  # type: ignore[call-overload]
            delete(KaartApiToken).where(
                col(KaartApiToken.client_pk) == row.id, col(KaartApiToken.expires_at) < self.now
            )
        )
        self.session.add(
            KaartApiToken(
                token_hash=token_hash(token["access_token"]),
                client_pk=row.id,  # type: ignore[arg-type]
                gemeente_code=row.gemeente_code,
                scope=token.get("scope", ""),
                issued_at=self.now,
                expires_at=self.now + timedelta(seconds=int(token["expires_in"])),
            )
        )
        row.last_used_at = self.now
        self.session.add(row)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        return request  # type: ignore[no-any-return]

    def create_json_request(self, request: Any) -> Any:
        raise NotImplementedError

    def handle_response(self, status: int, body: Any, headers: Any) -> JSONResponse:
        body = dict(body) if body else {}
        if "error" in body:
            body["error_description"] = _DUTCH.get(body["error"], body.get("error_description", ""))
            body["detail"] = body["error_description"]
        return JSONResponse(body, status_code=status, headers=dict(headers or []))


def token_response(
    session: Session, method: str, url: str, headers: Any, form: dict[str, str], now: datetime
) -> JSONResponse:
    """POST /api/oauth/token: the RFC 6749 token response (or error) for client credentials."""
    server = KaartAuthorizationServer(session, now)
    try:
        request = _Request(method, url, headers, form)
    except OAuth2Error as exc:  # insecure transport: refuse before reading any credentials
        return server.handle_response(*exc())
    return server.create_token_response(request)  # type: ignore[no-any-return]


# ----------------------------------------------------------------------------------- protected routes


@dataclass
class _Token(TokenMixin):
    row: KaartApiToken
    now: datetime

    def check_client(self, client: Any) -> bool:
        return True

    def get_scope(self) -> str:
        return self.row.scope

    def get_expires_in(self) -> int:
        return int((self.row.expires_at - self.row.issued_at).total_seconds())

    def is_expired(self) -> bool:
        return self.row.expires_at <= self.now

    def is_revoked(self) -> bool:
        return False


class _Validator(BearerTokenValidator):
    def __init__(self, session: Session, now: datetime) -> None:
        super().__init__(realm="startklaar")
        self.session = session
        self.now = now

    def authenticate_token(self, token_string: str) -> _Token | None:
        row = self.session.get(KaartApiToken, token_hash(token_string))
        return _Token(row, self.now) if row else None


class _Headers:
    def __init__(self, headers: Any) -> None:
        self.headers = headers


_RESOURCE_MESSAGES = {
    "missing_authorization": "Stuur een toegangstoken mee: Authorization: Bearer <token> (zie /api/oauth/token).",
    "unsupported_token_type": "Stuur een toegangstoken mee: Authorization: Bearer <token>.",
    "invalid_token": "Dit toegangstoken is onbekend of ingetrokken. Vraag een nieuw token aan.",
    "insufficient_scope": "Dit toegangstoken hoort bij een andere gemeente.",
}


def authorize(session: Session, headers: Any, gemeente_code: str, now: datetime) -> Actor:
    """Check the bearer token for this gemeente's kaart; AppError 401/403 with a Dutch message otherwise."""
    validator = _Validator(session, now)
    protector = ResourceProtector()
    protector.register_token_validator(validator)
    try:
        token: _Token = protector.validate_request([scope_for(gemeente_code)], _Headers(headers))
    except OAuth2Error as exc:
        message = _RESOURCE_MESSAGES.get(exc.error or "", "Je hebt geen toegang.")
        if isinstance(exc, InvalidTokenError):
            row = validator.authenticate_token(_bearer(headers))
            if row is not None and row.is_expired():
                message = "Dit toegangstoken is verlopen. Vraag een nieuw token aan bij /api/oauth/token."
        status = 403 if isinstance(exc, InsufficientScopeError) else 401
        err = AppError(status, message)
        err.headers = {"WWW-Authenticate": f'Bearer realm="startklaar", error="{exc.error}"'}  # type: ignore[attr-defined]
        raise err from exc
    client = session.get(KaartApiClient, token.row.client_pk)
    name = client.name if client else "?"
    cid = client.client_id if client else "?"
    return Actor(f"API-koppeling {name} ({cid})")


def _bearer(headers: Any) -> str:
    parts = (headers.get("Authorization") or "").split(None, 1)
    return parts[1] if len(parts) == 2 else ""

"""OpenID Connect login for professionals (mentor accounts), with Authlib as the client.

The flow (authorization code with PKCE S256, state and nonce):

1. `start_login` reads the provider's discovery document, makes the authorization URL and seals state, nonce,
   code_verifier and the local path to return to in a short-lived cookie value (AES-GCM with a key derived from
   the app's secret key: the browser can neither read nor change it).
2. `finish_login` opens that cookie, compares the returned state in constant time, exchanges the code together
   with the code_verifier, validates the ID token against the provider's JWKS (signature, iss, aud, exp, nonce)
   and finds or creates the mentor account for (issuer, sub).

Failures raise `OidcError` with a short code that the routes put in `/inloggen?fout=<code>`.
Discovery documents and key sets are cached per process; an unknown `kid` refetches the key set (key rotation),
at most once a minute.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oidc.core import CodeIDToken
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry
from pydantic import BaseModel
from sqlmodel import Session, select

from backend.accounts import service
from backend.accounts.models import OidcIdentity, UserAccount
from backend.config import OidcProvider, Settings

log = logging.getLogger("startklaar.oidc")

STATE_COOKIE = "sk_oidc"
STATE_COOKIE_PATH = "/api/auth/oidc"
STATE_SECONDS = 600  # the whole round trip via the provider must fit in 10 minutes
DEFAULT_NEXT = "/meekijken"
MAX_NEXT = 500
METADATA_SECONDS = 3600  # discovery documents and key sets are fetched again after an hour
JWKS_FORCED_REFRESH_SECONDS = 60  # an unknown kid refetches the key set at most this often
HTTP_TIMEOUT = 10.0
LEEWAY_SECONDS = 60  # clock difference we accept on exp/iat
# Asymmetric algorithms only: "none" and HS* (signed with the client secret) are never accepted.
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
MENTOR = "mentor"

# Error codes, for /inloggen?fout=<code>.
ERR_EXPIRED = "verlopen"  # no, a changed or an expired login cookie (took over 10 minutes, or another browser)
ERR_STATE = "status"  # the state (or iss) in the callback does not belong to this login
ERR_DENIED = "geweigerd"  # the provider returned an error, e.g. the person cancelled
ERR_PROVIDER = "aanbieder"  # the provider could not be reached or refused the code exchange
ERR_TOKEN = "token"  # noqa: S105 - the ID token is invalid: signature, issuer, audience, expiry or nonce
ERR_ACCOUNT = "account"  # this identity belongs to an account that is not a mentor account
ERR_TOO_MANY = "te-veel"  # too many failed logins from this address


class OidcError(Exception):
    """The login cannot go on; `code` goes to the login screen, `reason` only to the log."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


class ProviderOut(BaseModel):
    name: str
    label: str


def public_providers(settings: Settings) -> list[ProviderOut]:
    return [ProviderOut(name=p.name, label=p.label) for p in settings.oidc_providers]


def find_provider(settings: Settings, name: str) -> OidcProvider | None:
    return next((p for p in settings.oidc_providers if p.name == name), None)


def redirect_uri(settings: Settings, provider: OidcProvider) -> str:
    return f"{settings.base_url.rstrip('/')}/api/auth/oidc/{provider.name}/callback"


def safe_next(value: str | None) -> str:
    """A local path to return to after login; anything else (other sites, //host, /\\host) gives the default."""
    if (
        not value
        or len(value) > MAX_NEXT
        or not value.startswith("/")
        or value.startswith(("//", "/\\"))
        or any(c == "\\" or ord(c) < 0x20 or ord(c) == 0x7F for c in value)
    ):
        return DEFAULT_NEXT
    return value


def _now() -> float:
    return time.time()


# --- discovery and key sets, cached per process ------------------------------------------------------------


@dataclass
class _Cached:
    value: Any
    fetched_at: float
    forced_at: float = 0.0


_metadata_cache: dict[str, _Cached] = {}
_jwks_cache: dict[str, _Cached] = {}


def clear_caches() -> None:
    _metadata_cache.clear()
    _jwks_cache.clear()


def _get_json(url: str) -> dict[str, Any]:
    response = httpx.get(url, timeout=HTTP_TIMEOUT, headers={"Accept": "application/json"})
    response.raise_for_status()
    data = response.json()
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data


def provider_metadata(provider: OidcProvider) -> dict[str, Any]:
    """The provider's discovery document (OpenID Connect Discovery 1.0), cached for an hour."""
    cached = _metadata_cache.get(provider.issuer)
    now = time.monotonic()
    if cached is not None and now - cached.fetched_at < METADATA_SECONDS:
        return cached.value  # type: ignore[no-any-return]
    url = provider.issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        data = _get_json(url)
    except (httpx.HTTPError, ValueError) as exc:
        raise OidcError(ERR_PROVIDER, f"discovery of {url} failed: {exc!r}") from exc
    if data.get("issuer") != provider.issuer:
        raise OidcError(ERR_PROVIDER, f"discovery says issuer {data.get('issuer')!r}, configured {provider.issuer!r}")
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(data.get(key), str):
            raise OidcError(ERR_PROVIDER, f"discovery of {url} has no {key}")
    _metadata_cache[provider.issuer] = _Cached(data, now)
    return data


def _key_set(jwks_uri: str, *, force: bool = False) -> KeySet:
    cached = _jwks_cache.get(jwks_uri)
    now = time.monotonic()
    if cached is not None:
        fresh = now - cached.fetched_at < METADATA_SECONDS
        if (not force and fresh) or (force and now - cached.forced_at < JWKS_FORCED_REFRESH_SECONDS):
            return cached.value  # type: ignore[no-any-return]
    try:
        keys = KeySet.import_key_set(_get_json(jwks_uri))  # type: ignore[arg-type]
    except (httpx.HTTPError, ValueError, JoseError) as exc:
        raise OidcError(ERR_PROVIDER, f"key set {jwks_uri} could not be loaded: {exc!r}") from exc
    _jwks_cache[jwks_uri] = _Cached(keys, now, forced_at=now if force else 0.0)
    return keys


# --- the login cookie: sealed with the app's secret ---------------------------------------------------------


def _cipher(secret_key: str) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"startklaar oidc login state v1").derive(
        secret_key.encode()
    )
    return AESGCM(key)


def seal(secret_key: str, data: dict[str, Any]) -> str:
    iv = secrets.token_bytes(12)
    sealed = _cipher(secret_key).encrypt(iv, json.dumps(data).encode(), STATE_COOKIE.encode())
    return base64.urlsafe_b64encode(iv + sealed).decode().rstrip("=")


def unseal(secret_key: str, value: str | None) -> dict[str, Any] | None:
    if not value or len(value) > 4000:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        data = json.loads(_cipher(secret_key).decrypt(raw[:12], raw[12:], STATE_COOKIE.encode()))
    except (ValueError, InvalidTag):
        return None
    return data if isinstance(data, dict) else None


# --- the flow ----------------------------------------------------------------------------------------------


def _client(settings: Settings, provider: OidcProvider, metadata: dict[str, Any]) -> OAuth2Client:
    if not provider.client_secret:
        method = "none"  # a public client; PKCE protects the code
    else:
        supported = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        method = "client_secret_basic" if "client_secret_basic" in supported else "client_secret_post"
    return OAuth2Client(
        client_id=provider.client_id,
        client_secret=provider.client_secret or None,
        token_endpoint_auth_method=method,
        scope=provider.scopes,
        redirect_uri=redirect_uri(settings, provider),
        code_challenge_method="S256",
        timeout=HTTP_TIMEOUT,
    )


def start_login(settings: Settings, provider: OidcProvider, next_path: str | None) -> tuple[str, str]:
    """The provider's authorization URL and the sealed value for the login cookie."""
    metadata = provider_metadata(provider)
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    code_verifier = secrets.token_urlsafe(48)  # 64 characters from the RFC 7636 alphabet
    with _client(settings, provider, metadata) as client:
        url, _ = client.create_authorization_url(
            metadata["authorization_endpoint"], state=state, code_verifier=code_verifier, nonce=nonce
        )
    cookie = seal(
        settings.secret_key,
        {
            "p": provider.name,
            "s": state,
            "n": nonce,
            "v": code_verifier,
            "next": safe_next(next_path),
            "exp": int(_now()) + STATE_SECONDS,
        },
    )
    return url, cookie


def finish_login(
    session: Session,
    settings: Settings,
    provider: OidcProvider,
    cookie: str | None,
    params: Mapping[str, str],
) -> tuple[UserAccount, str]:
    """Check the callback, exchange the code, validate the ID token; returns the mentor and where to go next."""
    data = unseal(settings.secret_key, cookie)
    if data is None or data.get("p") != provider.name or not isinstance(data.get("exp"), int):
        raise OidcError(ERR_EXPIRED, "no valid login cookie")
    if data["exp"] < _now():
        raise OidcError(ERR_EXPIRED, "login cookie expired")
    if not hmac.compare_digest(str(params.get("state", "")).encode(), str(data["s"]).encode()):
        raise OidcError(ERR_STATE, "state does not match")
    if "iss" in params and params["iss"] != provider.issuer:  # RFC 9207: a mix-up with another provider
        raise OidcError(ERR_STATE, f"callback iss {params['iss']!r} is not {provider.issuer!r}")
    if params.get("error"):
        raise OidcError(ERR_DENIED, f"provider error {params.get('error')!r}: {params.get('error_description')!r}")
    code = params.get("code")
    if not code:
        raise OidcError(ERR_PROVIDER, "callback without code")

    metadata = provider_metadata(provider)
    try:
        with _client(settings, provider, metadata) as client:
            token = client.fetch_token(
                metadata["token_endpoint"],
                grant_type="authorization_code",
                code=code,
                code_verifier=data["v"],
            )
    except (OAuthError, httpx.HTTPError, ValueError) as exc:
        raise OidcError(ERR_PROVIDER, f"code exchange failed: {exc!r}") from exc
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise OidcError(ERR_TOKEN, "token response without id_token")
    claims = validate_id_token(provider, metadata, id_token, nonce=data["n"], access_token=token.get("access_token"))
    return find_or_create_mentor(session, provider.issuer, claims), data["next"]


def validate_id_token(
    provider: OidcProvider, metadata: dict[str, Any], id_token: str, *, nonce: str, access_token: str | None
) -> dict[str, Any]:
    """Signature against the provider's JWKS, then iss, aud, exp, iat, nonce (and at_hash when present)."""
    offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
    algorithms = [a for a in offered if a in SIGNING_ALGORITHMS]
    if not algorithms:
        raise OidcError(ERR_PROVIDER, f"no acceptable ID token algorithm in {offered!r}")
    registry = JWSRegistry(algorithms=algorithms, strict_check_header=False)
    try:
        try:
            decoded = jwt.decode(id_token, _key_set(metadata["jwks_uri"]), registry=registry)
        except InvalidKeyIdError:  # the provider may have rotated its keys
            decoded = jwt.decode(id_token, _key_set(metadata["jwks_uri"], force=True), registry=registry)
        claims = CodeIDToken(
            decoded.claims,
            decoded.header,
            options={
                "iss": {"essential": True, "value": provider.issuer},
                "aud": {"essential": True, "value": provider.client_id},
                "sub": {"essential": True},
            },
            params={"nonce": nonce, "client_id": provider.client_id, "access_token": access_token},
        )
        claims.validate(leeway=LEEWAY_SECONDS)
    except JoseError as exc:
        raise OidcError(ERR_TOKEN, f"ID token rejected: {exc!r}") from exc
    if "nonce" not in claims:  # CodeIDToken checks it when present; we always sent one, so it must come back
        raise OidcError(ERR_TOKEN, "ID token without nonce")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not 0 < len(sub) <= 255:
        raise OidcError(ERR_TOKEN, "ID token sub is not a usable string")
    return dict(claims)


# --- accounts ----------------------------------------------------------------------------------------------


def _display_name(claims: Mapping[str, Any]) -> str | None:
    for key in ("given_name", "name"):
        value = claims.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:40].strip()
    return None


def _free_username(session: Session, issuer: str, subject: str) -> str:
    candidates = ["oidc-" + hashlib.sha256(f"{issuer}\0{subject}".encode()).hexdigest()[:12]]
    candidates += ["oidc-" + secrets.token_hex(6) for _ in range(5)]  # if someone picked that name already
    for name in candidates:
        if session.exec(select(UserAccount.id).where(UserAccount.username == name)).first() is None:
            return name
    raise OidcError(ERR_ACCOUNT, "no free username")  # practically impossible


def find_or_create_mentor(session: Session, issuer: str, claims: Mapping[str, Any]) -> UserAccount:
    """The mentor account bound to (issuer, sub); made on the first login. Never changes an account's role."""
    subject = str(claims["sub"])
    identity = session.exec(
        select(OidcIdentity).where(OidcIdentity.issuer == issuer, OidcIdentity.subject == subject)
    ).first()
    if identity is not None:
        user = session.get(UserAccount, identity.user_id)
        if user is None or user.role != MENTOR:
            raise OidcError(ERR_ACCOUNT, f"identity belongs to a {user.role if user else 'missing'} account")
        return user
    user = UserAccount(
        username=_free_username(session, issuer, subject),
        # Random secrets nobody knows: a password or recovery-code login can never match.
        password_hash=service.hash_secret(secrets.token_urlsafe(32)),
        recovery_code_hash=service.hash_secret(secrets.token_urlsafe(32)),
        role=MENTOR,
        display_name=_display_name(claims),
    )
    session.add(user)
    session.flush()
    session.add(OidcIdentity(user_id=user.id, issuer=issuer, subject=subject))
    session.flush()
    log.info("new mentor account %s from OpenID Connect issuer %s", user.username, issuer)
    return user

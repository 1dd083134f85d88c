"""A small OpenID Connect provider for the tests, built on Authlib's server side.

It runs in a thread on a free localhost port and serves discovery, JWKS, an authorization endpoint that
auto-approves `provider.user` (or refuses when `provider.deny` is set) and a token endpoint. The code flow is
Authlib's `AuthorizationCodeGrant` with the `OpenIDCode` extension (signed ID tokens with nonce) and a strict
`CodeChallenge` (PKCE S256 is required: no challenge at the authorization endpoint, or a missing or wrong
code_verifier at the token endpoint, fails).

Knobs for the tests: `user`, `deny`, `id_token_changes` (claims to change in the issued ID token; None
removes a claim), `id_token_key` (sign the ID token with another key), `discovery_changes`, `rotate_key()`,
and `hits` (requests per path).
"""

from __future__ import annotations

import hmac
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from authlib.common.security import generate_token
from authlib.oauth2.rfc6749 import AuthorizationServer, ClientMixin, OAuth2Error, OAuth2Payload, OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.models import AuthorizationCodeMixin
from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "startklaar-test"
CLIENT_SECRET = "geheim-van-de-testclient-" + "x" * 20


# --- models ------------------------------------------------------------------------------------------------


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    auth_method: str = "client_secret_basic"

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        allowed = {"openid", "profile"}
        return " ".join(s for s in (scope or "").split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(self.client_secret, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint != "token" or method == self.auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class AuthorizationCode(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: dict[str, Any]
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time


# --- Authlib's generic server, on plain dicts ----------------------------------------------------------------


class Payload(OAuth2Payload):
    def __init__(self, values: dict[str, list[str]]) -> None:
        self._datalist = values
        self._data = {k: v[0] for k, v in values.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:  # type: ignore[override]
        return self._datalist


class Request(OAuth2Request):
    def __init__(self, method: str, uri: str, headers: Any, query: dict[str, list[str]], form: dict[str, list[str]]):
        super().__init__(method, uri, headers=headers)
        self._args = {k: v[0] for k, v in query.items()}
        self._form = {k: v[0] for k, v in form.items()}
        self.payload = Payload({**query, **form})

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


class CodeGrant(AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    @property
    def provider(self) -> TestProvider:
        return self.server.provider  # type: ignore[attr-defined,no-any-return]

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        data = request.payload.data
        self.provider.codes[code] = AuthorizationCode(
            code=code,
            client_id=request.client.client_id,
            redirect_uri=data.get("redirect_uri", ""),
            scope=request.client.get_allowed_scope(data.get("scope", "")),
            user=request.user,
            nonce=data.get("nonce"),
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
        )

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        found = self.provider.codes.get(code)
        return found if found is not None and found.client_id == client.client_id else None

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        self.provider.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: AuthorizationCode) -> dict[str, Any]:
        return authorization_code.user


class OpenID(OpenIDCode):
    def __init__(self, provider: TestProvider) -> None:
        super().__init__(require_nonce=True)
        self.provider = provider

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        return any(c.nonce == nonce for c in self.provider.codes.values())

    def resolve_client_private_key(self, client: Client) -> RSAKey:
        return self.provider.key

    def get_client_algorithm(self, client: Client) -> str:
        return "RS256"

    def get_encode_header(self, client: Client) -> dict[str, str]:
        return {"alg": "RS256", "kid": self.provider.key.kid or ""}

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        return {"iss": self.provider.issuer, "aud": [client.client_id]}

    def generate_user_info(self, user: dict[str, Any], scope: str) -> UserInfo:
        info = UserInfo(sub=user["sub"])
        if "profile" in scope.split():
            info.update({k: v for k, v in user.items() if k in ("name", "given_name", "family_name")})
        return info


class StrictPKCE(CodeChallenge):
    """PKCE is required for every client (Authlib requires it only for public clients), and only S256."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: AuthorizationCodeGrant, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge") or data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE with code_challenge_method=S256 is required.")
        super().validate_code_challenge(grant, redirect_uri)


class Server(AuthorizationServer):
    def __init__(self, provider: TestProvider) -> None:
        super().__init__(scopes_supported=["openid", "profile"])
        self.provider = provider
        self.register_token_generator("default", BearerTokenGenerator(lambda **_: generate_token(42)))
        self.register_grant(CodeGrant, [OpenID(provider), StrictPKCE(required=True)])

    def query_client(self, client_id: str) -> Client | None:
        return self.provider.clients.get(client_id)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        pass

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, list[tuple[str, str]]]:
        return status, body, list(headers or [])


# --- the HTTP side -----------------------------------------------------------------------------------------


class TestProvider:
    __test__ = False  # not a test class

    def __init__(self) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.provider = self  # type: ignore[attr-defined]
        self.issuer = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.server = Server(self)
        self.key = RSAKey.generate_key(2048, auto_kid=True)
        self.old_keys: list[RSAKey] = []
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.reset()
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> TestProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def reset(self) -> None:
        self.user: dict[str, Any] = {"sub": "medewerker-1", "given_name": "Mila", "name": "Mila de Vries"}
        self.deny = False
        self.id_token_changes: dict[str, Any] = {}
        self.id_token_key: RSAKey | None = None
        self.discovery_changes: dict[str, Any] = {}
        self.hits: Counter[str] = Counter()
        self.token_requests: list[dict[str, str]] = []

    def register_client(self, redirect_uri: str) -> None:
        self.clients[CLIENT_ID] = Client(CLIENT_ID, CLIENT_SECRET, [redirect_uri])

    def rotate_key(self) -> None:
        self.old_keys.append(self.key)
        self.key = RSAKey.generate_key(2048, auto_kid=True)

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "profile"],
            **self.discovery_changes,
        }

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.as_dict(private=False)]}

    def authorize(self, request: Request) -> tuple[int, Any, list[tuple[str, str]]]:
        user = None if self.deny else dict(self.user)
        try:
            grant = self.server.get_consent_grant(request, end_user=user)
        except OAuth2Error as error:
            return self.server.handle_error_response(request, error)  # type: ignore[no-any-return]
        return self.server.create_authorization_response(request, grant_user=user, grant=grant)  # type: ignore[no-any-return]

    def token(self, request: Request) -> tuple[int, Any, list[tuple[str, str]]]:
        self.token_requests.append(dict(request.form))
        status, body, headers = self.server.create_token_response(request)
        if status == 200 and "id_token" in body and (self.id_token_changes or self.id_token_key is not None):
            decoded = jwt.decode(body["id_token"], self.key)
            claims = {**decoded.claims, **self.id_token_changes}
            claims = {k: v for k, v in claims.items() if v is not None}
            key = self.id_token_key or self.key
            body["id_token"] = jwt.encode({"alg": "RS256", "kid": key.kid or ""}, claims, key)
        return status, body, headers


class _Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet in tests
        pass

    @property
    def provider(self) -> TestProvider:
        return self.server.provider  # type: ignore[attr-defined,no-any-return]

    def _request(self, form: dict[str, list[str]]) -> Request:
        parts = urlsplit(self.path)
        uri = self.provider.issuer + self.path
        return Request(self.command, uri, self.headers, parse_qs(parts.query), form)

    def _send(self, status: int, body: Any, headers: list[tuple[str, str]]) -> None:
        raw = json.dumps(body).encode() if isinstance(body, dict) else str(body or "").encode()
        self.send_response(status)
        for name, value in headers:
            if name.lower() != "content-length":
                self.send_header(name, value)
        if isinstance(body, dict):
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = urlsplit(self.path).path
        self.provider.hits[path] += 1
        if path == "/.well-known/openid-configuration":
            self._send(200, self.provider.discovery(), [])
        elif path == "/jwks":
            self._send(200, self.provider.jwks(), [])
        elif path == "/authorize":
            self._send(*self.provider.authorize(self._request({})))
        else:
            self._send(404, {"error": "not_found"}, [])

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        path = urlsplit(self.path).path
        self.provider.hits[path] += 1
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode())
        if path == "/token":
            self._send(*self.provider.token(self._request(form)))
        else:
            self._send(404, {"error": "not_found"}, [])

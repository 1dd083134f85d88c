"""Security headers on every response (pure ASGI, so it costs almost nothing per request)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; worker-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# /docs (backend/system/docs.py) serves Swagger UI from our own origin; its components set inline styles.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
# Answers that depend on who is logged in (the session cookie): kept by no cache on the phone, not the
# browser's and not the service worker's (frontend/sw.js keeps only an allowlist of public answers anyway).
# A route that sets its own Cache-Control keeps it (the plan: "private, no-cache", revalidated per tick).
PERSONAL_PATHS = frozenset({"/api/me", "/api/accounts"})
PERSONAL_PREFIXES = ("/api/me/", "/api/mentor/", "/api/session", "/api/invites/", "/api/beheer/", "/api/admin/")
NO_STORE = (b"cache-control", b"no-store")


def is_personal(path: str) -> bool:
    return path in PERSONAL_PATHS or path.startswith(PERSONAL_PREFIXES)


def header_list(*, hsts: bool, docs: bool = False) -> list[tuple[bytes, bytes]]:
    base = [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"strict-origin-when-cross-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
        (b"x-frame-options", b"DENY"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]
    if hsts:
        base.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
    return [*base, (b"content-security-policy", (DOCS_CSP if docs else CSP).encode())]


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.headers = header_list(hsts=hsts)
        self.docs_headers = header_list(hsts=hsts, docs=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.docs_headers if scope["path"] == "/docs" else self.headers
        personal = is_personal(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), *extra]
                if personal and not any(k.lower() == b"cache-control" for k, _ in headers):
                    headers.append(NO_STORE)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)

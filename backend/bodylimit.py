"""A size limit on request bodies, per route, applied before anything reads or parses them (pure ASGI).

Without it one anonymous JSON body of 69 MB held the event loop for 6.5 s and took the process to 2 GB:
FastAPI reads the whole body into memory and json.loads builds every object before validation can say
"too long". Here:

- a Content-Length over the route's limit is refused with 413 at once: the app is not called and not one
  byte of the body is read (this layer sits outside the in-flight limit, so such a request takes no slot);
- a body without Content-Length (chunked), or one that does not keep to its Content-Length, is counted as
  receive() hands it over, and the request ends with 413 as soon as the count passes the limit. Nothing is
  buffered here: each piece goes on to the app as it came.

The 413 says `Connection: close`, so the server stops reading the rest of the body instead of draining it.
Its body is `{"detail": "<Dutch sentence>"}`, made by the same handler as every other HTTP error
(errors.http_error_handler).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend import errors
from backend.kaart.routes import UPLOAD_OVERHEAD
from backend.kaart.safety import DEFAULT_LIMITS, UploadError, check_size, format_size

# Every JSON route. The largest body one legitimately takes is a progress batch (POST /api/me/progress):
# at most 500 steps (the route refuses more; the PWA's outbox sends chunks of 500), each about 250 bytes
# with its longest fields (step_id 80 and client_id 64 characters, a timestamp, a state): some 125 kB,
# 150 kB pretty-printed. 256 kB leaves room for that; an account, profile, invite, kaart correction (1000
# characters) or push subscription (endpoint 2048) is a few kB.
JSON_MAX_BYTES = 256 * 1024
# Sociale kaart uploads (CSV, XLSX, HSDS JSON or zip; from editors and from gemeente systems): the file
# limit of kaart.safety plus the multipart overhead, exactly the cap read_upload itself applies.
UPLOAD_MAX_BYTES = DEFAULT_LIMITS.max_bytes + UPLOAD_OVERHEAD
# The routes that read their body with kaart.routes.read_upload (tests/system/test_body_limit.py checks
# that this list and the app agree).
UPLOAD_ROUTES = (
    "/api/beheer/kaart/{kaart}/uploads",
    "/api/beheer/kaart/{kaart}/validate",
    "/api/gemeente-api/{gemeente_code}/uploads",
    "/api/gemeente-api/{gemeente_code}/validate",
)


def json_too_large(_size: int) -> str:
    return f"Wat je stuurt is te groot. Het mag hoogstens {format_size(JSON_MAX_BYTES)} zijn. Stuur minder tegelijk."


def upload_too_large(size: int) -> str:
    """The sentence read_upload gives for a too large file ("Het bestand is 30,0 MB; dat is te groot ...")."""
    try:
        check_size(size, DEFAULT_LIMITS)
    except UploadError as exc:
        return exc.message
    return "Het bestand is te groot."  # not reached: every refused upload is larger than the file limit


@dataclass(frozen=True, slots=True)
class Limit:
    max_bytes: int
    message: Callable[[int], str]  # the Dutch `detail` for a body of (at least) this many bytes


JSON = Limit(JSON_MAX_BYTES, json_too_large)
UPLOAD = Limit(UPLOAD_MAX_BYTES, upload_too_large)
ROUTES: tuple[tuple[str, re.Pattern[str], Limit], ...] = tuple(
    ("POST", compile_path(path)[0], UPLOAD) for path in UPLOAD_ROUTES
)


class BodyTooLarge(HTTPException):
    """Raised from receive() when the body passes the limit. An HTTPException, so FastAPI passes it on from
    its body reading (it turns other errors there into a 400) and errors.http_error_handler answers it."""

    def __init__(self, detail: str) -> None:
        super().__init__(413, detail, headers={"Connection": "close"})


class BodyLimit:
    def __init__(
        self, app: ASGIApp, *, default: Limit = JSON, routes: tuple[tuple[str, re.Pattern[str], Limit], ...] = ROUTES
    ) -> None:
        # A route's limit is only ever larger than the default, so the route is looked up only for a body
        # that grows past the default: most requests never pay for the lookup.
        assert all(limit.max_bytes >= default.max_bytes for _, _, limit in routes)
        self.app = app
        self.default = default
        self.routes = routes

    def limit_for(self, scope: Scope) -> Limit:
        path = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        for method, pattern, limit in self.routes:
            if scope["method"] == method and pattern.match(path):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared: int | None = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = int(value) if value.isdigit() else None
                break
        limit = self.default
        if declared is not None and declared > limit.max_bytes:
            limit = self.limit_for(scope)
            if declared > limit.max_bytes:
                await _refuse(scope, send, limit.message(declared))
                return

        looked_up = limit is not self.default
        received = 0
        exceeded: str | None = None  # the Dutch detail, once the body passed the limit
        started = False

        async def counting_receive() -> Message:
            nonlocal received, limit, looked_up, exceeded
            if exceeded is not None:
                raise BodyTooLarge(exceeded)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit.max_bytes and not looked_up:
                    limit, looked_up = self.limit_for(scope), True
                if received > limit.max_bytes:
                    exceeded = limit.message(received)
                    raise BodyTooLarge(exceeded)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                if exceeded is not None and message["status"] != 413:
                    # The app turned the refusal into another answer (caught the error): answer 413 anyway.
                    raise BodyTooLarge(exceeded)
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if exceeded is None or started:
                raise
            await _refuse(scope, send, exceeded)


async def _refuse(scope: Scope, send: Send, detail: str) -> None:
    async def no_body() -> Message:  # the handler reads nothing; make sure the body stays unread
        return {"type": "http.disconnect"}

    response = await errors.http_error_handler(Request(scope, no_body), BodyTooLarge(detail))
    await response(scope, no_body, send)

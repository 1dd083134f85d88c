"""A request id for every request, in its logs and its answer (X-Request-ID), and the security log.

The id is made here, never taken from the request: a header from an untrusted peer could otherwise forge or
mix up log lines. A 5xx answer carries the id in its body too, so a person who reports a problem can quote it
and an operator finds the matching log lines. Security events (logins, lock-outs, refusals) go to the logger
"startklaar.security" and never contain a password, token or recovery code.
"""

from __future__ import annotations

import logging
import secrets
from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID: ContextVar[str] = ContextVar("startklaar_request_id", default="-")
HEADER = b"x-request-id"


def request_id_of(scope: Scope) -> str:
    return str(scope.get("state", {}).get("request_id", "-"))


class RequestId:
    """Pure ASGI, outermost: every HTTP request gets an id; log records made while it runs carry it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = rid
        token = REQUEST_ID.set(rid)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (HEADER, rid.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)


def install_record_factory() -> None:
    """Every log record gets `request_id` (the request it was made in, "-" outside one); idempotent."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "startklaar", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.request_id = REQUEST_ID.get()
        return record

    factory.startklaar = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def configure_logging(level: str) -> None:
    """The log format of `startklaar serve` and `worker`: time, level, logger, request id, message. Also in
    each API process that `serve --workers N` starts (they do not inherit the parent's logging)."""
    install_record_factory()
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s")

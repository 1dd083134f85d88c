"""GET /api/me/plan answered before routing when the answer is at hand (pure ASGI).

It is the most frequent request by far, and when the session row and the plan are cached the answer takes
microseconds, less than FastAPI's routing and the thread-pool guard around it (bench/plan_load.py). This
layer sits inside the security headers and GZip, so the answer looks exactly like get_plan's (routes.py);
everything else (no cookie, unknown or stale session, no cached plan, another path) goes the normal way.
"""

from __future__ import annotations

from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from backend.accounts.deps import SESSION_COOKIE
from backend.checklists import service

PATH = "/api/me/plan"


class PlanShortcut:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.served = 0  # answered here (for tests and curiosity)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        token, accept = None, ""
        for name, value in scope["headers"]:
            if name == b"cookie":
                token = cookie_parser(value.decode("latin-1")).get(SESSION_COOKIE)
            elif name == b"accept-encoding":
                accept = value.decode("latin-1")
        body = await service.plan_at_hand(scope["app"].state.engine, token) if token else None
        if body is None:
            await self.app(scope, receive, send)
            return
        body, headers = service.plan_response(body, accept)
        self.served += 1
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", str(len(body)).encode()), *headers],
            }
        )
        await send({"type": "http.response.body", "body": body})

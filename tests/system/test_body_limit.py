"""Request bodies over a route's limit are refused with 413 before they are read into memory or parsed
(backend/bodylimit.py). Before, one anonymous JSON body of 115 MB held the event loop for 10 s and took the
server process from 200 MB to 3.2 GB at its peak.

Three levels: the middleware on its own (it stops pulling the body at the limit, also when the body lies
about its length); the app through TestClient (Dutch 413s, the kaart upload limits, normal requests as
before); and a real server, in a thread (how many bytes the app and the client really moved) and as a
`startklaar serve` process (its memory does not grow)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlmodel import Session
from starlette.types import Message, Receive, Scope, Send

from backend.bodylimit import JSON_MAX_BYTES, UPLOAD, UPLOAD_MAX_BYTES, UPLOAD_ROUTES, BodyLimit
from backend.config import Settings
from backend.kaart.routes import read_upload
from backend.kaart.safety import DEFAULT_LIMITS
from tests.accounts.helpers import signup
from tests.e2e.conftest import LiveServer
from tests.kaart.kaart_api import A, csv_bytes, make_admin, make_editor, row
from tests.system.serving import serve_env, start, stop

MB = 1024 * 1024
TOO_LARGE = "Wat je stuurt is te groot. Het mag hoogstens 256 kB zijn. Stuur minder tegelijk."
HEAD = b'{"username": "aanval", "password": "lang-genoeg-42", "extra": ['
TAIL = b"1]}"


def json_body(total: int, pulled: list[int], piece: int = 64 * 1024) -> Iterator[bytes]:
    """A JSON body of exactly `total` bytes in pieces of `piece` (a list of many small items: the worst case
    for json.loads); `pulled[0]` counts the bytes taken from it so far."""
    yield HEAD
    pulled[0] += len(HEAD)
    left = total - len(HEAD) - len(TAIL)
    assert left >= 0 and left % 2 == 0
    chunk = b"1," * (piece // 2)
    while left:
        part = chunk[: min(left, len(chunk))]
        pulled[0] += len(part)
        yield part
        left -= len(part)
    pulled[0] += len(TAIL)
    yield TAIL


def _refused(r: httpx.Response, fragment: str = TOO_LARGE) -> None:
    assert r.status_code == 413, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert fragment in r.json()["detail"], r.json()
    assert r.headers["connection"] == "close"


# --- the middleware on its own -------------------------------------------------------------------------


class Reader:
    """An ASGI app that reads the whole body, as FastAPI does for a JSON route."""

    def __init__(self, *, catch: bool = False) -> None:
        self.called = False
        self.catch = catch  # an app that catches the refusal and answers something else

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.called = True
        size = 0
        try:
            while True:
                message = await receive()
                size += len(message.get("body", b""))
                if not message.get("more_body"):
                    break
        except Exception:
            if not self.catch:
                raise
            await send({"type": "http.response.start", "status": 400, "headers": []})
            await send({"type": "http.response.body", "body": b"kapot"})
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(size).encode()})


class Body:
    """receive() for a body of `pieces` pieces of `size` bytes; counts how many pieces were pulled."""

    def __init__(self, pieces: int, size: int = 64 * 1024) -> None:
        self.pieces, self.size, self.pulled = pieces, size, 0

    async def __call__(self) -> Message:
        if self.pulled == self.pieces:
            return {"type": "http.disconnect"}
        self.pulled += 1
        return {"type": "http.request", "body": b"x" * self.size, "more_body": self.pulled < self.pieces}


def _run(app: Any, method: str, path: str, headers: dict[str, str], body: Body) -> tuple[int, bytes, dict[str, str]]:
    import asyncio

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    asyncio.run(app(scope, body, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], content, {k.decode(): v.decode() for k, v in start["headers"]}


def test_a_declared_length_over_the_limit_is_refused_before_the_app_runs() -> None:
    inner = Reader()
    body = Body(pieces=1000)  # 64 MB
    status, content, headers = _run(BodyLimit(inner), "POST", "/api/accounts", {"content-length": str(64 * MB)}, body)
    assert status == 413 and json.loads(content) == {"detail": TOO_LARGE}
    assert headers["connection"] == "close"
    assert not inner.called and body.pulled == 0


def test_a_body_without_length_is_cut_off_at_the_limit() -> None:
    body = Body(pieces=1000)  # 64 MB, chunked
    status, content, _ = _run(BodyLimit(Reader()), "POST", "/api/accounts", {"transfer-encoding": "chunked"}, body)
    assert status == 413 and json.loads(content)["detail"] == TOO_LARGE
    assert body.pulled == JSON_MAX_BYTES // (64 * 1024) + 1  # the first piece past 256 kB, not one more


def test_a_body_longer_than_its_content_length_is_cut_off_too() -> None:
    body = Body(pieces=1000)
    status, _, _ = _run(BodyLimit(Reader()), "POST", "/api/accounts", {"content-length": "10"}, body)
    assert status == 413 and body.pulled == JSON_MAX_BYTES // (64 * 1024) + 1


def test_an_app_that_swallows_the_refusal_still_answers_413() -> None:
    body = Body(pieces=1000)
    status, content, _ = _run(BodyLimit(Reader(catch=True)), "POST", "/api/me/progress", {}, body)
    assert status == 413 and json.loads(content)["detail"] == TOO_LARGE
    assert body.pulled == JSON_MAX_BYTES // (64 * 1024) + 1


def test_a_body_at_the_limit_goes_through() -> None:
    body = Body(pieces=4)  # exactly 256 kB
    status, content, _ = _run(BodyLimit(Reader()), "POST", "/api/accounts", {}, body)
    assert (status, content) == (200, str(JSON_MAX_BYTES).encode())


def test_upload_routes_have_the_upload_limit_and_nothing_else_has() -> None:
    limit = BodyLimit(Reader())

    def for_(method: str, path: str) -> int:
        return limit.limit_for({"method": method, "path": path, "root_path": ""}).max_bytes

    assert UPLOAD_MAX_BYTES == DEFAULT_LIMITS.max_bytes + 64 * 1024
    for path in ("/api/beheer/kaart/GM0014/uploads", "/api/gemeente-api/GM0014/validate"):
        assert for_("POST", path) == UPLOAD_MAX_BYTES
    assert for_("GET", "/api/beheer/kaart/GM0014/uploads") == JSON_MAX_BYTES
    assert for_("POST", "/api/beheer/kaart/GM0014/uploads/extra") == JSON_MAX_BYTES
    assert for_("POST", "/api/accounts") == JSON_MAX_BYTES
    assert for_("POST", "/api/beheer/kaart/GM0014/versions/1/publish") == JSON_MAX_BYTES


def _reads_upload(dependant: Dependant) -> bool:
    return any(d.call is read_upload or _reads_upload(d) for d in dependant.dependencies)


def test_the_upload_list_matches_the_routes_that_read_uploads(app: FastAPI) -> None:
    """A new route that reads a file with read_upload must be added to UPLOAD_ROUTES (or it gets 256 kB)."""
    found = set()
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and _reads_upload(route.dependant):
            found |= {(m, context.path) for m in context.methods or ()}
    assert found == {("POST", path) for path in UPLOAD_ROUTES}


# --- the app --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/api/accounts"), ("PUT", "/api/me/progress/papieren.id-kaart"), ("POST", "/api/plan")],
)
def test_an_oversized_json_body_gets_a_dutch_413(client: TestClient, method: str, path: str) -> None:
    big = b'{"username": "' + b"a" * JSON_MAX_BYTES + b'", "password": "lang-genoeg-42"}'
    r = client.request(method, path, content=big, headers={"Content-Type": "application/json"})
    _refused(r)
    assert r.headers["x-content-type-options"] == "nosniff"  # inside the security headers, like every answer
    pulled = [0]
    r = client.request(method, path, content=json_body(2 * MB, pulled), headers={"Content-Type": "application/json"})
    assert "content-length" not in r.request.headers  # chunked
    _refused(r)


def test_the_limit_sits_outside_the_in_flight_limit(settings: Settings) -> None:
    """An oversized body is refused before it can take one of the few in-flight slots."""
    from backend.app import create_app

    settings.max_in_flight = 3
    app = create_app(settings)
    try:
        outer_to_inner = [m.cls.__name__ for m in app.user_middleware]  # type: ignore[attr-defined]
        assert outer_to_inner.index("BodyLimit") < outer_to_inner.index("InFlightLimit")
        assert outer_to_inner.index("SecurityHeaders") < outer_to_inner.index("BodyLimit")
    finally:
        app.state.engine.dispose()


def test_normal_requests_are_unaffected(client: TestClient) -> None:
    signup(client)
    r = client.put("/api/me/profile", json={"birth_date": "2008-05-01", "gemeente_code": "GM0518"})
    assert r.status_code == 200, r.text
    # The largest legitimate JSON body: a full progress batch, every field at its longest.
    stamp = "2026-03-02T10:00:00.000000+00:00"
    batch = [
        {"step_id": f"{i:04d}" + "s" * 76, "state": "not_for_me", "client_updated_at": stamp, "client_id": "c" * 64}
        for i in range(500)
    ]
    body = json.dumps(batch, indent=2).encode()
    assert 100 * 1024 < len(body) < JSON_MAX_BYTES
    r = client.post("/api/me/progress", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    assert len(r.json()) == 500  # unknown steps: each refused on its own, the request itself went through
    assert client.get("/api/me/plan").status_code == 200
    assert client.get("/").status_code == 200


@pytest.fixture
def editor(client: TestClient, session: Session) -> TestClient:
    return make_editor(make_admin(session, client), A)


def _kaart_of(size: int) -> bytes:
    """A valid kaart CSV of exactly `size` bytes (one service, then blank lines)."""
    base = csv_bytes([row("Schuldhulp")])
    data = base + b"\r\n" * ((size - len(base)) // 2)
    return data + b" " * (size - len(data))


def test_a_kaart_upload_at_the_file_limit_still_works(editor: TestClient) -> None:
    data = _kaart_of(DEFAULT_LIMITS.max_bytes)  # 10 MB: more than 256 kB, as much as a file may be
    r = editor.post(f"/api/beheer/kaart/{A}/uploads", files={"file": ("kaart.csv", data, "text/csv")})
    assert r.status_code == 201, r.text
    assert int(r.request.headers["content-length"]) < UPLOAD_MAX_BYTES
    r = editor.post(f"/api/beheer/kaart/{A}/validate?filename=kaart.csv", content=data[: 2 * MB])
    assert r.status_code == 200 and r.json()["ok"], r.text


def test_a_kaart_upload_over_the_limit_gets_413(editor: TestClient, client: TestClient) -> None:
    over = b"x" * (UPLOAD_MAX_BYTES + 1)
    # Anonymous: refused by its size before anyone asks who is sending (else it would be 401).
    r = client.post(f"/api/beheer/kaart/{A}/uploads?filename=kaart.csv", content=over)
    _refused(r, "dat is te groot. Een bestand mag hoogstens 10,0 MB zijn")
    r = client.post(f"/api/gemeente-api/{A}/uploads?filename=kaart.json", content=over)  # HSDS from a system
    _refused(r, "dat is te groot")
    r = editor.post(f"/api/beheer/kaart/{A}/uploads?filename=kaart.csv", content=over)
    _refused(r, "dat is te groot")

    def chunked() -> Iterator[bytes]:
        for _ in range(11):
            yield b"x" * MB

    r = editor.post(f"/api/beheer/kaart/{A}/validate?filename=kaart.csv", content=chunked())
    _refused(r, "dat is te groot")
    assert editor.get(f"/api/beheer/kaart/{A}/versions").json() == []


def test_the_upload_message_matches_read_upload() -> None:
    assert UPLOAD.message(30 * MB).startswith("Het bestand is 30,0 MB; dat is te groot.")


# --- a real server --------------------------------------------------------------------------------------


class Pulled:
    """The outermost ASGI layer: counts the body bytes the app took from the server."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.bytes = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def counted() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                self.bytes += len(message.get("body", b""))
            return message

        await self.app(scope, counted, send)


@pytest.fixture
def live(settings: Settings) -> Iterator[tuple[str, Pulled]]:
    from backend.app import create_app

    app = create_app(settings)
    pulled = Pulled(app)
    server = LiveServer(pulled)  # type: ignore[arg-type]
    server.start()
    try:
        yield server.url, pulled
    finally:
        server.stop()
        app.state.engine.dispose()


BIG = 115 * MB + (115 * MB - len(HEAD) - len(TAIL)) % 2  # json_body needs an even count between HEAD and TAIL


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_real_server_stops_reading_at_the_limit(live: tuple[str, Pulled], declared: bool) -> None:
    url, app = live
    client_pulled = [0]
    headers = {"Content-Type": "application/json"}
    if declared:
        headers["Content-Length"] = str(BIG)
    started = time.perf_counter()
    r = httpx.post(url + "/api/accounts", content=json_body(BIG, client_pulled), headers=headers, timeout=30)
    took = time.perf_counter() - started
    _refused(r)
    assert took < 3, took
    if declared:
        assert app.bytes == 0  # refused on the header alone
    else:
        # The limit, plus at most the message that passed it: what uvicorn had buffered (its 64 kB high-water
        # mark plus one socket read of up to 256 kB). Measured: 346 kB.
        assert app.bytes <= JSON_MAX_BYTES + 512 * 1024, app.bytes
    # The server closed the connection, so the client stopped sending: socket buffers, not 115 MB.
    assert client_pulled[0] < 32 * MB, client_pulled[0]
    r = httpx.post(url + "/api/accounts", json={"username": "daarna", "password": "lang-genoeg-42"})
    assert r.status_code == 201, r.text


def _memory_mb(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (the peak so far) of a process, in MB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) // 1024
    return out


def test_the_memory_of_a_server_process_does_not_grow(db_url: str, tmp_path: Path) -> None:
    """`startklaar serve`, one process: a 115 MB body, declared and chunked, leaves its peak memory alone
    (before the fix the peak went from 200 MB to 3.2 GB)."""
    served = start(serve_env(tmp_path, db_url, STARTKLAAR_LOG_LEVEL="warning"), tmp_path / "serve.log")
    proc, url = served.proc, served.url
    try:
        r = httpx.post(url + "/api/accounts", json={"username": "eerst", "password": "lang-genoeg-42"})
        assert r.status_code == 201, r.text
        before = _memory_mb(proc.pid)
        for declared in (True, False):
            headers = {"Content-Type": "application/json"} | ({"Content-Length": str(BIG)} if declared else {})
            r = httpx.post(url + "/api/accounts", content=json_body(BIG, [0]), headers=headers, timeout=30)
            _refused(r)
        after = _memory_mb(proc.pid)
        assert after["VmHWM"] - before["VmHWM"] < 32, (before, after)
        assert after["VmRSS"] - before["VmRSS"] < 32, (before, after)
    finally:
        stop(served)

"""Faults: the app keeps its head when the database goes away, fills up or turns read-only, and a publish
that breaks halfway changes nothing. (The worker killed mid-batch: tests/reminders/test_worker_concurrency.py.)

The PostgreSQL restart test stops and starts the machine's real PostgreSQL server (the one the whole suite
uses, via pg_ctlcluster): it always starts it again, and waits until it accepts connections, before it ends.
The SQLite tests use a real small file system (a tmpfs, mounted as root: CI runs as root) for a full disk,
and an immutable file (chattr +i, which binds root too) for a read-only one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

from backend import errors
from backend.app import create_app
from backend.checklists.content import load_content
from backend.config import Settings
from backend.kaart import service
from tests.accounts.helpers import PASSWORD, signup
from tests.dbutil import app_settings
from tests.kaart.kaart_api import A, csv_bytes, make_admin, make_editor, row, upload, upload_and_publish

STEPS = list(load_content().steps)
OUTAGE_MESSAGES = {errors.DB_FULL, errors.DB_READ_ONLY, errors.DB_BUSY, errors.DB_UNAVAILABLE}


def _settings(db_url: str, tmp_path: Path) -> Settings:
    return app_settings(db_url, tmp_path / "data")


def _tick(c: httpx.Client | TestClient, step: str, state: str = "done") -> httpx.Response:
    body = {"state": state, "client_updated_at": datetime.now(UTC).isoformat(), "client_id": uuid.uuid4().hex}
    return c.put(f"/api/me/progress/{step}", json=body)


def _progress(c: httpx.Client | TestClient) -> dict[str, str]:
    r = c.get("/api/me/progress")
    assert r.status_code == 200, r.text
    return {p["step_id"]: p["state"] for p in r.json()}


def _assert_outage(r: httpx.Response, reason: str | None = None) -> None:
    """A clear 503: JSON with a Dutch message people can act on, a machine-readable reason, Retry-After."""
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["detail"] in OUTAGE_MESSAGES
    assert "Traceback" not in r.text and "sqlite" not in r.text.lower() and "psycopg" not in r.text.lower()
    assert int(r.headers["retry-after"]) > 0
    if reason is not None:
        assert body["reason"] == reason, body


def _integrity(path: Path) -> str:
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        result = str(conn.exec_driver_sql("PRAGMA integrity_check").scalar())
    engine.dispose()
    return result


# --- 1. PostgreSQL restarted while requests run ------------------------------------------------------


def _pg_cluster() -> tuple[str, str]:
    versions = sorted(os.listdir("/etc/postgresql")) if Path("/etc/postgresql").is_dir() else []
    if not versions or shutil.which("pg_ctlcluster") is None:
        pytest.skip("no local PostgreSQL cluster to restart (pg_ctlcluster, /etc/postgresql)")
    return versions[0], "main"


def _pg_ctl(action: str) -> None:
    version, name = _pg_cluster()
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, name, action],
        check=True,
        capture_output=True,
        timeout=120,
    )


def _pg_accepts(url: str, timeout: float) -> bool:
    u = make_url(url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cmd = ["pg_isready", "-q", "-h", u.host or "127.0.0.1", "-p", str(u.port or 5432)]
        if subprocess.run(cmd, check=False, timeout=30).returncode == 0:
            return True
        time.sleep(0.2)
    return False


@contextlib.contextmanager
def _postgres_stopped(url: str, traffic: Traffic) -> Iterator[None]:
    """Stop the server; whatever happens, start it again and wait until it accepts connections."""
    try:
        traffic.phase = "stopping"
        _pg_ctl("stop")
        traffic.phase = "down"
        yield
    finally:
        traffic.phase = "starting"
        with contextlib.suppress(subprocess.CalledProcessError):  # "already running" is fine too
            _pg_ctl("start")
        assert _pg_accepts(url, 90), "PostgreSQL did not come back after the fault test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _live_server(app: FastAPI) -> Iterator[str]:
    """The app served by uvicorn on a free port, in a thread (real sockets, real connection pool)."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while True:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                break
        if time.monotonic() > deadline:
            raise RuntimeError("live server did not start")
        time.sleep(0.05)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@dataclass
class Outcome:
    phase: str  # when the request was sent: before, stopping, down, starting, recovering, after
    person: int
    status: int  # 0: no answer (a transport error, such as a timeout: a hang)
    body: Any
    tick: tuple[str, str] | None = None  # (step, state) for a write
    error: str = ""


class Traffic:
    """A few logged-in people reading and ticking steps in a loop, recording every outcome."""

    def __init__(self, base_url: str, people: int = 4) -> None:
        self.phase = "before"
        self.outcomes: list[Outcome] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.clients = []
        for _ in range(people):
            c = httpx.Client(base_url=base_url, timeout=20)
            r = c.post("/api/accounts", json={"username": f"druk{uuid.uuid4().hex[:10]}", "password": PASSWORD})
            assert r.status_code == 201, r.text
            c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
            self.clients.append(c)
        self.threads = [
            threading.Thread(target=self._run, args=(c, i), daemon=True) for i, c in enumerate(self.clients)
        ]

    def _run(self, c: httpx.Client, n: int) -> None:
        i = 0
        while not self.stop.is_set():
            phase = self.phase
            tick = (STEPS[(n * 5 + i // 3) % len(STEPS)], "done" if i % 2 else "todo") if i % 3 == 0 else None
            try:
                r = _tick(c, *tick) if tick else c.get("/api/me/progress")
                try:
                    body = r.json()
                except ValueError:
                    body = r.text
                outcome = Outcome(phase, n, r.status_code, body, tick)
            except httpx.HTTPError as exc:
                outcome = Outcome(phase, n, 0, None, tick, f"{type(exc).__name__}: {exc}")
            with self.lock:
                self.outcomes.append(outcome)
            i += 1
            time.sleep(0.02)

    def __enter__(self) -> Traffic:
        for t in self.threads:
            t.start()
        return self

    def halt(self) -> list[Outcome]:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)
        return list(self.outcomes)

    def __exit__(self, *exc: object) -> None:
        self.halt()
        for c in self.clients:
            c.close()

    def count(self, phase: str) -> int:
        with self.lock:
            return sum(1 for o in self.outcomes if o.phase == phase)

    def wait_for(self, phase: str, n: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while self.count(phase) < n and time.monotonic() < deadline:
            time.sleep(0.05)


def _poll(url: str, path: str, want: int, timeout: float) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        r = httpx.get(url + path, timeout=10)
        if r.status_code == want or time.monotonic() > deadline:
            return r
        time.sleep(0.1)


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_postgres_restart_while_requests_run(db_url: str, tmp_path: Path) -> None:
    """PostgreSQL stops under traffic and comes back: every request gets an answer (no hangs), those while it
    is down a clear Dutch 503, /readyz says 503 with a reason while down and 200 after, and the same process
    serves normally again without a restart (stale pooled connections are replaced)."""
    app = create_app(_settings(db_url, tmp_path))
    with _live_server(app) as url:
        assert httpx.get(url + "/readyz", timeout=10).status_code == 200
        with Traffic(url) as traffic:
            traffic.wait_for("before", 20)
            with _postgres_stopped(db_url, traffic):
                ready = _poll(url, "/readyz", 503, 20)
                assert ready.status_code == 503, ready.text
                assert ready.json()["status"] == "error" and "database unreachable" in ready.json()["reason"]
                assert httpx.get(url + "/healthz", timeout=10).status_code == 200  # the process itself is fine
                traffic.wait_for("down", 12)
            traffic.phase = "recovering"
            ready = _poll(url, "/readyz", 200, 60)
            assert ready.status_code == 200, ready.text
            traffic.phase = "after"
            traffic.wait_for("after", 40)
            outcomes = traffic.halt()
            saved = [_progress(c) for c in traffic.clients]

    summary = Counter((o.phase, o.status) for o in outcomes)
    print("requests by (phase, status):", dict(summary))
    hangs = [o for o in outcomes if o.status == 0]
    assert not hangs, (summary, hangs[:5])  # also none of the requests in flight when the server stopped
    assert all(o.status in (200, 503) for o in outcomes), summary
    for o in outcomes:
        if o.status == 503:
            assert o.body["detail"] in OUTAGE_MESSAGES and o.body["reason"] == "database_unavailable", o
    assert summary[("down", 503)] >= 12 and summary[("down", 200)] == 0, summary
    assert summary[("before", 200)] >= 20 and summary[("after", 200)] >= 40, summary
    assert {phase for phase, status in summary if status != 200} <= {"stopping", "down", "starting", "recovering"}

    # Nothing confirmed was lost: for every step whose every write got a 200 (a 503 may or may not have
    # been saved, and says so), the state kept is the last one written, before or after the restart.
    writes: dict[tuple[int, str], list[Outcome]] = {}
    for o in outcomes:
        if o.tick is not None:
            writes.setdefault((o.person, o.tick[0]), []).append(o)
    confirmed = {key: ws[-1].body["state"] for key, ws in writes.items() if all(w.status == 200 for w in ws)}
    assert len(confirmed) >= 8, writes
    for (person, step), state in confirmed.items():
        assert saved[person][step] == state, (person, step, writes[(person, step)])


# --- 2. SQLite: disk full, read-only file ------------------------------------------------------------


@contextlib.contextmanager
def _tiny_disk(where: Path, size_bytes: int) -> Iterator[None]:
    """A real small file system: a tmpfs of this size mounted at `where` (needs root, as on CI)."""
    where.mkdir(parents=True, exist_ok=True)
    size_kib = (size_bytes + 1023) // 1024
    cmd = ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0700", "startklaar-test-full", str(where)]
    mounted = shutil.which("mount") is not None and subprocess.run(cmd, check=False, capture_output=True)
    if not mounted or mounted.returncode != 0:
        # SQLite's max_page_count is no stand-in: a write that fits in a page with room still succeeds.
        pytest.skip("cannot mount a small tmpfs here (needs root): no real full disk to test against")
    try:
        yield
    finally:
        if subprocess.run(["umount", str(where)], check=False, capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], check=False, capture_output=True)


def _fill(directory: Path) -> Path:
    """Write a file until the file system says it is full."""
    filler = directory / "vol.bin"
    block = b"\0" * 65536
    with filler.open("wb", buffering=0) as f:
        with contextlib.suppress(OSError):
            while True:
                f.write(block)
        with contextlib.suppress(OSError):
            while True:  # the last few bytes
                f.write(b"\0" * 512)
    return filler


def test_disk_full_gives_a_clear_error_and_no_corruption(sqlite_template: Path, tmp_path: Path) -> None:
    """With the disk full, writes get a Dutch 503 (not a stack trace), reads go on, nothing is lost or
    corrupted, and writing works again as soon as there is room."""
    size = sqlite_template.stat().st_size
    with _tiny_disk(tmp_path / "vol", size + 2 * 1024 * 1024):
        directory = tmp_path / "vol"
        db = directory / "startklaar.db"
        shutil.copyfile(sqlite_template, db)
        app = create_app(_settings(f"sqlite:///{db}", tmp_path))
        engine: Engine = app.state.engine
        try:
            with TestClient(app, base_url="http://localhost") as c:
                me = signup(c)
                assert _tick(c, STEPS[0]).status_code == 200

                # A full disk: the WAL cannot grow (folded into the file first, so every write needs room).
                with engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                filler = _fill(directory)

                _assert_outage(_tick(c, STEPS[1]), "database_full")
                other = TestClient(app, base_url="http://localhost")
                _assert_outage(other.post("/api/accounts", json={"username": "nieuwkomer", "password": PASSWORD}))
                assert _progress(c) == {STEPS[0]: "done"}  # reading still works
                assert c.get("/api/me").json()["username"] == me["username"]

                filler.unlink()  # room again
                assert _tick(c, STEPS[1]).status_code == 200
                assert _progress(c) == {STEPS[0]: "done", STEPS[1]: "done"}
        finally:
            engine.dispose()
        assert _integrity(db) == "ok"
        check = create_engine(f"sqlite:///{db}")
        with check.connect() as conn:
            users = conn.execute(text("SELECT username FROM user_account")).scalars().all()
            rows = conn.execute(text("SELECT step_id, state FROM step_progress")).all()
        check.dispose()
        assert users == [me["username"]]
        assert sorted(rows) == sorted([(STEPS[0], "done"), (STEPS[1], "done")])


@contextlib.contextmanager
def _read_only(db: Path, engine: Engine) -> Iterator[None]:
    """The database file made read-only for real: immutable (chattr +i), which binds root too. Falls back
    to SQLite's query_only where chattr is not possible (not root, a file system without attributes)."""
    engine.dispose()  # open connections keep their write access; new ones get the read-only file
    immutable = shutil.which("chattr") is not None and (
        subprocess.run(["chattr", "+i", str(db)], check=False, capture_output=True).returncode == 0
    )

    def query_only(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA query_only = ON")

    if not immutable:
        event.listen(engine, "connect", query_only)
    try:
        yield
    finally:
        engine.dispose()
        if immutable:
            subprocess.run(["chattr", "-i", str(db)], check=True, capture_output=True)
        else:
            event.remove(engine, "connect", query_only)


def test_read_only_database_file_gives_a_clear_error_and_no_corruption(sqlite_template: Path, tmp_path: Path) -> None:
    db = tmp_path / "startklaar.db"
    shutil.copyfile(sqlite_template, db)
    app = create_app(_settings(f"sqlite:///{db}", tmp_path))
    engine: Engine = app.state.engine
    try:
        with TestClient(app, base_url="http://localhost") as c:
            me = signup(c)
            assert _tick(c, STEPS[0]).status_code == 200

            with _read_only(db, engine):
                _assert_outage(_tick(c, STEPS[1]), "database_read_only")
                other = TestClient(app, base_url="http://localhost")
                _assert_outage(other.post("/api/accounts", json={"username": "nieuwkomer", "password": PASSWORD}))
                assert _progress(c) == {STEPS[0]: "done"}  # reading still works
                assert c.get("/api/me").json()["username"] == me["username"]

            assert _tick(c, STEPS[1]).status_code == 200
            assert _progress(c) == {STEPS[0]: "done", STEPS[1]: "done"}
    finally:
        engine.dispose()
    assert _integrity(db) == "ok"


def test_an_unexpected_error_is_a_dutch_json_500_without_a_stack_trace(client: TestClient, app: FastAPI) -> None:
    def broken() -> None:
        raise RuntimeError("geheime details uit de server")

    app.add_api_route("/api/test-kapot", broken)
    app.router.routes.insert(0, app.router.routes.pop())  # before the catch-all routes

    failing = TestClient(app, base_url="http://localhost", raise_server_exceptions=False)
    r = failing.get("/api/test-kapot")
    assert r.status_code == 500
    # The request id lets the person quote the problem (backend/requestlog.py); nothing else is in the answer.
    assert r.json() == {"detail": errors.SERVER_ERROR, "request_id": r.headers["X-Request-ID"]}
    assert "geheime" not in r.text and "Traceback" not in r.text
    # Outside the middleware stack, yet with the same security headers as every other answer.
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"


# --- 3. A kaart publish interrupted halfway ------------------------------------------------------------


def _public_view(c: TestClient) -> dict[str, Any]:
    """What jongeren and other systems see of kaart A: search results, each service page, the HSDS API."""
    r = c.get(f"/api/kaart/{A}/services", params={"per_page": 100})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    pages = {}
    for s in results:
        p = c.get(f"/api/kaart/{A}/services/{s['id']}")
        assert p.status_code == 200, p.text
        pages[s["id"]] = p.json()["name"]
    hsds = c.get(f"/api/hsds/{A}/services", params={"per_page": 50})
    assert hsds.status_code == 200, hsds.text
    root = c.get(f"/api/hsds/{A}/").json()
    return {
        "search": sorted(s["name"] for s in results),
        "pages": pages,
        "hsds": sorted(s["name"] for s in hsds.json()["contents"]),
        "version": root["published_version_id"],
    }


def _kill_connection(session: Session) -> None:
    """The database connection dies mid-transaction, as when the server or the network drops it."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        killer = create_engine(conn.engine.url, isolation_level="AUTOCOMMIT")
        with killer.connect() as k:
            k.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        killer.dispose()
    else:
        # SQLite keeps an open transaction only in the connection: closing it is what a crash does.
        conn.connection.dbapi_connection.close()  # type: ignore[union-attr]


@pytest.mark.parametrize("fault", ["error_after_the_switch", "connection_killed"])
def test_a_publish_interrupted_halfway_keeps_the_old_version_served(
    fault: str, client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The publish gets as far as archiving the old version, marking the new one published and moving the
    pointer (all flushed to the database) and then breaks. Jongeren keep seeing the old version everywhere,
    nothing of the new one shows, the editor sees the new one still as a draft, and publishing again works."""
    admin = make_admin(session, client)
    editor = make_editor(admin, A)
    v1 = upload_and_publish(editor, A, csv_bytes([row("Oude schuldhulp"), row("Oud jongerenloket")]))
    r = upload(editor, A, csv_bytes([row("Nieuwe schuldhulp"), row("Nieuw inloophuis"), row("Nieuw loket")]))
    assert r.status_code == 201, r.text
    v2 = r.json()["version"]["id"]
    before = _public_view(client)
    assert before["search"] == ["Oud jongerenloket", "Oude schuldhulp"] and before["version"] == v1

    switch = service._switch_pointer
    reached: list[bool] = []

    def interrupted(session: Session, *args: Any, **kwargs: Any) -> None:
        switch(session, *args, **kwargs)  # the new pointer is written (flushed) in the open transaction
        reached.append(True)
        if fault == "connection_killed":
            _kill_connection(session)
        else:
            raise RuntimeError("stroomstoring halverwege het publiceren")

    monkeypatch.setattr(service, "_switch_pointer", interrupted)
    failing = TestClient(client.app, base_url="http://localhost", raise_server_exceptions=False)
    failing.cookies = editor.cookies
    failing.headers["X-CSRF-Token"] = editor.headers["X-CSRF-Token"]
    r = failing.post(f"/api/beheer/kaart/{A}/versions/{v2}/publish")
    monkeypatch.undo()
    assert reached == [True]
    assert r.headers["content-type"].startswith("application/json")
    if fault == "connection_killed":
        _assert_outage(r, "database_unavailable")  # the connection dropped: a clear "try again"
    else:
        assert r.status_code == 500, r.text
        assert r.json() == {"detail": errors.SERVER_ERROR, "request_id": r.headers["X-Request-ID"]}

    assert _public_view(client) == before
    fresh = TestClient(client.app, base_url="http://localhost")  # another device: no cached answers
    assert _public_view(fresh) == before
    versions = {v["id"]: (v["status"], v["current"]) for v in editor.get(f"/api/beheer/kaart/{A}/versions").json()}
    assert versions == {v1: ("published", True), v2: ("draft", False)}

    p = editor.post(f"/api/beheer/kaart/{A}/versions/{v2}/publish")
    assert p.status_code == 200, p.text
    after = _public_view(client)
    assert after["search"] == ["Nieuw inloophuis", "Nieuw loket", "Nieuwe schuldhulp"] and after["version"] == v2
    assert after["hsds"] == after["search"]

"""Shared helpers for benchmarks: a throw-away database, a real server process, and wrk."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("STARTKLAAR_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def database(kind: str) -> Iterator[str]:
    """A fresh, empty database URL of the given kind ("sqlite" or "postgres"), removed afterwards."""
    if kind == "sqlite":
        tmp = Path(tempfile.mkdtemp(prefix="sk-bench-"))
        try:
            yield f"sqlite:///{tmp / 'bench.db'}"
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    name = f"sk_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(PG_URL).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def settle(engine: Engine) -> None:
    """Leave a seeded database as a running installation would be: statistics up to date, WAL folded in (so
    autovacuum or a checkpoint does not run during the measurement)."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("VACUUM (ANALYZE)")
            c.exec_driver_sql("CHECKPOINT")
    else:
        with engine.connect() as c:
            c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


@contextmanager
def server(db_url: str, workers: int = 2, **env: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`startklaar serve` in its own process(es), as in production (no embedded worker)."""
    port = free_port()
    data = Path(tempfile.mkdtemp(prefix="sk-bench-data-"))
    environ = {k: v for k, v in os.environ.items() if not k.startswith("STARTKLAAR_")}
    environ |= {
        "STARTKLAAR_DATABASE_URL": db_url,
        "STARTKLAAR_DATA_DIR": str(data),
        "STARTKLAAR_EMBEDDED_WORKER": "false",
        "STARTKLAAR_LOG_LEVEL": "warning",
        "STARTKLAAR_SECRET_KEY": "bench-" + "x" * 40,
        **env,
    }
    cmd = [sys.executable, "-m", "backend.cli", "serve", "--no-migrate", "--port", str(port), "--workers", str(workers)]
    # The server's log goes to a file: a pipe nobody reads would block the server once it fills up. Its own
    # session, so that a server which does not stop can be killed with its API processes (never orphaned).
    log = data / "server.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            cmd, env=environ, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"server did not become ready:\n{_tail(log)}")
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            print("server did not stop within 20 s after SIGTERM: killed", file=sys.stderr)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        with suppress(ProcessLookupError):  # an API process that outlived its supervisor
            os.killpg(proc.pid, signal.SIGKILL)
        _report_errors(log)
        shutil.rmtree(data, ignore_errors=True)


def _tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _report_errors(log: Path) -> None:
    """Tracebacks in the server's log are part of the result: say how many and which, and keep the log."""
    text = log.read_text(errors="replace")
    count = text.count("Traceback (most recent call last)")
    if count:
        kept = Path(tempfile.gettempdir()) / f"startklaar-bench-{time.strftime('%Y%m%d-%H%M%S')}.log"
        shutil.copyfile(log, kept)
        kinds = sorted(set(re.findall(r"^(\w+(?:\.\w+)*(?:Error|Exception)): ", text, re.M)))
        print(f"server logged {count} traceback(s) ({', '.join(kinds)}); the log is in {kept}", file=sys.stderr)


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    requests: int
    errors: int


WRK_LUA = r"""
local cookies = {}
%(cookie_setup)s
local n = 0
request = function()
  n = n + 1
  local headers = {["Accept-Encoding"] = "gzip"}  -- as every browser sends it
  if #cookies > 0 then headers["Cookie"] = cookies[(n %% #cookies) + 1] end
  return wrk.format("GET", "%(path)s", headers)
end
done = function(summary, latency, requests)
  local e = summary.errors
  local errors = e.status + e.connect + e.read + e.write + e.timeout
  io.write(string.format("RESULT %%d %%d %%.3f %%.3f %%.3f\n", summary.requests, errors,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
"""


def run_wrk_script(url: str, lua: str, connections: int, seconds: int) -> WrkResult:
    """Run wrk with a Lua script whose done() prints "RESULT requests errors p50 p95 p99" (ms)."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(lua)
    try:
        out = subprocess.run(
            # One wrk thread: it drives 8,000 req/s here, and a second thread only competes with the API
            # processes for the 2 cores; when it is descheduled, the wait counts as server latency (p95 and
            # p99 of the plan benchmark halved with one thread, throughput unchanged).
            ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "-s", str(script), url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        script.unlink()
    m = re.search(r"RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert m and rps, out
    return WrkResult(
        rps=float(rps.group(1)),
        p50_ms=float(m.group(3)),
        p95_ms=float(m.group(4)),
        p99_ms=float(m.group(5)),
        requests=int(m.group(1)),
        errors=int(m.group(2)),  # wrk's "Non-2xx or 3xx responses" is the same counter as errors.status
    )


def wrk(url: str, path: str, connections: int, seconds: int, cookies: list[str] | None = None) -> WrkResult:
    """Drive `path` with wrk (C, so the load generator takes little of the 2 cores) and read its figures."""
    setup = "\n".join(f'cookies[{i + 1}] = "{c}"' for i, c in enumerate(cookies or []))
    return run_wrk_script(url, WRK_LUA % {"cookie_setup": setup, "path": path}, connections, seconds)


def row(label: str, r: WrkResult) -> str:
    return (
        f"{label:28} {r.rps:9.0f} req/s  p50 {r.p50_ms:6.1f} ms  p95 {r.p95_ms:6.1f} ms  "
        f"p99 {r.p99_ms:6.1f} ms  errors {r.errors}/{r.requests}"
    )

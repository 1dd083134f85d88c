"""Shared helpers for benchmarks: a throw-away database, a real server process, and wrk."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

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
    proc = subprocess.Popen(cmd, env=environ, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
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
            raise RuntimeError("server did not become ready")
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(data, ignore_errors=True)


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
  local headers = {}
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


def wrk(url: str, path: str, connections: int, seconds: int, cookies: list[str] | None = None) -> WrkResult:
    """Drive `path` with wrk (C, so the load generator takes little of the 2 cores) and read its figures."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    setup = "\n".join(f'cookies[{i + 1}] = "{c}"' for i, c in enumerate(cookies or []))
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(WRK_LUA % {"cookie_setup": setup, "path": path})
    try:
        out = subprocess.run(
            ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "-s", str(script), url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        script.unlink()
    m = re.search(r"RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    assert m and rps, out
    return WrkResult(
        rps=float(rps.group(1)),
        p50_ms=float(m.group(3)),
        p95_ms=float(m.group(4)),
        p99_ms=float(m.group(5)),
        requests=int(m.group(1)),
        errors=int(m.group(2)) + (int(non2xx.group(1)) if non2xx else 0),
    )


def row(label: str, r: WrkResult) -> str:
    return (
        f"{label:28} {r.rps:9.0f} req/s  p50 {r.p50_ms:6.1f} ms  p95 {r.p95_ms:6.1f} ms  "
        f"p99 {r.p99_ms:6.1f} ms  errors {r.errors}/{r.requests}"
    )

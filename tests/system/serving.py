"""Real `startklaar serve` processes for the system tests: their environment, a free port, starting one until it
answers, and stopping it with SIGTERM (as an orchestrator does)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

STARTKLAAR = [sys.executable, "-m", "backend.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_env(data_dir: Path, db_url: str | None = None, **extra: str) -> dict[str, str]:
    """This process's environment without any Startklaar setting (nor uvicorn's FORWARDED_ALLOW_IPS), plus a
    data directory, no embedded worker, the database and `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STARTKLAAR_") and k != "FORWARDED_ALLOW_IPS"}
    env |= {"STARTKLAAR_DATA_DIR": str(data_dir), "STARTKLAAR_EMBEDDED_WORKER": "false"}
    if db_url is not None:
        env["STARTKLAAR_DATABASE_URL"] = db_url
    return env | extra


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start(
    env: dict[str, str], log: Path, *, args: Sequence[str] = (), ready: str | None = "/healthz", timeout: float = 60
) -> Served:
    """`startklaar serve --no-migrate` on a free port; waits until `ready` answers 200 (None: does not wait)."""
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*STARTKLAAR, "serve", "--no-migrate", "--host", "127.0.0.1", "--port", str(port), *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    served = Served(proc, port, log)
    deadline = time.monotonic() + timeout
    try:
        while ready is not None:
            assert proc.poll() is None, "the server stopped:\n" + log.read_text()
            try:
                if httpx.get(served.url + ready, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start:\n" + log.read_text()
            time.sleep(0.1)
    except BaseException:
        stop(served, timeout=5)
        raise
    return served


def stop(served: Served, timeout: float = 20) -> int | None:
    """SIGTERM, then wait; the exit code, or None when it had to be killed after `timeout` seconds."""
    served.proc.send_signal(signal.SIGTERM)
    try:
        return served.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(served.proc.pid, signal.SIGKILL)
        served.proc.wait()
        return None

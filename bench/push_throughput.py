"""Reminder push throughput: `startklaar worker` processes delivering due reminders to a local HTTP sink.

Run: .venv/bin/python -m bench.push_throughput [--reminders 100000] [--db postgres|sqlite] [--latency-ms 0 50]
     [--sequential 1000] [--concurrency N] [--workers 1 2]

The sink (its own process, uvloop) answers every POST with 201 and does not decrypt; optionally after a
delay, like a push service across the internet (a local sink answers at once, which hides what concurrency
is for). Per sink delay it prints:
  * sequential pywebpush.webpush() calls to the same sink (the baseline: encrypt, sign, POST, one by one;
    a sample of calls, extrapolated);
  * delivered per second with 1 worker process and with 2, each over all reminders (steady state: from 5 %
    to 95 % delivered, so process start-up is left out; the total wall time is printed too);
  * peak memory (VmHWM) of each worker process.
Targets (issue): >= 10x the sequential rate, >= 500/s on the 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlmodel import Session

from backend import migrate
from backend.accounts.models import UserAccount
from backend.checklists.content import load_content
from backend.config import Settings
from backend.db import make_engine
from backend.reminders import push
from backend.reminders.models import PushSubscription, Reminder, ReminderPreferences
from backend.reminders.service import send_moment
from bench.common import ROOT, database, free_port

PEOPLE = 10_000
STEP = "zorgverzekering-kiezen"  # not yearly: no roll-forward work in the measurement


# --- the sink ------------------------------------------------------------------------------------------


class _Http(asyncio.Protocol):
    """Just enough HTTP/1.1: read each request (Content-Length), answer 201, keep the connection."""

    counter: Any  # multiprocessing.Value: pushes received
    latency: Any  # multiprocessing.Value: seconds before answering

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            length = 0
            for line in self.buf[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buf) < end + 4 + length:
                return
            self.buf = self.buf[end + 4 + length :]
            with self.counter.get_lock():
                self.counter.value += 1
            if self.latency.value:  # like a push service across the internet
                asyncio.get_running_loop().call_later(self.latency.value, self._answer)
            else:
                self._answer()

    def _answer(self) -> None:
        if not self.transport.is_closing():
            self.transport.write(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")


def _sink(port: int, counter: Any, latency: Any) -> None:
    import uvloop

    _Http.counter = counter
    _Http.latency = latency

    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(_Http, "127.0.0.1", port, backlog=1024)
        async with server:
            await server.serve_forever()

    uvloop.run(serve())


# --- data ------------------------------------------------------------------------------------------------


def seed(db_url: str, sink: str, reminders: int) -> None:
    """PEOPLE people with one device each at the sink, no quiet hours, `reminders` reminders due now."""
    engine = make_engine(db_url)
    migrate.upgrade(engine)
    due = (datetime.now(UTC) - timedelta(days=1)).date()
    keys = [push.generate_keys()[1] for _ in range(50)]  # any valid points will do: the sink does not decrypt
    auth = push.b64url(os.urandom(16))
    now = datetime.now(UTC)
    with Session(engine) as s:
        s.execute(
            insert(UserAccount.__table__),  # type: ignore[attr-defined]
            [{"username": f"push{i:05d}", "password_hash": "x", "recovery_code_hash": "x"} for i in range(PEOPLE)],
        )
        ids = list(s.execute(select(UserAccount.id).order_by(UserAccount.id)).scalars())  # type: ignore[arg-type]
        s.execute(
            insert(PushSubscription.__table__),  # type: ignore[attr-defined]
            [
                {"user_id": u, "endpoint": f"{sink}/p/{u}", "p256dh": keys[u % 50], "auth": auth}
                | {"created_at": now, "updated_at": now}
                for u in ids
            ],
        )
        s.execute(
            insert(ReminderPreferences.__table__),  # type: ignore[attr-defined]
            [
                {"user_id": u, "push_enabled": True, "quiet_start": clock_time(0), "quiet_end": clock_time(0)}
                | {"updated_at": now}
                for u in ids
            ],
        )
        rows: list[dict[str, Any]] = []
        for i in range(reminders):
            rows.append(
                {"user_id": ids[i % PEOPLE], "step_id": STEP, "rule_id": f"r{i // PEOPLE}", "due_on": due}
                | {"send_at": send_moment(due), "next_attempt_at": send_moment(due), "status": "pending"}
                | {"attempts": 0, "created_at": now}
            )
            if len(rows) == 20_000:
                s.execute(insert(Reminder.__table__), rows)  # type: ignore[attr-defined]
                rows = []
        if rows:
            s.execute(insert(Reminder.__table__), rows)  # type: ignore[attr-defined]
        s.commit()
    engine.dispose()


def reset(db_url: str) -> None:
    """Every reminder pending again, no deliveries: the next run does the same work."""
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM reminder_delivery"))
        conn.execute(
            text(
                "UPDATE reminder SET status='pending', attempts=0, finished_at=NULL, next_attempt_at=send_at, "
                "lease_until=NULL, claimed_by=NULL"
            )
        )
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE reminder"))
            conn.execute(text("VACUUM ANALYZE reminder_delivery"))
    engine.dispose()


# --- measurements -----------------------------------------------------------------------------------------


def sequential(sink: str, n: int, data_dir: Path) -> float:
    """pywebpush.webpush() one call after another: what a naive loop would do."""
    from pywebpush import webpush

    keys = push.load_vapid(Settings(data_dir=data_dir))
    private = push.b64url(keys.vapid.private_key.private_numbers().private_value.to_bytes(32, "big"))
    sub = {
        "endpoint": f"{sink}/seq/1",
        "keys": {"p256dh": push.generate_keys()[1], "auth": push.b64url(os.urandom(16))},
    }
    payload = push.reminder_payload(load_content(), 1, STEP).decode()
    started = time.perf_counter()
    for _ in range(n):
        # A fresh claims dict per call (webpush() fills in aud and exp).
        webpush(sub, payload, vapid_private_key=private, vapid_claims={"sub": keys.subject}, ttl=3600)
    return n / (time.perf_counter() - started)


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_workers(
    db_url: str, workers: int, total: int, data_dir: Path, private: str, concurrency: int
) -> tuple[float, float, list[float]]:
    """Start `workers` worker processes, wait until all reminders are sent: (steady rate, wall s, peak RSS MB)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STARTKLAAR_")}
    env |= {
        "STARTKLAAR_ENV": "test",
        "STARTKLAAR_DATABASE_URL": db_url,
        "STARTKLAAR_DATA_DIR": str(data_dir),
        "STARTKLAAR_SECRET_KEY": "bench-" + "x" * 40,
        "STARTKLAAR_VAPID_PRIVATE_KEY": private,
        "STARTKLAAR_LOG_LEVEL": "warning",
        "STARTKLAAR_WORKER_POLL_SECONDS": "0.2",
        "STARTKLAAR_PUSH_CONCURRENCY": str(concurrency),
    }
    engine = make_engine(db_url)
    started = time.monotonic()
    procs = [
        subprocess.Popen([sys.executable, "-m", "backend.cli", "worker"], env=env, cwd=ROOT) for _ in range(workers)
    ]
    marks: dict[str, float] = {}
    rss: list[float] = []
    try:
        while True:
            with engine.connect() as conn:
                sent = conn.execute(
                    select(func.count()).select_from(Reminder).where(Reminder.status == "sent")  # type: ignore[arg-type]
                ).scalar_one()
            now = time.monotonic()
            if sent >= total * 0.05 and "a" not in marks:
                marks["a"], marks["a_n"] = now, sent
            if sent >= total * 0.95 and "b" not in marks:
                marks["b"], marks["b_n"] = now, sent
            if sent >= total:
                break
            if any(p.poll() is not None for p in procs):
                raise SystemExit("a worker stopped early")
            if now - started > 1800:
                raise SystemExit(f"too slow: {sent} of {total} after 30 minutes")
            time.sleep(0.25)
        wall = time.monotonic() - started
        rss = [_peak_rss_mb(p.pid) for p in procs]
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(60)
        engine.dispose()
    rate = (marks["b_n"] - marks["a_n"]) / (marks["b"] - marks["a"])
    return rate, wall, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reminders", type=int, default=100_000)
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--sequential", type=int, default=1000, help="pywebpush.webpush() calls for the baseline")
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[0.0, 50.0], help="sink answer delays")
    parser.add_argument("--concurrency", type=int, default=None, help="STARTKLAAR_PUSH_CONCURRENCY (default: settings)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()

    port = free_port()
    counter = multiprocessing.Value("q", 0)
    latency = multiprocessing.Value("d", 0.0)
    sink_proc = multiprocessing.Process(target=_sink, args=(port, counter, latency), daemon=True)
    sink_proc.start()
    sink = f"http://127.0.0.1:{port}"
    time.sleep(0.5)
    data_dir = Path(tempfile.mkdtemp(prefix="sk-bench-push-"))
    private, _public = push.generate_keys()
    concurrency = args.concurrency or Settings().push_concurrency
    print(f"{os.cpu_count()} cores; database {args.db}; pushes in flight per worker: {concurrency}")
    try:
        with database(args.db) as url:
            t0 = time.monotonic()
            seed(url, sink, args.reminders)
            print(f"seeded {args.reminders:,} due reminders for {PEOPLE:,} people in {time.monotonic() - t0:.0f} s")
            for ms in args.latency_ms:
                latency.value = ms / 1000
                calls = args.sequential if not ms else max(50, min(args.sequential, int(10_000 / ms)))
                seq = sequential(sink, calls, data_dir)
                print(f"\nsink answers after {ms:.0f} ms")
                print(f"  sequential pywebpush.webpush(): {seq:7.0f} /s  ({calls} calls, extrapolated)")
                for workers in args.workers:
                    reset(url)
                    before = counter.value
                    rate, wall, rss = run_workers(url, workers, args.reminders, data_dir, private, concurrency)
                    got = counter.value - before
                    print(
                        f"  {workers} worker{'s' if workers > 1 else ' '}: {rate:7.0f} /s steady "
                        f"({args.reminders / wall:.0f} /s over {wall:.0f} s with start-up)  "
                        f"{rate / seq:5.1f}x sequential  peak RSS {' + '.join(f'{m:.0f}' for m in rss)} MB  "
                        f"sink got {got:,}"
                    )
    finally:
        sink_proc.terminate()
        sink_proc.join(5)


if __name__ == "__main__":
    main()

"""The reminder worker: `startklaar worker`, or embedded in `startklaar serve` (the same coroutine).

A worker runs two rounds at a time (LANES), each in a loop. One round (`Worker.run_once`):
  1. claim   one transaction: take up to `worker_batch_size` due reminders with a lease
             (`lease_until = now + worker_lease_seconds`, `claimed_by = this worker`); PostgreSQL skips rows
             other workers hold (FOR UPDATE SKIP LOCKED), SQLite's single writer serialises claims. In the
             same transaction each reminder is sorted out: push off / paused / leefgebied not chosen / no
             device -> `inbox` (not sent); quiet hours -> back to `pending` until quiet hours end; otherwise
             one job per device that has no outcome yet.
  2. send    outside any transaction: encrypt and POST every job through one shared HTTP client, at most
             `push_concurrency` at a time.
  3. record  one transaction: a delivery row per (reminder, device), 404/410 deletes the subscription, and
             each reminder is finished (`sent`/`failed`/`inbox`), rescheduled for a retry, or released.
  4. yearly reminders that finished are rolled forward to their next occurrence (own transaction).
Database work runs in a thread, so the embedded worker never blocks the API's event loop.

In-flight batch policy
----------------------
* SIGTERM / SIGINT (graceful): no new push is started; pushes already on the wire finish (bounded by the
  10 s HTTP timeout); their outcomes are recorded; reminders not (fully) attempted are released at once
  (lease cleared, attempts unchanged) for another worker or the next start. Nothing is lost or doubled.
* SIGKILL, crash, power loss: the claimed reminders stay leased until `lease_until` passes (default 120 s),
  then any worker claims them again. Devices whose outcome was recorded are skipped, so the only pushes
  that can go out twice are those the dead worker had sent but not yet recorded: **at most the batches it
  had in hand, LANES (2) x `worker_batch_size` (100) reminders, times each person's devices, per killed
  worker**. Nothing due is lost. A doubled push carries the same `Topic` and notification `tag` (per
  step), so the phone shows it once.
* A worker that is alive but slow never sends after its lease could have expired: it stops starting pushes
  once a quarter of the lease (at least the 10 s push timeout + 2 s) is left and releases the rest, and it
  only changes reminders it still holds (`claimed_by`), so two workers never send the same reminder
  because of a long batch. (The lease is at least 15 s.)
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from backend.clock import nl_date, now_utc
from backend.config import ConfigError, Settings
from backend.privacy import service as privacy
from backend.reminders import push, service
from backend.sharing import service as sharing

log = logging.getLogger("startklaar.worker")

ERROR_PAUSE_SECONDS = 5.0
LANES = 2  # batches a worker has in hand at once (see the in-flight batch policy)
LEASE_MIN_SECONDS = 15
NUDGE_SCAN_SECONDS = 3600.0  # how often a worker looks for overdue shared steps and unused accounts


@dataclass
class Round:
    """What one round did, for logs, tests and the benchmark."""

    claimed: int = 0
    pushes: int = 0
    sent: int = 0
    failed: int = 0
    gone: int = 0
    retry: int = 0
    released: int = 0
    inbox: int = 0
    deferred: int = 0
    seconds_db: float = 0.0  # claim + record
    seconds_send: float = 0.0


class Worker:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        sender: push.PushSender,
        *,
        worker_id: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.sender = sender
        self.id = worker_id or f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.rng = rng or random.Random()  # noqa: S311 - jitter only
        self.batch_size = max(1, settings.worker_batch_size)
        self.lease = timedelta(seconds=max(LEASE_MIN_SECONDS, settings.worker_lease_seconds))
        self._next_nudge_scan = 0.0

    # -- database steps (run in a thread) --

    def _claim(self, now: datetime) -> service.Batch:
        with Session(self.engine) as session:
            claimed = service.claim(session, self.id, now, now + self.lease, self.batch_size)
            batch = service.plan_batch(session, self.id, claimed, now)
            session.commit()
        return batch

    def _record(self, batch: service.Batch, results: list[push.PushResult | None], now: datetime) -> service.Recorded:
        with Session(self.engine) as session:
            recorded = service.record(session, self.id, batch, results, now, self.rng)
            session.commit()
        return recorded

    def _roll_forward(self, done: list[service.Claimed], now: datetime) -> None:
        try:
            with Session(self.engine) as session:
                service.roll_forward(session, done, now)
                session.commit()
        except Exception:  # the pushes are recorded; a later profile or progress change recomputes too
            log.exception("volgende jaarlijkse herinneringen maken mislukt")

    # -- messages from the sharing domain (encouragements, nudges) --

    def _scan_nudges(self, now: datetime) -> int:
        with Session(self.engine) as session:
            made = sharing.scan_nudges(session, nl_date(now), now)
            session.commit()
        return made

    def _retention_round(self, now: datetime) -> privacy.RetentionRound:
        with Session(self.engine) as session:
            done = privacy.retention_round(session, now)
            session.commit()
        if done.warned or done.deleted:
            log.info("bewaartermijn: %d accounts gewaarschuwd, %d verwijderd", done.warned, done.deleted)
        return done

    def _claim_messages(self, now: datetime) -> list[sharing.MessageJob]:
        with Session(self.engine) as session:
            jobs = sharing.claim_message_pushes(session, now, self.batch_size)
            session.commit()
        return jobs

    def _record_messages(self, results: list[tuple[sharing.MessageJob, push.PushResult | None]]) -> None:
        with Session(self.engine) as session:
            sharing.record_message_pushes(session, results)
            session.commit()

    async def run_messages(self, now: datetime, *, scan: bool | None = None) -> int:
        """Nudges and the retention round (at most once per NUDGE_SCAN_SECONDS unless `scan`), then due message
        pushes (the retention warnings among them). Returns pushes."""
        if scan or (scan is None and time.monotonic() >= self._next_nudge_scan):
            self._next_nudge_scan = time.monotonic() + NUDGE_SCAN_SECONDS
            await asyncio.to_thread(self._scan_nudges, now)
            await asyncio.to_thread(self._retention_round, now)
        jobs = await asyncio.to_thread(self._claim_messages, now)
        if not jobs:
            return 0
        results = await asyncio.gather(
            *(self.sender.send(j.sub, j.payload, ttl=sharing.MESSAGE_PUSH_TTL, topic=f"m{j.message_id}") for j in jobs)
        )
        await asyncio.to_thread(self._record_messages, list(zip(jobs, results, strict=True)))
        return len(jobs)

    # -- one round --

    async def run_once(self, now: datetime | None = None, stop: asyncio.Event | None = None) -> Round:
        """Claim, send and record one batch. `now` is injectable so tests need not wait for 10:00."""
        now = now or now_utc()
        started = time.monotonic()
        batch = await asyncio.to_thread(self._claim, now)
        result = Round(claimed=len(batch.claimed), inbox=batch.inbox, deferred=batch.deferred)
        result.seconds_db = time.monotonic() - started
        if batch.jobs:
            # Stop starting pushes while the last one can still end before the lease does.
            margin = max(self.lease.total_seconds() / 4, push.HTTP_TIMEOUT + 2)
            send_until = started + self.lease.total_seconds() - margin

            def may_start() -> bool:
                return not (stop is not None and stop.is_set()) and time.monotonic() < send_until

            payloads = {
                c.id: push.reminder_payload(service.content(), c.id, c.step_id)
                for c in {j.reminder.id: j.reminder for j in batch.jobs}.values()
            }
            sending = time.monotonic()
            results = await asyncio.gather(
                *(
                    self.sender.send(
                        j.sub,
                        payloads[j.reminder.id],
                        ttl=batch.ttl.get(j.reminder.id, service.TTL_MAX),
                        topic=push.topic_for(j.reminder.step_id),
                        may_start=may_start,
                    )
                    for j in batch.jobs
                )
            )
            recording = time.monotonic()
            result.seconds_send = recording - sending
            recorded = await asyncio.to_thread(self._record, batch, list(results), now)
            result.seconds_db += time.monotonic() - recording
            result.pushes = len(batch.jobs)
            result.sent, result.failed, result.gone = recorded.sent, recorded.failed, recorded.gone
            result.retry, result.released = recorded.retry, recorded.released
            batch.done.extend(recorded.done)
        if batch.done:
            await asyncio.to_thread(self._roll_forward, batch.done, now)
        if result.pushes:
            log.info(
                "herinneringen: %d geclaimd, %d verstuurd, %d opnieuw, %d mislukt, %d verlopen apparaten "
                "(database %.2f s, versturen %.2f s)",
                result.claimed,
                result.sent,
                result.retry,
                result.failed,
                result.gone,
                result.seconds_db,
                result.seconds_send,
            )
        return result

    async def run(self, stop: asyncio.Event, clock: Callable[[], datetime] = now_utc) -> None:
        """LANES rounds at a time over one sender: while one lane is in the database, the other's pushes
        keep the connections busy (one lane alone leaves them idle between batches). Messages get a lane
        of their own, so a heap of reminders never delays an encouragement."""
        await asyncio.gather(*(self._lane(stop, clock) for _ in range(LANES)), self._message_lane(stop, clock))

    async def _message_lane(self, stop: asyncio.Event, clock: Callable[[], datetime]) -> None:
        poll = max(0.05, self.settings.worker_poll_seconds)
        while not stop.is_set():
            try:
                await self.run_messages(clock())
                pause = poll
            except Exception:
                log.exception("berichten versturen mislukt; opnieuw over %.0f s", ERROR_PAUSE_SECONDS)
                pause = ERROR_PAUSE_SECONDS
            try:
                await asyncio.wait_for(stop.wait(), timeout=pause)
            except TimeoutError:
                pass

    async def _lane(self, stop: asyncio.Event, clock: Callable[[], datetime]) -> None:
        poll = max(0.05, self.settings.worker_poll_seconds)
        while not stop.is_set():
            try:
                done = await self.run_once(clock(), stop)
                idle = done.claimed < self.batch_size
                pause = poll
            except Exception:  # the database may be restarting: wait and try again
                log.exception("herinneringen versturen mislukt; opnieuw over %.0f s", ERROR_PAUSE_SECONDS)
                idle, pause = True, ERROR_PAUSE_SECONDS
            if idle:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=pause)
                except TimeoutError:
                    pass


async def run_worker(
    settings: Settings, engine: Engine, stop: asyncio.Event, *, clock: Callable[[], datetime] = now_utc
) -> None:
    """Deliver due reminders until `stop` is set (SIGTERM in `startklaar worker`, shutdown in `serve`)."""
    try:
        keys = push.load_vapid(settings)  # a bad key fails at start, not at the first push
    except ConfigError as exc:
        log.error("worker kan niet starten: %s", exc)  # embedded in `serve`, this is the only trace
        raise
    log.info("worker gestart (database: %s)", engine.url.get_backend_name())
    async with push.PushSender(
        keys, concurrency=settings.push_concurrency, check_origins=settings.is_production
    ) as sender:
        await Worker(settings, engine, sender).run(stop, clock)
    log.info("worker gestopt")

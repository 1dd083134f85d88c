"""The reminder worker loop: `startklaar worker`, or embedded in `startklaar serve`.

This first version only keeps the loop, its logging and its clean stop; delivery comes with the
reminders work. The same coroutine runs embedded and stand-alone.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.engine import Engine

from backend.config import Settings

log = logging.getLogger("startklaar.worker")

POLL_SECONDS = 5.0


async def run_worker(settings: Settings, engine: Engine, stop: asyncio.Event) -> None:
    log.info("worker gestart (database: %s)", engine.url.get_backend_name())
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=POLL_SECONDS)
        except TimeoutError:
            pass
    log.info("worker gestopt")

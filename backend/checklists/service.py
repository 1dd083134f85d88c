"""A person's profile, progress and plan. The plan itself is the pure function in plan.py."""

from __future__ import annotations

import dataclasses
import gzip
import json
import logging
import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import bindparam
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select, update

from backend.accounts import service as accounts_service
from backend.accounts.models import AuthSession, utcnow
from backend.checklists import woonsites
from backend.checklists.content import Content, load_content
from backend.checklists.fastpath import ReadPool
from backend.checklists.models import ProfileIn, ProgressIn, StepProgress, UserProfile
from backend.checklists.plan import STATES, Plan, Profile, compute_plan, validate_profile
from backend.checklists.woonsites import woonsite_for
from backend.clock import aware, nl_date, today_nl
from backend.db import dialect_insert
from backend.errors import FieldErrors
from backend.gemeenten.service import get_gemeente
from backend.reminders import service as reminders

log = logging.getLogger("startklaar.plan")

# A device clock ahead of the server would win every later conflict; cap it.
MAX_CLOCK_SKEW = timedelta(minutes=5)
# Older ticks cannot be real (the app did not exist): a phone whose clock was reset. Refusing them also keeps
# the plan's date arithmetic ('after: step + N days') far from datetime's limits.
EARLIEST_TICK = datetime(2000, 1, 1, tzinfo=UTC)
WRONG_CLOCK = "Deze datum kan niet kloppen. Kijk of de datum en tijd op je telefoon goed staan."
_PROGRESS_KEY = re.compile(r"^(?P<step>[a-z0-9][a-z0-9-]{0,70})(?:@(?P<year>\d{4}))?$")


def content() -> Content:
    return load_content()


def check_profile(session: Session, body: ProfileIn, today: date) -> Profile:
    """The profile as the plan uses it, or FieldErrors with a Dutch message per field."""
    problems = validate_profile(body.birth_date, body.vertrekdatum, body.situation, today=today)
    if get_gemeente(session, body.gemeente_code.strip()) is None:
        problems["gemeente_code"] = "Deze gemeente kennen we niet. Kies je gemeente uit de lijst."
    future = (body.future_gemeente_code or "").strip().upper() or None
    if future is not None and get_gemeente(session, future) is None:
        problems["future_gemeente_code"] = "Deze gemeente kennen we niet. Kies de gemeente uit de lijst."
    if problems:
        raise FieldErrors(problems)
    current = body.gemeente_code.strip().upper()
    return Profile(
        body.birth_date, current, body.vertrekdatum, body.situation, None if future == current else future
    )


def profile_of(row: UserProfile) -> Profile:
    return Profile(row.birth_date, row.gemeente_code, row.vertrekdatum, row.situation, row.future_gemeente_code)


def get_profile(session: Session, user_id: int) -> UserProfile | None:
    return session.get(UserProfile, user_id)


def put_profile(session: Session, user_id: int, body: ProfileIn, today: date) -> UserProfile:
    profile = check_profile(session, body, today)
    row = session.get(UserProfile, user_id) or UserProfile(
        user_id=user_id, birth_date=profile.birth_date, gemeente_code=profile.gemeente_code
    )
    row.birth_date = profile.birth_date
    row.gemeente_code = profile.gemeente_code
    row.vertrekdatum = profile.vertrekdatum
    row.situation = profile.situation
    row.future_gemeente_code = profile.future_gemeente_code
    row.updated_at = utcnow()
    row.revision = (row.revision or 0) + 1
    session.add(row)
    reminders.recompute_for(session, user_id)
    return row


def readiness_for(session: Session, user_id: int, today: date) -> dict[str, Any] | None:
    """The big-5 check of the person's plan, or None without a profile."""
    row = get_profile(session, user_id)
    if row is None:
        return None
    plan = plan_for(profile_of(row), list_progress(session, user_id), today)
    return plan.readiness.to_dict() if plan.readiness is not None else None


def check_progress_key(key: str, catalogue: Content) -> str:
    """A step id, or '<step id>@<year>' for one cycle of a yearly step."""
    m = _PROGRESS_KEY.match(key)
    step = catalogue.steps.get(m.group("step")) if m else None
    if m is None or step is None:
        raise FieldErrors({"step_id": "Deze stap bestaat niet."})
    if m.group("year") and not step.recurring:
        raise FieldErrors({"step_id": "Deze stap komt niet elk jaar terug."})
    return key


@dataclass(frozen=True)
class ProgressResult:
    row: StepProgress
    applied: bool  # False when an older or repeated write was ignored


def put_progress(session: Session, user_id: int, key: str, body: ProgressIn) -> ProgressResult:
    """Idempotent by client_id; the newest client_updated_at wins per step."""
    check_progress_key(key, content())
    if body.state not in STATES:
        raise FieldErrors({"state": "Kies een geldige status."})
    stamp = _tick_time(body.client_updated_at)
    # Read and compute the reminders first, as if the tick were stored, and only then write: the write
    # transaction (on SQLite: the one writer of the whole database) stays a few statements long.
    reminder_change = reminders.plan_recompute(session, user_id, overlay=(key, body.state, stamp))
    values = {"state": body.state, "client_updated_at": stamp, "client_id": body.client_id, "updated_at": utcnow()}
    # Both steps are single statements, so two devices ticking at the same moment cannot mix their writes:
    # insert if absent; otherwise update only when this tick is new and not older than the stored one.
    table = StepProgress.__table__
    inserted = (
        session.execute(
            dialect_insert(session, table)
            .values(user_id=user_id, step_id=key, **values)
            .on_conflict_do_nothing(index_elements=["user_id", "step_id"])
            .returning(table.c.user_id)  # rowcount is -1 here on psycopg; a returned row is certain
        ).first()
        is not None
    )
    updated = 0
    if not inserted:
        updated = session.execute(  # type: ignore[call-overload]
            update(StepProgress)
            .where(
                col(StepProgress.user_id) == user_id,
                col(StepProgress.step_id) == key,
                col(StepProgress.client_id) != body.client_id,
                col(StepProgress.client_updated_at) <= stamp,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount
    row = session.get(StepProgress, (user_id, key), populate_existing=True)
    assert row is not None
    if not inserted and updated != 1:
        return ProgressResult(row, applied=False)  # a repeat, or an older tick than the one stored
    if reminder_change.revision is not None and _bump_revision(session, user_id, reminder_change.revision):
        reminders.apply_recompute(session, reminder_change)
    else:  # the plan's inputs changed since we read them (another device): compute again, now while writing
        _bump_revision(session, user_id)
        reminders.recompute_for(session, user_id)
    return ProgressResult(row, applied=True)


def _tick_time(moment: datetime) -> datetime:
    """The device's time of a tick in UTC: capped at the server's clock (+ skew), refused when it cannot be a
    real tick (a phone whose clock was reset, or an absurd value such as year 1, which would not even fit in
    UTC with a zone east of it). Naive times are UTC, like everything stored."""
    moment = aware(moment)
    latest = utcnow() + MAX_CLOCK_SKEW
    if moment >= latest:  # comparing aware times never overflows; converting 9999-12-31T23:59-01:00 would
        return latest
    if moment < EARLIEST_TICK:  # also before 0001-01-01 in UTC, which astimezone() cannot give
        raise FieldErrors({"client_updated_at": WRONG_CLOCK})
    return moment.astimezone(UTC)


def _bump_revision(session: Session, user_id: int, expected: int | None = None) -> bool:
    """revision + 1; with `expected`, only when it still is that revision (False: it changed meanwhile)."""
    stmt = update(UserProfile).where(col(UserProfile.user_id) == user_id)
    if expected is not None:
        stmt = stmt.where(col(UserProfile.revision) == expected)
    result = session.exec(stmt.values(revision=UserProfile.revision + 1))  # type: ignore[call-overload]
    return bool(result.rowcount)


def list_progress(session: Session, user_id: int) -> list[StepProgress]:
    return list(session.exec(select(StepProgress).where(StepProgress.user_id == user_id)).all())


def plan_for(profile: Profile, rows: list[StepProgress], today: date) -> Plan:
    progress = {r.step_id: r.state for r in rows}
    completed_on = {r.step_id: nl_date(r.client_updated_at) for r in rows if r.state == "done"}
    return with_woonsite(compute_plan(profile, content(), today, progress, completed_on=completed_on), profile)


def with_woonsite(plan: Plan, profile: Profile) -> Plan:
    """The plan with the woonsite of the gemeente where the person will live (None: not known)."""
    found = woonsite_for(profile.woon_gemeente_code)
    return dataclasses.replace(plan, woonsite=woonsites.public(found) if found else None)


class _LRU:
    """A small thread-safe LRU of serialized plans, per API process."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[tuple[object, ...], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[object, ...]) -> bytes | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def drop_user(self, user_id: int) -> list[bytes]:
        with self._lock:
            return [self._data.pop(k) for k in [k for k in self._data if k[0] == user_id]]

    def drop(self, key: tuple[object, ...]) -> None:
        with self._lock:
            self._data.pop(key, None)

    def put(self, key: tuple[object, ...], value: bytes) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)


# Keyed by the profile's revision, so any API process sees a change at once (no invalidation needed).
_plan_cache = _LRU(4096)


# The same plans gzipped, keyed by the plan's bytes (the very object the plan cache holds, whose hash Python
# keeps): phones always ask for gzip, and compressing ~12 KB on every read cost more than the rest of the read.
_gzip_cache = _LRU(1024)


def configure_plan_cache(size: int) -> None:
    global _plan_cache, _gzip_cache
    _plan_cache = _LRU(size)
    _gzip_cache = _LRU(max(1, size // 4))


def gzipped(body: bytes) -> bytes:
    key = (body,)
    packed = _gzip_cache.get(key)
    if packed is None:
        packed = gzip.compress(body, compresslevel=6, mtime=0)
        _gzip_cache.put(key, packed)
    return packed


def forget_plans(user_id: int) -> None:
    """After deleting an account: SQLite may give the next new account the same id (and revision)."""
    for body in _plan_cache.drop_user(user_id):
        _gzip_cache.drop((body,))


def user_plan_json(session: Session, user_id: int, today: date) -> bytes | None:
    """The person's plan as JSON, from the cache when neither profile, progress, day nor content changed."""
    found = session.execute(
        select(UserProfile.revision, UserProfile.updated_at).where(UserProfile.user_id == user_id)
    ).first()
    if found is None:
        return None
    # updated_at too: a new account may get a deleted one's id (SQLite) and so its revision, in another
    # process whose cache forget_plans() could not reach.
    key = (user_id, found.revision, found.updated_at, today, content().version)
    cached = _plan_cache.get(key)
    if cached is not None:
        return cached
    row = get_profile(session, user_id)
    if row is None:
        return None
    profile = profile_of(row)
    plan = plan_for(profile, list_progress(session, user_id), today)
    body = json.dumps(plan.to_dict(), ensure_ascii=False, separators=(",", ":")).encode()
    _plan_cache.put(key, body)
    return body


_FAST_PLAN = (
    select(
        AuthSession.user_id,
        AuthSession.expires_at,
        AuthSession.last_used_at,
        UserProfile.revision,
        UserProfile.updated_at,
    )
    .join(UserProfile, col(UserProfile.user_id) == col(AuthSession.user_id))
    .where(col(AuthSession.token_hash) == bindparam("token_hash"))
)


def cached_plan_for_token(engine: Engine, token: str, today: date) -> bytes | None:
    """The hot path of GET /api/me/plan: one query (session + profile revision) on a connection without a
    transaction, and the cached plan. None whenever anything needs the full path (unknown, expired or
    stale session, no profile, plan not cached): the caller then runs it."""
    with engine.connect() as conn:
        found = conn.execute(_FAST_PLAN, {"token_hash": accounts_service.token_hash(token)}).first()
    return _cached_plan(found, today)


def _cached_plan(found: Sequence[Any] | None, today: date) -> bytes | None:
    """The cached plan for a (user_id, expires_at, last_used_at, revision, updated_at) row of a fresh session."""
    if found is None:
        return None
    user_id, expires_at, last_used_at, revision, updated_at = found
    if not accounts_service.session_is_fresh(aware(expires_at), aware(last_used_at), utcnow()):
        return None
    return _plan_cache.get((user_id, revision, updated_at, today, content().version))


_read_pools: weakref.WeakKeyDictionary[Engine, ReadPool] = weakref.WeakKeyDictionary()


async def cached_plan_for_token_async(engine: Engine, token: str, today: date) -> bytes | None:
    """cached_plan_for_token for PostgreSQL, on the event loop (fastpath.py); None: take the full path."""
    pool = _read_pools.get(engine)
    if pool is None:
        pool = _read_pools[engine] = ReadPool(engine)
    try:
        found = await pool.fetch(accounts_service.token_hash(token))
    except psycopg.Error as exc:  # the full path gives the proper answer (or a 503)
        log.warning("snelle plan-lezing mislukt: %s", type(exc).__name__)
        return None
    return _cached_plan(found, today)


async def plan_at_hand(engine: Engine, token: str) -> bytes | None:
    """The cached plan for this session cookie when it needs no thread and no transaction (SQLite: one
    query in this process; PostgreSQL: the kept session row or one async query); None: take the full path."""
    if engine.dialect.name == "sqlite":
        return cached_plan_for_token(engine, token, today_nl())
    return await cached_plan_for_token_async(engine, token, today_nl())


PLAN_HEADERS = [(b"content-type", b"application/json"), (b"cache-control", b"private, no-cache")]
GZIP_HEADERS = [*PLAN_HEADERS, (b"vary", b"Accept-Encoding"), (b"content-encoding", b"gzip")]


def plan_response(body: bytes, accept_encoding: str) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """Body and headers of a plan answer: gzipped (once per plan) for every client that accepts it. The
    GZip middleware passes an encoded body on as it is, and adds Vary itself to a plain one."""
    if "gzip" in accept_encoding:
        return gzipped(body), GZIP_HEADERS
    return body, PLAN_HEADERS


async def close_read_pool(engine: Engine) -> None:
    pool = _read_pools.pop(engine, None)
    if pool is not None:
        await pool.close()


def anonymous_plan(session: Session, body: ProfileIn, progress: dict[str, str], today: date) -> Plan:
    """The plan for someone without an account: profile and progress come from the device."""
    profile = check_profile(session, body, today)
    catalogue = content()
    clean: dict[str, str] = {}
    for key, state in progress.items():
        check_progress_key(key, catalogue)
        if state not in STATES:
            raise FieldErrors({f"progress.{key}": "Kies een geldige status."})
        clean[key] = state
    return with_woonsite(compute_plan(profile, catalogue, today, clean), profile)

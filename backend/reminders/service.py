"""Reminder rules and every reminder query: recompute, subscriptions, preferences, inbox, claim and record.

Plain functions that take a session; they never commit (the request or the worker's job does).

Recompute (on every profile or progress change)
-----------------------------------------------
The wanted set is ``reminder_moments(profile, content, progress, today)``: the next moment per (step, rule)
on or after today. Rows are keyed by (person, step, rule, due date):
  * a wanted moment without a row is inserted (``pending``, send at 10:00 Europe/Amsterdam that day);
  * a ``pending`` row that is not wanted any more is deleted: its step was marked done / not_for_me, or a
    changed date (e.g. the vertrekdatum) moved it; the moved moment is a new row;
  * except a ``pending`` row whose day has already come (the worker has not sent it yet, e.g. it waits for
    the end of quiet hours): it stays when it is still a moment as of its own day, so nothing due is lost;
  * ``sent`` / ``inbox`` / ``failed`` rows are never touched: they are the inbox history, and their key
    keeps the same moment from being made (and sent) again.
After a yearly reminder is finished the worker recomputes from the next day, to get the next occurrence.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlmodel import Session

from backend.accounts.models import utcnow
from backend.checklists.content import Content, load_content
from backend.checklists.models import StepProgress, UserProfile
from backend.checklists.plan import OVERDUE_RULE_PREFIX, Profile, reminder_moments
from backend.clock import NL, aware, nl_date, now_utc
from backend.db import dialect_insert
from backend.errors import AppError, FieldErrors
from backend.reminders import push
from backend.reminders.models import (
    DEFAULT_QUIET_END,
    DEFAULT_QUIET_START,
    DELIVERY_FAILED,
    DELIVERY_RETRY,
    DELIVERY_SENT,
    ENDPOINT_MAX,
    FAILED,
    INBOX,
    PENDING,
    SENT,
    InboxItem,
    InboxOut,
    LeefgebiedOption,
    PreferencesIn,
    PreferencesOut,
    PushSubscription,
    PushSubscriptionIn,
    Reminder,
    ReminderDelivery,
    ReminderPreferences,
)

SEND_TIME = time(10, 0)  # Europe/Amsterdam: a reminder goes out at 10:00 on its day
MAX_DEVICES = 10  # subscriptions per person; the least recently renewed one goes first
MAX_ATTEMPTS = 5  # sending rounds per reminder before the devices still failing count as failed
BACKOFF_BASE = 30.0  # seconds: 30, 60, 120, 240 ... with jitter
BACKOFF_MAX = 3600.0
RETRY_AFTER_MAX = 6 * 3600.0  # obey a push service's Retry-After, but not for days
TTL_MAX = 7 * 24 * 3600  # a reminder stays useful a week at most ...
TTL_MIN = 3600  # ... or until the next reminder for the same step, but at least an hour
PAUSE_MAX_DAYS = 366
INBOX_LIMIT = 50
_TIME_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")

_R = Reminder.__table__  # type: ignore[attr-defined]
_D = ReminderDelivery.__table__  # type: ignore[attr-defined]
_S = PushSubscription.__table__  # type: ignore[attr-defined]


def content() -> Content:
    return load_content()


def _insert(session: Session, table: Any) -> Any:
    return dialect_insert(session, table)


# --- time ----------------------------------------------------------------------------------------------


def send_moment(due_on: date) -> datetime:
    """10:00 Europe/Amsterdam on the due day, as an aware UTC datetime."""
    return datetime.combine(due_on, SEND_TIME, tzinfo=NL).astimezone(UTC)


def in_quiet_hours(local: time, start: time, end: time) -> bool:
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end  # over midnight, e.g. 21:00-09:00


def quiet_hours_end(now: datetime, end: time) -> datetime:
    """The next moment the clock in Amsterdam shows `end`, in UTC."""
    local = now.astimezone(NL)
    candidate = datetime.combine(local.date(), end, tzinfo=NL)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), end, tzinfo=NL)
    return candidate.astimezone(UTC)


# --- recompute -----------------------------------------------------------------------------------------


def _profile_and_progress(
    session: Session, user_id: int, overlay: tuple[str, str, datetime] | None = None
) -> tuple[Profile, dict[str, str], dict[str, date]] | None:
    row = session.get(UserProfile, user_id)
    if row is None:
        return None
    # Plain rows, not ORM objects: this runs on every tick (bench/load.py's stress phase).
    rows = session.execute(
        select(StepProgress.step_id, StepProgress.state, StepProgress.client_updated_at).where(
            StepProgress.user_id == user_id  # type: ignore[arg-type]
        )
    ).all()
    progress = {r.step_id: r.state for r in rows}
    completed_on = {r.step_id: nl_date(r.client_updated_at) for r in rows if r.state == "done"}
    if overlay is not None:  # a tick about to be written
        step_id, state, stamp = overlay
        progress[step_id] = state
        completed_on.pop(step_id, None)
        if state == "done":
            completed_on[step_id] = nl_date(stamp)
    profile = Profile(row.birth_date, row.gemeente_code, row.vertrekdatum, row.situation, row.future_gemeente_code)
    return profile, progress, completed_on


def _overdue_sent(session: Session, user_id: int) -> dict[str, int]:
    """How many overdue reminders (rule ids te-laat-K) each step of this person has had already."""
    rows = session.execute(
        select(_R.c.step_id, func.count())
        .where(_R.c.user_id == user_id, _R.c.status != PENDING, _R.c.rule_id.like(f"{OVERDUE_RULE_PREFIX}%"))
        .group_by(_R.c.step_id)
    ).all()
    return {step_id: n for step_id, n in rows}


def _overdue_used_up(catalogue: Content, step_id: str, rule_id: str, sent: dict[str, int]) -> bool:
    if not rule_id.startswith(OVERDUE_RULE_PREFIX):
        return False
    step = catalogue.steps.get(step_id)
    return step is None or step.overdue is None or sent.get(step_id, 0) >= step.overdue.times


@dataclass(frozen=True)
class Recompute:
    """What recompute will write for one person: reminder rows to delete and to add."""

    stale: list[int]
    new: list[dict[str, Any]]
    revision: int | None = None  # the profile revision it was computed from (None: no profile)


def plan_recompute(
    session: Session,
    user_id: int,
    now: datetime | None = None,
    *,
    not_before: date | None = None,
    overlay: tuple[str, str, datetime] | None = None,
) -> Recompute:
    """Read and compute only (no write): which pending reminders go and which come. With `overlay` (step,
    state, time) as if that tick were already stored, so a tick can compute before it takes any write lock
    (SQLite has one writer: the shorter a write transaction, the more ticks a second; bench/load.py)."""
    now = now or now_utc()
    today = nl_date(now)
    if not_before is not None and not_before > today:
        today = not_before
    pending = session.execute(
        select(_R.c.id, _R.c.step_id, _R.c.rule_id, _R.c.due_on).where(_R.c.user_id == user_id, _R.c.status == PENDING)
    ).all()
    state = _profile_and_progress(session, user_id, overlay)
    if state is None:
        return Recompute([r.id for r in pending], [])
    seen = session.get(UserProfile, user_id)
    profile, progress, completed_on = state
    catalogue = content()
    moments = reminder_moments(profile, catalogue, progress, today, completed_on=completed_on)
    # One more query only for someone with an overdue step (this runs on every tick: bench/load.py).
    late = _overdue_sent(session, user_id) if any(m.rule_id.startswith(OVERDUE_RULE_PREFIX) for m in moments) else {}
    wanted = {
        (m.step_id, m.rule_id, m.due) for m in moments if not _overdue_used_up(catalogue, m.step_id, m.rule_id, late)
    }
    as_of: dict[date, set[tuple[str, str, date]]] = {}
    stale: list[int] = []
    for r in pending:
        key = (r.step_id, r.rule_id, r.due_on)
        if key in wanted:
            continue
        if r.due_on < today:
            # Due but not sent yet: keep it if it still is a moment as of its own day.
            if r.due_on not in as_of:
                as_of[r.due_on] = {
                    (m.step_id, m.rule_id, m.due)
                    for m in reminder_moments(profile, catalogue, progress, r.due_on, completed_on=completed_on)
                }
            if key in as_of[r.due_on]:
                continue
        stale.append(r.id)
    have = {(r.step_id, r.rule_id, r.due_on) for r in pending}
    new = [
        {
            "user_id": user_id,
            "step_id": step_id,
            "rule_id": rule_id,
            "due_on": due,
            "send_at": send_moment(due),
            "next_attempt_at": send_moment(due),
            "status": PENDING,
            "attempts": 0,
            "created_at": now,
        }
        for step_id, rule_id, due in sorted(wanted - have)
    ]
    return Recompute(stale, new, seen.revision if seen is not None else None)


def apply_recompute(session: Session, change: Recompute) -> None:
    if change.stale:
        session.execute(delete(_R).where(_R.c.id.in_(change.stale)))
    if change.new:
        # DO NOTHING: a sent/inbox row with the same key is history, and the moment must not come again (and
        # a reminder another transaction added meanwhile is not added twice).
        stmt = _insert(session, _R).on_conflict_do_nothing(index_elements=["user_id", "step_id", "rule_id", "due_on"])
        session.execute(stmt, change.new)


def recompute(session: Session, user_id: int, now: datetime | None = None, *, not_before: date | None = None) -> None:
    """Bring one person's pending reminders in line with their profile and progress (idempotent)."""
    session.flush()  # the caller's changes to profile and progress must be visible to the queries below
    apply_recompute(session, plan_recompute(session, user_id, now, not_before=not_before))


def recompute_for(session: Session, user_id: int | None) -> None:
    """The hook checklists.service calls after a profile or progress change."""
    if user_id is not None:
        recompute(session, user_id)


# --- subscriptions -------------------------------------------------------------------------------------

_BAD_URL = "Dit is geen geldig webadres van een pushdienst."


def _check_endpoint(endpoint: str, production: bool) -> str | None:
    if len(endpoint) > ENDPOINT_MAX:
        return f"Dit webadres is te lang: hoogstens {ENDPOINT_MAX} tekens."
    if not endpoint.isascii() or any(c.isspace() or ord(c) < 0x21 or ord(c) == 0x7F for c in endpoint):
        return _BAD_URL
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        return _BAD_URL
    allowed = ("https",) if production else ("https", "http")
    if parts.scheme not in allowed:
        return "Het webadres van de pushdienst moet met https:// beginnen."
    if not parts.hostname or parts.username is not None or parts.password is not None:
        return _BAD_URL
    if production and not push.host_is_public(parts.hostname, port):
        return "Dit webadres mag niet naar een intern of lokaal netwerk wijzen."
    return None


def _check_key(value: str, size: int) -> bytes | None:
    try:
        raw = push.b64url_decode(value.strip())
    except ValueError:
        return None
    return raw if len(raw) == size else None


def check_subscription(body: PushSubscriptionIn, production: bool) -> tuple[str, str, str]:
    """(endpoint, p256dh, auth), or FieldErrors with a Dutch message per field."""
    problems: dict[str, str] = {}
    endpoint = body.endpoint.strip()
    if (problem := _check_endpoint(endpoint, production)) is not None:
        problems["endpoint"] = problem
    point = _check_key(body.keys.p256dh, 65)
    if point is not None:
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        except ValueError:
            point = None
    if point is None:
        problems["keys.p256dh"] = "Deze sleutel klopt niet: verwacht een P-256-sleutel van 65 bytes (base64url)."
    if _check_key(body.keys.auth, 16) is None:
        problems["keys.auth"] = "Deze sleutel klopt niet: verwacht 16 bytes (base64url)."
    if problems:
        raise FieldErrors(problems)
    return endpoint, body.keys.p256dh.strip().rstrip("="), body.keys.auth.strip().rstrip("=")


def save_subscription(
    session: Session, user_id: int, body: PushSubscriptionIn, *, production: bool, now: datetime | None = None
) -> PushSubscription:
    """Upsert by endpoint: a device that subscribes again updates its keys, and moves to this person."""
    endpoint, p256dh, auth = check_subscription(body, production)
    now = now or now_utc()
    stmt = _insert(session, _S).values(
        user_id=user_id, endpoint=endpoint, p256dh=p256dh, auth=auth, created_at=now, updated_at=now
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["endpoint"],
        set_={"user_id": user_id, "p256dh": p256dh, "auth": auth, "updated_at": now},
    )
    session.execute(stmt)
    ids = (
        session.execute(select(_S.c.id).where(_S.c.user_id == user_id).order_by(_S.c.updated_at.desc(), _S.c.id.desc()))
        .scalars()
        .all()
    )
    if len(ids) > MAX_DEVICES:
        session.execute(delete(_S).where(_S.c.id.in_(ids[MAX_DEVICES:])))
    session.expire_all()
    row = session.execute(select(PushSubscription).where(PushSubscription.endpoint == endpoint)).scalar_one()  # type: ignore[arg-type]
    return row


def remove_subscription(session: Session, user_id: int, endpoint: str) -> bool:
    """Only the person's own subscription; someone else's endpoint is left alone."""
    result = session.execute(delete(_S).where(_S.c.endpoint == endpoint.strip(), _S.c.user_id == user_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def count_devices(session: Session, user_id: int) -> int:
    return int(session.execute(select(func.count()).where(_S.c.user_id == user_id)).scalar_one())


# --- preferences ---------------------------------------------------------------------------------------


def _fmt_time(t: time) -> str:
    return t.strftime("%H:%M")


def _chosen(prefs: ReminderPreferences | None, catalogue: Content) -> list[str]:
    if prefs is None or prefs.leefgebieden is None:
        return list(catalogue.leefgebieden)
    chosen = set(prefs.leefgebieden.split(",")) if prefs.leefgebieden else set()
    return [lg for lg in catalogue.leefgebieden if lg in chosen]


def preferences_out(session: Session, user_id: int) -> PreferencesOut:
    prefs = session.get(ReminderPreferences, user_id)
    catalogue = content()
    return PreferencesOut(
        push_enabled=prefs.push_enabled if prefs else True,
        quiet_start=_fmt_time(prefs.quiet_start if prefs else DEFAULT_QUIET_START),
        quiet_end=_fmt_time(prefs.quiet_end if prefs else DEFAULT_QUIET_END),
        paused_until=prefs.paused_until if prefs else None,
        leefgebieden=_chosen(prefs, catalogue),
        options=[LeefgebiedOption(id=lg.id, label=lg.label) for lg in catalogue.leefgebieden.values()],
        devices=count_devices(session, user_id),
    )


def _parse_time(value: str) -> time | None:
    m = _TIME_RE.match(value.strip())
    return time(int(m.group(1)), int(m.group(2))) if m else None


def put_preferences(session: Session, user_id: int, body: PreferencesIn, now: datetime | None = None) -> PreferencesOut:
    today = nl_date(now or now_utc())
    catalogue = content()
    problems: dict[str, str] = {}
    start, end = _parse_time(body.quiet_start), _parse_time(body.quiet_end)
    if start is None:
        problems["quiet_start"] = "Vul een tijd in als UU:MM, bijvoorbeeld 21:00."
    if end is None:
        problems["quiet_end"] = "Vul een tijd in als UU:MM, bijvoorbeeld 09:00."
    paused = body.paused_until
    if paused is not None and paused < today:
        paused = None  # a pause that is over is no pause
    if paused is not None and paused > today + timedelta(days=PAUSE_MAX_DAYS):
        problems["paused_until"] = "Je kunt herinneringen hoogstens een jaar pauzeren."
    leefgebieden: str | None = None
    if body.leefgebieden is not None:
        unknown = [lg for lg in body.leefgebieden if lg not in catalogue.leefgebieden]
        if unknown:
            problems["leefgebieden"] = "Deze leefgebieden kennen we niet: " + ", ".join(unknown[:5]) + "."
        chosen = set(body.leefgebieden)
        if chosen != set(catalogue.leefgebieden):  # all of them: store None, so new ones count too
            leefgebieden = ",".join(lg for lg in catalogue.leefgebieden if lg in chosen)
    if problems:
        raise FieldErrors(problems)
    assert start is not None and end is not None
    prefs = session.get(ReminderPreferences, user_id) or ReminderPreferences(user_id=user_id)
    prefs.push_enabled = body.push_enabled
    prefs.quiet_start, prefs.quiet_end = start, end
    prefs.paused_until = paused
    prefs.leefgebieden = leefgebieden
    prefs.updated_at = utcnow()
    session.add(prefs)
    session.flush()
    return preferences_out(session, user_id)


# --- inbox ---------------------------------------------------------------------------------------------


def _item(row: Reminder, catalogue: Content) -> InboxItem:
    title, body, url = push.reminder_text(catalogue, row.step_id)
    assert row.id is not None
    return InboxItem(
        id=row.id,
        step_id=row.step_id,
        title=title,
        body=body,
        url=url,
        due_at=aware(row.send_at),
        status=row.status,
        read=row.read_at is not None,
    )


def inbox(session: Session, user_id: int, now: datetime | None = None, limit: int = INBOX_LIMIT) -> InboxOut:
    """Every reminder whose moment has come, pushed or not, newest first."""
    now = now or now_utc()
    mine = (Reminder.user_id == user_id) & (Reminder.send_at <= now)  # type: ignore[operator]
    rows = (
        session.execute(
            select(Reminder).where(mine).order_by(Reminder.send_at.desc(), Reminder.id.desc()).limit(limit)  # type: ignore[union-attr, attr-defined]
        )
        .scalars()
        .all()
    )
    unread = session.execute(
        select(func.count()).select_from(Reminder).where(mine, Reminder.read_at.is_(None))  # type: ignore[union-attr]
    ).scalar_one()
    catalogue = content()
    return InboxOut(items=[_item(r, catalogue) for r in rows], unread=int(unread))


def mark_read(session: Session, user_id: int, reminder_id: int, now: datetime | None = None) -> InboxItem:
    now = now or now_utc()
    row = session.get(Reminder, reminder_id)
    if row is None or row.user_id != user_id or aware(row.send_at) > now:
        raise AppError(404, "Deze herinnering bestaat niet (meer).")
    if row.read_at is None:
        row.read_at = now
        session.add(row)
    return _item(row, content())


# --- the worker's queries ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    id: int
    user_id: int
    step_id: str
    rule_id: str
    due_on: date
    send_at: datetime
    attempts: int


@dataclass(frozen=True)
class Job:
    """One push to make: one reminder to one device."""

    reminder: Claimed
    sub: push.Subscription
    attempts: int  # earlier attempts for this device


@dataclass
class Batch:
    claimed: list[Claimed] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)
    ttl: dict[int, int] = field(default_factory=dict)  # seconds per reminder id
    inbox: int = 0  # finished without a push (push off, paused, leefgebied off, no device)
    deferred: int = 0  # waiting for the end of quiet hours
    finished: int = 0  # every device already had its outcome (a retry after a crash)
    done: list[Claimed] = field(default_factory=list)  # finished here: roll yearly ones forward afterwards


@dataclass
class Recorded:
    sent: int = 0
    failed: int = 0
    gone: int = 0
    retry: int = 0
    released: int = 0
    missing: int = 0  # reminders deleted while in flight (step done meanwhile)
    done: list[Claimed] = field(default_factory=list)  # finished: roll yearly ones forward afterwards


def claim(session: Session, worker_id: str, now: datetime, lease_until: datetime, limit: int) -> list[Claimed]:
    """Take up to `limit` due reminders no one holds. PostgreSQL: SKIP LOCKED; SQLite: one write transaction."""
    due = (
        select(_R.c.id)
        .where(
            _R.c.status == PENDING,
            _R.c.next_attempt_at <= now,
            or_(_R.c.lease_until.is_(None), _R.c.lease_until < now),
        )
        .order_by(_R.c.next_attempt_at, _R.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # rendered on PostgreSQL only
    )
    stmt = (
        update(_R)
        .where(_R.c.id.in_(due.scalar_subquery()))
        .values(lease_until=lease_until, claimed_by=worker_id)
        .returning(_R.c.id, _R.c.user_id, _R.c.step_id, _R.c.rule_id, _R.c.due_on, _R.c.send_at, _R.c.attempts)
    )
    rows = session.execute(stmt).all()
    return sorted(
        (Claimed(r.id, r.user_id, r.step_id, r.rule_id, r.due_on, aware(r.send_at), r.attempts) for r in rows),
        key=lambda c: c.id,
    )


def _set_status(session: Session, worker_id: str, rows: list[dict[str, Any]]) -> None:
    """Finish or reschedule claimed reminders; only while this worker still holds them."""
    if not rows:
        return
    stmt = (
        update(_R)
        .where(_R.c.id == bindparam("b_id"), _R.c.claimed_by == worker_id)
        .values(
            status=bindparam("b_status", type_=_R.c.status.type),
            next_attempt_at=bindparam("b_next", type_=_R.c.next_attempt_at.type),
            attempts=bindparam("b_attempts", type_=_R.c.attempts.type),
            finished_at=bindparam("b_finished", type_=_R.c.finished_at.type),
            lease_until=None,
            claimed_by=None,
        )
    )
    session.execute(stmt, rows)


def _status_row(c: Claimed, status: str, next_at: datetime, attempts: int, finished: datetime | None) -> dict[str, Any]:
    return {"b_id": c.id, "b_status": status, "b_next": next_at, "b_attempts": attempts, "b_finished": finished}


def _leefgebied(catalogue: Content, step_id: str) -> str | None:
    step = catalogue.steps.get(step_id)
    return step.leefgebied if step else None


def plan_batch(session: Session, worker_id: str, claimed: list[Claimed], now: datetime) -> Batch:
    """Decide per claimed reminder: push now (jobs), wait for the morning, or inbox only."""
    batch = Batch(claimed=claimed)
    if not claimed:
        return batch
    catalogue = content()
    users = sorted({c.user_id for c in claimed})
    prefs = {
        p.user_id: p
        for p in session.execute(
            select(ReminderPreferences).where(ReminderPreferences.user_id.in_(users))  # type: ignore[attr-defined]
        ).scalars()
    }
    subs: dict[int, list[push.Subscription]] = defaultdict(list)
    for s in session.execute(
        select(_S.c.id, _S.c.user_id, _S.c.endpoint, _S.c.p256dh, _S.c.auth).where(_S.c.user_id.in_(users))
    ):
        subs[s.user_id].append(push.Subscription(s.id, s.endpoint, s.p256dh, s.auth))
    done: dict[tuple[int, int], tuple[str, int]] = {
        (d.reminder_id, d.subscription_id): (d.status, d.attempts)
        for d in session.execute(
            select(_D.c.reminder_id, _D.c.subscription_id, _D.c.status, _D.c.attempts).where(
                _D.c.reminder_id.in_([c.id for c in claimed])
            )
        )
    }
    today = nl_date(now)
    local = now.astimezone(NL).time()
    updates: list[dict[str, Any]] = []
    finished: list[Claimed] = []
    for c in claimed:
        p = prefs.get(c.user_id)
        chosen = None if p is None or p.leefgebieden is None else set(p.leefgebieden.split(",")) - {""}
        leefgebied = _leefgebied(catalogue, c.step_id)
        if p is not None and (
            not p.push_enabled
            or (p.paused_until is not None and p.paused_until >= today)
            or (chosen is not None and leefgebied not in chosen)
        ):
            # The person asked for fewer pushes: it stays in the inbox, and is not sent later in a heap.
            updates.append(_status_row(c, INBOX, now, c.attempts, now))
            finished.append(c)
            batch.inbox += 1
            continue
        start = p.quiet_start if p else DEFAULT_QUIET_START
        end = p.quiet_end if p else DEFAULT_QUIET_END
        if in_quiet_hours(local, start, end):
            updates.append(_status_row(c, PENDING, quiet_hours_end(now, end), c.attempts, None))
            batch.deferred += 1
            continue
        devices = subs.get(c.user_id, [])
        todo = [s for s in devices if done.get((c.id, s.id), ("", 0))[0] not in (DELIVERY_SENT, DELIVERY_FAILED)]
        if not devices:
            updates.append(_status_row(c, INBOX, now, c.attempts, now))
            finished.append(c)
            batch.inbox += 1
        elif not todo:
            # Every device already has its outcome (the worker before us died before it could say so).
            ok = any(done.get((c.id, s.id), ("", 0))[0] == DELIVERY_SENT for s in devices)
            updates.append(_status_row(c, SENT if ok else FAILED, now, c.attempts, now))
            finished.append(c)
            batch.finished += 1
        else:
            batch.jobs.extend(Job(c, s, done.get((c.id, s.id), ("", 0))[1]) for s in todo)
    _set_status(session, worker_id, updates)
    with_jobs = {j.reminder.id for j in batch.jobs}
    batch.ttl = _ttls(session, [c for c in claimed if c.id in with_jobs], now)
    batch.done = finished
    return batch


def _ttls(session: Session, reminders: list[Claimed], now: datetime) -> dict[int, int]:
    """TTL per reminder: until the next reminder for the same step (a newer push replaces it), at most a week."""
    if not reminders:
        return {}
    users = sorted({c.user_id for c in reminders})
    following: dict[tuple[int, str], list[datetime]] = defaultdict(list)
    for r in session.execute(
        select(_R.c.user_id, _R.c.step_id, _R.c.send_at).where(
            _R.c.user_id.in_(users), _R.c.status == PENDING, _R.c.send_at > now
        )
    ):
        following[(r.user_id, r.step_id)].append(aware(r.send_at))
    ttl: dict[int, int] = {}
    for c in reminders:
        later = [t for t in following.get((c.user_id, c.step_id), []) if t > c.send_at]
        seconds = (min(later) - now).total_seconds() if later else TTL_MAX
        ttl[c.id] = int(min(TTL_MAX, max(TTL_MIN, seconds)))
    return ttl


def backoff(attempt: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter: about 30 s, 60 s, 120 s ... at most an hour."""
    base = min(BACKOFF_MAX, BACKOFF_BASE * 2 ** max(0, attempt - 1))
    return base * (0.5 + (rng or random).random())  # noqa: S311 - jitter, not a secret


def record(
    session: Session,
    worker_id: str,
    batch: Batch,
    results: Sequence[push.PushResult | None],
    now: datetime,
    rng: random.Random | None = None,
) -> Recorded:
    """Store what happened per device and finish, retry or release each reminder. `None`: not attempted."""
    out = Recorded()
    ids = sorted({j.reminder.id for j in batch.jobs})
    if not ids:
        return out
    # Lock (PostgreSQL) / start the write transaction (SQLite) first, and learn which reminders still exist
    # and are still ours: a recompute may have deleted one meanwhile, and a lost lease means hands off.
    held = {
        r.id: r.claimed_by
        for r in session.execute(
            update(_R).where(_R.c.id.in_(ids)).values(attempts=_R.c.attempts).returning(_R.c.id, _R.c.claimed_by)
        )
    }
    out.missing = len(set(ids) - set(held))
    gone = sorted(
        {j.sub.endpoint for j, res in zip(batch.jobs, results, strict=True) if res and res.outcome == push.GONE}
    )
    if gone:
        session.execute(delete(_S).where(_S.c.endpoint.in_(gone)))
    # Subscriptions the person removed meanwhile must not get a delivery row (foreign key); lock the rest.
    sub_ids = sorted({j.sub.id for j in batch.jobs})
    alive = set(
        session.execute(select(_S.c.id).where(_S.c.id.in_(sub_ids)).with_for_update(read=True, key_share=True))
        .scalars()
        .all()
    )
    deliveries: list[dict[str, Any]] = []
    per_reminder: dict[int, list[tuple[Job, push.PushResult | None]]] = defaultdict(list)
    for job, res in zip(batch.jobs, results, strict=True):
        per_reminder[job.reminder.id].append((job, res))
        if res is None:
            continue
        if res.outcome == push.SENT:
            out.sent += 1
        elif res.outcome == push.GONE:
            out.gone += 1
            continue
        elif res.outcome == push.RETRY:
            out.retry += 1
        else:
            out.failed += 1
        if job.reminder.id in held and job.sub.id in alive:
            status = {push.SENT: DELIVERY_SENT, push.RETRY: DELIVERY_RETRY}.get(res.outcome, DELIVERY_FAILED)
            if res.outcome == push.RETRY and job.reminder.attempts + 1 >= MAX_ATTEMPTS:
                status = DELIVERY_FAILED
            deliveries.append(
                {
                    "reminder_id": job.reminder.id,
                    "subscription_id": job.sub.id,
                    "status": status,
                    "attempts": job.attempts + 1,
                    "last_status_code": res.status_code,
                    "updated_at": now,
                }
            )
    if deliveries:
        ins = _insert(session, _D)
        stmt = ins.on_conflict_do_update(
            index_elements=["reminder_id", "subscription_id"],
            set_={
                "status": ins.excluded.status,
                "attempts": ins.excluded.attempts,
                "last_status_code": ins.excluded.last_status_code,
                "updated_at": ins.excluded.updated_at,
            },
        )
        session.execute(stmt, deliveries)
    ever_sent = {
        r
        for r in session.execute(
            select(_D.c.reminder_id).where(_D.c.reminder_id.in_(ids), _D.c.status == DELIVERY_SENT)
        ).scalars()
    }
    updates: list[dict[str, Any]] = []
    finished: list[Claimed] = []
    for rid, pairs in per_reminder.items():
        if held.get(rid) != worker_id:
            continue
        c = pairs[0][0].reminder
        outcomes = [res.outcome if res else None for _job, res in pairs]
        if None in outcomes:
            # Not (all) attempted: the worker is stopping or its lease runs out. Give it back as it was.
            updates.append(_status_row(c, PENDING, now, c.attempts, None))
            out.released += 1
            continue
        retries = [res for _job, res in pairs if res is not None and res.outcome == push.RETRY]
        if retries and c.attempts + 1 < MAX_ATTEMPTS:
            waits = [min(RETRY_AFTER_MAX, r.retry_after) for r in retries if r.retry_after is not None]
            delay = max(waits) if waits else backoff(c.attempts + 1, rng)
            updates.append(_status_row(c, PENDING, now + timedelta(seconds=delay), c.attempts + 1, None))
            continue
        if rid in ever_sent:
            status = SENT
        elif all(o == push.GONE for o in outcomes):
            status = INBOX  # every device turned out to be gone: it only lives in the inbox now
        else:
            status = FAILED
        updates.append(_status_row(c, status, now, c.attempts + 1, now))
        finished.append(c)
    _set_status(session, worker_id, updates)
    out.done = finished
    return out


def roll_forward(session: Session, finished: Iterable[Claimed], now: datetime) -> None:
    """After a yearly or an overdue reminder, make its next occurrence (recompute from the day after it).

    The worker runs this in a transaction of its own, after the batch is recorded: it touches other rows of
    the same people, and must not be able to undo (or deadlock) the record of what was sent.
    """
    catalogue = content()
    latest: dict[int, date] = {}
    for c in finished:
        step = catalogue.steps.get(c.step_id)
        if step is None:
            continue
        yearly = step.recurring or any(r.id == c.rule_id and r.rule.yearly for r in step.reminders)
        if yearly or c.rule_id.startswith(OVERDUE_RULE_PREFIX):  # an overdue reminder: the next one of the grid
            latest[c.user_id] = max(latest.get(c.user_id, c.due_on), c.due_on)
    for user_id, due in latest.items():
        recompute(session, user_id, now, not_before=due + timedelta(days=1))

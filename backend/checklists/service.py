"""A person's profile, progress and plan. The plan itself is the pure function in plan.py."""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session, col, select, update

from backend.accounts.models import utcnow
from backend.checklists.content import Content, load_content
from backend.checklists.models import ProfileIn, ProgressIn, StepProgress, UserProfile
from backend.checklists.plan import STATES, Plan, Profile, compute_plan, validate_profile
from backend.clock import nl_date
from backend.errors import FieldErrors
from backend.gemeenten.service import get_gemeente
from backend.reminders import service as reminders

# A device clock ahead of the server would win every later conflict; cap it.
MAX_CLOCK_SKEW = timedelta(minutes=5)
_PROGRESS_KEY = re.compile(r"^(?P<step>[a-z0-9][a-z0-9-]{0,70})(?:@(?P<year>\d{4}))?$")


def content() -> Content:
    return load_content()


def check_profile(session: Session, body: ProfileIn, today: date) -> Profile:
    """The profile as the plan uses it, or FieldErrors with a Dutch message per field."""
    problems = validate_profile(body.birth_date, body.vertrekdatum, body.situation, today=today)
    if get_gemeente(session, body.gemeente_code.strip()) is None:
        problems["gemeente_code"] = "Deze gemeente kennen we niet. Kies je gemeente uit de lijst."
    if problems:
        raise FieldErrors(problems)
    return Profile(body.birth_date, body.gemeente_code.strip().upper(), body.vertrekdatum, body.situation)


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
    row.updated_at = utcnow()
    row.revision = (row.revision or 0) + 1
    session.add(row)
    reminders.recompute_for(session, user_id)
    return row


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
    stamp = min(_aware(body.client_updated_at), utcnow() + MAX_CLOCK_SKEW)
    row = session.get(StepProgress, (user_id, key))
    if row is not None and (row.client_id == body.client_id or _aware(row.client_updated_at) > stamp):
        return ProgressResult(row, applied=False)
    if row is None:
        row = StepProgress(user_id=user_id, step_id=key, state=body.state, client_updated_at=stamp, client_id="")
    row.state = body.state
    row.client_updated_at = stamp
    row.client_id = body.client_id
    row.updated_at = utcnow()
    session.add(row)
    _bump_revision(session, user_id)
    reminders.recompute_for(session, user_id)
    return ProgressResult(row, applied=True)


def _bump_revision(session: Session, user_id: int) -> None:
    session.exec(  # type: ignore[call-overload]
        update(UserProfile).where(col(UserProfile.user_id) == user_id).values(revision=UserProfile.revision + 1)
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def list_progress(session: Session, user_id: int) -> list[StepProgress]:
    return list(session.exec(select(StepProgress).where(StepProgress.user_id == user_id)).all())


def plan_for(profile: Profile, rows: list[StepProgress], today: date) -> Plan:
    progress = {r.step_id: r.state for r in rows}
    completed_on = {r.step_id: nl_date(r.client_updated_at) for r in rows if r.state == "done"}
    return compute_plan(profile, content(), today, progress, completed_on=completed_on)


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


def configure_plan_cache(size: int) -> None:
    global _plan_cache
    _plan_cache = _LRU(size)


def user_plan_json(session: Session, user_id: int, today: date) -> bytes | None:
    """The person's plan as JSON, from the cache when neither profile, progress, day nor content changed."""
    revision = session.execute(select(UserProfile.revision).where(UserProfile.user_id == user_id)).scalar()
    if revision is None:
        return None
    key = (user_id, revision, today, content().version)
    cached = _plan_cache.get(key)
    if cached is not None:
        return cached
    row = get_profile(session, user_id)
    if row is None:
        return None
    profile = Profile(row.birth_date, row.gemeente_code, row.vertrekdatum, row.situation)
    plan = plan_for(profile, list_progress(session, user_id), today)
    body = json.dumps(plan.to_dict(), ensure_ascii=False, separators=(",", ":")).encode()
    _plan_cache.put(key, body)
    return body


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
    return compute_plan(profile, catalogue, today, clean)

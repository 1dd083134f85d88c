"""The personal plan: checklist steps filtered by the profile and dated by their rules.

Everything here is a pure function of (profile, content, today, progress): no database, no clock.

Which steps a person sees
-------------------------
A step applies when all of these hold:
  * ``requires_vertrekdatum`` steps only for a profile with a vertrekdatum;
  * ``situations`` (if any) contain the profile's situation, or the situation is unknown;
  * ``also_without_vertrekdatum``: a requires_vertrekdatum step still applies without a vertrekdatum for
    these situations (someone who already lives on their own needs huurtoeslag and a huisarts too);
  * ``requires_done`` steps are done (huurtoeslag appears once the huurcontract step is ticked), except
    for someone who already lives on their own (situation ``zelfstandig``);
  * ``leaves_after_18``: only when the vertrekdatum lies after the 18th birthday;
  * the person is not older than ``max_age`` today;
  * at least one due rule gives a date (a step with only V rules needs a vertrekdatum).
People without a vertrekdatum (e.g. living at home) therefore get the birthday-relative plan: V-only
steps are left out, and steps with B and V rules use the B rule. ``min_age`` does not hide a step: it
moves the due date and window start to that birthday (WoningNet "on B" is shown before 18 as "later").

Dates (see content.py for the rule syntax)
------------------------------------------
due date = the earliest applicable candidate, then at least the 16th birthday (nothing is due before 16)
and at least the ``min_age`` birthday. ``after:X`` rules start from the day X was done when the caller
passes it in ``completed_on``, otherwise from X's planned due date.
Recurring (yearly) steps show their *current cycle*: the first occurrence whose end (window latest, or the
occurrence itself) is today or later. Progress for a cycle is stored under ``PlanItem.progress_key``
(``"<step-id>@<year>"``); a plain ``"<step-id>"`` entry applies to every cycle.

States and buckets
------------------
states: ``todo`` (default), ``done``, ``not_for_me`` (the person says it does not apply), ``skipped``
(the person put it aside for now).

  bucket       what goes in it
  ``nu``         todo and overdue, or due within 14 days
  ``binnenkort`` todo and due within 8 weeks (56 days)
  ``later``      todo and due later, and every ``skipped`` step (no pressure, still visible)
  ``klaar``      ``done`` and ``not_for_me`` steps (label tells them apart; not_for_me can be undone)

Items are ordered by bucket (nu, binnenkort, later, klaar), then due date, then content order.
``overdue`` is only set for todo steps whose due date has passed; their label is the gentle
"Nog niet gedaan?" (no wall of red for someone who starts at 19+). The per-leefgebied progress counts
done / total where total leaves out not_for_me steps.

Reminders
---------
``reminder_moments`` lists the next moment per (step, reminder rule id), on or after today, for steps that
apply and are not done / not_for_me (skipped steps keep their reminders). A step with an ``overdue`` rule
also gets, once its due date has passed, the next day on a grid of every N days after that date (rule id
``te-laat-K`` for the K-th grid day); the reminders service stops after M of them were sent. One-off rules
give their date when it is still ahead (also far ahead); yearly rules give their next occurrence within 13 months.
Moments before the 16th birthday or before the ``min_age`` birthday are dropped (e.g. WoningNet "V-24m"
only counts when the person is already 18 then). The reminders service upserts by (person, step, rule id)
and should recompute after sending, to get the next yearly occurrence.

Profile validation
------------------
``validate_profile`` accepts ages 12 to 30 (inclusive, on ``today``) and a vertrekdatum from 10 years
(120 months) ago to 10 years ahead: wide enough for late leavers and people who left long ago, narrow
enough to catch typing errors such as a wrong year.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from .content import SITUATIONS, Content, Rule, RuleContext, Step, add_months, anniversary
from .readiness import Readiness, readiness

__all__ = [
    "BINNENKORT_DAYS",
    "BUCKETS",
    "LABELS",
    "MAX_AGE",
    "MIN_AGE",
    "NU_DAYS",
    "OVERDUE_RULE_PREFIX",
    "REMINDER_HORIZON_DAYS",
    "STATES",
    "VERTREK_RANGE_MONTHS",
    "LeefgebiedProgress",
    "Plan",
    "PlanItem",
    "Profile",
    "ReminderMoment",
    "Window",
    "age_on",
    "compute_plan",
    "parse_date",
    "reminder_moments",
    "validate_profile",
]

STATES: tuple[str, ...] = ("todo", "done", "not_for_me", "skipped")
BUCKETS: tuple[str, ...] = ("nu", "binnenkort", "later", "klaar")
NU_DAYS = 14
BINNENKORT_DAYS = 56
REMINDER_HORIZON_DAYS = 396  # about 13 months
OVERDUE_RULE_PREFIX = "te-laat-"  # reminder rule ids of a step's overdue reminders: te-laat-1, te-laat-2, ...
MIN_AGE, MAX_AGE = 12, 30
VERTREK_RANGE_MONTHS = 120

LABELS: Mapping[str, str] = {
    "overdue": "Nog niet gedaan?",
    "today": "Vandaag",
    "done": "Klaar",
    "not_for_me": "Niet voor mij",
    "skipped": "Later bekijken",
}

_BUCKET_ORDER = {b: i for i, b in enumerate(BUCKETS)}


# --------------------------------------------------------------------------------------------- model


def age_on(birth_date: date, on: date) -> int:
    """Age in whole years on ``on``. Born 29 February: a year older on 1 March in non-leap years."""
    years = on.year - birth_date.year
    if anniversary(birth_date, years) > on:
        years -= 1
    return years


@dataclass(frozen=True)
class Profile:
    birth_date: date
    gemeente_code: str
    vertrekdatum: date | None = None
    situation: str | None = None  # one of SITUATIONS, or None when unknown
    future_gemeente_code: str | None = None  # where the jongere will live after leaving; None: the same

    @property
    def woon_gemeente_code(self) -> str:
        """The gemeente of steps about life after leaving (bijstand, huur, verhuizing)."""
        return self.future_gemeente_code or self.gemeente_code

    @property
    def birthday_16(self) -> date:
        return anniversary(self.birth_date, 16)

    @property
    def birthday_18(self) -> date:
        """B. Born 29 February: 1 March in a non-leap year."""
        return anniversary(self.birth_date, 18)

    def birthday(self, age: int) -> date:
        return anniversary(self.birth_date, age)


@dataclass(frozen=True)
class Window:
    earliest: date | None
    latest: date | None


@dataclass(frozen=True)
class PlanItem:
    step_id: str
    checklist: str
    leefgebied: str
    title: str
    due_date: date
    window: Window | None
    bucket: str  # one of BUCKETS
    state: str  # one of STATES
    overdue: bool
    label: str | None  # short Dutch label for the UI, e.g. "Nog niet gedaan?"
    progress_key: str  # key to store progress under: step id, or "<step id>@<year>" for recurring steps
    recurring: bool
    waiting_for: tuple[str, ...]  # depends_on steps that are not done yet
    # The amounts of the step's texts as they apply on the due date ("€ 385 per jaar (2026)").
    amounts: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "step_id": self.step_id,
            "checklist": self.checklist,
            "leefgebied": self.leefgebied,
            "title": self.title,
            "due_date": self.due_date.isoformat(),
            "window": None
            if self.window is None
            else {
                "earliest": _iso(self.window.earliest),
                "latest": _iso(self.window.latest),
            },
            "bucket": self.bucket,
            "state": self.state,
            "overdue": self.overdue,
            "label": self.label,
            "progress_key": self.progress_key,
            "recurring": self.recurring,
            "waiting_for": list(self.waiting_for),
            "amounts": dict(self.amounts),
        }


@dataclass(frozen=True)
class LeefgebiedProgress:
    leefgebied: str
    label: str
    done: int
    total: int  # applicable steps minus not_for_me

    def to_dict(self) -> dict[str, Any]:
        return {"leefgebied": self.leefgebied, "label": self.label, "done": self.done, "total": self.total}


@dataclass(frozen=True)
class Plan:
    today: date
    birthday_16: date
    birthday_18: date
    items: tuple[PlanItem, ...]
    progress: tuple[LeefgebiedProgress, ...]
    readiness: Readiness | None = None
    # The woonsite of the gemeente where the person will live (woonsites.py), None when not known.
    woonsite: Mapping[str, Any] | None = None

    def bucket(self, name: str) -> tuple[PlanItem, ...]:
        if name not in _BUCKET_ORDER:
            raise ValueError(f"unknown bucket {name!r}")
        return tuple(i for i in self.items if i.bucket == name)

    def item(self, step_id: str) -> PlanItem | None:
        return next((i for i in self.items if i.step_id == step_id), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "today": self.today.isoformat(),
            "birthday_16": self.birthday_16.isoformat(),
            "birthday_18": self.birthday_18.isoformat(),
            "items": [i.to_dict() for i in self.items],
            "progress": [p.to_dict() for p in self.progress],
            "readiness": self.readiness.to_dict() if self.readiness is not None else None,
            "woonsite": dict(self.woonsite) if self.woonsite is not None else None,
        }


@dataclass(frozen=True)
class ReminderMoment:
    step_id: str
    rule_id: str
    due: date


def _iso(d: date | None) -> str | None:
    return None if d is None else d.isoformat()


# --------------------------------------------------------------------------------------------- scheduling


@dataclass(frozen=True)
class _Timed:
    due: date
    window: Window | None
    progress_key: str
    state: str


class _StepDates(Mapping[str, date | None]):
    """Lazy ``after:ID`` dates for RuleContext: done date if known, else the planned due date."""

    def __init__(self, planner: _Planner):
        self._planner = planner

    def __getitem__(self, step_id: str) -> date | None:
        return self._planner.after_date(step_id)

    def __iter__(self) -> Iterator[str]:
        return iter(self._planner.content.steps)

    def __len__(self) -> int:
        return len(self._planner.content.steps)


class _Planner:
    def __init__(
        self,
        profile: Profile,
        content: Content,
        today: date,
        progress: Mapping[str, str] | None,
        completed_on: Mapping[str, date] | None,
    ):
        self.profile = profile
        self.content = content
        self.today = today
        self.progress: Mapping[str, str] = progress or {}
        for key, state in self.progress.items():
            if state not in STATES:
                raise ValueError(f"unknown progress state {state!r} for {key!r}; expected one of {STATES}")
        self.completed_on: Mapping[str, date] = completed_on or {}
        self.b16 = profile.birthday_16
        self.b18 = profile.birthday_18
        self.age = age_on(profile.birth_date, today)
        self._timed: dict[str, _Timed | None] = {}
        self.election = content.next_election(max(self.b18, today))
        self._ctx = RuleContext(
            birthday_18=self.b18,
            birthday_16=self.b16,
            vertrekdatum=profile.vertrekdatum,
            step_dates=_StepDates(self),
            election=self.election,
        )

    def ctx(self, due: date | None = None) -> RuleContext:
        if due is None:
            return self._ctx
        return RuleContext(
            birthday_18=self.b18,
            birthday_16=self.b16,
            vertrekdatum=self.profile.vertrekdatum,
            step_dates=self._ctx.step_dates,
            due=due,
            election=self.election,
        )

    # -- applicability

    def passes_conditions(self, step: Step) -> bool:
        c = step.conditions
        p = self.profile
        if c.requires_vertrekdatum and p.vertrekdatum is None and p.situation not in c.also_without_vertrekdatum:
            return False
        if c.situations and p.situation is not None and p.situation not in c.situations:
            return False
        if c.leaves_after_18 and (p.vertrekdatum is None or p.vertrekdatum <= self.b18):
            return False
        # Someone who already lives on their own has the home the required step is about (huurcontract).
        if p.situation != "zelfstandig" and any(self.state_of(dep) != "done" for dep in c.requires_done):
            return False
        return not (c.max_age is not None and self.age > c.max_age)

    def min_date(self, step: Step) -> date:
        """Nothing before 16, and nothing before the min_age birthday."""
        lower = self.b16
        if step.conditions.min_age is not None:
            lower = max(lower, self.profile.birthday(step.conditions.min_age))
        return lower

    # -- dates

    def after_date(self, step_id: str) -> date | None:
        timed = self.timed(self.content.steps[step_id]) if step_id in self.content.steps else None
        if timed is None:
            return None
        if self.state_of(step_id) == "done" and step_id in self.completed_on:
            return self.completed_on[step_id]
        return timed.due

    def state_of(self, key: str, fallback: str | None = None) -> str:
        state = self.progress.get(key)
        if state is None and fallback is not None:
            state = self.progress.get(fallback)
        return state or "todo"

    def window(self, step: Step, due: date) -> Window | None:
        ctx = self.ctx(due)
        earliest = step.window_earliest.evaluate(ctx) if step.window_earliest is not None else None
        latest = step.window_latest.evaluate(ctx) if step.window_latest is not None else None
        if step.conditions.min_age is not None and not step.recurring:
            min_birthday = self.profile.birthday(step.conditions.min_age)
            earliest = min_birthday if earliest is None else max(earliest, min_birthday)
        if earliest is None and latest is None:
            return None
        return Window(earliest, latest)

    def cycles(self, step: Step, not_before: date | None = None) -> Iterator[tuple[date, Window | None]]:
        """(due, window) of each cycle of a recurring step, in order."""
        rule: Rule = step.due[0]
        lower = self.min_date(step)
        if not_before is not None:
            lower = max(lower, not_before)
        for occurrence in rule.occurrences(self.ctx(), lower):
            yield occurrence, self.window(step, occurrence)

    def timed(self, step: Step) -> _Timed | None:
        """Due date, window and state of an applicable step; None when it does not apply."""
        if step.id in self._timed:
            return self._timed[step.id]
        self._timed[step.id] = None  # guards against cycles (content validation forbids them)
        result: _Timed | None = None
        if self.passes_conditions(step):
            if step.recurring:
                for due, window in self.cycles(step):
                    end = window.latest if window is not None and window.latest is not None else due
                    if max(end, due) >= self.today:
                        key = f"{step.id}@{due.year}"
                        result = _Timed(due, window, key, self.state_of(key, step.id))
                        break
            else:
                candidates = [d for d in (r.evaluate(self.ctx()) for r in step.due) if d is not None]
                if not candidates and self.profile.vertrekdatum is None and step.conditions.also_without_vertrekdatum:
                    # Living on your own without a vertrekdatum: the step is due from the 18th birthday on.
                    candidates = [self.b18]
                if candidates:
                    due = max(min(candidates), self.min_date(step))
                    result = _Timed(due, self.window(step, due), step.id, self.state_of(step.id))
        self._timed[step.id] = result
        return result


def _bucket(state: str, due: date, today: date) -> tuple[str, bool, str | None]:
    """(bucket, overdue, label) for one item."""
    if state == "done":
        return "klaar", False, LABELS["done"]
    if state == "not_for_me":
        return "klaar", False, LABELS["not_for_me"]
    if state == "skipped":
        return "later", False, LABELS["skipped"]
    days = (due - today).days
    if days < 0:
        return "nu", True, LABELS["overdue"]
    if days <= NU_DAYS:
        return "nu", False, LABELS["today"] if days == 0 else None
    if days <= BINNENKORT_DAYS:
        return "binnenkort", False, None
    return "later", False, None


def compute_plan(
    profile: Profile,
    content: Content,
    today: date,
    progress: Mapping[str, str] | None = None,
    *,
    completed_on: Mapping[str, date] | None = None,
) -> Plan:
    """The person's plan on ``today``. Pure: the same input always gives the same plan.

    ``progress`` maps a progress key (step id, or "<step id>@<year>" for a cycle of a recurring step) to
    a state in STATES. ``completed_on`` optionally gives the day a step was done, for ``after:`` rules.
    Raises ValueError for an unknown state.
    """
    planner = _Planner(profile, content, today, progress, completed_on)
    order = {sid: i for i, sid in enumerate(content.steps)}
    items: list[PlanItem] = []
    for step in content.steps.values():
        timed = planner.timed(step)
        if timed is None:
            continue
        bucket, overdue, label = _bucket(timed.state, timed.due, today)
        waiting = tuple(
            dep
            for dep in step.depends_on
            if planner.timed(content.steps[dep]) is not None and planner.state_of(dep) not in ("done", "not_for_me")
        )
        items.append(
            PlanItem(
                step_id=step.id,
                checklist=step.checklist,
                leefgebied=step.leefgebied,
                title=content.render(step.title, timed.due),
                due_date=timed.due,
                window=timed.window,
                bucket=bucket,
                state=timed.state,
                overdue=overdue,
                label=label,
                progress_key=timed.progress_key,
                recurring=step.recurring,
                waiting_for=waiting,
                amounts=content.amounts(step, timed.due),
            )
        )
    items.sort(key=lambda i: (_BUCKET_ORDER[i.bucket], i.due_date, order[i.step_id]))
    summary = tuple(
        LeefgebiedProgress(
            leefgebied=lg.id,
            label=lg.label,
            done=sum(1 for i in items if i.leefgebied == lg.id and i.state == "done"),
            total=sum(1 for i in items if i.leefgebied == lg.id and i.state != "not_for_me"),
        )
        for lg in content.leefgebieden.values()
    )
    return Plan(
        today=today,
        birthday_16=planner.b16,
        birthday_18=planner.b18,
        items=tuple(items),
        progress=summary,
        readiness=readiness(items, profile.vertrekdatum),
    )


def reminder_moments(
    profile: Profile,
    content: Content,
    progress: Mapping[str, str] | None,
    today: date,
    *,
    completed_on: Mapping[str, date] | None = None,
    horizon_days: int = REMINDER_HORIZON_DAYS,
) -> list[ReminderMoment]:
    """The next reminder moment per (step, rule id), on/after ``today`` (see the module docstring).

    Sorted by date, then content order, then the order of the step's reminders.
    """
    planner = _Planner(profile, content, today, progress, completed_on)
    horizon = today + timedelta(days=horizon_days)
    moments: list[tuple[date, int, int, ReminderMoment]] = []
    for s_index, step in enumerate(content.steps.values()):
        timed = planner.timed(step)
        if timed is None or not (step.reminders or step.overdue):
            continue
        lower = max(today, planner.min_date(step))
        if step.recurring:
            if planner.state_of(step.id) in ("done", "not_for_me"):
                continue
            found: dict[str, date] = {}
            # Start a cycle early: a reminder after a cycle's end (e.g. 15 August for 1 January) still counts.
            for due, _window in planner.cycles(step, not_before=today - timedelta(days=400)):
                if due > horizon + timedelta(days=400) or len(found) == len(step.reminders):
                    break
                if planner.state_of(f"{step.id}@{due.year}", step.id) in ("done", "not_for_me"):
                    continue
                ctx = planner.ctx(due)
                for reminder in step.reminders:
                    d = reminder.rule.evaluate(ctx)
                    if reminder.id not in found and d is not None and lower <= d <= horizon:
                        found[reminder.id] = d
            for r_index, reminder in enumerate(step.reminders):
                if reminder.id in found:
                    moment = ReminderMoment(step.id, reminder.id, found[reminder.id])
                    moments.append((moment.due, s_index, r_index, moment))
            continue
        if timed.state in ("done", "not_for_me"):
            continue
        # Not for a leaving-care step someone on their own sees without a vertrekdatum: its date is only
        # "from your 18th birthday", and nagging about bijstand someone with a job may not need helps nobody.
        dated_by_rules = not (step.conditions.requires_vertrekdatum and profile.vertrekdatum is None)
        if step.overdue is not None and dated_by_rules:
            # Past its date and not done: the next day on a grid of every N days after the due date (also for
            # someone who starts late). The reminders service stops after M sent ones (it knows what was sent).
            every = step.overdue.every_days
            start = max(lower, timed.due + timedelta(days=1))
            k = max(1, -(-(start - timed.due).days // every))  # ceiling division
            when = timed.due + timedelta(days=k * every)
            if when <= horizon:
                moment = ReminderMoment(step.id, f"{OVERDUE_RULE_PREFIX}{k}", when)
                moments.append((when, s_index, len(step.reminders), moment))
        ctx = planner.ctx(timed.due)
        for r_index, reminder in enumerate(step.reminders):
            when: date | None
            if reminder.rule.yearly:
                when = reminder.rule.next_occurrence(ctx, lower)
                if when is not None and when > horizon:
                    when = None
            else:
                when = reminder.rule.evaluate(ctx)
                if when is not None and when < lower:
                    when = None
            if when is not None:
                moment = ReminderMoment(step.id, reminder.id, when)
                moments.append((when, s_index, r_index, moment))
    moments.sort(key=lambda m: m[:3])
    return [m[3] for m in moments]


# --------------------------------------------------------------------------------------------- validation


def parse_date(value: date | str | None) -> date | None:
    """A date from a ``date`` or an ISO string "YYYY-MM-DD"; None when missing or not a real date."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def validate_profile(
    birth_date: date | str | None,
    vertrekdatum: date | str | None = None,
    situation: str | None = None,
    *,
    today: date,
) -> dict[str, str]:
    """Dutch error messages per field; an empty dict means the profile is fine.

    birth_date: required, a real date, age 12 to 30 on ``today``.
    vertrekdatum: optional, a real date, at most 10 years before or after ``today``.
    situation: optional, one of SITUATIONS.
    The gemeente code is checked by the gemeenten module.
    """
    errors: dict[str, str] = {}
    if birth_date is None or birth_date == "":
        errors["birth_date"] = "Vul je geboortedatum in."
    else:
        born = parse_date(birth_date)
        if born is None:
            errors["birth_date"] = "Je geboortedatum klopt niet. Kies een datum die bestaat."
        elif not MIN_AGE <= age_on(born, today) <= MAX_AGE:
            errors["birth_date"] = f"Je geboortedatum klopt niet: je moet tussen {MIN_AGE} en {MAX_AGE} jaar zijn."
    if vertrekdatum is not None and vertrekdatum != "":
        leaving = parse_date(vertrekdatum)
        if leaving is None:
            errors["vertrekdatum"] = "Je vertrekdatum klopt niet. Kies een datum die bestaat."
        elif not (add_months(today, -VERTREK_RANGE_MONTHS) <= leaving <= add_months(today, VERTREK_RANGE_MONTHS)):
            years = VERTREK_RANGE_MONTHS // 12
            errors["vertrekdatum"] = (
                f"Je vertrekdatum klopt niet: kies een datum tot {years} jaar terug of {years} jaar vooruit."
            )
    if situation is not None and situation != "" and situation not in SITUATIONS:
        errors["situation"] = "Kies waar je nu woont uit de lijst."
    return errors

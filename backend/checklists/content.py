"""Checklist content: loading, validation and the timing-rule model.

Files (``backend/content/``)
----------------------------
``taxonomy.toml``       leefgebieden and topics. Ids are stable: never rename or reuse one.
``bedragen.toml``       every amount that changes by date, with validity periods (format and rules in
                        ``backend/checklists/bedragen.py``). Texts refer to an amount as ``{eigen_risico}``;
                        it renders as the amount valid on the date of the step: "€ 385 per jaar (2026)".
``<leefgebied>.toml``   one file per leefgebied (file name = leefgebied id)::

                            leefgebied = "gezondheid"
                            [[checklist]]  id, title, intro (optional)
                            [[step]]       see STEP_FIELDS below

Every text field of a step may hold ``{bedrag_key}`` placeholders; other braces are not allowed.

Timing rules
------------
A rule is a short string; all dates are calendar dates (no times, no time zones).

Relative rule: ``BASE OFFSET*``

    BASE    B          the 18th birthday
            V          the vertrekdatum; a rule that needs V applies only when the profile has one
            E          the next election in kalender.toml on which the person is 18 or older (not before
                       today); the 18th birthday when none is known
            A16        the 16th birthday
            after:ID   the day step ID was done when that is known, otherwise the planned due date of ID
            due        the step's own due date (only in window and reminder rules)
    OFFSET  [+-]N(d|w|m): days, weeks (7 days) or months, applied left to right. Month arithmetic clamps
            to the end of the month: 31 May -3m = 28 Feb (29 Feb in a leap year).

    examples: "B-3m", "V+3d", "after:digid-aanvragen+3w", "due+7m+14d"

Yearly rule: ``yearly WHAT OFFSET* [from RELATIVE-RULE]``

    WHAT    MM-DD           that month-day every year ("yearly 03-01" = every 1 March)
            B | V | after:ID   every anniversary of that date, starting with the first anniversary
    from    occurrences before this date are skipped (default: the 16th birthday)

    examples: "yearly 03-01", "yearly 12-31 from B", "yearly after:woningzoekende-inschrijven"

Birthdays and anniversaries of 29 February fall on **1 March** in non-leap years (`anniversary`). Dutch
practice: you are a year older once the full year has passed, which for a 29 February birthday is the
start of 1 March; it is also the reading used in Dutch law ("juridisch pas op 1 maart een jaar ouder").

How a step is timed
-------------------
``due``        list of rules; the due date is the **earliest applicable** candidate (a V rule applies only
               when there is a vertrekdatum), then moved to at least the 16th birthday (nothing is due
               before 16) and at least the ``min_age`` birthday. A step whose due list holds a yearly rule
               is *recurring*; it must have exactly that one due rule (plan.py shows the current cycle).
``window``     optional ``{earliest = RULE, latest = RULE}``: the allowed period, e.g. verhuizing doorgeven
               ``V-4w`` .. ``V+5d``. Rules may use ``due``; for recurring steps they must.
``reminders``  list of ``{id = "b-3m", rule = "B-3m"}``. Ids are kebab-case ("+" allowed: "b+3m"), unique per step,
               stable: the reminders service upserts by (person, step, rule id). For recurring steps the
               rules must be relative to ``due`` (one reminder per cycle).
``depends_on`` step ids that come first (shown as "waiting for"; they do not change dates).
``conditions`` ``min_age``: the step cannot be done before that birthday (it is still shown earlier so
               people can prepare; the due date and window start are moved to it). ``max_age``: hidden once
               the person is older than that today. ``situations``: shown only for these situations
               (see the list below) or when the situation is unknown.
               ``requires_vertrekdatum``: only for people who leave care (have a vertrekdatum).
               ``also_without_vertrekdatum``: situations that see such a step without a vertrekdatum
               (due from the 18th birthday when no rule applies). ``requires_done``: step ids that must be
               done first (not for "zelfstandig"). ``leaves_after_18``: only when V lies after B.
``overdue``    optional ``{every_days = 14, times = 4}``: reminders after a missed due date (ids te-laat-N).
``gemeente``   optional ``"future"``: the gemeente where the jongere will live decides the local help.
Situations: instelling, pleeggezin, gezinshuis, begeleid-wonen, amv (ex-AMV, Nidos), thuis, zelfstandig.

Other files: ``glossary.toml`` (``[[term]]`` term, text, forms: jargon explained in one sentence),
``kalender.toml`` (``[[verkiezing]]`` date, name, source: rule base E). No text people read may hold an
internal note (FACTS, [U], §, seed ...): the loader refuses it. Every source is an https:// page.
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import json
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any

from backend.checklists.bedragen import SOURCE_RE, Bedrag, is_date, nonempty_str, parse_bedragen
from backend.clock import today_nl

__all__ = [
    "CONTENT_DIR",
    "SITUATIONS",
    "Bedrag",
    "Checklist",
    "Conditions",
    "Content",
    "ContentError",
    "Leefgebied",
    "Link",
    "Offset",
    "Reminder",
    "Rule",
    "RuleContext",
    "Step",
    "Topic",
    "add_months",
    "anniversary",
    "apply_offsets",
    "clear_content_cache",
    "load_content",
    "parse_rule",
]

CONTENT_DIR = Path(__file__).resolve().parent.parent / "content"
# Where the jongere lives now (the profile's situation), with the words the app shows.
SITUATION_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "instelling": "In een instelling (ook JeugdzorgPlus of een JJI)",
        "pleeggezin": "In een pleeggezin",
        "gezinshuis": "In een gezinshuis",
        "begeleid-wonen": "Begeleid wonen of kamertraining",
        "amv": "Ik kwam alleen naar Nederland (Nidos is mijn voogd)",
        "thuis": "Thuis, bij mijn ouders of familie",
        "zelfstandig": "Op mezelf",
    }
)
SITUATIONS: tuple[str, ...] = tuple(SITUATION_LABELS)

TAXONOMY_FILE = "taxonomy.toml"
BEDRAGEN_FILE = "bedragen.toml"
GLOSSARY_FILE = "glossary.toml"
KALENDER_FILE = "kalender.toml"
NOT_LEEFGEBIED = (TAXONOMY_FILE, BEDRAGEN_FILE, GLOSSARY_FILE, KALENDER_FILE)

STEP_REQUIRED = (
    "id",
    "checklist",
    "title",
    "why",
    "how",
    "need",
    "links",
    "who_can_help",
    "topics",
    "due",
    "sources",
    "peildatum",
)
STEP_OPTIONAL = ("cost", "window", "reminders", "overdue", "depends_on", "conditions", "gemeente")
STEP_FIELDS = STEP_REQUIRED + STEP_OPTIONAL
TITLE_MAX = 60

_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_REMINDER_ID_RE = re.compile(r"^[a-z0-9]+(?:[-+][a-z0-9]+)*$")  # kebab-case, '+' allowed: "b+3m"
_OFFSET_SEGMENT_RE = re.compile(r"^\d+[dwm]$")
_BEDRAG_KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_PLACEHOLDER_RE = re.compile(r"\{([a-z][a-z0-9_]*)\}")
_OFFSETS = r"(?:[+-]\d{1,4}[dwm])*"
_BASE = r"B|V|A16|E|due|after:[a-z0-9-]+?"
_RELATIVE_RE = re.compile(rf"^({_BASE})({_OFFSETS})$")
_YEARLY_RE = re.compile(rf"^yearly\s+(\d\d-\d\d|B|V|after:[a-z0-9-]+?)({_OFFSETS})(?:\s+from\s+(\S+))?$")
_OFFSET_RE = re.compile(r"([+-])(\d+)([dwm])")


# --------------------------------------------------------------------------------------------- dates


def add_months(d: date, months: int) -> date:
    """``d`` plus ``months`` calendar months, clamped to the end of the month (31 May - 3 = 28/29 Feb)."""
    total = d.year * 12 + (d.month - 1) + months
    year, month0 = divmod(total, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(d.day, last))


def anniversary(d: date, years: int) -> date:
    """The date ``years`` years after ``d``; 29 February becomes 1 March in a non-leap year.

    Used for birthdays (16th, 18th) and for yearly anniversaries, so both follow the same rule.
    """
    year = d.year + years
    try:
        return d.replace(year=year)
    except ValueError:  # 29 February in a non-leap year
        return date(year, 3, 1)


def month_day_in_year(month: int, day: int, year: int) -> date:
    """A month-day in ``year``; 02-29 becomes 1 March in a non-leap year (same rule as birthdays)."""
    try:
        return date(year, month, day)
    except ValueError:
        return date(year, 3, 1)


@dataclass(frozen=True)
class Offset:
    amount: int  # signed
    unit: str  # "d", "w" or "m"

    def apply(self, d: date) -> date:
        if self.unit == "m":
            return add_months(d, self.amount)
        if self.unit == "w":
            return d + timedelta(weeks=self.amount)
        return d + timedelta(days=self.amount)


def apply_offsets(d: date, offsets: tuple[Offset, ...]) -> date:
    for offset in offsets:
        d = offset.apply(d)
    return d


# --------------------------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class RuleContext:
    """The dates a rule can refer to, for one person.

    ``step_dates`` maps a step id to the date an ``after:ID`` rule starts from (done date or planned due
    date), or None when that step does not apply. ``due`` is the step's own due date (window/reminders).
    """

    birthday_18: date
    birthday_16: date
    vertrekdatum: date | None = None
    step_dates: Mapping[str, date | None] = field(default_factory=dict)
    due: date | None = None
    election: date | None = None  # the next election (kalender.toml) on which the person is 18 or older

    def base_date(self, base: str, ref: str | None) -> date | None:
        if base == "B":
            return self.birthday_18
        if base == "E":
            # No known election ahead: the 18th birthday, when voting becomes possible.
            return self.election or self.birthday_18
        if base == "A16":
            return self.birthday_16
        if base == "V":
            return self.vertrekdatum
        if base == "due":
            return self.due
        if base == "after":
            assert ref is not None
            return self.step_dates.get(ref)
        raise ValueError(f"unknown base {base!r}")


@dataclass(frozen=True)
class Rule:
    """A parsed timing rule (see the module docstring for the syntax)."""

    text: str
    base: str  # "B", "V", "A16", "due", "after" or "MD" (yearly month-day)
    offsets: tuple[Offset, ...] = ()
    ref: str | None = None  # step id for base "after"
    yearly: bool = False
    month_day: tuple[int, int] | None = None  # for yearly "MM-DD"
    anchor: Rule | None = None  # yearly "from ..."

    @property
    def bases(self) -> frozenset[str]:
        """Every base this rule (and its anchor) uses."""
        found = {self.base}
        if self.anchor is not None:
            found |= self.anchor.bases
        return frozenset(found)

    @property
    def refs(self) -> frozenset[str]:
        """Step ids referred to with ``after:``."""
        found = {self.ref} if self.ref else set()
        if self.anchor is not None:
            found |= self.anchor.refs
        return frozenset(found)

    def evaluate(self, ctx: RuleContext) -> date | None:
        """The date of a relative rule, or None when a base is missing (e.g. no vertrekdatum)."""
        if self.yearly:
            raise ValueError(f"yearly rule {self.text!r} has no single date; use occurrences()")
        base = ctx.base_date(self.base, self.ref)
        return None if base is None else apply_offsets(base, self.offsets)

    def occurrences(self, ctx: RuleContext, not_before: date | None = None) -> Iterator[date]:
        """Dates of a yearly rule in increasing order, each on/after the anchor and ``not_before``.

        Infinite: take what you need. Yields nothing when a base or the anchor is missing.
        """
        if not self.yearly:
            raise ValueError(f"rule {self.text!r} is not yearly")
        anchor = self.anchor.evaluate(ctx) if self.anchor is not None else ctx.birthday_16
        if anchor is None:
            return
        lower = max(anchor, not_before) if not_before is not None else anchor
        if self.month_day is not None:
            month, day = self.month_day
            # Start a few years early (offsets may move a date across years) and skip what is too early.
            start_year = lower.year - 1 - self._offset_years()

            def nth(k: int) -> date:
                return apply_offsets(month_day_in_year(month, day, start_year + k), self.offsets)

        else:
            base = ctx.base_date(self.base, self.ref)
            if base is None:
                return
            first = max(1, lower.year - base.year - 1 - self._offset_years())

            def nth(k: int) -> date:
                return apply_offsets(anniversary(base, first + k), self.offsets)

        k = 0
        while True:
            d = nth(k)
            if d >= lower:
                yield d
            k += 1

    def next_occurrence(self, ctx: RuleContext, on_or_after: date | None = None) -> date | None:
        return next(self.occurrences(ctx, on_or_after), None)

    def _offset_years(self) -> int:
        months = sum(abs(o.amount) for o in self.offsets if o.unit == "m")
        days = sum(abs(o.amount) * (7 if o.unit == "w" else 1) for o in self.offsets if o.unit != "m")
        return months // 12 + days // 365 + 1


def _parse_offsets(text: str) -> tuple[Offset, ...]:
    return tuple(Offset(int(num) * (1 if sign == "+" else -1), unit) for sign, num, unit in _OFFSET_RE.findall(text))


def _split_base(base: str) -> tuple[str, str | None]:
    if base.startswith("after:"):
        return "after", base[len("after:") :]
    return base, None


def parse_rule(text: str) -> Rule:
    """Parse a rule string; raises ValueError with a readable message."""
    if not isinstance(text, str):
        raise ValueError(f"a rule must be a string, not {type(text).__name__}")
    stripped = " ".join(text.split())
    m = _RELATIVE_RE.match(stripped)
    if m:
        base, ref = _split_base(m.group(1))
        if ref is not None and not _ID_RE.match(ref):
            raise ValueError(f"bad step id in rule {text!r}")
        return Rule(text=stripped, base=base, ref=ref, offsets=_parse_offsets(m.group(2)))
    m = _YEARLY_RE.match(stripped)
    if m:
        what, offsets, anchor_text = m.groups()
        anchor = None
        if anchor_text is not None:
            anchor = parse_rule(anchor_text)
            if anchor.yearly or anchor.base == "due":
                raise ValueError(f"the 'from' part of {text!r} must be B, V, A16 or after:ID with offsets")
        if re.fullmatch(r"\d\d-\d\d", what):
            month, day = int(what[:2]), int(what[3:])
            try:
                date(2024, month, day)  # 2024 is a leap year: 02-29 is allowed
            except ValueError:
                raise ValueError(f"bad month-day {what!r} in rule {text!r}") from None
            return Rule(
                text=stripped,
                base="MD",
                offsets=_parse_offsets(offsets),
                yearly=True,
                month_day=(month, day),
                anchor=anchor,
            )
        base, ref = _split_base(what)
        if ref is not None and not _ID_RE.match(ref):
            raise ValueError(f"bad step id in rule {text!r}")
        return Rule(text=stripped, base=base, ref=ref, offsets=_parse_offsets(offsets), yearly=True, anchor=anchor)
    raise ValueError(
        f"cannot read rule {text!r}: expected e.g. 'B-3m', 'V+3d', 'A16', 'after:step-id+1w', 'due-6w', "
        "'yearly 03-01' or 'yearly 03-01 from B'"
    )


# --------------------------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Leefgebied:
    id: str
    label: str


@dataclass(frozen=True)
class Topic:
    id: str
    label: str
    leefgebied: str


@dataclass(frozen=True)
class Link:
    title: str
    url: str


@dataclass(frozen=True)
class Checklist:
    id: str
    leefgebied: str
    title: str
    intro: str | None = None


@dataclass(frozen=True)
class Reminder:
    id: str
    rule: Rule


@dataclass(frozen=True)
class Conditions:
    min_age: int | None = None
    max_age: int | None = None
    situations: tuple[str, ...] = ()
    requires_vertrekdatum: bool = False
    # Situations that see a requires_vertrekdatum step without a vertrekdatum (someone already living on
    # their own needs huurtoeslag, a huisarts and bijstand too).
    also_without_vertrekdatum: tuple[str, ...] = ()
    # Shown only once these steps are done (huurtoeslag only with a huurcontract for a zelfstandige woning);
    # not asked of someone who already lives on their own (situation "zelfstandig").
    requires_done: tuple[str, ...] = ()
    # Only when the vertrekdatum lies after the 18th birthday (staying on after 18 is verlengde jeugdhulp).
    leaves_after_18: bool = False


@dataclass(frozen=True)
class Overdue:
    """Reminders for a step whose due date passed and that is not done: every ``every_days`` days after
    the due date, at most ``times`` times (rule ids "te-laat-1" .. "te-laat-N")."""

    every_days: int
    times: int


@dataclass(frozen=True)
class Step:
    id: str
    checklist: str
    leefgebied: str
    title: str
    why: str
    how: tuple[str, ...]
    need: tuple[str, ...]
    links: tuple[Link, ...]
    who_can_help: str
    topics: tuple[str, ...]
    due: tuple[Rule, ...]
    sources: tuple[str, ...]
    peildatum: date
    cost: str | None = None
    window_earliest: Rule | None = None
    window_latest: Rule | None = None
    reminders: tuple[Reminder, ...] = ()
    depends_on: tuple[str, ...] = ()
    conditions: Conditions = Conditions()
    overdue: Overdue | None = None
    gemeente: str = "current"  # "future": the gemeente where the jongere will live decides (bijstand, huur)
    source_file: str = ""

    @property
    def recurring(self) -> bool:
        """A yearly step (e.g. belastingaangifte): the plan shows its current cycle."""
        return any(r.yearly for r in self.due)

    @property
    def has_window(self) -> bool:
        return self.window_earliest is not None or self.window_latest is not None

    def texts(self) -> list[str]:
        """All text fields that may hold ``{bedrag}`` placeholders."""
        texts = [self.title, self.why, *self.how, *self.need, self.who_can_help]
        if self.cost:
            texts.append(self.cost)
        return texts


class ContentError(ValueError):
    """Content does not validate. ``errors`` lists every problem as "file, step 'id': message"."""

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        super().__init__("invalid checklist content:\n  - " + "\n  - ".join(self.errors))


@dataclass(frozen=True)
class GlossaryEntry:
    """Jargon that must stay (Wmo, eigen risico, ...), explained in one B1 sentence; ``forms`` are the
    words that show it in a text (case-insensitive, whole words)."""

    term: str
    text: str
    forms: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class Content:
    """Validated checklist content. Mappings keep a stable order (taxonomy order, then file order)."""

    leefgebieden: Mapping[str, Leefgebied]
    topics: Mapping[str, Topic]
    checklists: Mapping[str, Checklist]
    steps: Mapping[str, Step]
    bedragen: Mapping[str, Bedrag]
    glossary: tuple[GlossaryEntry, ...] = ()
    elections: tuple[date, ...] = ()  # kalender.toml, in date order

    def next_election(self, on_or_after: date) -> date | None:
        return next((d for d in self.elections if d >= on_or_after), None)

    def render(self, text: str, on: date | None = None) -> str:
        """Replace ``{key}`` placeholders by the amount valid on ``on`` (default today):
        "€ 385 per jaar (2026)"."""
        day = on or today_nl()
        return _PLACEHOLDER_RE.sub(lambda m: self.bedragen[m.group(1)].render(day), text)

    def bedrag_keys(self, step: Step) -> list[str]:
        keys: list[str] = []
        for text in step.texts():
            for key in _PLACEHOLDER_RE.findall(text):
                if key not in keys:
                    keys.append(key)
        return keys

    def amounts(self, step: Step, on: date) -> dict[str, str]:
        """The amounts of a step's texts as they apply on ``on`` (a plan item's due date)."""
        return {key: self.bedragen[key].render(on) for key in self.bedrag_keys(step)}

    def describe_rule(self, rule: Rule) -> str:
        """A Dutch description of a rule, e.g. "3 maanden voor je 18e verjaardag"."""
        return _describe(rule, self._step_label)

    def _step_label(self, step_id: str) -> str:
        step = self.steps.get(step_id)
        return f"de stap '{step.title}'" if step else step_id

    def step_public(self, step: Step, on: date | None = None) -> dict[str, Any]:
        day = on or today_nl()
        window = None
        if step.has_window:
            window = {
                "earliest": self.describe_rule(step.window_earliest) if step.window_earliest else None,
                "latest": self.describe_rule(step.window_latest) if step.window_latest else None,
            }
        c = step.conditions
        keys = self.bedrag_keys(step)
        body: dict[str, Any] = {
            "id": step.id,
            "checklist": step.checklist,
            "leefgebied": step.leefgebied,
            "title": self.render(step.title, day),
            "why": self.render(step.why, day),
            "how": [self.render(t, day) for t in step.how],
            "need": [self.render(t, day) for t in step.need],
            "links": [{"title": link.title, "url": link.url} for link in step.links],
            "cost": self.render(step.cost, day) if step.cost else None,
            "who_can_help": self.render(step.who_can_help, day),
            "topics": list(step.topics),
            "gemeente": step.gemeente,
            "timing": {
                "due": [self.describe_rule(r) for r in step.due],
                "window": window,
                "reminders": [{"id": r.id, "description": self.describe_rule(r.rule)} for r in step.reminders],
                "overdue": (
                    {"every_days": step.overdue.every_days, "times": step.overdue.times} if step.overdue else None
                ),
            },
            "recurring": step.recurring,
            "depends_on": list(step.depends_on),
            "conditions": {
                "min_age": c.min_age,
                "max_age": c.max_age,
                "situations": list(c.situations),
                "requires_vertrekdatum": c.requires_vertrekdatum,
                "also_without_vertrekdatum": list(c.also_without_vertrekdatum),
                "requires_done": list(c.requires_done),
                "leaves_after_18": c.leaves_after_18,
            },
            "bedragen": keys,
            "sources": list(step.sources),
            "peildatum": step.peildatum.isoformat(),
        }
        if keys:
            # The raw texts, so a client can fill in the amounts of a plan item's own date (plan items carry
            # them in ``amounts``): a step due in March 2027 shows the 2027 amount once it is known.
            body["template"] = {
                "title": step.title,
                "why": step.why,
                "how": list(step.how),
                "need": list(step.need),
                "cost": step.cost,
                "who_can_help": step.who_can_help,
            }
        return body

    def _catalogue(self, on: date) -> dict[str, Any]:
        cached = self._catalogues.get(on)
        if cached is not None:
            return cached
        body: dict[str, Any] = {
            "leefgebieden": [{"id": lg.id, "label": lg.label} for lg in self.leefgebieden.values()],
            "topics": [{"id": t.id, "label": t.label, "leefgebied": t.leefgebied} for t in self.topics.values()],
            "situations": [{"id": sid, "label": label} for sid, label in SITUATION_LABELS.items()],
            "checklists": [
                {
                    "id": cl.id,
                    "leefgebied": cl.leefgebied,
                    "title": cl.title,
                    "intro": cl.intro,
                    "steps": [s.id for s in self.steps.values() if s.checklist == cl.id],
                }
                for cl in self.checklists.values()
            ],
            "steps": [self.step_public(s, on) for s in self.steps.values()],
            "bedragen": [b.public(on) for b in self.bedragen.values()],
            "glossary": [{"term": g.term, "text": g.text, "forms": list(g.forms)} for g in self.glossary],
        }
        canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        catalogue = {"version": hashlib.sha256(canonical.encode()).hexdigest()[:16], **body}
        if len(self._catalogues) > 4:  # one a day is used; keep a few for requests around midnight
            self._catalogues.clear()
        self._catalogues[on] = catalogue
        return catalogue

    @cached_property
    def _catalogues(self) -> dict[date, dict[str, Any]]:
        return {}

    def version_on(self, on: date) -> str:
        """A hash of the public catalogue of that day: changes whenever anything a client sees changes
        (also when a new amount starts to apply)."""
        return str(self._catalogue(on)["version"])

    @property
    def version(self) -> str:
        return self.version_on(today_nl())

    def public_dict(self, on: date | None = None) -> dict[str, Any]:
        """The JSON-able catalogue for ``GET /api/content`` (a fresh copy each call)."""
        copy: dict[str, Any] = json.loads(json.dumps(self._catalogue(on or today_nl())))
        return copy


# --------------------------------------------------------------------------------------------- describing

_UNITS = {"d": ("dag", "dagen"), "w": ("week", "weken"), "m": ("maand", "maanden")}
_BASE_NL = {
    "B": "je 18e verjaardag",
    "V": "je vertrekdatum",
    "A16": "je 16e verjaardag",
    "E": "de eerste verkiezing waarop je mag stemmen",
    "due": "de geplande datum",
}
_MONTHS_NL = "januari februari maart april mei juni juli augustus september oktober november december".split()


def _describe_offsets(offsets: tuple[Offset, ...], what: str) -> str:
    if not offsets:
        return f"op {what}"
    parts = [f"{abs(o.amount)} {_UNITS[o.unit][0 if abs(o.amount) == 1 else 1]}" for o in offsets]
    if all(o.amount < 0 for o in offsets) or all(o.amount >= 0 for o in offsets):
        direction = "voor" if offsets[0].amount < 0 else "na"
        return f"{' en '.join(parts)} {direction} {what}"
    pieces = [f"{p} {'eerder' if o.amount < 0 else 'later'}" for p, o in zip(parts, offsets, strict=True)]
    return f"{what}, dan {', '.join(pieces)}"


def _describe(rule: Rule, step_label: Callable[[str], str]) -> str:
    if rule.base == "MD":
        assert rule.month_day is not None
        month, day = rule.month_day
        what = f"{day} {_MONTHS_NL[month - 1]}"
    elif rule.base == "after":
        assert rule.ref is not None
        what = f"de dag dat je {step_label(rule.ref)} hebt gedaan"
        if rule.yearly:
            what = f"de datum waarop je {step_label(rule.ref)} deed"
    elif rule.yearly:
        what = {"B": "je verjaardag", "V": "de datum van je vertrek"}[rule.base]
    else:
        what = _BASE_NL[rule.base]
    offsets = rule.offsets
    if rule.yearly and rule.base in ("B", "V") and all(o.unit == "m" and o.amount % 12 == 0 for o in offsets):
        offsets = ()  # whole years before or after an anniversary fall on an anniversary too
    text = _describe_offsets(offsets, what)
    if not rule.yearly:
        return text
    text = f"elk jaar {text}"
    if rule.anchor is not None:
        text += f" (vanaf {_describe(rule.anchor, step_label).removeprefix('op ')})"
    return text


# --------------------------------------------------------------------------------------------- loading


def load_content(path: str | Path | None = None) -> Content:
    """Load and validate the content in ``path`` (default ``backend/content``). Cached per directory.

    Raises ContentError naming the file and step of every problem found.
    """
    directory = Path(path).resolve() if path is not None else CONTENT_DIR
    return _load_cached(directory)


def clear_content_cache() -> None:
    _load_cached.cache_clear()


@functools.lru_cache(maxsize=8)
def _load_cached(directory: Path) -> Content:
    return _Loader(directory).load()


class _Loader:
    def __init__(self, directory: Path):
        self.directory = directory
        self.errors: list[str] = []

    def error(self, file: str, message: str, step: str | None = None, checklist: str | None = None) -> None:
        where = file
        if step is not None:
            where += f", step {step!r}"
        elif checklist is not None:
            where += f", checklist {checklist!r}"
        self.errors.append(f"{where}: {message}")

    def read(self, name: str) -> dict[str, Any] | None:
        path = self.directory / name
        try:
            with path.open("rb") as fh:
                return tomllib.load(fh)
        except FileNotFoundError:
            self.error(name, f"file not found in {self.directory}")
        except tomllib.TOMLDecodeError as exc:
            self.error(name, f"not valid TOML: {exc}")
        return None

    def load(self) -> Content:
        if not self.directory.is_dir():
            raise ContentError([f"{self.directory}: content directory not found"])
        leefgebieden, topics = self.load_taxonomy()
        bedragen = self.load_bedragen()
        glossary = self.load_glossary()
        elections = self.load_kalender()
        checklists: dict[str, Checklist] = {}
        raw_steps: list[tuple[str, dict[str, Any]]] = []
        files = sorted(p.name for p in self.directory.glob("*.toml") if p.name not in NOT_LEEFGEBIED)
        order = {lg: i for i, lg in enumerate(leefgebieden)}
        files.sort(key=lambda n: (order.get(n.removesuffix(".toml"), len(order)), n))
        for name in files:
            data = self.read(name)
            if data is None:
                continue
            lg = data.get("leefgebied")
            stem = name.removesuffix(".toml")
            if lg not in leefgebieden:
                self.error(name, f"unknown or missing leefgebied {lg!r}")
                continue
            if lg != stem:
                self.error(name, f"file name must be the leefgebied id: expected {lg}.toml")
            unknown = set(data) - {"leefgebied", "checklist", "step"}
            if unknown:
                self.error(name, f"unknown top-level keys {sorted(unknown)}")
            file_checklists: set[str] = set()
            for raw in data.get("checklist", []):
                cl = self.parse_checklist(name, lg, raw, checklists)
                if cl is not None:
                    checklists[cl.id] = cl
                    file_checklists.add(cl.id)
            for raw in data.get("step", []):
                if not isinstance(raw, dict):
                    self.error(name, "each [[step]] must be a table")
                    continue
                cl_id = raw.get("checklist")
                if cl_id not in file_checklists:
                    self.error(name, f"checklist {cl_id!r} is not defined in this file", step=str(raw.get("id")))
                raw_steps.append((name, raw))

        steps: dict[str, Step] = {}
        for name, raw in raw_steps:
            step = self.parse_step(name, raw, checklists, topics, bedragen, steps)
            if step is not None:
                steps[step.id] = step
        self.check_references(steps)
        for cl in checklists.values():
            if not any(s.checklist == cl.id for s in steps.values()):
                self.error(f"{cl.leefgebied}.toml", "checklist has no steps", checklist=cl.id)
        if self.errors:
            raise ContentError(self.errors)
        return Content(
            leefgebieden=MappingProxyType(leefgebieden),
            topics=MappingProxyType(topics),
            checklists=MappingProxyType(checklists),
            steps=MappingProxyType(steps),
            bedragen=MappingProxyType(bedragen),
            glossary=glossary,
            elections=elections,
        )

    # -- taxonomy and bedragen

    def load_taxonomy(self) -> tuple[dict[str, Leefgebied], dict[str, Topic]]:
        leefgebieden: dict[str, Leefgebied] = {}
        topics: dict[str, Topic] = {}
        data = self.read(TAXONOMY_FILE)
        if data is None:
            return leefgebieden, topics
        for raw in data.get("leefgebied", []):
            lid, label = raw.get("id"), raw.get("label")
            if not isinstance(lid, str) or not _ID_RE.match(lid):
                self.error(TAXONOMY_FILE, f"bad leefgebied id {lid!r}")
            elif lid in leefgebieden:
                self.error(TAXONOMY_FILE, f"duplicate leefgebied id {lid!r}")
            elif not nonempty_str(label):
                self.error(TAXONOMY_FILE, f"leefgebied {lid!r} needs a label")
            else:
                leefgebieden[lid] = Leefgebied(lid, label)
        for raw in data.get("topic", []):
            tid, label, lg = raw.get("id"), raw.get("label"), raw.get("leefgebied")
            if not isinstance(tid, str) or not _ID_RE.match(tid):
                self.error(TAXONOMY_FILE, f"bad topic id {tid!r}")
            elif tid in topics:
                self.error(TAXONOMY_FILE, f"duplicate topic id {tid!r}")
            elif not nonempty_str(label):
                self.error(TAXONOMY_FILE, f"topic {tid!r} needs a label")
            elif lg not in leefgebieden:
                self.error(TAXONOMY_FILE, f"topic {tid!r} has unknown leefgebied {lg!r}")
            else:
                topics[tid] = Topic(tid, label, lg)
        return leefgebieden, topics

    def load_bedragen(self) -> dict[str, Bedrag]:
        data = self.read(BEDRAGEN_FILE)
        if data is None:
            return {}
        return parse_bedragen(data, lambda message: self.error(BEDRAGEN_FILE, message))

    def load_glossary(self) -> tuple[GlossaryEntry, ...]:
        """``[[term]] term, text, forms``: jargon that must stay, in one B1 sentence."""
        data = self.read(GLOSSARY_FILE)
        if data is None:
            return ()
        entries: list[GlossaryEntry] = []
        seen: set[str] = set()
        for raw in data.get("term", []):
            name = raw.get("term") if isinstance(raw, dict) else None
            where = f"term {name!r}: "
            if not isinstance(raw, dict) or not nonempty_str(name) or set(raw) - {"term", "text", "forms"}:
                self.error(GLOSSARY_FILE, f"{where}use [[term]] with term, text and optional forms")
                continue
            text, forms = raw.get("text"), raw.get("forms", [name])
            if not nonempty_str(text):
                self.error(GLOSSARY_FILE, where + "needs a text (one short sentence)")
                continue
            if not isinstance(forms, list) or not forms or not all(nonempty_str(f) for f in forms):
                self.error(GLOSSARY_FILE, where + "forms must be a list of words")
                continue
            marker = internal_marker(text)
            if marker:
                self.error(GLOSSARY_FILE, f"{where}internal note {marker!r} in a text people read")
            for form in forms:
                if form.lower() in seen:
                    self.error(GLOSSARY_FILE, f"{where}the word {form!r} is explained twice")
                seen.add(form.lower())
            entries.append(GlossaryEntry(name, text, tuple(forms)))
        return tuple(entries)

    def load_kalender(self) -> tuple[date, ...]:
        """``[[verkiezing]] date, name, source``: elections the stemmen step is timed to (rule base E)."""
        data = self.read(KALENDER_FILE)
        if data is None:
            return ()
        found: list[date] = []
        for raw in data.get("verkiezing", []):
            if (
                not isinstance(raw, dict)
                or not is_date(raw.get("date"))
                or not nonempty_str(raw.get("name"))
                or not (isinstance(raw.get("source"), str) and SOURCE_RE.match(raw["source"]))
            ):
                self.error(KALENDER_FILE, f"bad verkiezing {raw!r}: needs date, name and an https:// source")
                continue
            found.append(raw["date"])
        return tuple(sorted(found))

    # -- checklists and steps

    def parse_checklist(self, file: str, lg: str, raw: Any, existing: Mapping[str, Checklist]) -> Checklist | None:
        if not isinstance(raw, dict):
            self.error(file, "each [[checklist]] must be a table")
            return None
        cid = raw.get("id")
        if not isinstance(cid, str) or not _ID_RE.match(cid):
            self.error(file, f"bad checklist id {cid!r} (use kebab-case)")
            return None
        ok = True
        if cid in existing:
            self.error(file, "duplicate checklist id", checklist=cid)
            ok = False
        if set(raw) - {"id", "title", "intro"}:
            self.error(file, f"unknown fields {sorted(set(raw) - {'id', 'title', 'intro'})}", checklist=cid)
            ok = False
        if not nonempty_str(raw.get("title")):
            self.error(file, "needs a title", checklist=cid)
            ok = False
        if "intro" in raw and not nonempty_str(raw["intro"]):
            self.error(file, "intro must be a non-empty string", checklist=cid)
            ok = False
        for text in (raw.get("title"), raw.get("intro")):
            marker = internal_marker(text) if isinstance(text, str) else None
            if marker:
                self.error(file, f"internal note {marker!r} in a text people read", checklist=cid)
                ok = False
        return Checklist(cid, lg, raw["title"], raw.get("intro")) if ok else None

    def parse_step(
        self,
        file: str,
        raw: dict[str, Any],
        checklists: Mapping[str, Checklist],
        topics: Mapping[str, Topic],
        bedragen: Mapping[str, Bedrag],
        seen: Mapping[str, Step],
    ) -> Step | None:
        sid = raw.get("id")
        n_errors = len(self.errors)
        if not isinstance(sid, str) or not _ID_RE.match(sid):
            self.error(file, f"bad step id {sid!r}: use kebab-case (a-z, 0-9 and '-')", step=str(sid))
            return None
        if any(_OFFSET_SEGMENT_RE.match(part) for part in sid.split("-")):
            self.error(file, "a part of a step id may not look like an offset (e.g. '3m')", step=sid)

        def err(message: str) -> None:
            self.error(file, message, step=sid)

        if sid in seen:
            err(f"duplicate step id (first defined in {seen[sid].source_file})")
        missing = [k for k in STEP_REQUIRED if k not in raw]
        if missing:
            err(f"missing required fields {missing}")
            return None
        unknown = sorted(set(raw) - set(STEP_FIELDS))
        if unknown:
            err(f"unknown fields {unknown}")

        for key in ("title", "why", "who_can_help"):
            if not nonempty_str(raw[key]):
                err(f"{key} must be a non-empty string")
        if nonempty_str(raw["title"]) and len(raw["title"]) > TITLE_MAX:
            err(f"title is longer than {TITLE_MAX} characters")
        if "cost" in raw and not nonempty_str(raw["cost"]):
            err("cost must be a non-empty string (leave it out when there is no cost)")
        for key, minimum in (("how", 1), ("need", 0), ("sources", 1), ("topics", 1)):
            value = raw[key]
            if not isinstance(value, list) or len(value) < minimum or not all(nonempty_str(v) for v in value):
                err(f"{key} must be a list of non-empty strings" + (" (at least one)" if minimum else ""))
        links: list[Link] = []
        if not isinstance(raw["links"], list) or not raw["links"]:
            err("links must be a list of {title, url} with at least one link")
        else:
            for link in raw["links"]:
                if not isinstance(link, dict) or set(link) != {"title", "url"}:
                    err(f"bad link {link!r}: use {{title = '...', url = 'https://...'}}")
                elif not nonempty_str(link["title"]):
                    err(f"link {link['url']!r} needs a title")
                elif not isinstance(link["url"], str) or not re.match(r"^https://[^\s/]+\.[^\s]+$", link["url"]):
                    err(f"link url {link['url']!r} must be an https:// address")
                else:
                    links.append(Link(link["title"], link["url"]))
        if isinstance(raw["sources"], list):
            for source in raw["sources"]:
                if isinstance(source, str) and not SOURCE_RE.match(source):
                    err(f"source {source!r} must be an https:// page a person can open, optionally ' (note)'")
        for text in _user_texts(raw):
            marker = internal_marker(text)
            if marker:
                err(f"internal note {marker!r} in a text people read: {text[:60]!r}")
        if not is_date(raw["peildatum"]):
            err("peildatum must be a TOML date like 2026-01-31")
        checklist = checklists.get(raw["checklist"])
        if isinstance(raw["topics"], list):
            for t in raw["topics"]:
                if t not in topics:
                    err(f"unknown topic {t!r} (see taxonomy.toml)")

        # placeholders
        texts: list[Any] = [raw["title"], raw["why"], raw["who_can_help"], raw.get("cost", "")]
        for key in ("how", "need"):
            if isinstance(raw[key], list):
                texts.extend(raw[key])
        for text in texts:
            if not isinstance(text, str):
                continue
            for key in _PLACEHOLDER_RE.findall(text):
                if key not in bedragen:
                    err(f"unknown bedrag {{{key}}} (see bedragen.toml)")
            if "{" in _PLACEHOLDER_RE.sub("", text) or "}" in _PLACEHOLDER_RE.sub("", text):
                err(f"stray brace in text {text!r}: use {{bedrag_key}} placeholders only")

        # timing
        due = self.parse_rules(raw["due"], "due", err)
        if due is not None and not due:
            err("due needs at least one rule")
        recurring = bool(due) and any(r.yearly for r in due or ())
        if due:
            for r in due:
                if "due" in r.bases:
                    err(f"due rule {r.text!r} cannot refer to 'due'")
            if recurring and len(due) != 1:
                err("a recurring step (yearly due rule) must have exactly one due rule")

        earliest = latest = None
        window = raw.get("window")
        if window is not None:
            if not isinstance(window, dict) or not window or set(window) - {"earliest", "latest"}:
                err("window must be a table with earliest and/or latest")
            else:
                rules = {}
                for key in ("earliest", "latest"):
                    if key in window:
                        parsed = self.parse_rules([window[key]], f"window.{key}", err)
                        if parsed:
                            r = parsed[0]
                            if r.yearly:
                                err(f"window.{key} cannot be yearly")
                            elif recurring and r.base != "due":
                                err(f"window.{key} of a recurring step must be relative to 'due'")
                            else:
                                rules[key] = r
                earliest, latest = rules.get("earliest"), rules.get("latest")

        reminders: list[Reminder] = []
        raw_reminders = raw.get("reminders", [])
        if not isinstance(raw_reminders, list):
            err("reminders must be a list of {id, rule}")
        else:
            for rem in raw_reminders:
                if not isinstance(rem, dict) or set(rem) != {"id", "rule"}:
                    err(f"bad reminder {rem!r}: use {{id = 'b-3m', rule = 'B-3m'}}")
                    continue
                rid = rem["id"]
                if not isinstance(rid, str) or not _REMINDER_ID_RE.match(rid):
                    err(f"bad reminder id {rid!r} (use kebab-case, e.g. 'b-3m' or 'b+1m')")
                    continue
                if any(r.id == rid for r in reminders):
                    err(f"duplicate reminder id {rid!r}")
                    continue
                parsed = self.parse_rules([rem["rule"]], f"reminder {rid!r}", err)
                if not parsed:
                    continue
                r = parsed[0]
                if recurring and (r.yearly or r.base != "due"):
                    err(f"reminder {rid!r} of a recurring step must be relative to 'due' (e.g. 'due-1w')")
                    continue
                reminders.append(Reminder(rid, r))

        overdue = None
        raw_overdue = raw.get("overdue")
        if raw_overdue is not None:
            every, times = (raw_overdue.get("every_days"), raw_overdue.get("times")) if isinstance(
                raw_overdue, dict
            ) else (None, None)
            if (
                not isinstance(raw_overdue, dict)
                or set(raw_overdue) != {"every_days", "times"}
                or not isinstance(every, int)
                or not isinstance(times, int)
                or isinstance(every, bool)
                or isinstance(times, bool)
                or not 1 <= every <= 365
                or not 1 <= times <= 12
            ):
                err("overdue must be {every_days = 14, times = 4} (1-365 days, 1-12 times)")
            elif recurring:
                err("overdue reminders are for one-off steps (a recurring step has its next cycle)")
            else:
                overdue = Overdue(every, times)
        gemeente = raw.get("gemeente", "current")
        if gemeente not in ("current", "future"):
            err("gemeente must be 'current' or 'future' (where the jongere will live after leaving)")

        depends_on = raw.get("depends_on", [])
        if not isinstance(depends_on, list) or not all(isinstance(d, str) for d in depends_on):
            err("depends_on must be a list of step ids")
            depends_on = []

        conditions = self.parse_conditions(raw.get("conditions", {}), err)

        if len(self.errors) > n_errors or checklist is None or due is None:
            return None
        return Step(
            id=sid,
            checklist=checklist.id,
            leefgebied=checklist.leefgebied,
            title=raw["title"],
            why=raw["why"],
            how=tuple(raw["how"]),
            need=tuple(raw["need"]),
            links=tuple(links),
            who_can_help=raw["who_can_help"],
            topics=tuple(raw["topics"]),
            due=tuple(due),
            sources=tuple(raw["sources"]),
            peildatum=raw["peildatum"],
            cost=raw.get("cost"),
            window_earliest=earliest,
            window_latest=latest,
            reminders=tuple(reminders),
            depends_on=tuple(depends_on),
            conditions=conditions,
            overdue=overdue,
            gemeente=gemeente,
            source_file=file,
        )

    def parse_rules(self, value: Any, what: str, err: Callable[[str], None]) -> list[Rule] | None:
        if not isinstance(value, list):
            err(f"{what} must be a list of rule strings")
            return None
        rules = []
        for text in value:
            try:
                rules.append(parse_rule(text))
            except ValueError as exc:
                err(f"{what}: {exc}")
                return None
        return rules

    def parse_conditions(self, raw: Any, err: Callable[[str], None]) -> Conditions:
        if not isinstance(raw, dict):
            err("conditions must be a table")
            return Conditions()
        allowed = {
            "min_age",
            "max_age",
            "situations",
            "requires_vertrekdatum",
            "also_without_vertrekdatum",
            "requires_done",
            "leaves_after_18",
        }
        if set(raw) - allowed:
            err(f"unknown conditions {sorted(set(raw) - allowed)}")
        min_age, max_age = raw.get("min_age"), raw.get("max_age")
        for key, v in (("min_age", min_age), ("max_age", max_age)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or not 12 <= v <= 30):
                err(f"conditions.{key} must be a whole number between 12 and 30")
                return Conditions()
        if min_age is not None and max_age is not None and min_age > max_age:
            err("conditions.min_age is above max_age")
        situations = raw.get("situations", [])
        if not isinstance(situations, list) or not all(s in SITUATIONS for s in situations):
            err(f"conditions.situations must be a list from {list(SITUATIONS)}")
            situations = []
        requires_v = raw.get("requires_vertrekdatum", False)
        if not isinstance(requires_v, bool):
            err("conditions.requires_vertrekdatum must be true or false")
            requires_v = False
        also = raw.get("also_without_vertrekdatum", [])
        if not isinstance(also, list) or not all(s in SITUATIONS for s in also):
            err(f"conditions.also_without_vertrekdatum must be a list from {list(SITUATIONS)}")
            also = []
        elif also and not requires_v:
            err("conditions.also_without_vertrekdatum only means something with requires_vertrekdatum = true")
        requires_done = raw.get("requires_done", [])
        if not isinstance(requires_done, list) or not all(isinstance(d, str) for d in requires_done):
            err("conditions.requires_done must be a list of step ids")
            requires_done = []
        after_18 = raw.get("leaves_after_18", False)
        if not isinstance(after_18, bool):
            err("conditions.leaves_after_18 must be true or false")
            after_18 = False
        return Conditions(
            min_age, max_age, tuple(situations), requires_v, tuple(also), tuple(requires_done), after_18
        )

    def check_references(self, steps: Mapping[str, Step]) -> None:
        """after:ID and depends_on point to existing steps, not to recurring steps, and make no cycle."""
        graph: dict[str, set[str]] = {}
        for step in steps.values():
            refs: set[str] = set()
            rules = [*step.due, *(r.rule for r in step.reminders)]
            rules += [r for r in (step.window_earliest, step.window_latest) if r is not None]
            for rule in rules:
                refs |= rule.refs
            for ref in sorted(refs):
                if ref == step.id:
                    self.error(step.source_file, "a rule cannot refer to the step itself", step=step.id)
                elif ref not in steps:
                    self.error(step.source_file, f"rule refers to unknown step {ref!r}", step=step.id)
                elif steps[ref].recurring:
                    self.error(step.source_file, f"rule refers to recurring step {ref!r}", step=step.id)
            for dep in step.depends_on:
                if dep == step.id or dep not in steps:
                    self.error(step.source_file, f"depends_on has unknown step {dep!r}", step=step.id)
            for dep in step.conditions.requires_done:
                if dep == step.id or dep not in steps:
                    self.error(step.source_file, f"conditions.requires_done has unknown step {dep!r}", step=step.id)
            graph[step.id] = {r for r in refs | set(step.depends_on) if r in steps and r != step.id}
        # cycle check (iterative DFS)
        state: dict[str, int] = {}
        for start in graph:
            if state.get(start):
                continue
            stack: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
            state[start] = 1
            while stack:
                node, children = stack[-1]
                child = next(children, None)
                if child is None:
                    state[node] = 2
                    stack.pop()
                elif state.get(child) == 1:
                    cycle = [n for n, _ in stack] + [child]
                    self.error(
                        steps[node].source_file,
                        f"after:/depends_on make a cycle: {' -> '.join(cycle)}",
                        step=node,
                    )
                    return
                elif not state.get(child):
                    state[child] = 1
                    stack.append((child, iter(sorted(graph[child]))))



# Words that belong to the content's own notes, never to what people read (issue 12: "Bron: FACTS.md §8 ...").
_MARKER_RE = re.compile(r"FACTS|\[[UYOS]\]|§|\bseeds?\b|\(kennis|niet apart gecontroleerd|TODO|XXX", re.IGNORECASE)


def internal_marker(text: str) -> str | None:
    """The first internal marker in ``text`` ("FACTS", "[U]", "§", "seed", ...), or None."""
    m = _MARKER_RE.search(text)
    return m.group(0) if m else None


def _user_texts(raw: dict[str, Any]) -> list[str]:
    texts = [raw.get(k) for k in ("title", "why", "who_can_help", "cost")]
    for k in ("how", "need", "sources"):
        if isinstance(raw.get(k), list):
            texts.extend(raw[k])
    if isinstance(raw.get("links"), list):
        texts.extend(link.get("title") for link in raw["links"] if isinstance(link, dict))
    return [t for t in texts if isinstance(t, str)]

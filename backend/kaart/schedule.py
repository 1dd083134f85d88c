"""Opening hours: parse Dutch text, format it back, and answer "nu open?" correctly at the edges.

Text format (what gemeente staff type in the column ``openingstijden``)::

    ma-vr 09:00-17:00; za 10:00-12:00        day ranges, several clauses
    ma 09:00-12:00, 13:00-17:00               several slots a day
    vr 22:00-02:00                            past midnight: the slot belongs to Friday
    zo gesloten                               closed (days that are not named are closed too)
    24/7 (or: dag en nacht, altijd open)      always open
    op afspraak                               by appointment (may be combined with hours)

Lenient input is accepted ("maandag t/m vrijdag van 9 tot 17 uur", "ma, wo 9.00-12.00", "werkdagen",
"weekend", "dagelijks"). When a day is named twice the last clause wins ("ma-vr 09:00-17:00; wo
09:00-12:00" = Wednesday mornings only).

Column ``uitzonderingen``::

    2026-12-25 gesloten; 2026-12-31 09:00-13:00
    24-12-2026 t/m 26-12-2026 gesloten           dates as yyyy-mm-dd, dd-mm-jjjj or "25 december 2026"
    feestdagen gesloten                          closed on Dutch public holidays (see ``dutch_holidays``)

An exception replaces the slots that *start* on that date: a Friday 22:00-02:00 slot still runs into a
closed Saturday. When exceptions overlap, the one covering the fewest days wins; explicit dates win over
"feestdagen gesloten".

Times are wall-clock times in Europe/Amsterdam. A slot is the span from the first instant the clock
shows the opening time until the first instant it shows the closing time; a time that does not exist
(the hour skipped when summer time starts) means the moment the clock jumps past it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

__all__ = [
    "DAY_CODES",
    "TZ",
    "DateException",
    "Schedule",
    "ScheduleError",
    "Slot",
    "closes_at",
    "dutch_holidays",
    "format_exceptions",
    "format_week",
    "is_open",
    "next_open",
    "open_intervals",
    "parse_exceptions",
    "parse_schedule",
    "parse_week",
    "slots_on",
]

TZ = ZoneInfo("Europe/Amsterdam")
DAY = 1440  # minutes
DAY_CODES = ("ma", "di", "wo", "do", "vr", "za", "zo")
HORIZON_CLOSE_DAYS = 14
HORIZON_OPEN_DAYS = 400


class ScheduleError(ValueError):
    """Opening hours that cannot be read; the message is Dutch and meant for gemeente staff."""


@dataclass(frozen=True, slots=True, order=True)
class Slot:
    """One opening slot of a day, in minutes after midnight of that day.

    ``closes`` > 1440 means the slot runs past midnight (22:00-02:00 is ``Slot(1320, 1560)``);
    00:00-24:00 is ``Slot(0, 1440)``.
    """

    opens: int
    closes: int

    def __post_init__(self) -> None:
        if not (0 <= self.opens < DAY and self.opens < self.closes <= self.opens + DAY):
            raise ValueError(f"ongeldig tijdvak {self.opens}-{self.closes}")

    def __str__(self) -> str:
        return f"{_hhmm(self.opens)}-{_hhmm(self.closes if self.closes <= DAY else self.closes - DAY)}"


@dataclass(frozen=True, slots=True)
class DateException:
    """Different hours (or closed, when ``slots`` is empty) from ``start`` to ``end`` inclusive."""

    start: date
    end: date
    slots: tuple[Slot, ...] = ()

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("einddatum ligt voor de begindatum")

    @property
    def closed(self) -> bool:
        return not self.slots


EMPTY_WEEK: tuple[tuple[Slot, ...], ...] = ((),) * 7


@dataclass(frozen=True, slots=True)
class Schedule:
    """Weekly hours (Monday first) plus dated exceptions."""

    week: tuple[tuple[Slot, ...], ...] = EMPTY_WEEK
    exceptions: tuple[DateException, ...] = ()
    closed_on_holidays: bool = False
    by_appointment: bool = False

    def __post_init__(self) -> None:
        if len(self.week) != 7:
            raise ValueError("een week heeft 7 dagen")

    @classmethod
    def always_open(cls) -> Schedule:
        return cls(week=((Slot(0, DAY),),) * 7)

    @property
    def is_empty(self) -> bool:
        return not any(self.week) and not self.exceptions and not self.closed_on_holidays and not self.by_appointment


# --------------------------------------------------------------------------------------------- parsing

_DAY_WORDS: dict[str, tuple[int, ...]] = {}
for _i, _names in enumerate(
    (
        ("ma", "maa", "maan", "maandag", "maandagen"),
        ("di", "din", "dins", "dinsdag", "dinsdagen"),
        ("wo", "woe", "woens", "woensdag", "woensdagen"),
        ("do", "don", "dond", "donderdag", "donderdagen"),
        ("vr", "vrij", "vrijdag", "vrijdagen"),
        ("za", "zat", "zaterdag", "zaterdagen"),
        ("zo", "zon", "zondag", "zondagen"),
    )
):
    for _n in _names:
        _DAY_WORDS[_n] = (_i,)
_GROUP_WORDS: dict[str, tuple[int, ...]] = {
    "werkdagen": (0, 1, 2, 3, 4),
    "weekdagen": (0, 1, 2, 3, 4),
    "doordeweeks": (0, 1, 2, 3, 4),
    "weekend": (5, 6),
    "weekenden": (5, 6),
    "dagelijks": (0, 1, 2, 3, 4, 5, 6),
}
_CLOSED_WORDS = frozenset({"gesloten", "dicht"})

_RE_ALWAYS = re.compile(
    r"24\s*/\s*7|24\s*x\s*7|24\s*uur\s*(per|p/)\s*dag,?\s*7\s*dagen\s*(per|p/)\s*week|dag\s+en\s+nacht"
    r"(\s+(open|bereikbaar))?|altijd(\s+(open|bereikbaar))?"
)
_RE_APPOINTMENT = re.compile(r"(alleen\s+|uitsluitend\s+)?(op|volgens)\s+afspraak|bel\s+voor\s+een\s+afspraak")
_RE_FULLDAY = re.compile(r"\b24\s*uur\b|\b(de\s+)?hele\s+dag\b")
_RE_EVERYDAY = re.compile(r"\b(elke|iedere|alle)\s+dag(en)?\b|\b7\s+dagen\s+per\s+week\b")
_RE_RANGE_WORDS = re.compile(r"\bt\s*/\s*m\b|\btot\s+en\s+met\b|\btot\b")
_RE_UUR = re.compile(r"(\d)\s*(uur|u)\b\.?")
_RE_DAYDOT = re.compile(r"\b(" + "|".join(sorted(_DAY_WORDS, key=len, reverse=True)) + r")\.")
_RE_FILLER = re.compile(r"\b(van|vanaf|om|open|geopend|s\s*ochtends|s\s*middags|s\s*avonds)\b|'")
_RE_DASHES = re.compile(r"[\u2010-\u2015\u2212]")
_RE_TOKEN = re.compile(
    r"(?:(?P<time>\d{1,2}[:.]\d{2}(?!\d)|\d{4}(?!\d)|\d{1,2}(?!\d))"
    r"|(?P<word>[a-z\u00e0-\u00ff]+)|(?P<dash>-)|(?P<sep>[,/&+])|(?P<hard>[;|\n])|(?P<colon>:))"
)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _normalize(text: str) -> str:
    s = _RE_DASHES.sub("-", text.casefold().replace("\r", "\n"))
    s = _RE_ALWAYS.sub(" altijd ", s)
    s = _RE_APPOINTMENT.sub(" opafspraak ", s)
    s = _RE_FULLDAY.sub(" heledag ", s)
    s = _RE_EVERYDAY.sub(" dagelijks ", s)
    s = _RE_RANGE_WORDS.sub(" - ", s)
    s = _RE_UUR.sub(r"\1 ", s)
    s = _RE_DAYDOT.sub(r"\1 ", s)
    s = _RE_FILLER.sub(" ", s)
    s = re.sub(r"\ben\b", ",", s)
    return s


def _tokens(s: str, original: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    n = len(s)
    while pos < n:
        if s[pos].isspace() and s[pos] != "\n":
            pos += 1
            continue
        m = _RE_TOKEN.match(s, pos)
        if m is None or m.end() == pos:
            bad = s[pos:].strip().split()[0] if s[pos:].strip() else s[pos]
            raise ScheduleError(f"'{original.strip()}': ik begrijp '{bad}' niet. {_HINT}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


_HINT = "Schrijf het zo: ma-vr 09:00-17:00; za 10:00-12:00."


def _parse_time(tok: str, original: str) -> int:
    if len(tok) == 4 and tok.isdigit():
        h, m = int(tok[:2]), int(tok[2:])
    elif ":" in tok or "." in tok:
        hs, ms = re.split(r"[:.]", tok)
        h, m = int(hs), int(ms)
    else:
        h, m = int(tok), 0
    if h > 24 or m > 59 or (h == 24 and m):
        raise ScheduleError(f"'{original.strip()}': '{tok}' is geen tijd.")
    return h * 60 + m


def _make_slot(opens: int, closes: int, original: str, a: str, b: str) -> Slot:
    if opens >= DAY:
        raise ScheduleError(f"'{original.strip()}': een tijdvak kan niet om 24:00 beginnen.")
    if closes == opens:
        raise ScheduleError(f"'{original.strip()}': {a}-{b} begint en eindigt op dezelfde tijd.")
    if closes < opens:
        closes += DAY  # past midnight
    return Slot(opens, closes)


class _Stream:
    def __init__(self, toks: list[tuple[str, str]], original: str) -> None:
        self.toks = toks
        self.i = 0
        self.original = original

    def peek(self, ahead: int = 0) -> tuple[str, str]:
        j = self.i + ahead
        return self.toks[j] if j < len(self.toks) else ("end", "")

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        self.i += 1
        return tok

    def fail(self, what: str) -> ScheduleError:
        kind, val = self.peek()
        here = "het einde" if kind == "end" else f"'{val}'"
        return ScheduleError(f"'{self.original.strip()}': {what}, maar ik zie {here}. {_HINT}")


def _day_word(word: str) -> tuple[int, ...] | None:
    return _DAY_WORDS.get(word) or _GROUP_WORDS.get(word)


def _parse_days(st: _Stream) -> list[int]:
    days: list[int] = []
    while True:
        kind, val = st.take()
        first = _day_word(val) if kind == "word" else None
        if first is None:
            st.i -= 1
            raise st.fail("ik verwacht een dag (ma, di, wo, do, vr, za, zo)")
        if st.peek()[0] == "dash" and st.peek(1)[0] == "word" and _day_word(st.peek(1)[1]):
            st.take()
            last = _day_word(st.take()[1]) or ()
            a, b = first[0], last[-1]
            days.extend((a + k) % 7 for k in range((b - a) % 7 + 1))
        else:
            days.extend(first)
        kind, val = st.peek()
        nxt = st.peek(1)
        if kind == "sep" and nxt[0] == "word" and _day_word(nxt[1]):
            st.take()
            continue
        if kind == "colon":
            st.take()
        return days


def _parse_slots(st: _Stream) -> tuple[Slot, ...] | None:
    """Slots after a day list; None means 'closed'."""
    kind, val = st.peek()
    if kind == "word" and val in _CLOSED_WORDS:
        st.take()
        return None
    if kind == "word" and val == "heledag":
        st.take()
        return (Slot(0, DAY),)
    slots: list[Slot] = []
    while True:
        kind, a = st.take()
        if kind != "time":
            st.i -= 1
            raise st.fail("ik verwacht een tijd zoals 09:00-17:00 of 'gesloten'")
        if st.take()[0] != "dash":
            st.i -= 1
            raise st.fail(f"na '{a}' verwacht ik een streepje en een eindtijd")
        kind, b = st.take()
        if kind != "time":
            st.i -= 1
            raise st.fail(f"na '{a}-' verwacht ik een eindtijd")
        slots.append(_make_slot(_parse_time(a, st.original), _parse_time(b, st.original), st.original, a, b))
        if st.peek()[0] == "sep" and st.peek(1)[0] == "time":
            st.take()
            continue
        return _check_overlap(tuple(sorted(slots)), st.original)


def _check_overlap(slots: tuple[Slot, ...], original: str) -> tuple[Slot, ...]:
    for x, y in zip(slots, slots[1:], strict=False):
        if x.closes > y.opens:
            raise ScheduleError(f"'{original.strip()}': de tijden {x} en {y} overlappen.")
    return slots


@lru_cache(maxsize=4096)
def parse_week(text: str) -> tuple[tuple[tuple[Slot, ...], ...], bool]:
    """Parse the ``openingstijden`` text. Returns (week, by_appointment); raises ScheduleError."""
    week: list[tuple[Slot, ...]] = [()] * 7
    appointment = False
    if not text or not text.strip():
        return tuple(week), False
    st = _Stream(_tokens(_normalize(text), text), text)
    while True:
        kind, val = st.peek()
        if kind == "end":
            break
        if kind in ("sep", "hard"):
            st.take()
            continue
        if kind == "word" and val == "opafspraak":
            st.take()
            appointment = True
            continue
        if kind == "word" and val == "altijd":
            st.take()
            week = [(Slot(0, DAY),)] * 7
            continue
        if kind == "time":
            raise ScheduleError(f"'{text.strip()}': zet de dagen voor de tijden, bijvoorbeeld 'ma-vr 09:00-17:00'.")
        days = _parse_days(st)
        slots = _parse_slots(st)
        for d in days:
            week[d] = slots or ()
        if st.peek()[0] not in ("end", "sep", "hard"):
            raise st.fail("ik verwacht ';' en dan de volgende dagen")
    return tuple(week), appointment


_MONTHS = {
    "jan": 1,
    "januari": 1,
    "feb": 2,
    "februari": 2,
    "mrt": 3,
    "maa": 3,
    "maart": 3,
    "apr": 4,
    "april": 4,
    "mei": 5,
    "jun": 6,
    "juni": 6,
    "jul": 7,
    "juli": 7,
    "aug": 8,
    "augustus": 8,
    "sep": 9,
    "sept": 9,
    "september": 9,
    "okt": 10,
    "oktober": 10,
    "nov": 11,
    "november": 11,
    "dec": 12,
    "december": 12,
}
_DATE = (
    r"(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4}|\d{1,2}\s+(?:"
    + "|".join(sorted(_MONTHS, key=len, reverse=True))
    + r")\.?\s+\d{4})"
)
_RE_EXC_SPLIT = re.compile(r"[;\n|]+|,(?=\s*" + _DATE + ")")
_RE_EXC = re.compile(r"^(?P<d1>" + _DATE + r")(?:\s*(?:-|tm)\s*(?P<d2>" + _DATE + r"))?\s*:?\s*(?P<rest>.*)$")
_RE_HOLIDAYS = re.compile(
    r"^(?:(?:gesloten|dicht)\s+)?(?:op\s+)?(?:alle\s+)?(?:officiële\s+|officiele\s+|nationale\s+|erkende\s+|"
    r"algemeen\s+erkende\s+)?feestdagen\s*:?(?:\s*(?:gesloten|dicht))?$"
)


def _parse_date(s: str, original: str) -> date:
    s = s.strip()
    try:
        if m := re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", s):
            return date(int(m[1]), int(m[2]), int(m[3]))
        if m := re.fullmatch(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})", s):
            return date(int(m[3]), int(m[2]), int(m[1]))
        if m := re.fullmatch(r"(\d{1,2})\s+([a-z]+)\.?\s+(\d{4})", s):
            return date(int(m[3]), _MONTHS[m[2]], int(m[1]))
    except (ValueError, KeyError):
        pass
    raise ScheduleError(f"'{original.strip()}': '{s}' is geen datum. Schrijf een datum als 2026-12-25.")


@lru_cache(maxsize=4096)
def parse_exceptions(text: str) -> tuple[tuple[DateException, ...], bool]:
    """Parse the ``uitzonderingen`` text. Returns (exceptions, closed_on_holidays)."""
    if not text or not text.strip():
        return (), False
    s = _RE_DASHES.sub("-", text.casefold())
    s = re.sub(r"\([^)]*\)", " ", s)
    s = _RE_RANGE_WORDS.sub(" tm ", s)
    s = re.sub(r"\s+-\s+(?=\d)", " tm ", s)
    holidays = False
    found: dict[tuple[date, date], DateException] = {}
    for part in _RE_EXC_SPLIT.split(s):
        clause = " ".join(part.replace(",", " , ").split()).replace(" , ", ", ").strip(" ,")
        if not clause:
            continue
        if _RE_HOLIDAYS.match(clause):
            holidays = True
            continue
        m = _RE_EXC.match(clause)
        if not m:
            raise ScheduleError(
                f"'{text.strip()}': ik begrijp '{clause}' niet. Schrijf het zo: "
                "2026-12-25 gesloten; 2026-12-31 09:00-13:00; feestdagen gesloten."
            )
        start = _parse_date(m["d1"], text)
        end = _parse_date(m["d2"], text) if m["d2"] else start
        if end < start:
            raise ScheduleError(f"'{text.strip()}': {m['d2']} ligt voor {m['d1']}.")
        if (end - start).days > 366:
            raise ScheduleError(f"'{text.strip()}': {m['d1']} t/m {m['d2']} is langer dan een jaar.")
        rest = m["rest"].strip()
        if not rest:
            raise ScheduleError(
                f"'{text.strip()}': zet achter {m['d1']} 'gesloten' of de tijden, bijvoorbeeld 09:00-13:00."
            )
        if rest.split()[0] in _CLOSED_WORDS:
            slots: tuple[Slot, ...] = ()
        else:
            st = _Stream(_tokens(_normalize(rest), text), text)
            slots = _parse_slots(st) or ()
            if st.peek()[0] != "end":
                raise st.fail("na de tijden verwacht ik ';' en dan de volgende datum")
        if (start, end) in found:
            raise ScheduleError(f"'{text.strip()}': {m['d1']} staat er twee keer in.")
        found[(start, end)] = DateException(start, end, slots)
    return tuple(found[k] for k in sorted(found)), holidays


def parse_schedule(hours: str = "", exceptions: str = "") -> Schedule:
    """Parse both columns into one Schedule (raises ScheduleError)."""
    week, appointment = parse_week(hours)
    exc, holidays = parse_exceptions(exceptions)
    return Schedule(week=week, exceptions=exc, closed_on_holidays=holidays, by_appointment=appointment)


# ------------------------------------------------------------------------------------------ formatting


def _format_slots(slots: tuple[Slot, ...]) -> str:
    return ", ".join(str(s) for s in slots) if slots else "gesloten"


def format_week(schedule: Schedule) -> str:
    """Canonical text for the weekly hours; ``parse_week(format_week(s))`` gives ``s.week`` back."""
    parts: list[str] = []
    week = schedule.week
    if all(day == (Slot(0, DAY),) for day in week):
        parts.append("24/7")
    else:
        d = 0
        while d < 7:
            e = d
            while e + 1 < 7 and week[e + 1] == week[d]:
                e += 1
            if week[d]:
                days = DAY_CODES[d] if e == d else f"{DAY_CODES[d]}-{DAY_CODES[e]}"
                parts.append(f"{days} {_format_slots(week[d])}")
            d = e + 1
    if schedule.by_appointment:
        parts.append("op afspraak")
    return "; ".join(parts)


def format_exceptions(schedule: Schedule) -> str:
    """Canonical text for the exceptions; ``parse_exceptions`` reads it back unchanged."""
    parts = ["feestdagen gesloten"] if schedule.closed_on_holidays else []
    for exc in schedule.exceptions:
        when = exc.start.isoformat() if exc.end == exc.start else f"{exc.start} t/m {exc.end}"
        parts.append(f"{when} {_format_slots(exc.slots)}")
    return "; ".join(parts)


# ------------------------------------------------------------------------------------------- holidays


def _easter(year: int) -> date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return date(year, month, day + 1)


@lru_cache(maxsize=64)
def dutch_holidays(year: int) -> dict[date, str]:
    """Dutch public holidays used by "feestdagen gesloten".

    Nieuwjaarsdag, Pasen (2 days), Koningsdag (27 April, 26 April when the 27th is a Sunday), Hemelvaart,
    Pinksteren (2 days), Kerst (2 days), and Bevrijdingsdag in lustrum years only (when most employers give
    the day off). Goede Vrijdag is not included.
    """
    easter = _easter(year)
    kings = date(year, 4, 27)
    if kings.weekday() == 6:
        kings = date(year, 4, 26)
    days = {
        date(year, 1, 1): "Nieuwjaarsdag",
        easter: "Eerste Paasdag",
        easter + timedelta(days=1): "Tweede Paasdag",
        kings: "Koningsdag",
        easter + timedelta(days=39): "Hemelvaartsdag",
        easter + timedelta(days=49): "Eerste Pinksterdag",
        easter + timedelta(days=50): "Tweede Pinksterdag",
        date(year, 12, 25): "Eerste Kerstdag",
        date(year, 12, 26): "Tweede Kerstdag",
    }
    if year % 5 == 0:
        days[date(year, 5, 5)] = "Bevrijdingsdag"
    return days


# ------------------------------------------------------------------------------------------ evaluation


def slots_on(schedule: Schedule, day: date) -> tuple[Slot, ...]:
    """The slots that start on ``day``, after exceptions and holidays."""
    best: DateException | None = None
    for exc in schedule.exceptions:
        if exc.start > day:
            break  # sorted by start
        if day <= exc.end and (
            best is None
            or (exc.end - exc.start) < (best.end - best.start)
            or ((exc.end - exc.start) == (best.end - best.start) and exc.start >= best.start)
        ):
            best = exc
    if best is not None:
        return best.slots
    if schedule.closed_on_holidays and day in dutch_holidays(day.year):
        return ()
    return schedule.week[day.weekday()]


@lru_cache(maxsize=16384)
def _instant(day: date, minute: int) -> datetime:
    """The first instant (UTC) at which the Amsterdam wall clock shows ``day`` + ``minute``."""
    extra, m = divmod(minute, DAY)
    naive = datetime.combine(day + timedelta(days=extra), time(m // 60, m % 60))
    utc = naive.replace(tzinfo=TZ).astimezone(UTC)  # fold=0: the first of two, if ambiguous
    if utc.astimezone(TZ).replace(tzinfo=None) == naive:
        return utc
    # The wall time does not exist (spring forward): find the end of the gap.
    lo = naive.replace(tzinfo=TZ, fold=1).astimezone(UTC)
    hi = utc
    if lo > hi:
        lo, hi = hi, lo
    while (hi - lo) > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(TZ).replace(tzinfo=None) >= naive:
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0) if hi.microsecond else hi


@lru_cache(maxsize=1024)
def _near_dst_change(day: date) -> bool:
    """Whether the UTC offset changes between the start of ``day`` - 1 and the start of ``day`` + 2."""
    before = datetime.combine(day - timedelta(days=1), time(0), TZ).utcoffset()
    after = datetime.combine(day + timedelta(days=2), time(0), TZ).utcoffset()
    return before != after


def _aware(at: datetime) -> datetime:
    return at.replace(tzinfo=TZ) if at.tzinfo is None else at


def _intervals_from(schedule: Schedule, first: date, days: int) -> Iterator[tuple[datetime, datetime]]:
    for k in range(days):
        day = first + timedelta(days=k)
        for slot in slots_on(schedule, day):
            start, end = _instant(day, slot.opens), _instant(day, slot.closes)
            if start < end:
                yield start, end


def open_intervals(schedule: Schedule, start: date, days: int = 7) -> list[tuple[datetime, datetime]]:
    """Open periods (aware datetimes in Europe/Amsterdam) of the slots starting on ``start`` and the
    following days, with touching or overlapping periods merged."""
    merged: list[tuple[datetime, datetime]] = []
    for s, e in _intervals_from(schedule, start, days):
        if merged and s <= merged[-1][1]:
            if e > merged[-1][1]:
                merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return [(s.astimezone(TZ), e.astimezone(TZ)) for s, e in merged]


def is_open(schedule: Schedule | None, at: datetime) -> bool:
    """Whether the service is open at ``at`` (aware; a naive datetime is taken as Amsterdam time)."""
    if schedule is None:
        return False
    at = _aware(at)
    wall = at.astimezone(TZ)
    today = wall.date()
    yesterday = today - timedelta(days=1)
    if not _near_dst_change(today):
        # Fast path: no clock change from yesterday to tomorrow, so wall-clock minutes are exact.
        second = wall.hour * 3600 + wall.minute * 60 + wall.second
        for slot in slots_on(schedule, today):
            if slot.opens * 60 <= second < slot.closes * 60:
                return True
        for slot in slots_on(schedule, yesterday):
            if slot.closes > DAY and second < (slot.closes - DAY) * 60:
                return True
        return False
    for s, e in _intervals_from(schedule, yesterday, 2):
        if s <= at < e:
            return True
    return False


def closes_at(schedule: Schedule | None, at: datetime) -> datetime | None:
    """When the current open period ends (Amsterdam time). None when closed at ``at`` — and also when it
    stays open for the next 14 days (24/7), so check ``is_open`` first."""
    if schedule is None:
        return None
    at = _aware(at)
    today = at.astimezone(TZ).date()
    end: datetime | None = None
    for s, e in _intervals_from(schedule, today - timedelta(days=1), HORIZON_CLOSE_DAYS + 1):
        if end is None:
            if s <= at < e:
                end = e
        elif s <= end:
            end = max(end, e)
        else:
            return end.astimezone(TZ)
    return None


def next_open(schedule: Schedule | None, at: datetime) -> datetime | None:
    """``at`` itself when open, otherwise the next opening time (Amsterdam time) within about a year."""
    if schedule is None:
        return None
    at = _aware(at)
    if is_open(schedule, at):
        return at
    if not any(schedule.week) and not any(x.slots for x in schedule.exceptions):
        return None
    today = at.astimezone(TZ).date()
    for s, _e in _intervals_from(schedule, today, HORIZON_OPEN_DAYS):
        if s > at:
            return s.astimezone(TZ)
    return None

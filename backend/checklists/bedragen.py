"""Amounts that change by date (``backend/content/bedragen.toml``): each one has validity periods.

A jongere sees the amount that applies **on the date of the step** ("€ 385 per jaar (2026)"). Each key has
a label, an optional unit, and one or more periods::

    [eigen_risico]
    label = "Eigen risico zorgverzekering"
    unit = "per jaar"
    official = "https://www.rijksoverheid.nl/..."  # optional: where to look for a new amount (default: source)

    [[eigen_risico.period]]
    from = 2026-01-01
    until = 2026-12-31        # inclusive
    value = 385               # or: min = 75 / max = 85 for a range; approx = true for "ongeveer"
    source = "https://www.rijksoverheid.nl/..."   # a page a person can open
    peildatum = 2026-01-31    # the day the amount was checked

Periods follow each other without a gap or an overlap (the loader refuses both, and an amount without a
source). A date after the last period shows the last known amount **with its period** and where to look for
the new one: "€ 385 per jaar (bedrag van 2026; kijk op rijksoverheid.nl voor het nieuwe bedrag)". A date
before the first period shows the first one. The minimumloon changes twice a year: two periods a year.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

__all__ = ["Bedrag", "Period", "format_euro", "parse_bedragen", "period_label", "source_host"]

_KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")
# A source a person can open: an https address, optionally followed by a note in parentheses.
SOURCE_RE = re.compile(r"^https://[^\s/]+\.[a-z]{2,}(?:/\S*)?(?: \([^()]+\))?$")
_MONTHS_NL = "januari februari maart april mei juni juli augustus september oktober november december".split()


def format_euro(amount: Decimal) -> str:
    """Dutch notation: € 40.857, € 172,70."""
    if amount == amount.to_integral_value():
        whole, cents = f"{int(amount):,}", ""
    else:
        text = f"{amount:,.2f}"
        whole, cents = text.split(".")
        cents = "," + cents
    return "€ " + whole.replace(",", ".") + cents


def _date_nl(d: date) -> str:
    return f"{d.day} {_MONTHS_NL[d.month - 1]} {d.year}"


def period_label(start: date, end: date) -> str:
    """"2026" for a calendar year, "1 januari tot en met 30 juni 2026" otherwise."""
    if (start.month, start.day, end.month, end.day) == (1, 1, 12, 31) and start.year == end.year:
        return str(start.year)
    if start.year == end.year:
        return f"{start.day} {_MONTHS_NL[start.month - 1]} tot en met {_date_nl(end)}"
    return f"{_date_nl(start)} tot en met {_date_nl(end)}"


def source_host(source: str) -> str:
    """"rijksoverheid.nl" for "https://www.rijksoverheid.nl/onderwerpen/... (note)"."""
    host = urlsplit(source.split(" ", 1)[0]).hostname or ""
    return host.removeprefix("www.")


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive
    source: str
    peildatum: date
    value: Decimal | None = None
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    approx: bool = False

    def contains(self, on: date) -> bool:
        return self.start <= on <= self.end

    def amount(self, unit: str | None) -> str:
        if self.value is not None:
            text = format_euro(self.value)
        else:
            assert self.minimum is not None and self.maximum is not None
            text = f"{format_euro(self.minimum)} tot {format_euro(self.maximum)}"
        if self.approx:
            text = f"ongeveer {text}"
        return f"{text} {unit}" if unit else text

    @property
    def label(self) -> str:
        return period_label(self.start, self.end)


@dataclass(frozen=True)
class Bedrag:
    key: str
    label: str
    periods: tuple[Period, ...]  # in date order, without gaps or overlaps
    unit: str | None = None
    official: str | None = None  # the official page to look for a new amount (else the last source)

    def period_on(self, on: date) -> Period:
        """The period that applies on ``on``: the one that holds it, else the nearest known one."""
        for period in self.periods:
            if period.contains(on):
                return period
        return self.periods[0] if on < self.periods[0].start else self.periods[-1]

    def known_on(self, on: date) -> bool:
        """False when ``on`` is after the last known period (the new amount is not known yet)."""
        return on <= self.periods[-1].end

    def render(self, on: date) -> str:
        """E.g. "€ 385 per jaar (2026)"; after the last period "… (bedrag van 2026; kijk op … voor het
        nieuwe bedrag)"."""
        period = self.period_on(on)
        if self.known_on(on):
            return f"{period.amount(self.unit)} ({period.label})"
        return (
            f"{period.amount(self.unit)} (bedrag van {period.label}; "
            f"kijk op {source_host(self.official or period.source)} voor het nieuwe bedrag)"
        )

    # The period that applies today, for fields that show one (the catalogue's year, source, peildatum).
    def year(self, on: date) -> int:
        return self.period_on(on).start.year

    def public(self, on: date) -> dict[str, Any]:
        current = self.period_on(on)
        return {
            "key": self.key,
            "label": self.label,
            "text": self.render(on),
            "year": current.start.year,
            "source": current.source,
            "peildatum": current.peildatum.isoformat(),
            "official": self.official or current.source,
            "periods": [
                {
                    "from": p.start.isoformat(),
                    "until": p.end.isoformat(),
                    "text": f"{p.amount(self.unit)} ({p.label})",
                    "source": p.source,
                    "peildatum": p.peildatum.isoformat(),
                }
                for p in self.periods
            ],
        }


def is_date(v: Any) -> bool:
    return isinstance(v, date) and type(v) is date  # tomllib gives datetime for date-times


def nonempty_str(v: Any) -> bool:
    return isinstance(v, str) and bool(v.strip())


def _dec(v: Any) -> Decimal | None:
    return None if v is None else Decimal(str(v))


_KEY_FIELDS = {"label", "unit", "official", "period"}
_PERIOD_FIELDS = {"from", "until", "value", "min", "max", "approx", "source", "peildatum"}


def parse_bedragen(data: Mapping[str, Any], error: Callable[[str], None]) -> dict[str, Bedrag]:
    """The bedragen of a parsed bedragen.toml; every problem goes to ``error`` ("bedrag 'key': message")."""
    bedragen: dict[str, Bedrag] = {}
    for key, raw in data.items():
        if not _KEY_RE.match(key) or not isinstance(raw, dict):
            error(f"bad bedrag key {key!r} (use [snake_case] tables)")
            continue

        def err(message: str, key: str = key) -> None:
            error(f"bedrag {key!r}: {message}")

        n = 0
        if set(raw) - _KEY_FIELDS:
            err(f"unknown fields {sorted(set(raw) - _KEY_FIELDS)} (value, source and dates go in [[{key}.period]])")
            n += 1
        if not nonempty_str(raw.get("label")):
            err("needs a label")
            n += 1
        if "unit" in raw and not nonempty_str(raw["unit"]):
            err("unit must be a non-empty string")
            n += 1
        if "official" in raw and not (isinstance(raw["official"], str) and SOURCE_RE.match(raw["official"])):
            err("official must be an https:// page")
            n += 1
        raw_periods = raw.get("period")
        if not isinstance(raw_periods, list) or not raw_periods:
            err(f"needs at least one [[{key}.period]] with from, until, value, source and peildatum")
            continue
        periods: list[Period] = []
        for i, rp in enumerate(raw_periods, 1):
            period = _parse_period(rp, lambda m, i=i: err(f"period {i}: {m}"))
            if period is None:
                n += 1
            else:
                periods.append(period)
        if n or len(periods) != len(raw_periods):
            continue
        periods.sort(key=lambda p: p.start)
        for before, after in zip(periods, periods[1:], strict=False):
            if after.start <= before.end:
                err(f"periods overlap: {before.start}..{before.end} and {after.start}..{after.end}")
                n += 1
            elif after.start != before.end + timedelta(days=1):
                err(f"a period is missing between {before.end} and {after.start}")
                n += 1
        if n == 0:
            bedragen[key] = Bedrag(key, raw["label"], tuple(periods), raw.get("unit"), raw.get("official"))
    return bedragen


def _parse_period(raw: Any, err: Callable[[str], None]) -> Period | None:
    if not isinstance(raw, dict):
        err("must be a table")
        return None
    problems = []
    if set(raw) - _PERIOD_FIELDS:
        problems.append(f"unknown fields {sorted(set(raw) - _PERIOD_FIELDS)}")
    for k in ("from", "until", "peildatum"):
        if not is_date(raw.get(k)):
            problems.append(f"needs {k} (a TOML date like 2026-01-01)")
    if is_date(raw.get("from")) and is_date(raw.get("until")) and raw["until"] < raw["from"]:
        problems.append("until is before from")
    source = raw.get("source")
    if not nonempty_str(source):
        problems.append("needs a source (an https:// page a person can open)")
    elif not SOURCE_RE.match(source):
        problems.append(f"source {source!r} must be an https:// address, optionally followed by ' (note)'")
    has_value = "value" in raw
    has_range = "min" in raw or "max" in raw
    if has_value == has_range or (has_range and not ("min" in raw and "max" in raw)):
        problems.append("needs either value, or both min and max")
    for k in ("value", "min", "max"):
        v = raw.get(k)
        if k in raw and (isinstance(v, bool) or not isinstance(v, int | float) or v < 0):
            problems.append(f"{k} must be a non-negative number")
    if "approx" in raw and not isinstance(raw["approx"], bool):
        problems.append("approx must be true or false")
    if problems:
        for p in problems:
            err(p)
        return None
    return Period(
        start=raw["from"],
        end=raw["until"],
        source=source,
        peildatum=raw["peildatum"],
        value=_dec(raw.get("value")),
        minimum=_dec(raw.get("min")),
        maximum=_dec(raw.get("max")),
        approx=raw.get("approx", False),
    )

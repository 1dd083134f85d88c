"""Postcode (PC4) -> gemeente(n) and an approximate centre, for "hulp bij mij in de buurt".

The table is ``sociale_kaart/postcodes-pc4.csv``: hand-made and partial (no official PC4 table with
gemeente and coordinates can be installed here), so every answer says how precise it is. Rows are ranges
(``pc4_van``-``pc4_tot``); a narrower range wins over a wider one, so one row per neighbourhood can refine a
city-wide range. A PC4 that lies in two gemeenten lists both, and the app asks which one.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from backend.config import ROOT

PC4_CSV = ROOT / "sociale_kaart" / "postcodes-pc4.csv"
SOURCE = (
    "Startklaar, met de hand gemaakt en onvolledig: afstanden zijn bij benadering (sociale_kaart/postcodes-pc4.csv)."
)

_RE_POSTCODE = re.compile(r"^\s*([1-9][0-9]{3})\s*([a-zA-Z]{2})?\s*$")


class PostcodeError(ValueError):
    """Not a Dutch postcode; the message is Dutch."""


@dataclass(frozen=True, slots=True)
class Area:
    pc4: str
    gemeenten: tuple[str, ...]
    lat: float
    lon: float
    precision: str  # "wijk" or "plaats"
    name: str


@dataclass(frozen=True, slots=True)
class _Range:
    first: int
    last: int
    gemeenten: tuple[str, ...]
    lat: float
    lon: float
    precision: str
    name: str


def parse_postcode(value: str) -> tuple[str, str]:
    """'1234 ab' -> ('1234', '1234 AB'); '1234' -> ('1234', '1234'). Raises PostcodeError."""
    m = _RE_POSTCODE.match(value or "")
    if not m:
        raise PostcodeError("Dit is geen postcode. Schrijf 4 cijfers, of 4 cijfers en 2 letters, zoals 1234 AB.")
    pc4, letters = m[1], (m[2] or "").upper()
    return pc4, f"{pc4} {letters}" if letters else pc4


def pc4_of(postcode: str) -> str | None:
    """The PC4 of a stored postcode ("9712 HN" -> "9712"), or None."""
    m = _RE_POSTCODE.match(postcode or "")
    return m[1] if m else None


class PostcodeTable:
    def __init__(self, ranges: list[_Range]) -> None:
        # Narrowest range first, so a neighbourhood row wins over the city-wide range.
        self._ranges = sorted(ranges, key=lambda r: (r.last - r.first, r.first))
        self._memo: dict[str, Area | None] = {}

    @classmethod
    def read(cls, path: Path = PC4_CSV) -> PostcodeTable:
        with path.open(encoding="utf-8", newline="") as f:
            lines = [line for line in f if not line.startswith("#")]
        ranges = [
            _Range(
                first=int(row["pc4_van"]),
                last=int(row["pc4_tot"]),
                gemeenten=tuple(c.strip() for c in row["gemeenten"].split("|") if c.strip()),
                lat=float(row["lat"]),
                lon=float(row["lon"]),
                precision=row["nauwkeurigheid"].strip(),
                name=row["gebied"].strip(),
            )
            for row in csv.DictReader(lines)
        ]
        return cls(ranges)

    def lookup(self, pc4: str) -> Area | None:
        if pc4 in self._memo:
            return self._memo[pc4]
        n = int(pc4) if pc4.isdigit() else -1
        found = next((r for r in self._ranges if r.first <= n <= r.last), None)
        area = Area(pc4, found.gemeenten, found.lat, found.lon, found.precision, found.name) if found else None
        if len(self._memo) < 20_000:
            self._memo[pc4] = area
        return area


@lru_cache(maxsize=1)
def table() -> PostcodeTable:
    return PostcodeTable.read()


def lookup(pc4: str) -> Area | None:
    return table().lookup(pc4)


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine) in km."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))

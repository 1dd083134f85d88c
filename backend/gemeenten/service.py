"""Reference data: the gemeenten, their display names and search."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlmodel import Session, select

from backend.config import ROOT
from backend.gemeenten.models import Gemeente
from backend.textsearch import fold

GEMEENTEN_CSV = ROOT / "sociale_kaart" / "gemeenten.csv"


def read_gemeenten_csv(path: Path = GEMEENTEN_CSV) -> list[Gemeente]:
    with path.open(encoding="utf-8", newline="") as f:
        lines = [line for line in f if not line.startswith("#")]
    rows = []
    for row in csv.DictReader(lines):
        names = [row["weergavenaam"], row["naam"], *filter(None, row["zoeknamen"].split("|"))]
        rows.append(
            Gemeente(
                code=row["code"],
                naam=row["naam"],
                weergavenaam=row["weergavenaam"],
                search_key="|".join(dict.fromkeys(fold(n) for n in names)),
            )
        )
    return rows


def sync_gemeenten(session: Session, path: Path = GEMEENTEN_CSV) -> int:
    """Make the table equal to the CSV (idempotent); returns the number of gemeenten."""
    wanted = {g.code: g for g in read_gemeenten_csv(path)}
    existing = {g.code: g for g in session.exec(select(Gemeente)).all()}
    for code, g in wanted.items():
        row = existing.get(code)
        if row is None:
            session.add(g)
        elif (row.naam, row.weergavenaam, row.search_key) != (g.naam, g.weergavenaam, g.search_key):
            row.naam, row.weergavenaam, row.search_key = g.naam, g.weergavenaam, g.search_key
            session.add(row)
    # Gemeenten that merged away are kept: other rows may still refer to them.
    return len(wanted)


_all: tuple[Gemeente, ...] = ()


def all_gemeenten(session: Session) -> tuple[Gemeente, ...]:
    """Reference data, read once per process: it only changes with `startklaar migrate` (and a restart)."""
    global _all
    if len(_all) == 0:
        rows = session.exec(select(Gemeente).order_by(Gemeente.weergavenaam)).all()
        for g in rows:
            session.expunge(g)
        _all = tuple(rows)
    return _all


def search_gemeenten(session: Session, q: str | None = None) -> list[Gemeente]:
    """All gemeenten by display name; with q, those whose names contain q, best matches first."""
    rows = list(all_gemeenten(session))
    needle = fold(q or "")
    if not needle:
        return rows
    compact = needle.replace(" ", "")

    def rank(g: Gemeente) -> int | None:
        names = g.search_key.split("|")
        if any(n == needle for n in names):
            return 0
        if any(n.startswith(needle) for n in names):
            return 1
        if any(n.replace(" ", "").startswith(compact) for n in names):
            return 2  # "bergen" also finds "Berg en Dal", after the real prefixes
        if any(needle in n or compact in n.replace(" ", "") for n in names):
            return 3
        return None

    ranked = [(r, g) for g in rows if (r := rank(g)) is not None]
    ranked.sort(key=lambda pair: pair[0])
    return [g for _, g in ranked]


def get_gemeente(session: Session, code: str) -> Gemeente | None:
    return session.get(Gemeente, code.upper())

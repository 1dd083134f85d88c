"""'Laat mij pas los als de big 5 geregeld is': is the essential arranged before the vertrekdatum?

The jongeren's first demand in the seed documents. Per area of the big 5 a few needs, each met by any one
of its steps being done (a place to live: a plan and a contract or an address; an income from the day
after leaving; health insurance and a huisarts; school or work; at least one steunfiguur). A need whose
steps are not in the person's plan (they do not apply) is left out. Pure: computed from the plan items.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

__all__ = ["AREAS", "Readiness", "readiness"]


class _Item(Protocol):
    step_id: str
    title: str
    state: str


@dataclass(frozen=True)
class Need:
    label: str
    steps: tuple[str, ...]  # done when any of these is done


@dataclass(frozen=True)
class Area:
    id: str
    label: str
    needs: tuple[Need, ...]


AREAS: tuple[Area, ...] = (
    Area(
        "wonen",
        "Een plek om te wonen",
        (
            Need("Een plan waar je gaat wonen", ("woonplek-plannen",)),
            Need("Een huurcontract of een adres", ("huurcontract-tekenen", "adres-na-vertrek-regelen")),
        ),
    ),
    Area(
        "inkomen",
        "Geld vanaf de dag na je vertrek",
        (
            Need("Een eigen bankrekening", ("bankrekening-regelen",)),
            Need(
                "Een inkomen: werk, studiefinanciering of bijstand",
                ("bijstand-aanvragen", "studiefinanciering-aanvragen", "werk-zoeken", "werk-met-ondersteuning"),
            ),
        ),
    ),
    Area(
        "gezondheid",
        "Zorgverzekering en huisarts",
        (
            Need("Een zorgverzekering", ("zorgverzekering-controleren", "zorgverzekering-kiezen")),
            Need("Een huisarts", ("huisarts-inschrijven",)),
        ),
    ),
    Area(
        "school-werk",
        "School of werk",
        (Need("Een school of werk", ("mbo-aanmelden", "studiefinanciering-aanvragen", "werk-zoeken")),),
    ),
    Area(
        "steun",
        "Iemand die er voor je is",
        (Need("Minstens één vast persoon", ("steunfiguur-kiezen", "nazorg-afspreken")),),
    ),
)

_DONE = ("done",)


@dataclass(frozen=True)
class AreaState:
    id: str
    label: str
    ready: bool
    items: tuple[tuple[str, str, str], ...]  # (step id, title, state) of the steps that count
    next: tuple[str, str] | None  # (step id, title) to do first

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "ready": self.ready,
            "items": [{"step_id": s, "title": t, "state": st} for s, t, st in self.items],
            "next": None if self.next is None else {"step_id": self.next[0], "title": self.next[1]},
        }


@dataclass(frozen=True)
class Readiness:
    vertrekdatum: date | None
    areas: tuple[AreaState, ...]

    @property
    def ready(self) -> bool:
        return all(a.ready for a in self.areas)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ready": self.ready,
            "vertrekdatum": None if self.vertrekdatum is None else self.vertrekdatum.isoformat(),
            "areas": [a.to_dict() for a in self.areas],
        }


def readiness(items: Sequence[_Item], vertrekdatum: date | None) -> Readiness:
    """The big-5 check of a plan (its items in plan order: the first open step of a need comes first)."""
    by_id = {i.step_id: i for i in items}
    areas: list[AreaState] = []
    for area in AREAS:
        counted: list[tuple[str, str, str]] = []
        next_step: tuple[str, str] | None = None
        ready = True
        for need in area.needs:
            present = [by_id[s] for s in need.steps if s in by_id and by_id[s].state != "not_for_me"]
            if not present:
                continue  # none of its steps apply to this person
            for i in present:
                if all(c[0] != i.step_id for c in counted):
                    counted.append((i.step_id, i.title, i.state))
            if any(i.state in _DONE for i in present):
                continue
            ready = False
            if next_step is None:
                first = min(present, key=lambda i: items.index(i))  # type: ignore[arg-type]
                next_step = (first.step_id, first.title)
        if counted:  # an area none of whose steps apply (e.g. no plan yet) is not shown as ready
            areas.append(AreaState(area.id, area.label, ready, tuple(counted), next_step))
    return Readiness(vertrekdatum, tuple(areas))

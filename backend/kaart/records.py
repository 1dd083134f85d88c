"""The normalized, typed records of a sociale kaart (pure data, no database).

Names follow HSDS 3.0 (Open Referral) where possible: Organization, Service, Location, ServiceAtLocation,
Address, Phone, Schedule. A ``Kaart`` holds them in a canonical order, so that two kaarten with the same
content compare equal no matter which file format they came from.

Ids are UUID strings (as HSDS wants). ``ref`` keeps the gemeente's own id from the spreadsheet
(``dienst_id`` "JL-01") when that was not a UUID; ``row`` is the source row (spreadsheet row number, or
position in an HSDS file) and is left out of comparisons.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from backend.kaart.schedule import Schedule, format_exceptions, format_week

__all__ = [
    "ID_NAMESPACE",
    "Address",
    "Kaart",
    "KaartRow",
    "Location",
    "Organization",
    "Phone",
    "PhoneKind",
    "Schedule",
    "Service",
    "ServiceAtLocation",
    "Taxonomy",
    "is_uuid",
    "kaart_rows",
    "load_taxonomy",
    "stable_id",
]

# Fixed namespace for derived ids: never change it, or every derived id changes.
ID_NAMESPACE = uuid.UUID("6d1f3c3e-5b8a-4f0e-9a57-2f6c1c0d4b11")
TAXONOMY_PATH = Path(__file__).resolve().parent.parent / "content" / "taxonomy.toml"

_RE_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def is_uuid(value: str) -> bool:
    return bool(_RE_UUID.match(value))


_NS_BYTES = ID_NAMESPACE.bytes


def stable_id(kind: str, *parts: str, namespace: str = "") -> str:
    """A UUID derived from content, the same on every run: ``stable_id("service", "JL-01", namespace="GM0014")``.

    Equal to ``str(uuid.uuid5(ID_NAMESPACE, "\\x1f".join((namespace, kind, *parts))))``, computed faster."""
    digest = bytearray(hashlib.sha1(_NS_BYTES + "\x1f".join((namespace, kind, *parts)).encode()).digest()[:16])  # noqa: S324
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


PhoneKind = Literal["voice", "whatsapp"]


@dataclass(frozen=True, slots=True)
class Phone:
    """A phone number in Dutch display form: "020 123 45 67", "06 12 34 56 78", "0800-0113", "113", "14 020"."""

    number: str
    kind: PhoneKind = "voice"

    @property
    def tel(self) -> str:
        """A ``tel:`` link: +31 for ordinary numbers, as dialled for 0800/0900 and short numbers."""
        digits = re.sub(r"[^\d+]", "", self.number)
        if digits.startswith("+"):
            return f"tel:{digits}"
        if digits.startswith("0") and not digits.startswith(("0800", "090")):
            return f"tel:+31{digits[1:]}"
        return f"tel:{digits}"


@dataclass(frozen=True, slots=True)
class Address:
    """A physical address in the Netherlands (HSDS address with address_type "physical")."""

    street: str = ""  # straat
    house_number: str = ""  # huisnummer with toevoeging: "12", "12a", "12-3"
    postal_code: str = ""  # "1234 AB"
    city: str = ""  # plaats
    province: str = ""  # provincie
    country: str = "NL"

    @property
    def address_1(self) -> str:
        return f"{self.street} {self.house_number}".strip()

    def one_line(self) -> str:
        tail = f"{self.postal_code} {self.city}".strip()
        return ", ".join(p for p in (self.address_1, tail) if p)


@dataclass(frozen=True, slots=True)
class Organization:
    id: str
    name: str
    ref: str = ""
    row: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Location:
    id: str
    name: str = ""
    address: Address | None = None
    ref: str = ""
    row: int = field(default=0, compare=False)

    @property
    def location_type(self) -> str:
        return "physical" if self.address is not None else "virtual"


@dataclass(frozen=True, slots=True)
class Service:
    """A service. ``phones`` and ``schedule`` here hold what applies without a location (a phone line, a
    chat); hours at a location live on the ServiceAtLocation."""

    id: str
    organization_id: str
    name: str
    description: str = ""
    eligibility: str = ""  # voor_wie (HSDS eligibility_description)
    leefgebieden: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    minimum_age: int | None = None
    maximum_age: int | None = None
    fees: str = ""  # "gratis" or a description; "" = unknown
    application_process: str = ""  # aanmelden
    url: str = ""
    email: str = ""
    phones: tuple[Phone, ...] = ()
    schedule: Schedule | None = None
    alert: str = ""  # melding
    assured_date: date | None = None  # gecontroleerd_op
    assurer_email: str = ""  # gecontroleerd_door
    ref: str = ""
    row: int = field(default=0, compare=False)

    @property
    def free(self) -> bool:
        return self.fees == "gratis"


@dataclass(frozen=True, slots=True)
class ServiceAtLocation:
    id: str
    service_id: str
    location_id: str
    phones: tuple[Phone, ...] = ()
    schedule: Schedule | None = None
    row: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Kaart:
    """One gemeente's sociale kaart (or the national one).

    Canonical order: services by first appearance; service_at_locations grouped by service; locations by
    first use; organizations by first service.
    """

    organizations: tuple[Organization, ...] = ()
    services: tuple[Service, ...] = ()
    locations: tuple[Location, ...] = ()
    service_at_locations: tuple[ServiceAtLocation, ...] = ()

    @classmethod
    def build(
        cls,
        organizations: Iterable[Organization],
        services: Iterable[Service],
        locations: Iterable[Location],
        service_at_locations: Iterable[ServiceAtLocation],
    ) -> Kaart:
        """Put records in canonical order and drop what nothing refers to."""
        svcs = tuple(services)
        order = {s.id: i for i, s in enumerate(svcs)}
        sals = tuple(
            sorted((x for x in service_at_locations if x.service_id in order), key=lambda x: order[x.service_id])
        )
        locs_by_id = {loc.id: loc for loc in locations}
        loc_ids = dict.fromkeys(x.location_id for x in sals if x.location_id in locs_by_id)
        orgs_by_id = {o.id: o for o in organizations}
        org_ids = dict.fromkeys(s.organization_id for s in svcs if s.organization_id in orgs_by_id)
        return cls(
            organizations=tuple(orgs_by_id[i] for i in org_ids),
            services=svcs,
            locations=tuple(locs_by_id[i] for i in loc_ids),
            service_at_locations=tuple(x for x in sals if x.location_id in locs_by_id),
        )

    def organization(self, org_id: str) -> Organization | None:
        return next((o for o in self.organizations if o.id == org_id), None)

    def location(self, location_id: str) -> Location | None:
        return next((x for x in self.locations if x.id == location_id), None)

    def at_locations(self, service_id: str) -> list[ServiceAtLocation]:
        return [x for x in self.service_at_locations if x.service_id == service_id]


# ------------------------------------------------------------------------------------- the flat view


@dataclass(frozen=True, slots=True)
class KaartRow:
    """One service at one location (or a service without location), as in the spreadsheet template.

    ``to_dict()`` matches ``sociale_kaart/schema.json``. ``service_id``/``location_id``/``organization_id``
    are the UUIDs; ``dienst_id`` etc. what the gemeente wrote (or the UUID when it wrote nothing).
    """

    organization_id: str
    service_id: str
    location_id: str  # "" for a service without location
    organisatie_id: str
    organisatie: str
    dienst_id: str
    dienst: str
    omschrijving: str
    voor_wie: str
    leefgebieden: tuple[str, ...]
    onderwerpen: tuple[str, ...]
    minimum_leeftijd: int | None
    maximum_leeftijd: int | None
    kosten: str
    aanmelden: str
    locatie_id: str
    locatienaam: str
    straat: str
    huisnummer: str
    postcode: str
    plaats: str
    provincie: str
    telefoon: tuple[str, ...]
    whatsapp: tuple[str, ...]
    email: str
    website: str
    openingstijden: str
    uitzonderingen: str
    melding: str
    gecontroleerd_op: date | None
    gecontroleerd_door: str
    row: int = field(default=0, compare=False)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "row":
                continue
            name = f.name
            v = getattr(self, name)
            if isinstance(v, tuple):
                v = list(v)
            elif isinstance(v, date):
                v = v.isoformat()
            d[name] = v
        return d

    def csv_values(self, columns: Iterable[str]) -> list[str]:
        """Cell texts for the template columns (lists joined with ", " or "; ")."""
        out = []
        for c in columns:
            v = getattr(self, c)
            if v is None:
                out.append("")
            elif isinstance(v, tuple):
                out.append(("; " if c in ("telefoon", "whatsapp") else ", ").join(v))
            elif isinstance(v, date):
                out.append(v.isoformat())
            else:
                out.append(str(v))
        return out


def kaart_rows(kaart: Kaart) -> list[KaartRow]:
    """Flatten a kaart to template rows: per service an optional row without location (its own phones and
    hours), then one row per location. Parsing these rows gives the same kaart back."""
    orgs = {o.id: o for o in kaart.organizations}
    locs = {x.id: x for x in kaart.locations}
    sals: dict[str, list[ServiceAtLocation]] = {}
    for x in kaart.service_at_locations:
        sals.setdefault(x.service_id, []).append(x)
    rows: list[KaartRow] = []
    for s in kaart.services:
        org = orgs.get(s.organization_id) or Organization(id=s.organization_id, name="")
        here = sals.get(s.id, [])
        targets: list[tuple[Location | None, tuple[Phone, ...], Schedule | None, int]] = []
        if not here or s.phones or s.schedule is not None:
            targets.append((None, s.phones, s.schedule, s.row))
        targets.extend((locs[x.location_id], x.phones, x.schedule, x.row) for x in here)
        for loc, phones, sched, row in targets:
            addr = loc.address if loc and loc.address else Address(country="")
            rows.append(
                KaartRow(
                    organization_id=org.id,
                    service_id=s.id,
                    location_id=loc.id if loc else "",
                    organisatie_id=org.ref or org.id,
                    organisatie=org.name,
                    dienst_id=s.ref or s.id,
                    dienst=s.name,
                    omschrijving=s.description,
                    voor_wie=s.eligibility,
                    leefgebieden=s.leefgebieden,
                    onderwerpen=s.topics,
                    minimum_leeftijd=s.minimum_age,
                    maximum_leeftijd=s.maximum_age,
                    kosten=s.fees,
                    aanmelden=s.application_process,
                    locatie_id=(loc.ref or loc.id) if loc else "",
                    locatienaam=loc.name if loc else "",
                    straat=addr.street,
                    huisnummer=addr.house_number,
                    postcode=addr.postal_code,
                    plaats=addr.city,
                    provincie=addr.province,
                    telefoon=tuple(p.number for p in phones if p.kind == "voice"),
                    whatsapp=tuple(p.number for p in phones if p.kind == "whatsapp"),
                    email=s.email,
                    website=s.url,
                    openingstijden=format_week(sched) if sched else "",
                    uitzonderingen=format_exceptions(sched) if sched else "",
                    melding=s.alert,
                    gecontroleerd_op=s.assured_date,
                    gecontroleerd_door=s.assurer_email,
                    row=row,
                )
            )
    return rows


# ----------------------------------------------------------------------------------------- taxonomy


@dataclass(frozen=True)
class Taxonomy:
    """Leefgebieden and topics from ``backend/content/taxonomy.toml`` (ids are stable)."""

    leefgebieden: dict[str, str]  # id -> label, in file order
    topics: dict[str, tuple[str, str]]  # id -> (label, leefgebied id)

    def label(self, term_id: str) -> str:
        if term_id in self.leefgebieden:
            return self.leefgebieden[term_id]
        return self.topics[term_id][0] if term_id in self.topics else term_id


@lru_cache(maxsize=4)
def load_taxonomy(path: Path = TAXONOMY_PATH) -> Taxonomy:
    with path.open("rb") as f:
        data = tomllib.load(f)
    leefgebieden = {str(x["id"]): str(x.get("label", x["id"])) for x in data.get("leefgebied", [])}
    topics = {str(x["id"]): (str(x.get("label", x["id"])), str(x.get("leefgebied", ""))) for x in data.get("topic", [])}
    return Taxonomy(leefgebieden=leefgebieden, topics=topics)

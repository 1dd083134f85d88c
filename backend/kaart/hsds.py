"""HSDS 3.0 (Open Referral) export and import of a kaart.

Export
    ``to_hsds(kaart)``             list of fully nested HSDS "service" objects (organization,
                                   service_at_locations with location and addresses, phones, schedules,
                                   attributes); ``to_hsds_json`` gives the bytes.
    ``to_datapackage(kaart)``      the same as an HSDS tabular data package: a zip with datapackage.json
                                   and one CSV per object (services.csv, organizations.csv, ...).

Import (``import_json``, ``import_datapackage``) accepts a list of services, a single service, a page
(``{"contents": [...]}``) or ``{"services": [...]}``, and the tabular package. Unknown fields are ignored.
Everything goes through the same validation as a spreadsheet, so ``import(export(k)) == k``.

How Startklaar's fields map onto HSDS:

- leefgebieden/onderwerpen: ``attributes`` with taxonomy terms from the taxonomies
  ``startklaar-leefgebieden`` / ``startklaar-onderwerpen`` (term ``code`` = our id);
- the gemeente's own ids: service attribute with ``link_type`` "dienst_id" (value = id), organization
  identifier with ``identifier_type`` "organisatie_id", location ``external_identifier`` (type "locatie_id");
- kosten -> ``fees_description``, aanmelden -> ``application_process``, voor_wie ->
  ``eligibility_description``, melding -> ``alert``, gecontroleerd_op/-door -> ``assured_date``/
  ``assurer_email``; WhatsApp -> phone with type "text" and description "WhatsApp";
- opening hours: one WEEKLY schedule per distinct slot (``byday`` lists the days; a ``closes_at`` at or
  before ``opens_at`` means the next day); a dated exception is a schedule with ``valid_from``/``valid_to``
  and either times or description "Gesloten"; "feestdagen gesloten" and "op afspraak" are schedules with
  only a description. Times are Amsterdam wall-clock time.
"""

from __future__ import annotations

import csv
import io
import json
import posixpath
import re
import zipfile
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any

from backend.kaart.records import (
    Kaart,
    Location,
    Organization,
    Phone,
    Service,
    ServiceAtLocation,
    Taxonomy,
    load_taxonomy,
    stable_id,
)
from backend.kaart.safety import (
    DEFAULT_LIMITS,
    Limits,
    UploadError,
    check_zip,
    escape_formula,
    read_member,
    unescape_formula,
)
from backend.kaart.schedule import (
    DAY,
    DateException,
    Schedule,
    Slot,
    format_exceptions,
    format_week,
)
from backend.kaart.validation import ParseResult, Report, SourceRow, build_kaart

__all__ = [
    "TABLES",
    "import_datapackage",
    "import_json",
    "schedule_from_hsds",
    "schedule_to_hsds",
    "to_datapackage",
    "to_hsds",
    "to_hsds_json",
]

TAXONOMY_LEEFGEBIEDEN = "startklaar-leefgebieden"
TAXONOMY_ONDERWERPEN = "startklaar-onderwerpen"
TAXONOMY_IDS = "startklaar-ids"
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")

# Tabular resources we write and read: name -> (file, columns in HSDS order).
TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "organization": (
        "organizations.csv",
        (
            "id",
            "name",
            "alternate_name",
            "description",
            "email",
            "website",
            "tax_status",
            "tax_id",
            "year_incorporated",
            "legal_status",
            "logo",
            "uri",
            "parent_organization_id",
        ),
    ),
    "organization_identifier": (
        "organization_identifiers.csv",
        ("id", "organization_id", "identifier_scheme", "identifier_type", "identifier"),
    ),
    "service": (
        "services.csv",
        (
            "id",
            "organization_id",
            "program_id",
            "name",
            "alternate_name",
            "description",
            "url",
            "email",
            "status",
            "interpretation_services",
            "application_process",
            "fees_description",
            "wait_time",
            "fees",
            "accreditations",
            "eligibility_description",
            "minimum_age",
            "maximum_age",
            "assured_date",
            "assurer_email",
            "licenses",
            "alert",
            "last_modified",
        ),
    ),
    "service_at_location": ("service_at_location.csv", ("id", "service_id", "location_id", "description")),
    "location": (
        "locations.csv",
        (
            "id",
            "location_type",
            "url",
            "organization_id",
            "name",
            "alternate_name",
            "description",
            "transportation",
            "latitude",
            "longitude",
            "external_identifier",
            "external_identifier_type",
        ),
    ),
    "address": (
        "addresses.csv",
        (
            "id",
            "location_id",
            "attention",
            "address_1",
            "address_2",
            "city",
            "region",
            "state_province",
            "postal_code",
            "country",
            "address_type",
        ),
    ),
    "phone": (
        "phones.csv",
        (
            "id",
            "location_id",
            "service_id",
            "organization_id",
            "contact_id",
            "service_at_location_id",
            "number",
            "extension",
            "type",
            "description",
        ),
    ),
    "schedule": (
        "schedules.csv",
        (
            "id",
            "service_id",
            "location_id",
            "service_at_location_id",
            "valid_from",
            "valid_to",
            "dtstart",
            "timezone",
            "until",
            "count",
            "wkst",
            "freq",
            "interval",
            "byday",
            "byweekno",
            "bymonthday",
            "byyearday",
            "description",
            "opens_at",
            "closes_at",
            "schedule_link",
            "attending_type",
            "notes",
        ),
    ),
    "attribute": ("attributes.csv", ("id", "link_id", "taxonomy_term_id", "link_type", "link_entity", "value")),
    "taxonomy_term": (
        "taxonomy_terms.csv",
        ("id", "code", "name", "description", "parent_id", "taxonomy", "language", "taxonomy_id", "term_uri"),
    ),
}
_NUMBER_FIELDS = frozenset(
    {
        "minimum_age",
        "maximum_age",
        "latitude",
        "longitude",
        "extension",
        "year_incorporated",
        "timezone",
        "count",
        "interval",
    }
)
_DATE_FIELDS = frozenset({"assured_date", "valid_from", "valid_to", "dtstart", "until"})
_TIME_FIELDS = frozenset({"opens_at", "closes_at"})

# Canonical column -> what the HSDS user sees in messages.
_LABELS = {
    "organisatie": "organization.name",
    "organisatie_id": "organization.id",
    "dienst_id": "id",
    "dienst": "name",
    "omschrijving": "description",
    "voor_wie": "eligibility_description",
    "leefgebieden": "attributes",
    "onderwerpen": "attributes",
    "minimum_leeftijd": "minimum_age",
    "maximum_leeftijd": "maximum_age",
    "kosten": "fees_description",
    "aanmelden": "application_process",
    "locatie_id": "location.id",
    "locatienaam": "location.name",
    "straat": "address_1",
    "huisnummer": "address_1",
    "postcode": "postal_code",
    "plaats": "city",
    "provincie": "state_province",
    "telefoon": "phones",
    "whatsapp": "phones",
    "email": "email",
    "website": "url",
    "openingstijden": "schedules",
    "uitzonderingen": "schedules",
    "melding": "alert",
    "gecontroleerd_op": "assured_date",
    "gecontroleerd_door": "assurer_email",
}


def _hhmm(minutes: int) -> str:
    minutes %= DAY
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


# ------------------------------------------------------------------------------------------- export


def schedule_to_hsds(schedule: Schedule, parent_id: str) -> list[dict[str, Any]]:
    """HSDS schedule objects for one Schedule (ids derived from ``parent_id``)."""
    out: list[dict[str, Any]] = []

    def add(obj: dict[str, Any]) -> None:
        out.append({"id": stable_id("schedule", parent_id, str(len(out))), **obj})

    by_slot: dict[Slot, list[int]] = {}
    for day, slots in enumerate(schedule.week):
        for slot in slots:
            by_slot.setdefault(slot, []).append(day)
    for slot, days in by_slot.items():
        add(
            {
                "freq": "WEEKLY",
                "wkst": "MO",
                "interval": 1,
                "byday": ",".join(WEEKDAYS[d] for d in days),
                "opens_at": _hhmm(slot.opens),
                "closes_at": _hhmm(slot.closes),
            }
        )
    for exc in schedule.exceptions:
        dates = {"valid_from": exc.start.isoformat(), "valid_to": exc.end.isoformat()}
        if exc.closed:
            add({**dates, "description": "Gesloten"})
        for slot in exc.slots:
            add(
                {
                    **dates,
                    "opens_at": _hhmm(slot.opens),
                    "closes_at": _hhmm(slot.closes),
                    "description": "Afwijkende openingstijden",
                }
            )
    if schedule.closed_on_holidays:
        add({"description": "Gesloten op Nederlandse feestdagen", "notes": "feestdagen gesloten"})
    if schedule.by_appointment:
        add({"description": "Op afspraak", "attending_type": "op afspraak"})
    return out


def _phones_json(phones: Iterable[Phone], parent_id: str) -> list[dict[str, Any]]:
    out = []
    for i, p in enumerate(phones):
        obj: dict[str, Any] = {"id": stable_id("phone", parent_id, str(i)), "number": p.number}
        if p.kind == "whatsapp":
            obj.update(type="text", description="WhatsApp")
        else:
            obj["type"] = "voice"
        out.append(obj)
    return out


def _term_json(taxonomy_name: str, code: str, label: str) -> dict[str, Any]:
    return {
        "id": stable_id("taxonomy_term", taxonomy_name, code),
        "code": code,
        "name": label,
        "description": label,
        "taxonomy": taxonomy_name,
        "language": "nl",
    }


def _attribute(service_id: str, link_type: str, term: dict[str, Any], value: str = "") -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": stable_id("attribute", service_id, link_type, term["code"], value),
        "link_id": service_id,
        "taxonomy_term_id": term["id"],
        "link_type": link_type,
        "link_entity": "service",
        "taxonomy_term": term,
    }
    if value:
        obj["value"] = value
    return obj


def _organization_json(org: Organization) -> dict[str, Any]:
    obj: dict[str, Any] = {"id": org.id, "name": org.name, "description": ""}
    if org.ref:
        obj["organization_identifiers"] = [
            {
                "id": stable_id("organization_identifier", org.id),
                "organization_id": org.id,
                "identifier_scheme": "startklaar",
                "identifier_type": "organisatie_id",
                "identifier": org.ref,
            }
        ]
    return obj


def _location_json(loc: Location) -> dict[str, Any]:
    obj: dict[str, Any] = {"id": loc.id, "location_type": loc.location_type}
    if loc.name:
        obj["name"] = loc.name
    if loc.ref:
        obj.update(external_identifier=loc.ref, external_identifier_type="locatie_id")
    if loc.address is not None:
        a = loc.address
        obj["addresses"] = [
            {
                "id": stable_id("address", loc.id),
                "location_id": loc.id,
                "address_1": a.address_1,
                "city": a.city,
                "state_province": a.province,
                "postal_code": a.postal_code,
                "country": a.country or "NL",
                "address_type": "physical",
            }
        ]
    return obj


def to_hsds(kaart: Kaart, taxonomy: Taxonomy | None = None) -> list[dict[str, Any]]:
    """Fully nested HSDS 3.0 service objects, one per service."""
    tax = taxonomy or load_taxonomy()
    orgs = {o.id: o for o in kaart.organizations}
    locs = {x.id: x for x in kaart.locations}
    sals: dict[str, list[ServiceAtLocation]] = {}
    for x in kaart.service_at_locations:
        sals.setdefault(x.service_id, []).append(x)
    return [_service_json(s, orgs, locs, sals.get(s.id, []), tax) for s in kaart.services]


def _service_json(
    s: Service,
    orgs: Mapping[str, Organization],
    locs: Mapping[str, Location],
    sals: list[ServiceAtLocation],
    tax: Taxonomy,
) -> dict[str, Any]:
    obj: dict[str, Any] = {"id": s.id, "organization_id": s.organization_id, "name": s.name, "status": "active"}
    for key, value in (
        ("description", s.description),
        ("url", s.url),
        ("email", s.email),
        ("application_process", s.application_process),
        ("fees_description", "Gratis" if s.free else s.fees),
        ("eligibility_description", s.eligibility),
        ("alert", s.alert),
        ("assurer_email", s.assurer_email),
    ):
        if value:
            obj[key] = value
    if s.minimum_age is not None:
        obj["minimum_age"] = s.minimum_age
    if s.maximum_age is not None:
        obj["maximum_age"] = s.maximum_age
    if s.assured_date is not None:
        obj["assured_date"] = s.assured_date.isoformat()
    if s.phones:
        obj["phones"] = _phones_json(s.phones, s.id)
    if s.schedule is not None:
        obj["schedules"] = schedule_to_hsds(s.schedule, s.id)
    if sals:
        items = []
        for x in sals:
            item: dict[str, Any] = {"id": x.id, "service_id": s.id, "location_id": x.location_id}
            if x.phones:
                item["phones"] = _phones_json(x.phones, x.id)
            if x.schedule is not None:
                item["schedules"] = schedule_to_hsds(x.schedule, x.id)
            item["location"] = _location_json(locs[x.location_id])
            items.append(item)
        obj["service_at_locations"] = items
    org = orgs.get(s.organization_id)
    if org is not None:
        obj["organization"] = _organization_json(org)
    attributes = [
        _attribute(s.id, "leefgebied", _term_json(TAXONOMY_LEEFGEBIEDEN, lg, tax.label(lg))) for lg in s.leefgebieden
    ]
    attributes += [_attribute(s.id, "onderwerp", _term_json(TAXONOMY_ONDERWERPEN, t, tax.label(t))) for t in s.topics]
    if s.ref:
        term = _term_json(TAXONOMY_IDS, "dienst_id", "Eigen id van de dienst bij de gemeente")
        attributes.append(_attribute(s.id, "dienst_id", term, s.ref))
    if attributes:
        obj["attributes"] = attributes
    return obj


def to_hsds_json(kaart: Kaart, taxonomy: Taxonomy | None = None) -> bytes:
    return json.dumps(to_hsds(kaart, taxonomy), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _csv_cell(name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return escape_formula(str(value))


def to_datapackage(kaart: Kaart, taxonomy: Taxonomy | None = None) -> bytes:
    """The kaart as an HSDS tabular data package (zip bytes)."""
    tables: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in TABLES}

    def put(table: str, obj: Mapping[str, Any], **links: str) -> None:
        row = {k: v for k, v in obj.items() if not isinstance(v, list | dict)}
        row.update({k: v for k, v in links.items() if v})
        tables[table].setdefault(row["id"], row)

    for svc in to_hsds(kaart, taxonomy):
        put("service", svc)
        if org := svc.get("organization"):
            put("organization", org)
            for ident in org.get("organization_identifiers", []):
                put("organization_identifier", ident)
        for p in svc.get("phones", []):
            put("phone", p, service_id=svc["id"])
        for sch in svc.get("schedules", []):
            put("schedule", sch, service_id=svc["id"])
        for attr in svc.get("attributes", []):
            put("attribute", attr)
            put("taxonomy_term", attr["taxonomy_term"])
        for sal in svc.get("service_at_locations", []):
            put("service_at_location", sal)
            for p in sal.get("phones", []):
                put("phone", p, service_at_location_id=sal["id"])
            for sch in sal.get("schedules", []):
                put("schedule", sch, service_at_location_id=sal["id"])
            loc = sal["location"]
            put("location", loc)
            for addr in loc.get("addresses", []):
                put("address", addr)

    buf = io.BytesIO()
    resources = []
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, (path, columns) in TABLES.items():
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\r\n")
            writer.writerow(columns)
            for row in tables[name].values():
                writer.writerow([_csv_cell(c, row.get(c)) for c in columns])
            zf.writestr(path, out.getvalue().encode("utf-8"))
            resources.append(
                {
                    "name": name,
                    "path": path,
                    "profile": "tabular-data-resource",
                    "format": "csv",
                    "mediatype": "text/csv",
                    "encoding": "utf-8",
                    "schema": {"primaryKey": "id", "fields": [{"name": c, "type": _field_type(c)} for c in columns]},
                }
            )
        descriptor = {
            "name": "startklaar-sociale-kaart",
            "title": "Sociale kaart (Startklaar), Human Services Data Specification 3.0",
            "profile": "tabular-data-package",
            "version": "3.0.0",
            "resources": resources,
        }
        zf.writestr("datapackage.json", json.dumps(descriptor, ensure_ascii=False, indent=2))
    return buf.getvalue()


def _field_type(column: str) -> str:
    if column in _NUMBER_FIELDS:
        return "number"
    if column in _DATE_FIELDS:
        return "date"
    if column in _TIME_FIELDS:
        return "time"
    return "datetime" if column == "last_modified" else "string"


# ------------------------------------------------------------------------------------------- import


def _s(value: Any) -> str:
    """A scalar as text ("" for missing, lists and objects)."""
    if value is None or isinstance(value, bool | list | dict):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


_RE_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?$")


def _minutes(value: Any) -> int | None:
    m = _RE_TIME.match(_s(value))
    if not m or int(m[1]) > 24 or int(m[2]) > 59:
        return None
    return min(int(m[1]) * 60 + int(m[2]), DAY)


def _iso_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(_s(value)[:10])
    except ValueError:
        return None


def schedule_from_hsds(items: Iterable[Any], warn: Callable[[str], None]) -> Schedule | None:
    """A Schedule from HSDS schedule objects (what we cannot represent is skipped with a warning)."""
    week: list[list[Slot]] = [[] for _ in range(7)]
    exceptions: dict[tuple[date, date], list[Slot]] = {}
    holidays = appointment = False
    for item in items:
        if not isinstance(item, dict):
            continue
        freq = _s(item.get("freq")).upper()
        byday = _s(item.get("byday")).upper()
        opens, closes = _minutes(item.get("opens_at")), _minutes(item.get("closes_at"))
        text = " ".join(_s(item.get(k)) for k in ("description", "notes", "attending_type")).casefold()
        slot = None
        if opens is not None and closes is not None and opens < DAY:
            slot = Slot(opens, closes if closes > opens else closes + DAY)
        valid_from = _iso_date(item.get("valid_from"))
        if freq == "WEEKLY" or (not freq and byday and valid_from is None):
            interval = _s(item.get("interval")) or "1"
            days = [d.strip() for d in byday.split(",") if d.strip()]
            if interval != "1" or any(d not in WEEKDAYS for d in days) or not days:
                warn(f"een schema dat niet elke week gelijk is ({byday or 'zonder dagen'}) is overgeslagen.")
                continue
            if slot is None:
                if "gesloten" not in text:
                    warn(f"een schema op {byday} zonder geldige opens_at/closes_at is overgeslagen.")
                continue
            for d in days:
                if slot not in week[WEEKDAYS.index(d)]:
                    week[WEEKDAYS.index(d)].append(slot)
        elif freq:
            warn(f"een schema met freq {freq} is overgeslagen; alleen wekelijkse tijden worden gelezen.")
        elif valid_from is not None:
            valid_to = _iso_date(item.get("valid_to")) or valid_from
            if valid_to < valid_from:
                warn(f"een uitzondering met valid_to voor valid_from ({valid_from}) is overgeslagen.")
                continue
            slots = exceptions.setdefault((valid_from, valid_to), [])
            if slot is not None and slot not in slots:
                slots.append(slot)
        elif "feestdag" in text:
            holidays = True
        elif "afspraak" in text:
            appointment = True
        elif slot is not None:
            warn("een schema met tijden maar zonder dagen (byday) is overgeslagen.")
    schedule = Schedule(
        week=tuple(tuple(sorted(d)) for d in week),
        exceptions=tuple(DateException(a, b, tuple(sorted(s))) for (a, b), s in sorted(exceptions.items())),
        closed_on_holidays=holidays,
        by_appointment=appointment,
    )
    return None if schedule.is_empty else schedule


def _contact_values(phones: Any, schedules: Any, warn: Callable[[str], None]) -> dict[str, str]:
    voice: list[str] = []
    whatsapp: list[str] = []
    for p in phones if isinstance(phones, list) else []:
        if not isinstance(p, dict) or not _s(p.get("number")):
            continue
        kind = _s(p.get("type")).casefold()
        desc = _s(p.get("description")).casefold()
        if "whatsapp" in desc or kind == "whatsapp":
            whatsapp.append(_s(p["number"]))
        elif kind in ("", "voice", "cell", "mobile", "phone"):
            voice.append(_s(p["number"]))
    out = {"telefoon": "; ".join(voice), "whatsapp": "; ".join(whatsapp)}
    sched = schedule_from_hsds(schedules if isinstance(schedules, list) else [], warn)
    if sched is not None:
        out["openingstijden"] = format_week(sched)
        out["uitzonderingen"] = format_exceptions(sched)
    return out


def _address_values(loc: Mapping[str, Any]) -> dict[str, str]:
    addresses = [a for a in loc.get("addresses") or [] if isinstance(a, dict)]
    if not addresses:
        return {}
    addr = next((a for a in addresses if _s(a.get("address_type")) in ("physical", "")), addresses[0])
    line = _s(addr.get("address_1"))
    out = {
        "postcode": _s(addr.get("postal_code")),
        "plaats": _s(addr.get("city")),
        "provincie": _s(addr.get("state_province")),
    }
    if re.fullmatch(r"\d{1,5}(?:\s*[-/]?\s*[A-Za-z0-9]{1,8})?", line):
        out["huisnummer"] = line
    else:
        out["straat"] = line
    return out


def _rows_from_services(
    services: list[Any],
    report: Report,
    *,
    numbers: list[int] | None = None,
    where: str = "Dienst {n}",
    organizations: Mapping[str, Any] | None = None,
    locations: Mapping[str, Any] | None = None,
) -> list[SourceRow]:
    rows: list[SourceRow] = []
    organizations = organizations or {}
    locations = locations or {}
    for i, svc in enumerate(services):
        n = numbers[i] if numbers else i + 1
        label = where.format(n=n)
        if not isinstance(svc, dict):
            report.error("is geen object; deze dienst is overgeslagen.", where=label)
            continue
        name = _s(svc.get("name"))
        if name:
            label = f"{label} ('{name[:60]}')"
        status = _s(svc.get("status")).casefold()
        alert = _s(svc.get("alert"))
        if status in ("inactive", "defunct"):
            report.warning(f"heeft status '{status}' en is niet overgenomen.", where=label)
            continue
        if status == "temporarily closed" and not alert:
            alert = "Tijdelijk gesloten."

        def warn(message: str, label: str = label) -> None:
            report.warning(message, where=label)

        org = svc.get("organization")
        if not isinstance(org, dict):
            org = organizations.get(_s(svc.get("organization_id"))) or {}
        org_uuid = _s(org.get("id")) or _s(svc.get("organization_id"))
        org_ref = next(
            (
                _s(x.get("identifier"))
                for x in org.get("organization_identifiers") or []
                if isinstance(x, dict) and _s(x.get("identifier_type")) == "organisatie_id"
            ),
            "",
        )
        leefgebieden: list[str] = []
        topics: list[str] = []
        svc_ref = ""
        for attr in svc.get("attributes") or []:
            if not isinstance(attr, dict):
                continue
            raw_term = attr.get("taxonomy_term")
            term: dict[str, Any] = raw_term if isinstance(raw_term, dict) else {}
            taxonomy, code = _s(term.get("taxonomy")), _s(term.get("code"))
            link_type = _s(attr.get("link_type"))
            if link_type == "dienst_id" or (taxonomy == TAXONOMY_IDS and code == "dienst_id"):
                svc_ref = _s(attr.get("value"))
            elif taxonomy == TAXONOMY_LEEFGEBIEDEN and code:
                leefgebieden.append(code)
            elif taxonomy == TAXONOMY_ONDERWERPEN and code:
                topics.append(code)
        svc_uuid = _s(svc.get("id"))
        base = {
            "organisatie_id": org_ref or org_uuid,
            "_organization_uuid": org_uuid,
            "organisatie": _s(org.get("name")),
            "dienst_id": svc_ref or svc_uuid,
            "_service_uuid": svc_uuid,
            "dienst": name,
            "omschrijving": _s(svc.get("description")),
            "voor_wie": _s(svc.get("eligibility_description")),
            "leefgebieden": ", ".join(leefgebieden),
            "onderwerpen": ", ".join(topics),
            "minimum_leeftijd": _s(svc.get("minimum_age")),
            "maximum_leeftijd": _s(svc.get("maximum_age")),
            "kosten": _s(svc.get("fees_description")) or _s(svc.get("fees")),
            "aanmelden": _s(svc.get("application_process")),
            "email": _s(svc.get("email")),
            "website": _s(svc.get("url")),
            "melding": alert,
            "gecontroleerd_op": _s(svc.get("assured_date")),
            "gecontroleerd_door": _s(svc.get("assurer_email")),
        }
        sals = [x for x in svc.get("service_at_locations") or [] if isinstance(x, dict)]
        own_contact = bool(svc.get("phones") or svc.get("schedules"))
        if own_contact or not sals:
            rows.append(SourceRow(n, {**base, **_contact_values(svc.get("phones"), svc.get("schedules"), warn)}, label))
        for j, sal in enumerate(sals, start=1):
            loc = sal.get("location")
            if not isinstance(loc, dict):
                loc = locations.get(_s(sal.get("location_id"))) or {}
            loc_uuid = _s(loc.get("id")) or _s(sal.get("location_id"))
            loc_ref = (
                _s(loc.get("external_identifier"))
                if _s(loc.get("external_identifier_type")) in ("locatie_id", "")
                else ""
            )
            phones = sal.get("phones") or loc.get("phones")
            schedules = sal.get("schedules") or loc.get("schedules")
            values = {
                **base,
                "locatie_id": loc_ref or loc_uuid,
                "_location_uuid": loc_uuid,
                "locatienaam": _s(loc.get("name")),
                **_address_values(loc),
                **_contact_values(phones, schedules, warn),
            }
            rows.append(SourceRow(n, values, f"{label}, locatie {j}"))
    return rows


def _load_json(data: bytes | str) -> Any:
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
        return json.loads(text)
    except UnicodeDecodeError as exc:
        raise UploadError("Het JSON-bestand is niet in UTF-8 opgeslagen.") from exc
    except RecursionError as exc:
        raise UploadError("Het JSON-bestand is te diep genest.") from exc
    except ValueError as exc:
        raise UploadError(f"Het JSON-bestand is geen geldige JSON: {exc}.") from exc


def _services_of(doc: Any) -> list[Any]:
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict):
        for key in ("contents", "services", "items"):
            if isinstance(doc.get(key), list):
                return list(doc[key])
        if "name" in doc and ("id" in doc or "organization" in doc):
            return [doc]
    raise UploadError(
        "In dit JSON-bestand staan geen HSDS-diensten. Verwacht: een lijst met diensten (HSDS 3.0 'service')."
    )


def import_json(
    data: bytes | str | list[Any] | dict[str, Any],
    *,
    namespace: str = "",
    taxonomy: Taxonomy | None = None,
    today: date | None = None,
) -> ParseResult:
    """HSDS 3.0 JSON (bytes, text or already parsed) to a kaart plus report."""
    doc = _load_json(data) if isinstance(data, bytes | str) else data
    report = Report()
    rows = _rows_from_services(_services_of(doc), report)
    return build_kaart(
        rows, namespace=namespace, taxonomy=taxonomy, today=today, report=report, column_labels=_LABELS, fmt="hsds-json"
    )


def _read_table(zf: zipfile.ZipFile, path: str | None, limits: Limits) -> list[dict[str, str]]:
    if path is None:
        return []
    data = read_member(zf, zf.getinfo(path), limits)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        return [
            {(k or "").strip(): unescape_formula(v or "") for k, v in row.items() if isinstance(v, str)}
            for row in reader
        ]
    except csv.Error as exc:
        raise UploadError(f"'{path}' in het zip-bestand is geen geldige CSV: {exc}.") from exc


def import_datapackage(
    data: bytes,
    *,
    namespace: str = "",
    taxonomy: Taxonomy | None = None,
    today: date | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> ParseResult:
    """An HSDS tabular data package (zip with datapackage.json and CSVs) to a kaart plus report."""
    zf = check_zip(data, limits)
    with zf:
        files = [i.filename for i in zf.infolist() if not i.is_dir()]
        by_base: dict[str, str] = {}
        for f in sorted(files, key=lambda f: (f.count("/"), f)):
            by_base.setdefault(posixpath.basename(f).lower(), f)
        paths: dict[str, str] = {}
        if dp := by_base.get("datapackage.json"):
            descriptor = _load_json(read_member(zf, zf.getinfo(dp), limits))
            root = posixpath.dirname(dp)
            for res in descriptor.get("resources", []) if isinstance(descriptor, dict) else []:
                if isinstance(res, dict) and isinstance(res.get("path"), str) and isinstance(res.get("name"), str):
                    full = posixpath.normpath(posixpath.join(root, res["path"]))
                    if full in files:
                        paths[res["name"]] = full
        for name, (default, _cols) in TABLES.items():
            paths.setdefault(name, by_base.get(default, ""))
        if not paths["service"]:
            raise UploadError("In het zip-bestand staat geen services.csv (HSDS-datapakket).")
        t = {name: _read_table(zf, paths[name] or None, limits) for name in TABLES}

    def group(rows: list[dict[str, Any]], key: str, *, unless: tuple[str, ...] = ()) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        for r in rows:
            if r.get(key) and not any(r.get(u) for u in unless):
                out.setdefault(r[key], []).append(r)
        return out

    idents = group(t["organization_identifier"], "organization_id")
    organizations = {
        o["id"]: {**o, "organization_identifiers": idents.get(o["id"], [])} for o in t["organization"] if o.get("id")
    }
    addresses = group(t["address"], "location_id")
    loc_phones = group(t["phone"], "location_id", unless=("service_id", "service_at_location_id"))
    loc_schedules = group(t["schedule"], "location_id", unless=("service_id", "service_at_location_id"))
    locations = {
        x["id"]: {
            **x,
            "addresses": addresses.get(x["id"], []),
            "phones": loc_phones.get(x["id"], []),
            "schedules": loc_schedules.get(x["id"], []),
        }
        for x in t["location"]
        if x.get("id")
    }
    sal_phones = group(t["phone"], "service_at_location_id")
    sal_schedules = group(t["schedule"], "service_at_location_id")
    sals = group(
        [
            {**x, "phones": sal_phones.get(x.get("id", ""), []), "schedules": sal_schedules.get(x.get("id", ""), [])}
            for x in t["service_at_location"]
        ],
        "service_id",
    )
    svc_phones = group(t["phone"], "service_id", unless=("service_at_location_id",))
    svc_schedules = group(t["schedule"], "service_id", unless=("service_at_location_id",))
    terms = {x["id"]: x for x in t["taxonomy_term"] if x.get("id")}
    attributes = group(
        [{**a, "taxonomy_term": terms.get(a.get("taxonomy_term_id", ""), {})} for a in t["attribute"]],
        "link_id",
    )
    services = [
        {
            **s,
            "phones": svc_phones.get(s.get("id", ""), []),
            "schedules": svc_schedules.get(s.get("id", ""), []),
            "attributes": attributes.get(s.get("id", ""), []),
            "service_at_locations": sals.get(s.get("id", ""), []),
        }
        for s in t["service"]
    ]
    report = Report()
    rows = _rows_from_services(
        services,
        report,
        numbers=list(range(2, len(services) + 2)),
        where="services.csv rij {n}",
        organizations=organizations,
        locations=locations,
    )
    return build_kaart(
        rows, namespace=namespace, taxonomy=taxonomy, today=today, report=report, column_labels=_LABELS, fmt="hsds-zip"
    )

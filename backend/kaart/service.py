"""Sociale kaart rules: versions (upload, publish, rollback), search, service pages, export, corrections,
editors and API clients. Plain functions that take a session; they never commit.

Publishing is one transaction: lock the kaart's pointer row, archive the old version, mark the new one
published, move the pointer. Searchers read the pointer and then an immutable version, so they see the
old kaart or the new one, never a mix; a failure anywhere rolls the whole switch back.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote
from weakref import WeakKeyDictionary

from sqlalchemy import delete, event, func, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from backend.accounts import service as accounts
from backend.accounts.models import UserAccount, utcnow
from backend.errors import AppError, FieldErrors
from backend.gemeenten.models import Gemeente
from backend.gemeenten.service import all_gemeenten
from backend.kaart import hsds, postcodes
from backend.kaart.models import (
    ARCHIVED,
    DRAFT,
    LANDELIJK,
    OPEN,
    PUBLISHED,
    RESOLVED,
    KaartApiClient,
    KaartApiToken,
    KaartCorrection,
    KaartCurrent,
    KaartEditor,
    KaartService,
    KaartVersion,
)
from backend.kaart.parsing import kaart_to_csv, parse_upload
from backend.kaart.records import Kaart, Phone, Service, Taxonomy, load_taxonomy, stable_id
from backend.kaart.safety import DEFAULT_LIMITS, Limits, UploadError
from backend.kaart.schedule import DAY_CODES, TZ, Schedule, dutch_holidays, format_exceptions, format_week, slots_on
from backend.kaart.search import (
    Entry,
    Filters,
    VersionCache,
    VersionIndex,
    index_text,
    open_status,
    query_terms,
    rank,
    schedule_from_text,
)
from backend.kaart.search import one_line as _one_line
from backend.kaart.validation import ParseResult

# Versions kept in memory per API process: every gemeente's published kaart plus some drafts being
# previewed (about 1.5 KB per service, so some 220 KB for a version of 150 services).
CACHE_VERSIONS = 600
# How old this process's copy of the "current version" pointers may be on read paths (search, service
# pages, HSDS). Readers still get one whole version; another API process sees a publish within this time,
# the process that published sees it at once.
POINTER_TTL = 2.0
# Service pages: parsed records kept per process (a few KB each).
PARSED_SERVICES = 2000


class _LRU:
    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            while len(self._data) > self.size:
                self._data.popitem(last=False)


class _Caches:
    def __init__(self) -> None:
        self.versions = VersionCache(CACHE_VERSIONS)
        self.pointers: dict[str, tuple[float, int | None]] = {}  # kaart -> (read at, version id)
        self.parsed = _LRU(PARSED_SERVICES)  # (version id, service id) -> (Kaart, Service)


# One set of caches per engine (= per database): version ids are only unique within one database, and
# tests make a new database (and engine) for every test.
_caches: WeakKeyDictionary[Engine, _Caches] = WeakKeyDictionary()
_caches_lock = threading.Lock()

DAY_NAMES = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")
MAX_PER_PAGE = 100


def configure_cache(size: int) -> None:
    global CACHE_VERSIONS
    CACHE_VERSIONS = size
    with _caches_lock:
        _caches.clear()


def _caches_for(session: Session) -> _Caches:
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    with _caches_lock:
        found = _caches.get(engine)
        if found is None:
            found = _caches[engine] = _Caches()
        return found


def cache_for(session: Session) -> VersionCache:
    return _caches_for(session).versions


@dataclass(frozen=True)
class Actor:
    """Who changes a kaart, as written in the version history."""

    label: str
    user_id: int | None = None


# ------------------------------------------------------------------------------------------- kaarten


_by_code: tuple[tuple[Gemeente, ...], dict[str, Gemeente]] | None = None


def _gemeenten(session: Session) -> dict[str, Gemeente]:
    """Reference data by code, built once per process (all_gemeenten is read once too)."""
    global _by_code
    rows = all_gemeenten(session)
    if _by_code is None or _by_code[0] is not rows:
        _by_code = (rows, {g.code: g for g in rows})
    return _by_code[1]


def normalize_kaart(code: str) -> str:
    code = code.strip()
    return LANDELIJK if code.lower() == LANDELIJK else code.upper()


def kaart_name(session: Session, kaart: str) -> str:
    if kaart == LANDELIJK:
        return "Landelijke hulp"
    g = _gemeenten(session).get(kaart)
    return g.weergavenaam if g else kaart


def require_gemeente(session: Session, code: str) -> Gemeente:
    g = _gemeenten(session).get(code.strip().upper())
    if g is None:
        raise AppError(404, "Deze gemeente kennen we niet. Kies een gemeente uit de lijst.")
    return g


def require_kaart(session: Session, code: str) -> str:
    """A gemeente code or "landelijk"; 404 otherwise."""
    kaart = normalize_kaart(code)
    if kaart != LANDELIJK:
        require_gemeente(session, kaart)
    return kaart


# ------------------------------------------------------------------------------------------ editing


def may_edit(session: Session, user: UserAccount, kaart: str) -> bool:
    if user.role == "admin":
        return True
    if user.role != "editor" or kaart == LANDELIJK:
        return False
    return session.get(KaartEditor, (user.id, kaart)) is not None


def check_editor(session: Session, user: UserAccount, kaart: str) -> Actor:
    if user.role not in ("editor", "admin"):
        raise AppError(403, "Dit mag je niet doen met dit account.")
    if not may_edit(session, user, kaart):
        raise AppError(403, "Je bent geen redacteur van de sociale kaart van deze gemeente.")
    who = "beheerder" if user.role == "admin" else "redacteur"
    return Actor(f"{who} {user.username}", user.id)


def editable_kaarten(session: Session, user: UserAccount) -> list[dict[str, Any]]:
    """The kaarten this person may edit, with their state (for the beheer page)."""
    if user.role == "admin":
        with_versions = set(session.exec(select(KaartVersion.kaart).distinct()).all())
        codes = [LANDELIJK, *sorted(k for k in with_versions if k != LANDELIJK)]
    elif user.role == "editor":
        codes = sorted(session.exec(select(KaartEditor.gemeente_code).where(KaartEditor.user_id == user.id)).all())
    else:
        return []
    pointers = {p.kaart: p for p in session.exec(select(KaartCurrent).where(col(KaartCurrent.kaart).in_(codes)))}
    version_ids = [p.version_id for p in pointers.values() if p.version_id is not None]
    versions = {v.id: v for v in session.exec(select(KaartVersion).where(col(KaartVersion.id).in_(version_ids)))}
    open_counts = dict(
        session.exec(  # type: ignore[arg-type]
            select(KaartCorrection.kaart, func.count())
            .where(col(KaartCorrection.kaart).in_(codes), KaartCorrection.status == OPEN)
            .group_by(KaartCorrection.kaart)
        ).all()
    )
    out = []
    for code in codes:
        p = pointers.get(code)
        v = versions.get(p.version_id) if p and p.version_id else None
        out.append(
            {
                "kaart": code,
                "naam": kaart_name(session, code),
                "current_version_id": v.id if v else None,
                "published_at": v.published_at if v else None,
                "service_count": v.service_count if v else 0,
                "open_corrections": int(open_counts.get(code, 0)),
            }
        )
    return out


# ------------------------------------------------------------------------------------------- upload


class UploadInvalid(Exception):
    """The file was read but has errors: nothing is stored. Carries the Dutch report."""

    def __init__(self, result: ParseResult) -> None:
        super().__init__("upload has errors")
        self.result = result

    def body(self) -> dict[str, Any]:
        n = self.result.report.error_count
        return {
            "detail": (
                f"Het bestand heeft {n} {'fout' if n == 1 else 'fouten'}. Verbeter "
                f"{'die' if n == 1 else 'ze'} en upload het bestand opnieuw. Er is niets veranderd."
            ),
            "report": self.result.report.to_dict(),
        }


def parse_file(
    data: bytes,
    filename: str,
    content_type: str | None,
    kaart: str,
    today: date,
    limits: Limits = DEFAULT_LIMITS,
) -> ParseResult:
    """Parse and validate; a file refused as a whole becomes an AppError with its Dutch message."""
    try:
        return parse_upload(data, filename, content_type=content_type, namespace=kaart, today=today, limits=limits)
    except UploadError as exc:
        raise AppError(exc.status, exc.message) from exc
    except RecursionError as exc:
        raise AppError(422, "Het bestand is te diep genest om te lezen.") from exc


def _records(kaart: Kaart) -> tuple[list[str], str]:
    """Each service as compact HSDS JSON, and the content hash of the whole kaart."""
    parts = [json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in hsds.to_hsds(kaart)]
    digest = hashlib.sha256(("[" + ",".join(parts) + "]").encode()).hexdigest()
    return parts, digest


def _service_rows(
    kaart: Kaart, parts: list[str], version_id: int, previous: dict[str, tuple[str, datetime]], now: datetime
) -> list[dict[str, Any]]:
    tax = load_taxonomy()
    orgs = {o.id: o for o in kaart.organizations}
    locs = {x.id: x for x in kaart.locations}
    sals: dict[str, list[Any]] = {}
    for x in kaart.service_at_locations:
        sals.setdefault(x.service_id, []).append(x)
    rows = []
    for position, (s, record) in enumerate(zip(kaart.services, parts, strict=True)):
        here = sals.get(s.id, [])
        addresses = [a for x in here if (a := locs[x.location_id].address) is not None]
        places = list(dict.fromkeys(a.city for a in addresses if a.city))
        org = orgs.get(s.organization_id)
        schedules = [s.schedule] + [x.schedule for x in here]
        hours = [[format_week(sc), format_exceptions(sc)] for sc in schedules if sc is not None]
        name_part = index_text(s.name)
        meta_part = index_text(
            org.name if org else "",
            *(tax.label(t) for t in s.topics),
            *(t.replace("-", " ") for t in s.topics),
            *places,
            *(locs[x.location_id].name for x in here),
        )
        # Leefgebieden are broad: only their ids count, like the description ("Inkomen & schulden" would
        # make every service about money match "schulden").
        body_part = index_text(s.description, s.eligibility, *(x.replace("-", " ") for x in s.leefgebieden))
        record_hash = hashlib.sha256(record.encode()).hexdigest()
        before = previous.get(s.id)
        rows.append(
            {
                "version_id": version_id,
                "service_id": s.id,
                "position": position,
                "name": s.name,
                "organization": org.name if org else "",
                "description": s.description,
                "leefgebieden": "|".join(s.leefgebieden),
                "topics": "|".join(s.topics),
                "minimum_age": s.minimum_age,
                "maximum_age": s.maximum_age,
                "free": s.free,
                "postcodes": "|".join(a.postal_code for a in addresses if a.postal_code),
                "plaats": "|".join(places),
                "search_text": "\n".join((name_part, meta_part, body_part)),
                "hours": json.dumps(hours, ensure_ascii=False),
                "assured_date": s.assured_date,
                "record": record,
                "record_hash": record_hash,
                "modified_at": before[1] if before and before[0] == record_hash else now,
            }
        )
    return rows


def store_version(
    session: Session,
    kaart: str,
    result: ParseResult,
    filename: str,
    by: Actor,
    now: datetime | None = None,
) -> tuple[KaartVersion, bool]:
    """A draft version for a valid upload, or the existing version with the same content (created=False)."""
    if not result.report.ok:
        raise UploadInvalid(result)
    now = now or utcnow()
    parts, content_hash = _records(result.kaart)
    existing = _version_by_hash(session, kaart, content_hash)
    if existing is not None:
        return existing, False
    previous = _current_record_hashes(session, kaart)
    report = result.report.to_dict()
    version = KaartVersion(
        kaart=kaart,
        status=DRAFT,
        content_hash=content_hash,
        created_at=now,
        created_by=by.label[:120],
        source_filename=(filename or "")[-255:],
        source_format=result.format[:16],
        service_count=len(result.kaart.services),
        location_count=len(result.kaart.locations),
        organization_count=len(result.kaart.organizations),
        report=json.dumps(report, ensure_ascii=False, default=str),
    )
    try:
        # A savepoint: when a concurrent upload of the same content wins the unique constraint, only
        # this insert is undone and that version is returned.
        with session.begin_nested():
            session.add(version)
            session.flush()
            assert version.id is not None
            rows = _service_rows(result.kaart, parts, version.id, previous, now)
            if rows:
                # Core executemany (batched multi-row INSERTs): the ORM's bulk path costs more per row.
                session.connection().execute(insert(KaartService.__table__), rows)  # type: ignore[attr-defined]
    except IntegrityError:
        existing = _version_by_hash(session, kaart, content_hash)
        if existing is None:
            raise
        return existing, False
    return version, True


def _version_by_hash(session: Session, kaart: str, content_hash: str) -> KaartVersion | None:
    return session.exec(
        select(KaartVersion).where(KaartVersion.kaart == kaart, KaartVersion.content_hash == content_hash)
    ).first()


def _current_record_hashes(session: Session, kaart: str) -> dict[str, tuple[str, datetime]]:
    current = current_version_ids(session, [kaart]).get(kaart)
    if current is None:
        return {}
    rows = session.exec(
        select(KaartService.service_id, KaartService.record_hash, KaartService.modified_at).where(
            KaartService.version_id == current
        )
    ).all()
    return {sid: (h, m) for sid, h, m in rows}


# --------------------------------------------------------------------------------- publish & rollback


def current_version_ids(session: Session, kaarten: Sequence[str]) -> dict[str, int]:
    rows = session.exec(
        select(KaartCurrent.kaart, KaartCurrent.version_id).where(col(KaartCurrent.kaart).in_(list(kaarten)))
    ).all()
    return {k: v for k, v in rows if v is not None}


def published_version_ids(session: Session, kaarten: Sequence[str]) -> dict[str, int]:
    """current_version_ids for read paths, from this process's copy (at most POINTER_TTL seconds old).
    When one is stale, all pointers are read again (one small table), so a process asks the database at
    most once per POINTER_TTL however many gemeenten are searched."""
    caches = _caches_for(session)
    pointers = caches.pointers
    at = time.monotonic()
    if any((hit := pointers.get(k)) is None or at - hit[0] >= POINTER_TTL for k in kaarten):
        fresh = dict(session.exec(select(KaartCurrent.kaart, KaartCurrent.version_id)).all())
        # Every gemeente gets an entry, also without a kaart, so those do not ask the database each time.
        pointers = {k: (at, fresh.get(k)) for k in (*_gemeenten(session), LANDELIJK, *fresh, *kaarten)}
        caches.pointers = pointers  # replaced, not changed: readers on other threads see one or the other
    return {k: v for k in kaarten if (v := pointers[k][1]) is not None}


def _forget_pointer_after_commit(session: Session, kaart: str) -> None:
    """This process sees its own publish at once (others within POINTER_TTL)."""
    caches = _caches_for(session)
    event.listen(session, "after_commit", lambda _s: caches.pointers.pop(kaart, None), once=True)


def _lock_pointer(session: Session, kaart: str, now: datetime) -> KaartCurrent:
    """The kaart's pointer row, created when missing, locked until the transaction ends (PostgreSQL: FOR
    UPDATE; SQLite: the insert already makes this the single writer)."""
    dialect = session.get_bind().dialect.name
    make = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = make(KaartCurrent).values(kaart=kaart, version_id=None, updated_at=now, updated_by="")
    session.exec(stmt.on_conflict_do_nothing(index_elements=["kaart"]))  # type: ignore[call-overload]
    return session.exec(
        select(KaartCurrent)
        .where(KaartCurrent.kaart == kaart)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def _switch_pointer(session: Session, pointer: KaartCurrent, version_id: int, by: Actor, now: datetime) -> None:
    pointer.version_id = version_id
    pointer.updated_at = now
    pointer.updated_by = by.label[:120]
    session.add(pointer)
    session.flush()


def get_version(session: Session, kaart: str, version_id: int) -> KaartVersion:
    version = session.get(KaartVersion, version_id)
    if version is None or version.kaart != kaart:
        raise AppError(404, "Deze versie van de sociale kaart bestaat niet.")
    return version


def publish(session: Session, kaart: str, version_id: int, by: Actor, now: datetime | None = None) -> KaartVersion:
    """Make this version the one searchers see (also used for rollback). Idempotent."""
    now = now or utcnow()
    get_version(session, kaart, version_id)  # 404 before anything is written
    pointer = _lock_pointer(session, kaart, now)
    # Read the versions again under the lock: a publish that committed while we waited may have changed their
    # status, and a stale copy written back would leave the live version marked archived.
    version = _fresh_version(session, version_id)
    if pointer.version_id == version.id:
        if version.status != PUBLISHED:
            version.status = PUBLISHED
            session.add(version)
        return version
    if pointer.version_id is not None:
        old = _fresh_version(session, pointer.version_id)
        old.status = ARCHIVED
        session.add(old)
    version.status = PUBLISHED
    version.published_at = now
    version.published_by = by.label[:120]
    session.add(version)
    session.flush()
    _switch_pointer(session, pointer, version.id, by, now)  # type: ignore[arg-type]
    _forget_pointer_after_commit(session, kaart)
    return version


def _fresh_version(session: Session, version_id: int) -> KaartVersion:
    return session.exec(
        select(KaartVersion).where(KaartVersion.id == version_id).execution_options(populate_existing=True)
    ).one()


def rollback(
    session: Session, kaart: str, by: Actor, version_id: int | None = None, now: datetime | None = None
) -> KaartVersion:
    """Publish an earlier version again; by default the one that was live before the current one."""
    if version_id is None:
        current = current_version_ids(session, [kaart]).get(kaart)
        earlier = session.exec(
            select(KaartVersion)
            .where(
                KaartVersion.kaart == kaart,
                KaartVersion.status == ARCHIVED,
                col(KaartVersion.published_at).is_not(None),
                KaartVersion.id != (current or -1),
            )
            .order_by(col(KaartVersion.published_at).desc(), col(KaartVersion.id).desc())
        ).first()
        if earlier is None:
            raise AppError(409, "Er is geen eerdere gepubliceerde versie om naar terug te gaan.")
        version_id = earlier.id
    version = get_version(session, kaart, version_id)  # type: ignore[arg-type]
    if version.status == DRAFT:
        raise AppError(409, "Deze versie is nog nooit gepubliceerd. Kies Publiceren om hem online te zetten.")
    return publish(session, kaart, version.id, by, now)  # type: ignore[arg-type]


def list_versions(session: Session, kaart: str, limit: int = 100) -> list[tuple[KaartVersion, bool]]:
    current = current_version_ids(session, [kaart]).get(kaart)
    rows = session.exec(
        select(KaartVersion).where(KaartVersion.kaart == kaart).order_by(col(KaartVersion.id).desc()).limit(limit)
    ).all()
    return [(v, v.id == current) for v in rows]


def version_out(version: KaartVersion, current: bool, *, with_report: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": version.id,
        "kaart": version.kaart,
        "status": version.status,
        "current": current,
        "content_hash": version.content_hash,
        "created_at": version.created_at,
        "created_by": version.created_by,
        "source_filename": version.source_filename,
        "source_format": version.source_format,
        "service_count": version.service_count,
        "location_count": version.location_count,
        "organization_count": version.organization_count,
        "published_at": version.published_at,
        "published_by": version.published_by,
    }
    if with_report:
        out["report"] = json.loads(version.report or "{}")
    return out


def is_current(session: Session, version: KaartVersion) -> bool:
    return current_version_ids(session, [version.kaart]).get(version.kaart) == version.id


# ------------------------------------------------------------------------------------ the search index


def _split(value: str) -> tuple[str, ...]:
    return tuple(sys.intern(x) for x in value.split("|") if x)


def version_index(session: Session, version_id: int) -> VersionIndex:
    """The version's services for search, from the in-process cache (versions never change)."""
    cache = cache_for(session)
    found = cache.get(version_id)
    if found is not None:
        return found
    version = session.get(KaartVersion, version_id)
    if version is None:
        raise AppError(404, "Deze versie van de sociale kaart bestaat niet.")
    rows = session.exec(
        select(
            KaartService.service_id,
            KaartService.position,
            KaartService.name,
            KaartService.organization,
            KaartService.description,
            KaartService.leefgebieden,
            KaartService.topics,
            KaartService.minimum_age,
            KaartService.maximum_age,
            KaartService.free,
            KaartService.postcodes,
            KaartService.plaats,
            KaartService.search_text,
            KaartService.hours,
            KaartService.modified_at,
        )
        .where(KaartService.version_id == version_id)
        .order_by(col(KaartService.position))
    ).all()
    national = version.kaart == LANDELIJK
    kaart = sys.intern(version.kaart)
    entries = []
    for sid, pos, name, org, desc, areas, topics, lo, hi, free, pcs, places, text, hours, modified in rows:
        name_text, meta_text, body_text = (text.split("\n") + ["", "", ""])[:3]
        pc4s = tuple(dict.fromkeys(p for x in pcs.split("|") if (p := postcodes.pc4_of(x))))
        points = tuple((a.lat, a.lon) for p in pc4s if (a := postcodes.lookup(p)) is not None)
        entries.append(
            Entry(
                id=sid,
                kaart=kaart,
                national=national,
                position=pos,
                name=name,
                what=_one_line(desc),
                organization=org,
                leefgebieden=_split(areas),
                topics=_split(topics),
                minimum_age=lo,
                maximum_age=hi,
                free=bool(free),
                pc4s=pc4s,
                plaats=places.split("|")[0] if places else "",
                name_text=name_text,
                meta_text=meta_text,
                body_text=body_text,
                schedules=tuple(schedule_from_text(h, e) for h, e in json.loads(hours or "[]")),
                modified_at=modified,
                points=points,
            )
        )
    index = VersionIndex(version_id=version_id, kaart=kaart, entries=tuple(entries))
    cache.put(index)
    return index


# ------------------------------------------------------------------------------------ search (jongeren)


def check_terms(leefgebieden: Sequence[str], topics: Sequence[str]) -> None:
    tax = load_taxonomy()
    problems = {}
    if bad := [x for x in leefgebieden if x not in tax.leefgebieden]:
        problems["leefgebied"] = f"Dit leefgebied kennen we niet: {', '.join(bad[:3])}."
    if bad := [x for x in topics if x not in tax.topics]:
        problems["topic"] = f"Dit onderwerp kennen we niet: {', '.join(bad[:3])}."
    if problems:
        raise FieldErrors(problems)


def parse_origin(postcode: str | None) -> tuple[str | None, postcodes.Area | None]:
    """The jongere's postcode (normalized) and its area, or FieldErrors for something that is no postcode."""
    if not postcode or not postcode.strip():
        return None, None
    try:
        pc4, normalized = postcodes.parse_postcode(postcode)
    except postcodes.PostcodeError as exc:
        raise FieldErrors({"postcode": str(exc)}) from exc
    return normalized, postcodes.lookup(pc4)


def _open_fields(schedules: Sequence[Schedule], now: datetime) -> dict[str, Any]:
    is_open_now, closes, nxt = open_status(schedules, now)
    return {
        "is_open": is_open_now,
        "closes_at": closes,
        "next_open": nxt,
        "has_hours": any(any(s.week) or s.exceptions for s in schedules),
        "by_appointment": any(s.by_appointment for s in schedules),
    }


def _summary(e: Entry, now: datetime, distance: float | None, topic_hits: Iterable[str] = ()) -> dict[str, Any]:
    return {
        "id": e.id,
        "kaart": e.kaart,
        "national": e.national,
        "name": e.name,
        "what": e.what,
        "organization": e.organization,
        "leefgebieden": list(e.leefgebieden),
        "topics": list(e.topics),
        "matched_topics": list(topic_hits),
        "free": e.free,
        "minimum_age": e.minimum_age,
        "maximum_age": e.maximum_age,
        "plaats": e.plaats or None,
        "distance_km": round(distance, 1) if distance is not None else None,
        **_open_fields(e.schedules, now),
    }


def _published_indexes(session: Session, gemeente: str) -> tuple[VersionIndex | None, VersionIndex | None]:
    current = published_version_ids(session, [gemeente, LANDELIJK])
    local = version_index(session, current[gemeente]) if gemeente in current else None
    national = version_index(session, current[LANDELIJK]) if LANDELIJK in current else None
    return local, national


@dataclass(frozen=True)
class SearchQuery:
    gemeente_code: str
    filters: Filters
    now: datetime
    page: int = 1
    per_page: int = 20
    postcode: str | None = None  # normalized, as the jongere gave it
    area: postcodes.Area | None = None


def search(session: Session, query: SearchQuery) -> dict[str, Any]:
    """The gemeente's published services plus the national ones, filtered and ranked."""
    g = require_gemeente(session, query.gemeente_code)
    local, national = _published_indexes(session, g.code)
    return _search_result(g, local, national, query)


def search_from_cache(engine: Engine, query: SearchQuery) -> dict[str, Any] | None:
    """The same answer as ``search`` when everything it needs is in this process's caches (the usual
    case), without a database session or a worker thread; None when the database must be asked."""
    if _by_code is None:
        return None
    g = _by_code[1].get(query.gemeente_code.strip().upper())
    caches = _caches.get(engine)
    if g is None or caches is None:
        return None
    at = time.monotonic()
    found: list[VersionIndex | None] = []
    for kaart in (g.code, LANDELIJK):
        hit = caches.pointers.get(kaart)
        if hit is None or at - hit[0] >= POINTER_TTL:
            return None
        index = caches.versions.get(hit[1]) if hit[1] is not None else None
        if hit[1] is not None and index is None:
            return None
        found.append(index)
    return _search_result(g, found[0], found[1], query)


def _search_result(
    g: Gemeente, local: VersionIndex | None, national: VersionIndex | None, query: SearchQuery
) -> dict[str, Any]:
    entries = [*(local.entries if local else ()), *(national.entries if national else ())]
    hits = rank(entries, query.filters, query.now)
    start = (query.page - 1) * query.per_page
    wanted = set(query.filters.topics)
    results = [
        _summary(h.entry, query.now, h.distance_km, [t for t in h.entry.topics if t in wanted])
        for h in hits[start : start + query.per_page]
    ]
    return {
        "gemeente": {"code": g.code, "naam": g.weergavenaam},
        "kaart_published": local is not None,
        "version_id": local.version_id if local else None,
        "national_version_id": national.version_id if national else None,
        "postcode": _postcode_out(query.postcode, query.area) if query.postcode else None,
        "total": len(hits),
        "page": query.page,
        "per_page": query.per_page,
        "results": results,
    }


def _postcode_out(postcode: str, area: postcodes.Area | None) -> dict[str, Any]:
    return {
        "postcode": postcode,
        "known": area is not None,
        "gemeenten": list(area.gemeenten) if area else [],
        "precision": area.precision if area else None,
    }


def postcode_info(session: Session, value: str) -> dict[str, Any]:
    try:
        pc4, normalized = postcodes.parse_postcode(value)
    except postcodes.PostcodeError as exc:
        raise FieldErrors({"postcode": str(exc)}) from exc
    area = postcodes.lookup(pc4)
    if area is None:
        raise AppError(
            404,
            "Deze postcode staat nog niet in onze lijst. Kies je gemeente zelf; afstanden kunnen we dan niet tonen.",
        )
    known = _gemeenten(session)
    return {
        "postcode": normalized,
        "pc4": pc4,
        "gemeenten": [
            {"code": c, "naam": known[c].naam, "weergavenaam": known[c].weergavenaam}
            for c in area.gemeenten
            if c in known
        ],
        "lat": area.lat,
        "lon": area.lon,
        "precision": area.precision,
        "area": area.name,
        "source": postcodes.SOURCE,
    }


# ------------------------------------------------------------------------------------- service page


def _find_service(session: Session, gemeente: str, service_id: str) -> tuple[int, Entry]:
    local, national = _published_indexes(session, gemeente)
    for index in (local, national):
        if index is not None and service_id in index.by_id:
            return index.version_id, index.by_id[service_id]
    raise AppError(404, "Deze hulp staat niet (meer) op de sociale kaart van deze gemeente.")


def service_page(
    session: Session, gemeente_code: str, service_id: str, now: datetime, origin: postcodes.Area | None = None
) -> dict[str, Any]:
    g = require_gemeente(session, gemeente_code)
    version_id, entry = _find_service(session, g.code, service_id)
    return detail(session, version_id, entry, now, origin)


def version_service_page(
    session: Session, kaart: str, version_id: int, service_id: str, now: datetime
) -> dict[str, Any]:
    """A service of any version (drafts too): the preview in the beheer page."""
    version = get_version(session, kaart, version_id)
    index = version_index(session, version.id)  # type: ignore[arg-type]
    if service_id not in index.by_id:
        raise AppError(404, "Deze dienst staat niet in deze versie.")
    return detail(session, version_id, index.by_id[service_id], now, None)


def _parsed_service(session: Session, version_id: int, entry: Entry) -> tuple[Kaart, Service]:
    """The service's record read back into records (with its locations and schedules), cached: versions
    never change, and parsing a record costs more than the rest of a service page."""
    parsed = _caches_for(session).parsed
    key = (version_id, entry.id)
    found = parsed.get(key)
    if found is not None:
        return found  # type: ignore[no-any-return]
    row = session.get(KaartService, (version_id, entry.id))
    if row is None:
        raise AppError(404, "Deze hulp staat niet (meer) op de sociale kaart van deze gemeente.")
    k = hsds.import_json([json.loads(row.record)], namespace=entry.kaart).kaart
    parsed.put(key, (k, k.services[0]))
    return k, k.services[0]


def _phones(phones: Iterable[Phone]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    voice, whatsapp = [], []
    for p in phones:
        if p.kind == "whatsapp":
            digits = p.tel.removeprefix("tel:")
            url = f"https://wa.me/{digits[1:]}" if digits.startswith("+") else None
            whatsapp.append({"number": p.number, "url": url})
        else:
            voice.append({"number": p.number, "tel": p.tel})
    return voice, whatsapp


def hours_out(schedule: Schedule | None, now: datetime) -> dict[str, Any] | None:
    """Opening hours for a service page: the usual week, the next 7 days with exceptions and holidays."""
    if schedule is None:
        return None
    today = now.astimezone(TZ).date()
    week = [{"day": DAY_CODES[i], "name": DAY_NAMES[i], "slots": [str(s) for s in schedule.week[i]]} for i in range(7)]
    days = []
    for k in range(7):
        d = today + timedelta(days=k)
        exc = next((x for x in schedule.exceptions if x.start <= d <= x.end), None)
        holiday = dutch_holidays(d.year).get(d)
        note = None
        if exc is not None:
            note = "Gesloten" if exc.closed else "Andere openingstijden"
        elif holiday and schedule.closed_on_holidays:
            note = f"{holiday}: gesloten"
        days.append(
            {
                "date": d.isoformat(),
                "day": DAY_CODES[d.weekday()],
                "name": DAY_NAMES[d.weekday()],
                "slots": [str(s) for s in slots_on(schedule, d)],
                "note": note,
            }
        )
    exceptions = [
        {
            "start": x.start.isoformat(),
            "end": x.end.isoformat(),
            "closed": x.closed,
            "slots": [str(s) for s in x.slots],
        }
        for x in schedule.exceptions
        if x.end >= today
    ]
    return {
        "text": format_week(schedule),
        "exceptions_text": format_exceptions(schedule),
        "always_open": format_week(schedule).startswith("24/7"),
        "by_appointment": schedule.by_appointment,
        "closed_on_holidays": schedule.closed_on_holidays,
        "week": week,
        "next_days": days,
        "exceptions": exceptions,
    }


def route_url(one_line_address: str) -> str:
    return "https://www.openstreetmap.org/search?query=" + quote(f"{one_line_address}, Nederland")


def detail(
    session: Session, version_id: int, entry: Entry, now: datetime, origin: postcodes.Area | None
) -> dict[str, Any]:
    kaart_obj, s = _parsed_service(session, version_id, entry)
    tax = load_taxonomy()
    org = kaart_obj.organization(s.organization_id)
    voice, whatsapp = _phones(s.phones)
    locations = []
    for sal in kaart_obj.at_locations(s.id):
        loc = kaart_obj.location(sal.location_id)
        if loc is None:
            continue
        addr = loc.address
        area = postcodes.lookup(pc4) if addr and (pc4 := postcodes.pc4_of(addr.postal_code)) else None
        distance = postcodes.distance_km((origin.lat, origin.lon), (area.lat, area.lon)) if origin and area else None
        l_voice, l_whatsapp = _phones(sal.phones)
        schedules = [sal.schedule] if sal.schedule else []
        locations.append(
            {
                "id": loc.id,
                "name": loc.name or None,
                "address": (
                    {
                        "street": addr.street,
                        "house_number": addr.house_number,
                        "postal_code": addr.postal_code,
                        "city": addr.city,
                        "one_line": addr.one_line(),
                    }
                    if addr
                    else None
                ),
                "route_url": route_url(addr.one_line()) if addr else None,
                "distance_km": round(distance, 1) if distance is not None else None,
                "phones": l_voice,
                "whatsapp": l_whatsapp,
                "hours": hours_out(sal.schedule, now),
                **_open_fields(schedules, now),
            }
        )
    return {
        "id": s.id,
        "kaart": entry.kaart,
        "national": entry.national,
        "name": s.name,
        "organization": org.name if org else entry.organization,
        "what": entry.what,
        "description": s.description,
        "for_whom": s.eligibility or None,
        "minimum_age": s.minimum_age,
        "maximum_age": s.maximum_age,
        "cost": ("Gratis" if s.free else s.fees) or None,
        "free": s.free,
        "how_to_apply": s.application_process or None,
        "leefgebieden": [{"id": x, "label": tax.label(x)} for x in s.leefgebieden],
        "topics": [{"id": x, "label": tax.label(x)} for x in s.topics],
        "phones": voice,
        "whatsapp": whatsapp,
        "email": s.email or None,
        "email_url": f"mailto:{s.email}" if s.email else None,
        "website": s.url or None,
        "alert": s.alert or None,
        "checked_on": s.assured_date,
        "checked_by": s.assurer_email or None,
        "hours": hours_out(s.schedule, now),
        "locations": locations,
        "modified_at": entry.modified_at,
        **_open_fields(entry.schedules, now),
    }


def preview(session: Session, kaart: str, version_id: int, now: datetime) -> dict[str, Any]:
    version = get_version(session, kaart, version_id)
    index = version_index(session, version.id)  # type: ignore[arg-type]
    return {
        "version": version_out(version, is_current(session, version)),
        "results": [_summary(e, now, None) for e in index.entries],
    }


# ------------------------------------------------------------------------------------------- export


def version_kaart(session: Session, version: KaartVersion) -> Kaart:
    records = session.exec(
        select(KaartService.record).where(KaartService.version_id == version.id).order_by(col(KaartService.position))
    ).all()
    return hsds.import_json([json.loads(r) for r in records], namespace=version.kaart).kaart


def export(session: Session, kaart: str, fmt: str, version_id: int | None = None) -> tuple[bytes, str, str]:
    """(content, media type, file name) of a version (default: the published one)."""
    if version_id is None:
        version_id = current_version_ids(session, [kaart]).get(kaart)
        if version_id is None:
            raise AppError(404, "Deze sociale kaart is nog niet gepubliceerd. Er is niets om te downloaden.")
    version = get_version(session, kaart, version_id)
    stem = f"sociale-kaart-{kaart}-v{version.id}"
    if fmt == "hsds":
        records = session.exec(
            select(KaartService.record)
            .where(KaartService.version_id == version.id)
            .order_by(col(KaartService.position))
        ).all()
        return ("[" + ",".join(records) + "]").encode(), "application/json", f"{stem}.json"
    kaart_obj = version_kaart(session, version)
    if fmt == "datapackage":
        return hsds.to_datapackage(kaart_obj), "application/zip", f"{stem}-hsds.zip"
    if fmt == "excel-csv":
        return kaart_to_csv(kaart_obj, excel=True), "text/csv; charset=utf-8", f"{stem}.csv"
    return kaart_to_csv(kaart_obj), "text/csv; charset=utf-8", f"{stem}.csv"


# -------------------------------------------------------------------------------------------- HSDS API

_TERM_CODES: dict[str, str] = {}


def _term_code(value: str, tax: Taxonomy) -> str | None:
    """A taxonomy term id (the UUID in our HSDS output) or code -> our code."""
    if not _TERM_CODES:
        for code in tax.leefgebieden:
            _TERM_CODES[stable_id("taxonomy_term", hsds.TAXONOMY_LEEFGEBIEDEN, code)] = code
        for code in tax.topics:
            _TERM_CODES[stable_id("taxonomy_term", hsds.TAXONOMY_ONDERWERPEN, code)] = code
    value = value.strip()
    if value in tax.leefgebieden or value in tax.topics:
        return value
    return _TERM_CODES.get(value.lower())


def hsds_root(session: Session, kaart: str, base_url: str) -> dict[str, Any]:
    version_id = published_version_ids(session, [kaart]).get(kaart)
    version = session.get(KaartVersion, version_id) if version_id else None
    return {
        "version": "3.0",
        "profile": "urn:startklaar:hsds-profiel:sociale-kaart",
        "openapi_url": f"{base_url.rstrip('/')}/openapi.json",
        "kaart": kaart,
        "naam": kaart_name(session, kaart),
        "published_version_id": version.id if version else None,
        "published_at": version.published_at if version else None,
        "total_services": version.service_count if version else 0,
        "taxonomies": [hsds.TAXONOMY_LEEFGEBIEDEN, hsds.TAXONOMY_ONDERWERPEN],
    }


def _published_index(session: Session, kaart: str) -> VersionIndex | None:
    version_id = published_version_ids(session, [kaart]).get(kaart)
    return version_index(session, version_id) if version_id is not None else None


def _records_of(session: Session, version_id: int, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    rows = session.exec(
        select(KaartService.service_id, KaartService.record).where(
            KaartService.version_id == version_id, col(KaartService.service_id).in_(list(ids))
        )
    ).all()
    return {sid: json.loads(rec) for sid, rec in rows}


def _flat(record: dict[str, Any]) -> dict[str, Any]:
    """HSDS 'service_list': the service's own one-to-one fields, without nested lists and objects."""
    return {k: v for k, v in record.items() if not isinstance(v, list | dict)}


def hsds_services(
    session: Session,
    kaart: str,
    *,
    search_text: str = "",
    taxonomy_term_id: str = "",
    modified_after: datetime | None = None,
    postcode: str = "",
    proximity: int | None = None,
    page: int = 1,
    per_page: int = 50,
    full: bool = False,
) -> dict[str, Any]:
    index = _published_index(session, kaart)
    entries: list[Entry] = list(index.entries) if index else []
    if taxonomy_term_id:
        code = _term_code(taxonomy_term_id, load_taxonomy())
        entries = [e for e in entries if code is not None and (code in e.topics or code in e.leefgebieden)]
    if modified_after is not None:
        entries = [e for e in entries if e.modified_at >= modified_after]
    if postcode:
        try:
            pc4, _ = postcodes.parse_postcode(postcode)
        except postcodes.PostcodeError as exc:
            raise FieldErrors({"postcode": str(exc)}) from exc
        area = postcodes.lookup(pc4)
        if proximity is not None and area is not None:
            origin = (area.lat, area.lon)
            entries = [
                e for e in entries if any(postcodes.distance_km(origin, p) * 1000 <= proximity for p in e.points)
            ]
        else:
            entries = [e for e in entries if pc4 in e.pc4s]
    if search_text.strip():
        terms = query_terms(search_text)
        scored = [(e.text_score(terms), e) for e in entries]
        entries = [e for score, e in sorted(scored, key=lambda p: (-p[0], p[1].position)) if score > 0]
    total = len(entries)
    pages = max(1, -(-total // per_page))
    chunk = entries[(page - 1) * per_page : page * per_page]
    records = _records_of(session, index.version_id, [e.id for e in chunk]) if index else {}
    contents = [records[e.id] if full else _flat(records[e.id]) for e in chunk if e.id in records]
    return {
        "total_items": total,
        "total_pages": pages,
        "page_number": page,
        "per_page": per_page,
        "size": len(contents),
        "first_page": page == 1,
        "last_page": page >= pages,
        "empty": total == 0,
        "contents": contents,
    }


def hsds_service(session: Session, kaart: str, service_id: str) -> dict[str, Any]:
    index = _published_index(session, kaart)
    if index is None or service_id not in index.by_id:
        raise AppError(404, "Deze dienst staat niet in de gepubliceerde sociale kaart.")
    return _records_of(session, index.version_id, [service_id])[service_id]


# ------------------------------------------------------------------------------------------ corrections


def add_correction(
    session: Session, gemeente_code: str, service_id: str, message: str, contact: str | None, user_id: int | None
) -> KaartCorrection:
    g = require_gemeente(session, gemeente_code)
    version_id, entry = _find_service(session, g.code, service_id)
    correction = KaartCorrection(
        kaart=entry.kaart,
        seen_in=g.code,
        version_id=version_id,
        service_id=service_id,
        service_name=entry.name[:200],
        message=message,
        contact=contact,
        user_id=user_id,
    )
    session.add(correction)
    session.flush()
    return correction


def list_corrections(session: Session, kaart: str, status: str | None = OPEN) -> list[KaartCorrection]:
    query = select(KaartCorrection).where(KaartCorrection.kaart == kaart)
    if status in (OPEN, RESOLVED):
        query = query.where(KaartCorrection.status == status)
    return list(session.exec(query.order_by(col(KaartCorrection.id).desc()).limit(500)).all())


def resolve_correction(
    session: Session, kaart: str, correction_id: int, by: Actor, resolution: str | None, now: datetime | None = None
) -> KaartCorrection:
    row = session.get(KaartCorrection, correction_id)
    if row is None or row.kaart != kaart:
        raise AppError(404, "Deze melding bestaat niet (meer).")
    row.status = RESOLVED
    row.resolved_at = now or utcnow()
    row.resolved_by = by.label[:120]
    row.resolution = (resolution or "").strip() or None
    session.add(row)
    return row


# ------------------------------------------------------------------------------------- editors (admin)


def _editor_out(session: Session, user: UserAccount) -> dict[str, Any]:
    codes = session.exec(
        select(KaartEditor.gemeente_code).where(KaartEditor.user_id == user.id).order_by(KaartEditor.gemeente_code)
    ).all()
    return {"username": user.username, "role": user.role, "gemeenten": list(codes), "created_at": user.created_at}


def create_editor(session: Session, username: str, password: str, gemeente_code: str) -> tuple[dict[str, Any], str]:
    if normalize_kaart(gemeente_code) not in _gemeenten(session):
        raise FieldErrors({"gemeente_code": "Deze gemeente kennen we niet."})
    user, code = accounts.create_account(session, username, password, role="editor")
    session.add(KaartEditor(user_id=user.id, gemeente_code=normalize_kaart(gemeente_code)))  # type: ignore[arg-type]
    session.flush()
    return _editor_out(session, user), code


def _editor(session: Session, username: str) -> UserAccount:
    user = session.exec(
        select(UserAccount).where(UserAccount.username == accounts.normalise_username(username))
    ).first()
    if user is None or user.role != "editor":
        raise AppError(404, "Deze redacteur bestaat niet.")
    return user


def list_editors(session: Session) -> list[dict[str, Any]]:
    users = session.exec(select(UserAccount).where(UserAccount.role == "editor").order_by(UserAccount.username)).all()
    links: dict[int, list[str]] = {}
    for uid, code in session.exec(select(KaartEditor.user_id, KaartEditor.gemeente_code)).all():
        links.setdefault(uid, []).append(code)
    return [
        {"username": u.username, "role": u.role, "gemeenten": sorted(links.get(u.id, [])), "created_at": u.created_at}  # type: ignore[arg-type]
        for u in users
    ]


def editor_account(session: Session, username: str) -> UserAccount:
    """The editor's account (404 otherwise); the admin route deletes it with privacy.service.delete_person,
    which also clears what the kaart tables and rate limits hold about the person."""
    return _editor(session, username)


def add_editor_gemeente(session: Session, username: str, gemeente_code: str) -> dict[str, Any]:
    user = _editor(session, username)
    code = normalize_kaart(gemeente_code)
    if code not in _gemeenten(session):
        raise FieldErrors({"gemeente_code": "Deze gemeente kennen we niet."})
    if session.get(KaartEditor, (user.id, code)) is None:
        session.add(KaartEditor(user_id=user.id, gemeente_code=code))  # type: ignore[arg-type]
        session.flush()
    return _editor_out(session, user)


def remove_editor_gemeente(session: Session, username: str, gemeente_code: str) -> None:
    user = _editor(session, username)
    link = session.get(KaartEditor, (user.id, normalize_kaart(gemeente_code)))
    if link is None:
        raise AppError(404, "Deze redacteur hoort niet bij deze gemeente.")
    session.delete(link)


# --------------------------------------------------------------------------------- API clients (admin)


def secret_hash(secret: str) -> str:
    # The secret is 256 random bits, so a fast hash is enough (nothing to brute-force).
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(client: KaartApiClient, secret: str) -> bool:
    return hmac.compare_digest(client.secret_hash, secret_hash(secret))


def scope_for(gemeente_code: str) -> str:
    return f"kaart:{gemeente_code}"


def create_api_client(session: Session, gemeente_code: str, name: str, by: Actor) -> tuple[KaartApiClient, str]:
    code = normalize_kaart(gemeente_code)
    if code not in _gemeenten(session):
        raise FieldErrors({"gemeente_code": "Deze gemeente kennen we niet."})
    name = name.strip()
    if not name:
        raise FieldErrors({"name": "Geef de koppeling een naam, bijvoorbeeld de naam van het systeem."})
    secret = secrets.token_urlsafe(32)
    client = KaartApiClient(
        client_id="skc_" + secrets.token_hex(10),
        secret_hash=secret_hash(secret),
        gemeente_code=code,
        name=name,
        created_by=by.label[:120],
    )
    session.add(client)
    session.flush()
    return client, secret


def list_api_clients(session: Session) -> list[KaartApiClient]:
    return list(session.exec(select(KaartApiClient).order_by(KaartApiClient.gemeente_code, KaartApiClient.name)).all())


def delete_api_client(session: Session, client_id: str) -> None:
    client = session.exec(select(KaartApiClient).where(KaartApiClient.client_id == client_id)).first()
    if client is None:
        raise AppError(404, "Deze API-koppeling bestaat niet.")
    session.exec(delete(KaartApiToken).where(col(KaartApiToken.client_pk) == client.id))  # type: ignore[call-overload]
    session.delete(client)

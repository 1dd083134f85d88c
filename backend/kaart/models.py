"""Sociale kaart tables (versions, the current-version pointer, services, editors, API clients, corrections)
and the API schemas.

A kaart is one gemeente's (key: its CBS code, "GM0014") or the national one (key "landelijk"). Every
upload that passes validation becomes an immutable ``KaartVersion`` with its services in ``KaartService``
(denormalized for search, with the full HSDS record for display and export). ``KaartCurrent`` points at
the published version: publishing and rollback only move that pointer, in one transaction.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import field_validator
from sqlalchemy import Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.accounts.models import utcnow
from backend.db import MAX_ID

LANDELIJK = "landelijk"
DRAFT, PUBLISHED, ARCHIVED = "draft", "published", "archived"
OPEN, RESOLVED = "open", "resolved"


class KaartVersion(SQLModel, table=True):
    """One accepted upload of a kaart. Never changed after creation, except its status."""

    __tablename__ = "kaart_version"
    # The same content uploaded twice is the same version (also under concurrent uploads).
    __table_args__ = (UniqueConstraint("kaart", "content_hash", name="uq_kaart_version_content"),)

    id: int | None = Field(default=None, primary_key=True)
    kaart: str = Field(max_length=9)  # gemeente code or "landelijk" (indexed by the unique constraint)
    status: str = Field(default=DRAFT, max_length=10)  # draft / published / archived
    content_hash: str = Field(max_length=64)  # SHA-256 of the canonical HSDS JSON
    created_at: datetime = Field(default_factory=utcnow)
    created_by: str = Field(max_length=120)
    source_filename: str = Field(default="", max_length=255)
    source_format: str = Field(default="", max_length=16)  # csv, xlsx, hsds-json, hsds-zip
    service_count: int = 0
    location_count: int = 0
    organization_count: int = 0
    report: str = Field(default="{}", sa_type=Text)  # validation report (warnings) as JSON
    published_at: datetime | None = None  # the last time it went live
    published_by: str | None = Field(default=None, max_length=120)


class KaartCurrent(SQLModel, table=True):
    """Which version of a kaart searchers see. Switched in one transaction (publish, rollback)."""

    __tablename__ = "kaart_current"

    kaart: str = Field(primary_key=True, max_length=9)
    version_id: int | None = Field(default=None, foreign_key="kaart_version.id")
    updated_at: datetime = Field(default_factory=utcnow)
    updated_by: str = Field(default="", max_length=120)


class KaartService(SQLModel, table=True):
    """One service of one version, denormalized for search; ``record`` is the full HSDS 3.0 service."""

    __tablename__ = "kaart_service"

    version_id: int = Field(primary_key=True, foreign_key="kaart_version.id", ondelete="CASCADE")
    service_id: str = Field(primary_key=True, max_length=36)
    position: int  # order in the upload
    name: str = Field(max_length=200)
    organization: str = Field(max_length=200)
    description: str = Field(default="", sa_type=Text)
    leefgebieden: str = Field(default="", max_length=200)  # ids joined by "|"
    topics: str = Field(default="", max_length=1000)  # ids joined by "|"
    minimum_age: int | None = None
    maximum_age: int | None = None
    free: bool = False
    postcodes: str = Field(default="", sa_type=Text)  # "9712 HN|9742 BL", one per location
    plaats: str = Field(default="", sa_type=Text)  # place names joined by "|"
    # Folded words and their Dutch stems, per field group: "name\nmeta\nbody" (see search.index_text).
    search_text: str = Field(default="", sa_type=Text)
    # Opening hours as canonical text, JSON [[hours, exceptions], ...]: the service's own, then per location.
    hours: str = Field(default="[]", sa_type=Text)
    assured_date: date | None = None
    record: str = Field(sa_type=Text)  # HSDS 3.0 service JSON
    record_hash: str = Field(max_length=64)
    # When this service last changed: carried over from the published version while its record is equal.
    modified_at: datetime = Field(default_factory=utcnow)


class KaartEditor(SQLModel, table=True):
    """An editor account may change the kaart of these gemeenten (and no other)."""

    __tablename__ = "kaart_editor"

    user_id: int = Field(primary_key=True, foreign_key="user_account.id", ondelete="CASCADE")
    gemeente_code: str = Field(primary_key=True, foreign_key="gemeente.code", max_length=6, index=True)
    created_at: datetime = Field(default_factory=utcnow)


class KaartApiClient(SQLModel, table=True):
    """A gemeente system that pushes its kaart (OAuth2 client credentials), scoped to one gemeente."""

    __tablename__ = "kaart_api_client"

    id: int | None = Field(default=None, primary_key=True)
    client_id: str = Field(max_length=40, unique=True, index=True)
    secret_hash: str = Field(max_length=64)  # SHA-256 of a 256-bit random secret
    gemeente_code: str = Field(foreign_key="gemeente.code", max_length=6, index=True)
    name: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow)
    created_by: str = Field(default="", max_length=120)
    last_used_at: datetime | None = None


class KaartApiToken(SQLModel, table=True):
    """An opaque bearer token; only its SHA-256 is stored. Deleting the client revokes its tokens."""

    __tablename__ = "kaart_api_token"

    token_hash: str = Field(primary_key=True, max_length=64)
    client_pk: int = Field(foreign_key="kaart_api_client.id", ondelete="CASCADE", index=True)
    gemeente_code: str = Field(max_length=6)
    scope: str = Field(max_length=100)
    issued_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime


class KaartCorrection(SQLModel, table=True):
    """'Klopt dit niet?': a remark about a service, for the editors of the kaart it belongs to."""

    __tablename__ = "kaart_correction"
    __table_args__ = (Index("ix_kaart_correction_kaart_status", "kaart", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    kaart: str = Field(max_length=9)  # the kaart of the service (a national service goes to "landelijk")
    seen_in: str = Field(max_length=6)  # the gemeente whose list the jongere was looking at
    version_id: int | None = Field(default=None, foreign_key="kaart_version.id", ondelete="SET NULL")
    service_id: str = Field(max_length=36)
    service_name: str = Field(max_length=200)
    message: str = Field(max_length=1000)
    contact: str | None = Field(default=None, max_length=200)
    user_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    status: str = Field(default=OPEN, max_length=10)
    created_at: datetime = Field(default_factory=utcnow)
    resolved_at: datetime | None = None
    resolved_by: str | None = Field(default=None, max_length=120)
    resolution: str | None = Field(default=None, max_length=1000)


# --- API schemas --------------------------------------------------------------------------------------


class VersionOut(SQLModel):
    id: int
    kaart: str
    status: str
    current: bool = False
    content_hash: str
    created_at: datetime
    created_by: str
    source_filename: str
    source_format: str
    service_count: int
    location_count: int
    organization_count: int
    published_at: datetime | None
    published_by: str | None


class VersionDetailOut(VersionOut):
    report: dict[str, Any]


class UploadOut(SQLModel):
    created: bool  # False: the same content was uploaded before; that version is returned
    version: VersionOut
    report: dict[str, Any]


class ValidateOut(SQLModel):
    ok: bool
    format: str
    service_count: int
    report: dict[str, Any]


class RollbackIn(SQLModel):
    version_id: int | None = Field(default=None, ge=1, le=MAX_ID)  # default: the one published before


class CorrectionIn(SQLModel):
    message: str = Field(min_length=3, max_length=1000)
    contact: str | None = Field(default=None, max_length=200)

    @field_validator("message")
    @classmethod
    def _message(cls, v: str) -> str:
        v = v.strip()
        if len(v) < 3:
            raise ValueError("Schrijf kort wat er niet klopt.")
        return v

    @field_validator("contact")
    @classmethod
    def _contact(cls, v: str | None) -> str | None:
        return (v or "").strip() or None


class CorrectionOut(SQLModel):
    id: int
    kaart: str
    seen_in: str
    service_id: str
    service_name: str
    message: str
    contact: str | None
    status: str
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: str | None


class CorrectionCreatedOut(SQLModel):
    id: int
    message: str


class ResolveIn(SQLModel):
    resolution: str | None = Field(default=None, max_length=1000)


class EditorCreate(SQLModel):
    username: str = Field(max_length=200)
    password: str = Field(max_length=1000)
    gemeente_code: str = Field(max_length=10)


class EditorGemeenteIn(SQLModel):
    gemeente_code: str = Field(max_length=10)


class EditorOut(SQLModel):
    username: str
    role: str
    gemeenten: list[str]
    created_at: datetime


class EditorCreatedOut(EditorOut):
    recovery_code: str


class ApiClientCreate(SQLModel):
    gemeente_code: str = Field(max_length=10)
    name: str = Field(min_length=1, max_length=100)


class ApiClientOut(SQLModel):
    client_id: str
    gemeente_code: str
    name: str
    created_at: datetime
    created_by: str
    last_used_at: datetime | None


class ApiClientCreatedOut(ApiClientOut):
    client_secret: str  # shown once; only its hash is stored
    token_url: str
    scope: str


class KaartInfoOut(SQLModel):
    kaart: str
    naam: str
    current_version_id: int | None
    published_at: datetime | None
    service_count: int
    open_corrections: int


ExportFormat = Literal["csv", "excel-csv", "hsds", "datapackage"]


# --- what jongeren see ------------------------------------------------------------------------------


class OpenFields(SQLModel):
    is_open: bool  # open now (at least one location, or its phone line)
    closes_at: datetime | None  # when open: when it closes (Europe/Amsterdam); None = open day and night
    next_open: datetime | None  # when closed: the next opening (Europe/Amsterdam); None = unknown
    has_hours: bool  # False: no opening hours known (do not show "gesloten")
    by_appointment: bool


class ServiceSummaryOut(OpenFields):
    id: str
    kaart: str  # gemeente code, or "landelijk"
    national: bool
    name: str
    what: str  # one line: the first sentence of the description
    organization: str
    leefgebieden: list[str]
    topics: list[str]
    matched_topics: list[str]  # which of the asked topics this service has
    free: bool
    minimum_age: int | None
    maximum_age: int | None
    plaats: str | None
    distance_km: float | None  # only with a known postcode; approximate


class GemeenteRef(SQLModel):
    code: str
    naam: str


class PostcodeUsed(SQLModel):
    postcode: str
    known: bool  # False: the postcode is not in our (partial) table, so no distances
    gemeenten: list[str]
    precision: str | None  # "wijk" or "plaats"


class SearchOut(SQLModel):
    gemeente: GemeenteRef
    kaart_published: bool  # False: this gemeente has not published its kaart yet (only national help)
    version_id: int | None
    national_version_id: int | None
    postcode: PostcodeUsed | None
    total: int
    page: int
    per_page: int
    results: list[ServiceSummaryOut]


class PhoneOut(SQLModel):
    number: str
    tel: str  # tel: link


class WhatsAppOut(SQLModel):
    number: str
    url: str | None  # https://wa.me/... link


class SlotDay(SQLModel):
    day: str  # ma, di, ...
    name: str  # maandag, ...
    slots: list[str]  # "09:00-17:00"; empty = closed


class NextDay(SlotDay):
    date: date
    note: str | None  # "Gesloten", "Andere openingstijden", "Tweede Paasdag: gesloten"


class ExceptionOut(SQLModel):
    start: date
    end: date
    closed: bool
    slots: list[str]


class HoursOut(SQLModel):
    text: str  # canonical text, "ma-vr 09:00-17:00; za 10:00-12:00"
    exceptions_text: str
    always_open: bool
    by_appointment: bool
    closed_on_holidays: bool
    week: list[SlotDay]
    next_days: list[NextDay]  # today and the 6 days after, with exceptions and holidays applied
    exceptions: list[ExceptionOut]  # current and future ones


class AddressOut(SQLModel):
    street: str
    house_number: str
    postal_code: str
    city: str
    one_line: str


class LocationOut(OpenFields):
    id: str
    name: str | None
    address: AddressOut | None
    route_url: str | None  # OpenStreetMap search for the address
    distance_km: float | None
    phones: list[PhoneOut]
    whatsapp: list[WhatsAppOut]
    hours: HoursOut | None


class TermOut(SQLModel):
    id: str
    label: str


class ServiceDetailOut(OpenFields):
    id: str
    kaart: str
    national: bool
    name: str
    organization: str
    what: str
    description: str  # plain text (HTML was removed at upload): show as text
    for_whom: str | None
    minimum_age: int | None
    maximum_age: int | None
    cost: str | None
    free: bool
    how_to_apply: str | None
    leefgebieden: list[TermOut]
    topics: list[TermOut]
    phones: list[PhoneOut]  # the service's own lines (hulplijn); per location under locations
    whatsapp: list[WhatsAppOut]
    email: str | None
    email_url: str | None
    website: str | None
    alert: str | None
    checked_on: date | None  # gecontroleerd op
    checked_by: str | None  # gecontroleerd door
    hours: HoursOut | None  # the service's own hours (a phone line); per location under locations
    locations: list[LocationOut]
    modified_at: datetime


class PreviewOut(SQLModel):
    version: VersionOut
    results: list[ServiceSummaryOut]


class PostcodeGemeente(SQLModel):
    code: str
    naam: str
    weergavenaam: str


class PostcodeOut(SQLModel):
    postcode: str
    pc4: str
    gemeenten: list[PostcodeGemeente]  # two: the postcode area lies in two gemeenten; ask which one
    lat: float
    lon: float
    precision: str  # "wijk" (about 1 km) or "plaats" (the town centre)
    area: str
    source: str

"""Sociale kaart API: search and service pages for jongeren, the beheer API for editors (cookie session +
CSRF), admin (editors, API clients), OAuth2 client credentials and the API for gemeente systems (bearer),
and a read-only HSDS 3.0 API. Thin: parse, authorize, call the service, return."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from backend.accounts import service as accounts
from backend.accounts.deps import CurrentUser, OptionalUser, client_ip, require_role
from backend.accounts.models import UserAccount
from backend.clock import now_utc, today_nl
from backend.db import MAX_ID, OneHopRoute, RowId, SessionDep
from backend.errors import AppError, FieldErrors
from backend.kaart import oauth, service
from backend.kaart.models import (
    ApiClientCreate,
    ApiClientCreatedOut,
    ApiClientOut,
    CorrectionCreatedOut,
    CorrectionIn,
    CorrectionOut,
    EditorCreate,
    EditorCreatedOut,
    EditorGemeenteIn,
    EditorOut,
    ExportFormat,
    KaartApiClient,
    KaartInfoOut,
    PostcodeOut,
    PreviewOut,
    ResolveIn,
    RollbackIn,
    SearchOut,
    ServiceDetailOut,
    UploadOut,
    ValidateOut,
    VersionDetailOut,
    VersionOut,
)
from backend.kaart.safety import DEFAULT_LIMITS, UploadError, check_size
from backend.kaart.search import Filters
from backend.privacy import service as privacy

router = APIRouter(route_class=OneHopRoute)
public = APIRouter(prefix="/api", tags=["sociale kaart"], route_class=OneHopRoute)
beheer = APIRouter(prefix="/api/beheer", tags=["sociale kaart: beheer"], route_class=OneHopRoute)
admin = APIRouter(prefix="/api/admin", tags=["beheer: redacteuren en API-koppelingen"], route_class=OneHopRoute)
gemeente_api = APIRouter(
    prefix="/api/gemeente-api/{gemeente_code}", tags=["sociale kaart: API voor gemeenten"], route_class=OneHopRoute
)
hsds_api = APIRouter(prefix="/api/hsds/{kaart}", tags=["HSDS 3.0 (alleen lezen)"], route_class=OneHopRoute)

CORRECTIONS_PER_IP = accounts.Limit(10, timedelta(hours=1))
TOKEN_FAILURES_PER_IP = accounts.Limit(30, timedelta(minutes=15))
UPLOAD_OVERHEAD = 64 * 1024  # multipart boundaries and part headers on top of the file itself

GemeenteCode = Annotated[str, Path(max_length=9, description="CBS-code van de gemeente, zoals GM0014")]
KaartCode = Annotated[str, Path(max_length=9, description="CBS-code van de gemeente (GM0014) of 'landelijk'")]
ServiceId = Annotated[str, Path(max_length=36, description="id (UUID) van de dienst")]


def _default(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def fast_json(data: Any, status_code: int = 200) -> Response:
    """JSON without a second validation pass: the hot read paths build exactly the documented shape
    (the tests check it against the response models), and validating every result again doubled the cost."""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=_default).encode()
    return Response(body, status_code=status_code, media_type="application/json")


async def kaart_now() -> datetime:
    """The moment for "nu open"; tests override this dependency. (async: no thread hop just for a clock)"""
    return now_utc()


Now = Annotated[datetime, Depends(kaart_now)]


# --------------------------------------------------------------------------------------------- uploads


@dataclass
class Upload:
    data: bytes
    filename: str
    content_type: str | None


def _too_large(size: int) -> AppError:
    try:
        check_size(size, DEFAULT_LIMITS)
    except UploadError as exc:
        return AppError(exc.status, exc.message)
    return AppError(413, "Het bestand is te groot.")


async def read_upload(
    request: Request,
    filename: str | None = Query(None, max_length=255, description="Bestandsnaam bij een upload zonder formulier"),
) -> Upload:
    """The uploaded file, from a multipart form (field "file") or the raw body. Refused early when it is
    too large: by Content-Length before reading, and while streaming (chunked uploads)."""
    cap = DEFAULT_LIMITS.max_bytes + UPLOAD_OVERHEAD
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise _too_large(int(declared))
    buf = bytearray()
    async for chunk in request.stream():
        buf += chunk
        if len(buf) > cap:
            raise _too_large(len(buf))
    content_type = request.headers.get("content-type", "")
    if content_type.lower().startswith("multipart/form-data"):
        return await _from_multipart(request, bytes(buf))
    if not buf:
        raise FieldErrors({"file": "Kies een bestand om te uploaden."})
    return Upload(bytes(buf), filename or "", content_type or None)


async def _from_multipart(request: Request, body: bytes) -> Upload:
    async def stream() -> AsyncIterator[bytes]:
        yield body

    parser = MultiPartParser(request.headers, stream(), max_files=1, max_fields=20)  # type: ignore[arg-type]
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise AppError(400, "Het formulier met het bestand kon niet worden gelezen. Probeer het opnieuw.") from exc
    try:
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise FieldErrors({"file": "Kies een bestand om te uploaden (formulierveld 'file')."})
        data = await file.read()
        return Upload(data, file.filename or "", file.content_type)
    finally:
        await form.close()


UPLOAD_DOC: dict[str, Any] = {
    "requestBody": {
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
            },
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        }
    }
}
UPLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Hetzelfde bestand was al geüpload: die versie"},
    413: {"description": "Bestand te groot"},
    415: {"description": "Soort bestand klopt niet"},
    422: {"description": "Fouten in het bestand: {detail, report}; er is niets opgeslagen"},
}


def _store(
    session: Session, kaart: str, upload: Upload, actor: service.Actor, response: Response, now: datetime
) -> Any:
    result = service.parse_file(upload.data, upload.filename, upload.content_type, kaart, today_nl())
    try:
        version, created = service.store_version(session, kaart, result, upload.filename, actor, now)
    except service.UploadInvalid as exc:
        # Returned, not raised: nothing was written, and the report is the answer.
        return JSONResponse(exc.body(), status_code=422)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    report = result.report.to_dict()
    return {
        "created": created,
        "version": service.version_out(version, service.is_current(session, version)),
        "report": report,
    }


def _validate(kaart: str, upload: Upload) -> dict[str, Any]:
    result = service.parse_file(upload.data, upload.filename, upload.content_type, kaart, today_nl())
    return {
        "ok": result.report.ok,
        "format": result.format,
        "service_count": len(result.kaart.services),
        "report": result.report.to_dict(),
    }


def _export_response(content: bytes, media: str, name: str) -> Response:
    return Response(
        content,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


def _versions(session: Session, kaart: str) -> list[dict[str, Any]]:
    return [service.version_out(v, cur) for v, cur in service.list_versions(session, kaart)]


# ------------------------------------------------------------------------------------------- jongeren


@public.get("/kaart/{gemeente_code}/services", response_model=SearchOut)
async def search_services(
    gemeente_code: GemeenteCode,
    request: Request,
    now: Now,
    q: str = Query("", max_length=200, description="Zoekwoorden, zoals 'schulden' of 'huisarts'"),
    leefgebied: list[str] = Query([], description="Alleen deze leefgebieden (mag vaker)"),
    topic: list[str] = Query([], description="Onderwerpen van een stap in het plan (mag vaker)"),
    open_now: bool = Query(False, description="Alleen wat nu open is"),
    leeftijd: int | None = Query(None, ge=0, le=120, description="Alleen hulp voor deze leeftijd"),
    gratis: bool = Query(False, description="Alleen gratis hulp"),
    postcode: str | None = Query(None, max_length=10, description="Jouw postcode, voor de afstand"),
    page: int = Query(1, ge=1, le=1000),
    per_page: int = Query(20, ge=1, le=service.MAX_PER_PAGE),
) -> Response:
    """Hulp in de buurt: de gepubliceerde sociale kaart van de gemeente plus de landelijke hulp, gesorteerd
    op hoe goed het past (zoekwoorden, dan onderwerpen, dan afstand)."""
    service.check_terms(leefgebied[:10], topic[:20])
    normalized, area = service.parse_origin(postcode)
    filters = Filters(
        q=q,
        leefgebieden=tuple(leefgebied[:10]),
        topics=tuple(topic[:20]),
        open_now=open_now,
        age=leeftijd,
        free=gratis,
        origin=(area.lat, area.lon) if area else None,
    )
    query = service.SearchQuery(gemeente_code, filters, now, page, per_page, normalized, area)
    engine = request.app.state.engine
    # The hot path: everything is in this process's caches, so answer on the event loop (about 0.3 ms of
    # work) rather than hopping to worker threads for a session that would not be used.
    result = service.search_from_cache(engine, query)
    if result is None:
        result = await run_in_threadpool(_search_with_database, engine, query)
    return fast_json(result)


def _search_with_database(engine: Engine, query: service.SearchQuery) -> dict[str, Any]:
    with Session(engine) as session:  # read-only: fills the caches, nothing to commit
        return service.search(session, query)


@public.get("/kaart/{gemeente_code}/services/{service_id}", response_model=ServiceDetailOut)
def get_service(
    gemeente_code: GemeenteCode,
    service_id: ServiceId,
    session: SessionDep,
    now: Now,
    postcode: str | None = Query(None, max_length=10, description="Jouw postcode, voor de afstand"),
) -> Response:
    """Alles over één dienst: wat, voor wie, kosten, aanmelden, openingstijden, contact, adres en route."""
    _, area = service.parse_origin(postcode)
    return fast_json(service.service_page(session, gemeente_code, service_id, now, area))


@public.post(
    "/kaart/{gemeente_code}/services/{service_id}/corrections",
    status_code=status.HTTP_201_CREATED,
    response_model=CorrectionCreatedOut,
    responses={429: {}},
)
def report_correction(
    gemeente_code: GemeenteCode,
    service_id: ServiceId,
    body: CorrectionIn,
    request: Request,
    session: SessionDep,
    user: OptionalUser,
) -> dict[str, Any]:
    """ "Klopt dit niet?": een melding voor de redactie van de sociale kaart. Zonder account mag ook."""
    key = f"kaart-correctie-ip:{client_ip(request)}"
    accounts.count_attempt(session, [(key, CORRECTIONS_PER_IP)])  # every report counts
    row = service.add_correction(
        session, gemeente_code, service_id, body.message, body.contact, user.id if user else None
    )
    return {"id": row.id, "message": "Bedankt! De redactie van de sociale kaart kijkt ernaar."}


@public.get("/postcodes/{postcode}", response_model=PostcodeOut, responses={404: {}})
def get_postcode(postcode: Annotated[str, Path(max_length=10)], session: SessionDep) -> dict[str, Any]:
    """De gemeente(n) bij een postcode (4 cijfers, of 4 cijfers en 2 letters) en het middelpunt bij
    benadering. Twee gemeenten: vraag de jongere welke."""
    return service.postcode_info(session, postcode)


# --------------------------------------------------------------------------------------------- beheer


def editor_actor(kaart: KaartCode, user: CurrentUser, session: SessionDep) -> service.Actor:
    actor = service.check_editor(session, user, service.normalize_kaart(kaart))
    service.require_kaart(session, kaart)
    return actor


Editor = Annotated[service.Actor, Depends(editor_actor)]

# Uploads are heavy (parsing up to 10 MB): every attempt counts, per account or API client and per address.
UPLOADS_PER_ACTOR = accounts.Limit(60, timedelta(hours=1))
UPLOADS_PER_IP = accounts.Limit(120, timedelta(hours=1))


def upload_actor_key(actor: service.Actor) -> str:
    return f"upload-user:{actor.user_id}" if actor.user_id is not None else f"upload-client:{actor.label}"[:200]


def count_upload(request: Request, actor: service.Actor) -> None:
    """Check and count one upload in a transaction of its own, so that refused uploads (422) count too;
    runs before the file is read."""
    keys = [(upload_actor_key(actor), UPLOADS_PER_ACTOR), (f"upload-ip:{client_ip(request)}", UPLOADS_PER_IP)]
    with Session(request.app.state.engine) as own:
        accounts.count_attempt(own, keys)


def counted_editor(request: Request, actor: Editor) -> service.Actor:
    count_upload(request, actor)
    return actor


UploadingEditor = Annotated[service.Actor, Depends(counted_editor)]


@beheer.get("/kaarten", response_model=list[KaartInfoOut])
def my_kaarten(user: CurrentUser, session: SessionDep) -> list[dict[str, Any]]:
    """De sociale kaarten die jij mag beheren."""
    if user.role not in ("editor", "admin"):
        raise AppError(403, "Dit mag je niet doen met dit account.")
    return service.editable_kaarten(session, user)


@beheer.post(
    "/kaart/{kaart}/uploads",
    status_code=status.HTTP_201_CREATED,
    response_model=UploadOut,
    openapi_extra=UPLOAD_DOC,
    responses=UPLOAD_RESPONSES,
)
def upload(
    kaart: KaartCode,
    actor: UploadingEditor,
    session: SessionDep,
    response: Response,
    now: Now,
    file: Upload = Depends(read_upload),
) -> Any:
    """Upload een bestand (CSV, Excel, HSDS-JSON of HSDS-datapakket). Zonder fouten wordt het een concept;
    jongeren zien nog de gepubliceerde versie. Met fouten: 422 met de controle, er verandert niets."""
    return _store(session, service.normalize_kaart(kaart), file, actor, response, now)


@beheer.post("/kaart/{kaart}/validate", response_model=ValidateOut, openapi_extra=UPLOAD_DOC)
def validate(kaart: KaartCode, actor: UploadingEditor, file: Upload = Depends(read_upload)) -> dict[str, Any]:
    """Alleen controleren, niets opslaan."""
    return _validate(service.normalize_kaart(kaart), file)


@beheer.get("/kaart/{kaart}/versions", response_model=list[VersionOut])
def versions(kaart: KaartCode, actor: Editor, session: SessionDep) -> list[dict[str, Any]]:
    return _versions(session, service.normalize_kaart(kaart))


@beheer.get("/kaart/{kaart}/versions/{version_id}", response_model=VersionDetailOut)
def version_detail(kaart: KaartCode, version_id: RowId, actor: Editor, session: SessionDep) -> dict[str, Any]:
    v = service.get_version(session, service.normalize_kaart(kaart), version_id)
    return service.version_out(v, service.is_current(session, v), with_report=True)


@beheer.get("/kaart/{kaart}/versions/{version_id}/services", response_model=PreviewOut)
def version_services(
    kaart: KaartCode, version_id: RowId, actor: Editor, session: SessionDep, now: Now
) -> dict[str, Any]:
    """Voorbeeld: de diensten van een versie (ook een concept) zoals jongeren ze zien."""
    return service.preview(session, service.normalize_kaart(kaart), version_id, now)


@beheer.get("/kaart/{kaart}/versions/{version_id}/services/{service_id}", response_model=ServiceDetailOut)
def version_service(
    kaart: KaartCode, version_id: RowId, service_id: ServiceId, actor: Editor, session: SessionDep, now: Now
) -> dict[str, Any]:
    return service.version_service_page(session, service.normalize_kaart(kaart), version_id, service_id, now)


@beheer.post("/kaart/{kaart}/versions/{version_id}/publish", response_model=VersionOut)
def publish(kaart: KaartCode, version_id: RowId, actor: Editor, session: SessionDep, now: Now) -> dict[str, Any]:
    """Publiceren: deze versie staat in één keer online."""
    v = service.publish(session, service.normalize_kaart(kaart), version_id, actor, now)
    return service.version_out(v, True)


@beheer.post("/kaart/{kaart}/rollback", response_model=VersionOut)
def rollback(
    kaart: KaartCode, actor: Editor, session: SessionDep, now: Now, body: RollbackIn | None = None
) -> dict[str, Any]:
    """Terugzetten: een eerder gepubliceerde versie staat meteen weer online (standaard de vorige)."""
    v = service.rollback(session, service.normalize_kaart(kaart), actor, body.version_id if body else None, now)
    return service.version_out(v, True)


@beheer.get("/kaart/{kaart}/export", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def export(
    kaart: KaartCode,
    actor: Editor,
    session: SessionDep,
    format: ExportFormat = Query("csv", description="csv, excel-csv (puntkomma's), hsds (JSON) of datapackage"),
    version_id: int | None = Query(None, ge=1, le=MAX_ID, description="Standaard de gepubliceerde versie"),
) -> Response:
    """Download de kaart. In CSV krijgen cellen die met = + - @ beginnen een ' ervoor (geen formules)."""
    return _export_response(*service.export(session, service.normalize_kaart(kaart), format, version_id))


@beheer.get("/kaart/{kaart}/corrections", response_model=list[CorrectionOut])
def corrections(
    kaart: KaartCode,
    actor: Editor,
    session: SessionDep,
    status_filter: Literal["open", "resolved", "all"] = Query("open", alias="status"),
) -> Any:
    """Meldingen "Klopt dit niet?" over diensten van deze kaart."""
    rows = service.list_corrections(session, service.normalize_kaart(kaart), status_filter)
    return [CorrectionOut.model_validate(r, from_attributes=True) for r in rows]


@beheer.post("/kaart/{kaart}/corrections/{correction_id}/resolve", response_model=CorrectionOut)
def resolve(
    kaart: KaartCode, correction_id: RowId, actor: Editor, session: SessionDep, body: ResolveIn | None = None
) -> Any:
    row = service.resolve_correction(
        session, service.normalize_kaart(kaart), correction_id, actor, body.resolution if body else None
    )
    return CorrectionOut.model_validate(row, from_attributes=True)


# ---------------------------------------------------------------------------------------------- admin

Admin = Annotated[UserAccount, require_role("admin")]


@admin.post("/editors", status_code=status.HTTP_201_CREATED, response_model=EditorCreatedOut)
def create_editor(body: EditorCreate, user: Admin, session: SessionDep) -> dict[str, Any]:
    """Maak een redacteur voor een gemeente. De herstelcode zie je één keer."""
    out, code = service.create_editor(session, body.username, body.password, body.gemeente_code)
    return {**out, "recovery_code": code}


@admin.get("/editors", response_model=list[EditorOut])
def list_editors(user: Admin, session: SessionDep) -> list[dict[str, Any]]:
    return service.list_editors(session)


@admin.delete("/editors/{username}", status_code=status.HTTP_204_NO_CONTENT)
def delete_editor(username: Annotated[str, Path(max_length=64)], user: Admin, session: SessionDep) -> Response:
    privacy.delete_person(session, service.editor_account(session, username))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@admin.post("/editors/{username}/gemeenten", response_model=EditorOut)
def add_editor_gemeente(
    username: Annotated[str, Path(max_length=64)], body: EditorGemeenteIn, user: Admin, session: SessionDep
) -> dict[str, Any]:
    return service.add_editor_gemeente(session, username, body.gemeente_code)


@admin.delete("/editors/{username}/gemeenten/{gemeente_code}", status_code=status.HTTP_204_NO_CONTENT)
def remove_editor_gemeente(
    username: Annotated[str, Path(max_length=64)], gemeente_code: GemeenteCode, user: Admin, session: SessionDep
) -> Response:
    service.remove_editor_gemeente(session, username, gemeente_code)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _client_out(c: KaartApiClient) -> dict[str, Any]:
    return {
        "client_id": c.client_id,
        "gemeente_code": c.gemeente_code,
        "name": c.name,
        "created_at": c.created_at,
        "created_by": c.created_by,
        "last_used_at": c.last_used_at,
    }


@admin.post("/api-clients", status_code=status.HTTP_201_CREATED, response_model=ApiClientCreatedOut)
def create_api_client(body: ApiClientCreate, request: Request, user: Admin, session: SessionDep) -> dict[str, Any]:
    """Een API-koppeling voor één gemeente. Het client_secret zie je één keer; bewaar het veilig."""
    client, secret = service.create_api_client(
        session, body.gemeente_code, body.name, service.Actor(f"beheerder {user.username}", user.id)
    )
    base = request.app.state.settings.base_url.rstrip("/")
    return {
        **_client_out(client),
        "client_secret": secret,
        "token_url": f"{base}/api/oauth/token",
        "scope": service.scope_for(client.gemeente_code),
    }


@admin.get("/api-clients", response_model=list[ApiClientOut])
def list_api_clients(user: Admin, session: SessionDep) -> list[dict[str, Any]]:
    return [_client_out(c) for c in service.list_api_clients(session)]


@admin.delete("/api-clients/{client_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_api_client(client_id: Annotated[str, Path(max_length=40)], user: Admin, session: SessionDep) -> Response:
    """Trek de koppeling in; haar tokens werken meteen niet meer."""
    service.delete_api_client(session, client_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --------------------------------------------------------------------------------- OAuth2 + gemeente API


@public.post("/oauth/token", tags=["sociale kaart: API voor gemeenten"], responses={400: {}, 401: {}, 429: {}})
def token(
    request: Request,
    session: SessionDep,
    now: Now,
    grant_type: str | None = Form(None, description="client_credentials"),
    client_id: str | None = Form(None, max_length=100),
    client_secret: str | None = Form(None, max_length=200),
    scope: str | None = Form(None, max_length=100),
) -> Response:
    """OAuth2 client credentials (RFC 6749 §4.4): de koppeling meldt zich met HTTP Basic (of client_id en
    client_secret in het formulier) en krijgt een Bearer-token dat één uur geldig is."""
    key = f"oauth-ip:{client_ip(request)}"
    accounts.check_rate_limit(session, key, TOKEN_FAILURES_PER_IP)
    form = {
        k: v
        for k, v in {
            "grant_type": grant_type,
            "client_id": client_id,
            "client_secret": client_secret,
            "scope": scope,
        }.items()
        if v is not None
    }
    response = oauth.token_response(session, request.method, str(request.url), request.headers, form, now)
    if response.status_code == 401:
        accounts.record_failure(session, key, TOKEN_FAILURES_PER_IP)
    response.headers["Cache-Control"] = "no-store"
    return response


def api_actor(gemeente_code: GemeenteCode, request: Request, session: SessionDep, now: Now) -> service.Actor:
    code = service.normalize_kaart(gemeente_code)
    actor = oauth.authorize(session, request.headers, code, now)
    service.require_gemeente(session, code)
    return actor


ApiActor = Annotated[service.Actor, Depends(api_actor)]


def counted_api_actor(request: Request, actor: ApiActor) -> service.Actor:
    count_upload(request, actor)
    return actor


UploadingApiActor = Annotated[service.Actor, Depends(counted_api_actor)]


@gemeente_api.post(
    "/uploads",
    status_code=status.HTTP_201_CREATED,
    response_model=UploadOut,
    openapi_extra=UPLOAD_DOC,
    responses=UPLOAD_RESPONSES,
)
def api_upload(
    gemeente_code: GemeenteCode,
    actor: UploadingApiActor,
    session: SessionDep,
    response: Response,
    now: Now,
    file: Upload = Depends(read_upload),
) -> Any:
    """Upload (multipart-veld "file", of het bestand zelf als body met een Content-Type). Wordt een concept."""
    return _store(session, service.normalize_kaart(gemeente_code), file, actor, response, now)


@gemeente_api.post("/validate", response_model=ValidateOut, openapi_extra=UPLOAD_DOC)
def api_validate(
    gemeente_code: GemeenteCode, actor: UploadingApiActor, file: Upload = Depends(read_upload)
) -> dict[str, Any]:
    return _validate(service.normalize_kaart(gemeente_code), file)


@gemeente_api.get("/versions", response_model=list[VersionOut])
def api_versions(gemeente_code: GemeenteCode, actor: ApiActor, session: SessionDep) -> list[dict[str, Any]]:
    return _versions(session, service.normalize_kaart(gemeente_code))


@gemeente_api.post("/versions/{version_id}/publish", response_model=VersionOut)
def api_publish(
    gemeente_code: GemeenteCode, version_id: RowId, actor: ApiActor, session: SessionDep, now: Now
) -> dict[str, Any]:
    v = service.publish(session, service.normalize_kaart(gemeente_code), version_id, actor, now)
    return service.version_out(v, True)


@gemeente_api.post("/rollback", response_model=VersionOut)
def api_rollback(
    gemeente_code: GemeenteCode, actor: ApiActor, session: SessionDep, now: Now, body: RollbackIn | None = None
) -> dict[str, Any]:
    v = service.rollback(session, service.normalize_kaart(gemeente_code), actor, body.version_id if body else None, now)
    return service.version_out(v, True)


@gemeente_api.get("/export", response_class=Response)
def api_export(
    gemeente_code: GemeenteCode,
    actor: ApiActor,
    session: SessionDep,
    format: ExportFormat = Query("hsds"),
    version_id: int | None = Query(None, ge=1, le=MAX_ID),
) -> Response:
    return _export_response(*service.export(session, service.normalize_kaart(gemeente_code), format, version_id))


# ----------------------------------------------------------------------------------------------- HSDS


@hsds_api.get("", include_in_schema=False)
@hsds_api.get("/")
def hsds_root(kaart: KaartCode, request: Request, session: SessionDep) -> dict[str, Any]:
    """Over deze HSDS-API (versie, profiel) en de gepubliceerde versie van deze kaart."""
    code = service.require_kaart(session, kaart)
    return service.hsds_root(session, code, request.app.state.settings.base_url)


@hsds_api.get("/services")
def hsds_services(
    kaart: KaartCode,
    session: SessionDep,
    search: str = Query("", max_length=200),
    taxonomy_term_id: str = Query("", max_length=64, description="id (UUID) of code van een leefgebied of onderwerp"),
    modified_after: datetime | None = Query(None, description="Alleen diensten die daarna zijn gewijzigd"),
    postcode: str = Query("", max_length=10),
    proximity: int | None = Query(None, ge=0, le=300_000, description="Meters rond het midden van de postcode"),
    page: int = Query(1, ge=1, le=100_000),
    per_page: int = Query(50, ge=1, le=service.MAX_PER_PAGE),
    full: bool = Query(False, description="Volledig geneste diensten"),
) -> dict[str, Any]:
    """De gepubliceerde diensten, per pagina (HSDS 3.0 Page: total_items, total_pages, contents ...)."""
    code = service.require_kaart(session, kaart)
    if modified_after is not None and modified_after.tzinfo is None:
        from backend.kaart.schedule import TZ

        modified_after = modified_after.replace(tzinfo=TZ)
    return service.hsds_services(
        session,
        code,
        search_text=search,
        taxonomy_term_id=taxonomy_term_id,
        modified_after=modified_after,
        postcode=postcode,
        proximity=proximity,
        page=page,
        per_page=per_page,
        full=full,
    )


@hsds_api.get("/services/{service_id}")
def hsds_service(kaart: KaartCode, service_id: ServiceId, session: SessionDep) -> dict[str, Any]:
    """Eén volledig geneste HSDS-dienst."""
    return service.hsds_service(session, service.require_kaart(session, kaart), service_id)


router.include_router(public)
router.include_router(beheer)
router.include_router(admin)
router.include_router(gemeente_api)
router.include_router(hsds_api)

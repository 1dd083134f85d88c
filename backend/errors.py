"""Errors with a Dutch message for people, and Dutch texts for request validation errors."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from backend.requestlog import request_id_of

security_log = logging.getLogger("startklaar.security")
log = logging.getLogger("startklaar")


class AppError(Exception):
    """A business rule said no. `fields` maps a field name to a Dutch message."""

    def __init__(self, status: int, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = fields or {}


class FieldErrors(AppError):
    """422 with a Dutch message per field, in the same shape as request validation errors."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__(422, "Niet alles is goed ingevuld.", fields)


_MESSAGES: dict[str, str] = {
    "missing": "Dit veld is verplicht.",
    "json_invalid": "Dit is geen geldige JSON.",
    "json_type": "Stuur een JSON-object.",
    "model_attributes_type": "Stuur een JSON-object.",
    "dict_type": "Stuur een JSON-object.",
    "string_type": "Dit moet tekst zijn.",
    "int_parsing": "Dit moet een heel getal zijn.",
    "int_type": "Dit moet een heel getal zijn.",
    "bool_parsing": "Dit moet waar of onwaar zijn.",
    "bool_type": "Dit moet waar of onwaar zijn.",
    "date_from_datetime_parsing": "Dit is geen geldige datum. Gebruik JJJJ-MM-DD.",
    "date_parsing": "Dit is geen geldige datum. Gebruik JJJJ-MM-DD.",
    "date_type": "Dit is geen geldige datum. Gebruik JJJJ-MM-DD.",
    "date_from_datetime_inexact": "Geef alleen een datum, zonder tijd.",
    "datetime_parsing": "Dit is geen geldige datum en tijd.",
    "datetime_from_date_parsing": "Dit is geen geldige datum en tijd.",
    "list_type": "Dit moet een lijst zijn.",
    "extra_forbidden": "Dit veld kennen we niet.",
    "url_parsing": "Dit is geen geldig webadres.",
    "uuid_parsing": "Dit is geen geldige code.",
}


def _dutch(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    if kind == "value_error":
        # Our own validators raise ValueError with a Dutch text.
        return str(ctx.get("error", err.get("msg", ""))).removeprefix("Value error, ")
    if kind == "string_too_short":
        return f"Dit is te kort: gebruik minstens {ctx.get('min_length')} tekens."
    if kind == "string_too_long":
        return f"Dit is te lang: gebruik hoogstens {ctx.get('max_length')} tekens."
    if kind == "too_long":
        return f"Dit zijn er te veel: hoogstens {ctx.get('max_length')}."
    if kind == "literal_error" or kind == "enum":
        return f"Kies een van deze waarden: {ctx.get('expected', '')}."
    if kind == "string_pattern_mismatch":
        return "Deze waarde heeft niet de goede vorm."
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        return "Dit getal is te groot of te klein."
    return _MESSAGES.get(kind, "Deze waarde klopt niet.")


def _field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or "body"


def validation_error_body(errors: list[dict[str, Any]]) -> dict[str, Any]:
    detail = [{"loc": list(e.get("loc", ())), "msg": _dutch(e), "type": e.get("type", "")} for e in errors]
    fields: dict[str, str] = {}
    for e, d in zip(errors, detail, strict=True):
        fields.setdefault(_field_name(e.get("loc", ())), d["msg"])
    return {"detail": detail, "fields": fields}


def document_error_bodies(openapi: dict[str, Any]) -> dict[str, Any]:
    """Make the documented 422 body (HTTPValidationError) match what the API sends: FastAPI documents only
    `detail` as a list; our 422s also carry `fields` (and `message`), and a 422 from a business rule (a refused
    upload, too many ticks at once) has `detail` as one Dutch sentence."""
    body = openapi.get("components", {}).get("schemas", {}).get("HTTPValidationError")
    if body is not None:
        props = body.setdefault("properties", {})
        listed = {k: v for k, v in props.get("detail", {}).items() if k != "title"}
        props["detail"] = {"title": "Detail", "anyOf": [listed or {"type": "array"}, {"type": "string"}]}
        props["fields"] = {"title": "Fields", "type": "object", "additionalProperties": {"type": "string"}}
        props["message"] = {"title": "Message", "type": "string"}
    return openapi


async def request_validation_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(validation_error_body(list(exc.errors())), status_code=422)


async def app_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    if exc.status in (401, 403, 429):  # refusals and lock-outs: the security log (never a secret in it)
        client = request.client.host if request.client else "-"
        what = {401: "niet ingelogd", 403: "geweigerd", 429: "te veel pogingen"}[exc.status]
        level = logging.INFO if exc.status == 401 else logging.WARNING  # 401: also every visit without login
        security_log.log(level, "%s: %s %s ip=%s", what, request.method, request.url.path, client)
    if exc.fields:
        detail = [{"loc": ["body", f], "msg": m, "type": "value_error"} for f, m in exc.fields.items()]
        return JSONResponse({"detail": detail, "fields": exc.fields, "message": exc.message}, exc.status)
    headers = getattr(exc, "headers", None)
    return JSONResponse({"detail": exc.message}, exc.status, headers=headers)


_HTTP_MESSAGES = {
    401: "Log eerst in.",
    403: "Dit mag je niet doen.",
    404: "Dit bestaat niet (meer).",
    405: "Deze actie kan hier niet.",
    429: "Te veel pogingen. Wacht even en probeer het dan opnieuw.",
}


async def http_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail
    if detail is None or detail in ("Not Found", "Method Not Allowed", "Unauthorized", "Forbidden"):
        detail = _HTTP_MESSAGES.get(exc.status_code, "Er ging iets mis.")
    return JSONResponse({"detail": detail}, exc.status_code, headers=getattr(exc, "headers", None))


# --- the database is down, full, read-only or busy -------------------------------------------------

DB_FULL = "De opslag van de server is vol. Wat je net deed is niet bewaard. Probeer het later opnieuw."
DB_READ_ONLY = (
    "De server kan nu alleen gegevens lezen, niet bewaren. Wat je net deed is niet bewaard. Probeer het later opnieuw."
)
DB_BUSY = "Het is even heel druk. Wat je net deed is niet bewaard. Probeer het zo opnieuw."
DB_UNAVAILABLE = (
    "De server kan even niet bij de gegevens. Wat je net deed is misschien niet bewaard. Probeer het zo opnieuw."
)
SERVER_ERROR = "Er ging iets mis op de server. Probeer het later opnieuw."

# (reason, Dutch message, Retry-After seconds)
_OUTAGES: dict[str, tuple[str, str, int]] = {
    "full": ("database_full", DB_FULL, 60),
    "read_only": ("database_read_only", DB_READ_ONLY, 60),
    "busy": ("database_busy", DB_BUSY, 2),
    "unavailable": ("database_unavailable", DB_UNAVAILABLE, 5),
}
_PG_STATES = {"53100": "full", "25006": "read_only", "40001": "busy", "40P01": "busy", "55P03": "busy", "57014": "busy"}


def database_outage(exc: BaseException) -> str | None:
    """Which kind of database outage this exception is ("full", "read_only", "busy", "unavailable"), or None
    when it is not an outage but a bug (a broken constraint, bad SQL, a corrupt file ...)."""
    if isinstance(exc, sa_exc.TimeoutError):  # no free connection in the pool
        return "busy"
    if not isinstance(exc, sa_exc.DBAPIError):
        return None
    orig = exc.orig
    sqlite_name = getattr(orig, "sqlite_errorname", None)
    if sqlite_name is None and str(orig) == "database is locked":  # backend.db's own write lock timed out
        sqlite_name = "SQLITE_BUSY"
    if isinstance(sqlite_name, str):
        if sqlite_name == "SQLITE_FULL":
            return "full"
        if sqlite_name.startswith("SQLITE_READONLY"):
            return "read_only"
        if sqlite_name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            return "busy"
        if sqlite_name.startswith(("SQLITE_IOERR", "SQLITE_CANTOPEN")):
            return "unavailable"
        return None
    state = getattr(orig, "sqlstate", None)
    if isinstance(state, str) and state in _PG_STATES:
        return _PG_STATES[state]
    if exc.connection_invalidated or isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        return "unavailable"
    return None


def outage_response(kind: str, request_id: str | None = None) -> JSONResponse:
    reason, message, retry = _OUTAGES[kind]
    body = {"detail": message, "reason": reason} | ({"request_id": request_id} if request_id else {})
    return JSONResponse(body, 503, headers={"Retry-After": str(retry)})


TEXT_WITH_NUL = "Er staat een onzichtbaar teken (NUL) in wat je stuurde. Dat kunnen we niet bewaren. Haal het weg."


def is_nul_in_text(exc: BaseException) -> bool:
    """PostgreSQL cannot store a NUL character in text (SQLite can): psycopg refuses it before sending. That is
    bad input, not a server error."""
    return isinstance(exc, sa_exc.DataError) and "NUL (0x00)" in str(exc.orig)


async def database_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """503 with a Dutch message when the database is down, full, read-only or busy; anything else is a bug
    and goes on to the 500 handler (re-raised, so it is logged with its traceback)."""
    kind = database_outage(exc)
    if kind is None:
        if is_nul_in_text(exc):
            return JSONResponse({"detail": TEXT_WITH_NUL}, 422)
        raise exc
    log.warning("database %s on %s %s: %s", kind, request.method, request.url.path, exc.__class__.__name__)
    return outage_response(kind, request_id_of(request.scope))


async def server_error_handler(request: Request, _exc: Exception) -> JSONResponse:
    """The last resort: a Dutch JSON answer instead of a bare "Internal Server Error" (Starlette logs the
    exception itself). It runs outside the middleware stack, so it adds the security headers itself."""
    rid = request_id_of(request.scope)
    # The id lets a person quote the problem and an operator find its log lines (with the traceback).
    response = JSONResponse({"detail": SERVER_ERROR, "request_id": rid}, 500, headers={"X-Request-ID": rid})
    for name, value in getattr(request.app.state, "security_headers", []):
        response.headers.append(name.decode(), value.decode())
    return response

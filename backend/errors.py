"""Errors with a Dutch message for people, and Dutch texts for request validation errors."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


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


async def request_validation_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(validation_error_body(list(exc.errors())), status_code=422)


async def app_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
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

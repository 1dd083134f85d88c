from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import HTMLResponse, JSONResponse

from backend.accounts import service as accounts
from backend.accounts.deps import CSRF_COOKIE, SESSION_COOKIE, CurrentUser, client_ip
from backend.accounts.models import utcnow
from backend.clock import nl_date
from backend.db import OneHopRoute, SessionDep
from backend.privacy import page, service
from backend.privacy.models import DeleteAccountIn, ExportOut

router = APIRouter(prefix="/api", tags=["privacy"], route_class=OneHopRoute)

PRIVATE = {"Cache-Control": "no-store"}


def _filename(now_day: str, ext: str) -> str:
    return f'attachment; filename="startklaar-gegevens-{now_day}.{ext}"'


@router.get("/me/export", response_model=ExportOut)
def export_json(user: CurrentUser, session: SessionDep) -> Response:
    """Download mijn gegevens: alles wat Startklaar over jou bewaart, als JSON-bestand."""
    now = utcnow()
    data = service.export(session, user, now)
    headers = {**PRIVATE, "Content-Disposition": _filename(nl_date(now).isoformat(), "json")}
    return Response(data.model_dump_json(indent=2), media_type="application/json", headers=headers)


@router.get("/me/export.html", response_class=HTMLResponse)
def export_html(user: CurrentUser, session: SessionDep) -> HTMLResponse:
    """Mijn gegevens als pagina om te lezen (of te bewaren en te printen)."""
    data = service.export(session, user, utcnow())
    return HTMLResponse(page.render(data), headers=PRIVATE)


@router.delete("/me", status_code=status.HTTP_204_NO_CONTENT, responses={401: {}, 409: {}, 422: {}, 429: {}})
def delete_me(body: DeleteAccountIn, request: Request, user: CurrentUser, session: SessionDep) -> Response:
    """Verwijder mijn account en alles wat erbij hoort, meteen. Bevestig met je wachtwoord; log je in via je
    organisatie (zonder wachtwoord), stuur dan {"confirm": "VERWIJDER"}."""
    if service.check_delete_request(session, user, body):
        keys = [
            (service.delete_attempt_key(user.id), service.DELETE_PER_USER),  # type: ignore[arg-type]
            (f"delete-ip:{client_ip(request)}", service.DELETE_PER_IP),
        ]
        for key, limit in keys:
            accounts.check_rate_limit(session, key, limit)
        if not service.password_matches(user, body.password or ""):
            for key, limit in keys:
                accounts.record_failure(session, key, limit)
            # The failure is counted in a transaction of its own (accounts.service.record_failures).
            return JSONResponse({"detail": "Je wachtwoord klopt niet. Je account is niet verwijderd."}, status_code=401)
    service.delete_person(session, user)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)
    return response

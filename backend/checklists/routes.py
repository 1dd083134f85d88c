from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from backend.accounts import service as accounts_service
from backend.accounts.deps import SESSION_COOKIE, CurrentUser, get_current_user
from backend.checklists import service
from backend.checklists.models import (
    AnonymousPlanIn,
    PlanOut,
    ProfileIn,
    ProfileOut,
    ProgressBatchItem,
    ProgressBatchResult,
    ProgressIn,
    ProgressOut,
    ProgressSaved,
    ReadinessOut,
)
from backend.clock import today_nl
from backend.db import OneHopRoute, SessionDep
from backend.errors import AppError, FieldErrors

router = APIRouter(prefix="/api", tags=["plan"], route_class=OneHopRoute)


@router.get("/content", response_model=dict[str, Any])
def get_content(request: Request) -> Response:
    """De checklists met alle stappen (teksten, links, bronnen). Verandert zelden: cache op versie."""
    catalogue = service.content()
    etag = f'"{catalogue.version}"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=3600"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return JSONResponse(catalogue.public_dict(), headers=headers)


@router.post("/plan", response_model=PlanOut)
def anonymous_plan(body: AnonymousPlanIn, session: SessionDep) -> dict[str, Any]:
    """Je plan zonder account: je gegevens en vinkjes komen van je telefoon en worden niet bewaard."""
    return service.anonymous_plan(session, body.profile, dict(body.progress), today_nl()).to_dict()


@router.get("/me/profile", response_model=ProfileOut)
def get_profile(user: CurrentUser, session: SessionDep) -> ProfileOut:
    row = service.get_profile(session, user.id)  # type: ignore[arg-type]
    if row is None:
        raise AppError(404, "Je hebt je gegevens nog niet ingevuld.")
    return ProfileOut.model_validate(row, from_attributes=True)


@router.put("/me/profile", response_model=ProfileOut)
def put_profile(body: ProfileIn, user: CurrentUser, session: SessionDep) -> ProfileOut:
    """Je geboortedatum, gemeente, vertrekdatum (als je die hebt) en waar je woont."""
    row = service.put_profile(session, user.id, body, today_nl())  # type: ignore[arg-type]
    return ProfileOut.model_validate(row, from_attributes=True)


def _plan_body(request: Request) -> bytes | None:
    with Session(request.app.state.engine) as session:
        token = request.cookies.get(SESSION_COOKIE)
        user_id = accounts_service.live_user_id(session, token) if token else None
        if user_id is None:  # the full check: expired, unknown or due for a touch
            user_id = get_current_user(request, session).id
        body = service.user_plan_json(session, user_id, today_nl())  # type: ignore[arg-type]
        session.commit()  # the session's last-used time, when it was touched
    return body


@router.get("/me/plan", response_model=PlanOut, responses={401: {}, 404: {}})
async def get_plan(request: Request) -> Response:
    """Je plan: je stappen met datum, in de bakjes nu doen, binnenkort, later en klaar."""
    # The most frequent request (bench/plan_load.py). A cached plan for a fresh session was already answered
    # by shortcut.py before routing; here the full path: session check (and touch), plan computed and cached.
    body = await run_in_threadpool(_plan_body, request)
    if body is None:
        raise AppError(404, "Vul eerst je gegevens in. Dan maken we je plan.")
    body, headers = service.plan_response(body, request.headers.get("accept-encoding", ""))
    response = Response(body)
    response.raw_headers = [(b"content-length", str(len(body)).encode()), *headers]
    return response


@router.get("/me/readiness", response_model=ReadinessOut, responses={401: {}, 404: {}})
def get_readiness(user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    """Klaar voor vertrek? Per leefgebied of het belangrijkste geregeld is, en anders de volgende stap."""
    found = service.readiness_for(session, user.id, today_nl())  # type: ignore[arg-type]
    if found is None:
        raise AppError(404, "Vul eerst je gegevens in. Dan maken we je plan.")
    return found


@router.get("/me/progress", response_model=list[ProgressOut])
def list_progress(user: CurrentUser, session: SessionDep) -> list[ProgressOut]:
    return [ProgressOut.model_validate(r, from_attributes=True) for r in service.list_progress(session, user.id)]  # type: ignore[arg-type]


@router.put("/me/progress/{step_id}", response_model=ProgressSaved)
def put_progress(step_id: str, body: ProgressIn, user: CurrentUser, session: SessionDep) -> ProgressSaved:
    """Zet een stap op gedaan, niet voor mij, overgeslagen of weer open. Twee keer hetzelfde sturen kan geen kwaad."""
    result = service.put_progress(session, user.id, step_id, body)  # type: ignore[arg-type]
    return ProgressSaved(
        **ProgressOut.model_validate(result.row, from_attributes=True).model_dump(), applied=result.applied
    )


@router.post("/me/progress", response_model=list[ProgressBatchResult])
def put_progress_batch(
    items: list[ProgressBatchItem], user: CurrentUser, session: SessionDep
) -> list[ProgressBatchResult]:
    """Meerdere vinkjes tegelijk (de wachtrij van je telefoon na offline gebruik). Een fout item houdt de rest
    niet tegen: je krijgt per item terug wat er gebeurd is."""
    if len(items) > 500:
        raise AppError(422, "Stuur hoogstens 500 stappen tegelijk.")
    out = []
    for item in items:
        body = ProgressIn(state=item.state, client_updated_at=item.client_updated_at, client_id=item.client_id)
        try:
            result = service.put_progress(session, user.id, item.step_id, body)  # type: ignore[arg-type]
        except FieldErrors as exc:
            out.append(ProgressBatchResult(step_id=item.step_id, applied=False, error=next(iter(exc.fields.values()))))
            continue
        out.append(ProgressBatchResult(step_id=item.step_id, applied=result.applied, state=result.row.state))
    return out

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse

from backend.accounts import service as accounts
from backend.accounts.deps import CurrentUser, client_ip
from backend.accounts.models import UserAccount, utcnow
from backend.clock import today_nl
from backend.db import OneHopRoute, RowId, SessionDep
from backend.errors import AppError
from backend.sharing import service
from backend.sharing.models import (
    AuditOut,
    EncouragementIn,
    FollowerOut,
    FollowersOut,
    InviteCreated,
    InviteIn,
    InviteOut,
    InvitePreview,
    JongereSummary,
    LinkUpdate,
    MentorPlanOut,
    MessageOut,
    MessagesOut,
)


def _no_store(response: Response) -> None:
    # What a mentor may see can be revoked at any moment: nothing of it is kept on a device (the service
    # worker skips no-store answers), and the jongere's own sharing data stays off shared phones too.
    response.headers["Cache-Control"] = "no-store"


router = APIRouter(prefix="/api", tags=["meekijken"], dependencies=[Depends(_no_store)], route_class=OneHopRoute)

# Guessing codes: a wrong or dead code counts, per address and per account (bounded in time).
INVITE_PER_IP = accounts.Limit(30, timedelta(minutes=15))
INVITE_PER_USER = accounts.Limit(10, timedelta(minutes=15))

T = TypeVar("T")
CodePath = Path(min_length=1, max_length=32, description="De code van de uitnodiging, bijvoorbeeld ABCD2345")


def _counted(request: Request, session: SessionDep, user: UserAccount, action: Callable[[], T]) -> T | JSONResponse:
    keys = [(f"invite-ip:{client_ip(request)}", INVITE_PER_IP), (f"invite-user:{user.id}", INVITE_PER_USER)]
    for key, limit in keys:
        accounts.check_rate_limit(session, key, limit)
    try:
        return action()
    except AppError as exc:
        if exc.status not in (404, 410):
            raise
        for key, limit in keys:
            accounts.record_failure(session, key, limit)
        # The failure is counted in a transaction of its own (accounts.service.record_failures).
        return JSONResponse({"detail": exc.message}, status_code=exc.status)


# --- the jongere ----------------------------------------------------------------------------------------


@router.post("/me/invites", status_code=status.HTTP_201_CREATED, response_model=InviteCreated)
def create_invite(body: InviteIn, request: Request, user: CurrentUser, session: SessionDep) -> InviteCreated:
    """Nodig iemand uit om mee te kijken. Kies wat die persoon mag zien. De code werkt 7 dagen en één keer."""
    return service.create_invite(session, user, body, request.app.state.settings.base_url, utcnow())


@router.get("/me/invites", response_model=list[InviteOut])
def list_invites(user: CurrentUser, session: SessionDep) -> list[InviteOut]:
    """Je uitnodigingen die nog niet gebruikt, ingetrokken of verlopen zijn."""
    service.require_jongere(user)
    return service.open_invites(session, user.id, utcnow())  # type: ignore[arg-type]


@router.delete("/me/invites/{invite_id}", status_code=status.HTTP_204_NO_CONTENT, responses={404: {}, 409: {}})
def revoke_invite(invite_id: RowId, user: CurrentUser, session: SessionDep) -> Response:
    """Trek een uitnodiging in voordat iemand hem gebruikt."""
    service.require_jongere(user)
    service.revoke_invite(session, user.id, invite_id, utcnow())  # type: ignore[arg-type]
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me/followers", response_model=FollowersOut)
def list_followers(user: CurrentUser, session: SessionDep) -> FollowersOut:
    """Wie kijkt mee, wat ze zien en wanneer ze voor het laatst keken; en je open uitnodigingen."""
    service.require_jongere(user)
    return service.followers(session, user.id, utcnow())  # type: ignore[arg-type]


@router.put("/me/followers/{link_id}", response_model=FollowerOut, responses={404: {}})
def update_follower(link_id: RowId, body: LinkUpdate, user: CurrentUser, session: SessionDep) -> FollowerOut:
    """Kies opnieuw wat deze persoon ziet (geldt meteen), en of die een seintje krijgt als iets lang openstaat."""
    service.require_jongere(user)
    link = service.update_link(session, user.id, link_id, body, utcnow())  # type: ignore[arg-type]
    found = next(f for f in service.followers(session, user.id, utcnow()).followers if f.link_id == link.id)  # type: ignore[arg-type]
    return found


@router.delete("/me/followers/{link_id}", status_code=status.HTTP_204_NO_CONTENT, responses={404: {}})
def stop_follower(link_id: RowId, user: CurrentUser, session: SessionDep) -> Response:
    """Stop het meekijken van deze persoon. Het geldt meteen."""
    service.require_jongere(user)
    service.stop_link(session, user, link_id, utcnow())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me/audit", response_model=list[AuditOut])
def audit(
    user: CurrentUser, session: SessionDep, limit: int = Query(service.AUDIT_LIMIT, ge=1, le=500)
) -> list[AuditOut]:
    """Wie wat van jou heeft bekeken, en wanneer. Niemand kan dit veranderen."""
    return service.audit_for(session, user.id, limit)  # type: ignore[arg-type]


@router.get("/me/messages", response_model=MessagesOut)
def messages(user: CurrentUser, session: SessionDep) -> MessagesOut:
    """Je berichten: aanmoedigingen van wie meekijkt (of, als meekijker, seintjes)."""
    return service.messages(session, user.id)  # type: ignore[arg-type]


@router.post("/me/messages/{message_id}/read", response_model=MessageOut, responses={404: {}})
def read_message(message_id: RowId, user: CurrentUser, session: SessionDep) -> MessageOut:
    return service.mark_message_read(session, user.id, message_id, utcnow())  # type: ignore[arg-type]


# --- the mentor -----------------------------------------------------------------------------------------


@router.get("/invites/{code}", response_model=InvitePreview, responses={404: {}, 410: {}, 429: {}})
def preview_invite(
    request: Request, user: CurrentUser, session: SessionDep, code: str = CodePath
) -> InvitePreview | JSONResponse:
    """Wie nodigt je uit en wat ga je zien? (Log eerst in.)"""
    return _counted(request, session, user, lambda: service.preview_invite(session, code, utcnow()))


@router.post(
    "/invites/{code}/accept",
    status_code=status.HTTP_201_CREATED,
    response_model=JongereSummary,
    responses={403: {}, 404: {}, 409: {}, 410: {}, 429: {}},
)
def accept_invite(
    request: Request, user: CurrentUser, session: SessionDep, code: str = CodePath
) -> JongereSummary | JSONResponse:
    """Neem een uitnodiging aan met een meekijk-account."""

    def accept() -> JongereSummary:
        link = service.accept_invite(session, user, code, utcnow())
        return service.mentor_summary(session, user, link, today_nl(), utcnow())

    return _counted(request, session, user, accept)


@router.get("/mentor/jongeren", response_model=list[JongereSummary])
def mentor_jongeren(user: CurrentUser, session: SessionDep) -> list[JongereSummary]:
    """De jongeren met wie je meekijkt: voortgang per gedeeld leefgebied, wat te laat is of binnenkort komt."""
    return service.mentor_overview(session, user, today_nl(), utcnow())


@router.get("/mentor/jongeren/{link_id}/plan", response_model=MentorPlanOut, responses={404: {}})
def mentor_plan(link_id: RowId, user: CurrentUser, session: SessionDep) -> MentorPlanOut:
    """De gedeelde stappen van één jongere (alleen lezen)."""
    return service.mentor_plan(session, user, link_id, today_nl(), utcnow())


@router.post(
    "/mentor/jongeren/{link_id}/encouragements",
    status_code=status.HTTP_201_CREATED,
    response_model=MessageOut,
    responses={404: {}, 429: {}},
)
def encourage(link_id: RowId, body: EncouragementIn, user: CurrentUser, session: SessionDep) -> MessageOut:
    """Stuur een aanmoediging (hoogstens 280 tekens). De jongere ziet hem in de app, en als push als dat aan staat."""
    return service.send_encouragement(session, user, link_id, body, utcnow())


@router.delete("/mentor/jongeren/{link_id}", status_code=status.HTTP_204_NO_CONTENT, responses={404: {}})
def stop_following(link_id: RowId, user: CurrentUser, session: SessionDep) -> Response:
    """Stop met meekijken bij deze jongere."""
    service.require_mentor(user)
    service.stop_link(session, user, link_id, utcnow())
    return Response(status_code=status.HTTP_204_NO_CONTENT)

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response, status

from backend.accounts.deps import CurrentUser
from backend.db import OneHopRoute, RowId, SessionDep
from backend.reminders import push, service
from backend.reminders.models import (
    InboxItem,
    InboxOut,
    PreferencesIn,
    PreferencesOut,
    PublicKeyOut,
    PushSubscriptionIn,
    PushSubscriptionOut,
    PushSubscriptionRemove,
)

router = APIRouter(prefix="/api", tags=["herinneringen"], route_class=OneHopRoute)


@router.get("/push/public-key", response_model=PublicKeyOut)
def public_key(request: Request, response: Response) -> PublicKeyOut:
    """De publieke VAPID-sleutel: geef hem aan pushManager.subscribe() als applicationServerKey."""
    response.headers["Cache-Control"] = "no-cache"
    return PublicKeyOut(public_key=push.load_vapid(request.app.state.settings).public_key)


@router.post("/me/push-subscriptions", status_code=status.HTTP_201_CREATED, response_model=PushSubscriptionOut)
def subscribe(
    body: PushSubscriptionIn, request: Request, user: CurrentUser, session: SessionDep
) -> PushSubscriptionOut:
    """Zet pushberichten aan op dit apparaat. Stuur PushSubscription.toJSON(); nog een keer sturen kan geen kwaad."""
    settings = request.app.state.settings
    row = service.save_subscription(session, user.id, body, production=settings.is_production)  # type: ignore[arg-type]
    return PushSubscriptionOut.model_validate(row, from_attributes=True)


@router.delete("/me/push-subscriptions", status_code=status.HTTP_204_NO_CONTENT)
def unsubscribe(body: PushSubscriptionRemove, user: CurrentUser, session: SessionDep) -> Response:
    """Zet pushberichten uit op dit apparaat (alleen je eigen apparaat; ook als het al uit stond)."""
    service.remove_subscription(session, user.id, body.endpoint)  # type: ignore[arg-type]
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me/reminder-preferences", response_model=PreferencesOut)
def get_preferences(user: CurrentUser, session: SessionDep) -> PreferencesOut:
    return service.preferences_out(session, user.id)  # type: ignore[arg-type]


@router.put("/me/reminder-preferences", response_model=PreferencesOut)
def put_preferences(body: PreferencesIn, user: CurrentUser, session: SessionDep) -> PreferencesOut:
    """Push aan of uit, stille uren (Nederlandse tijd), pauzeren tot een datum, en over welke leefgebieden."""
    return service.put_preferences(session, user.id, body)  # type: ignore[arg-type]


@router.get("/me/reminders", response_model=InboxOut)
def inbox(user: CurrentUser, session: SessionDep, limit: int = Query(service.INBOX_LIMIT, ge=1, le=200)) -> InboxOut:
    """Je herinneringen waarvan het moment gekomen is, met of zonder pushbericht; de nieuwste eerst."""
    return service.inbox(session, user.id, limit=limit)  # type: ignore[arg-type]


@router.post("/me/reminders/{reminder_id}/read", response_model=InboxItem)
def mark_read(reminder_id: RowId, user: CurrentUser, session: SessionDep) -> InboxItem:
    return service.mark_read(session, user.id, reminder_id)  # type: ignore[arg-type]

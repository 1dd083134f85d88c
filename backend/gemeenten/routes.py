from __future__ import annotations

from fastapi import APIRouter, Query

from backend.db import OneHopRoute, SessionDep
from backend.gemeenten import service
from backend.gemeenten.models import GemeenteOut

router = APIRouter(prefix="/api/gemeenten", tags=["gemeenten"], route_class=OneHopRoute)


@router.get("", response_model=list[GemeenteOut])
def list_gemeenten(
    session: SessionDep, q: str | None = Query(default=None, max_length=100, description="Zoek op naam")
) -> list[GemeenteOut]:
    """Alle 342 gemeenten, of alleen die waarvan de naam `q` bevat (hoofdletters en accenten tellen niet)."""
    return [GemeenteOut.model_validate(g, from_attributes=True) for g in service.search_gemeenten(session, q)]

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from sqlmodel import Field, SQLModel

from backend.accounts.models import utcnow

Situation = Literal["instelling", "pleeggezin", "thuis", "zelfstandig"]
StepState = Literal["todo", "done", "not_for_me", "skipped"]


class UserProfile(SQLModel, table=True):
    """What the plan needs, and nothing more: no name, no address, no BSN."""

    __tablename__ = "user_profile"

    user_id: int = Field(primary_key=True, foreign_key="user_account.id", ondelete="CASCADE")
    birth_date: date
    gemeente_code: str = Field(foreign_key="gemeente.code", max_length=6)
    vertrekdatum: date | None = None
    situation: str | None = Field(default=None, max_length=16)
    updated_at: datetime = Field(default_factory=utcnow)


class StepProgress(SQLModel, table=True):
    """The state of one step for one person; last writer (by the device's clock, capped) wins."""

    __tablename__ = "step_progress"

    user_id: int = Field(primary_key=True, foreign_key="user_account.id", ondelete="CASCADE")
    step_id: str = Field(primary_key=True, max_length=80)
    state: str = Field(max_length=16)
    client_updated_at: datetime
    client_id: str = Field(max_length=64)
    updated_at: datetime = Field(default_factory=utcnow)


# --- API schemas --------------------------------------------------------------------------------------


class ProfileIn(SQLModel):
    birth_date: date
    gemeente_code: str = Field(max_length=10)
    vertrekdatum: date | None = None
    situation: Situation | None = None


class ProfileOut(ProfileIn):
    updated_at: datetime | None = None


class ProgressIn(SQLModel):
    state: StepState
    client_updated_at: datetime
    client_id: str = Field(min_length=8, max_length=64)


class ProgressOut(SQLModel):
    step_id: str
    state: str
    client_updated_at: datetime
    client_id: str
    updated_at: datetime

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from sqlmodel import Field, SQLModel

from backend.accounts.models import utcnow

Situation = Literal["instelling", "pleeggezin", "gezinshuis", "begeleid-wonen", "amv", "thuis", "zelfstandig"]
StepState = Literal["todo", "done", "not_for_me", "skipped"]


class UserProfile(SQLModel, table=True):
    """What the plan needs, and nothing more: no name, no address, no BSN."""

    __tablename__ = "user_profile"

    user_id: int = Field(primary_key=True, foreign_key="user_account.id", ondelete="CASCADE")
    birth_date: date
    gemeente_code: str = Field(foreign_key="gemeente.code", max_length=6)
    vertrekdatum: date | None = None
    situation: str | None = Field(default=None, max_length=16)
    # Where the jongere will live after leaving care; None: the same gemeente (issue 12).
    future_gemeente_code: str | None = Field(default=None, foreign_key="gemeente.code", max_length=6)
    updated_at: datetime = Field(default_factory=utcnow)
    # Bumped on every change to the profile or the progress: the key of the cached plan.
    revision: int = 0


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
    future_gemeente_code: str | None = Field(default=None, max_length=10)


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


class ProgressSaved(ProgressOut):
    applied: bool  # false: an older or repeated write was ignored (last writer wins per step)


class ProgressBatchItem(ProgressIn):
    step_id: str = Field(max_length=80)


class ProgressBatchResult(SQLModel):
    step_id: str
    applied: bool
    state: str | None = None  # the state the server keeps now
    error: str | None = None  # a Dutch message when this item was refused (the others still count)


class AnonymousPlanIn(SQLModel):
    profile: ProfileIn
    progress: dict[str, StepState] = Field(default_factory=dict)


class WindowOut(SQLModel):
    earliest: date | None
    latest: date | None


class PlanItemOut(SQLModel):
    step_id: str
    checklist: str
    leefgebied: str
    title: str
    due_date: date
    window: WindowOut | None
    bucket: Literal["nu", "binnenkort", "later", "klaar"]
    state: StepState
    overdue: bool
    label: str | None
    progress_key: str
    recurring: bool
    waiting_for: list[str]
    amounts: dict[str, str] = Field(default_factory=dict)


class LeefgebiedProgressOut(SQLModel):
    leefgebied: str
    label: str
    done: int
    total: int


class ReadinessItemOut(SQLModel):
    step_id: str
    title: str
    state: StepState


class ReadinessStepOut(SQLModel):
    step_id: str
    title: str


class ReadinessAreaOut(SQLModel):
    id: str
    label: str
    ready: bool
    items: list[ReadinessItemOut]
    next: ReadinessStepOut | None


class ReadinessOut(SQLModel):
    ready: bool
    vertrekdatum: date | None
    areas: list[ReadinessAreaOut]


class WoonsiteOut(SQLModel):
    id: str
    name: str
    url: str
    min_age: int
    fee: str | None = None
    fee_year: int | None = None
    renewal: str | None = None
    sources: list[str]
    peildatum: date


class PlanOut(SQLModel):
    today: date
    birthday_16: date
    birthday_18: date
    items: list[PlanItemOut]
    progress: list[LeefgebiedProgressOut]
    readiness: ReadinessOut | None = None
    woonsite: WoonsiteOut | None = None

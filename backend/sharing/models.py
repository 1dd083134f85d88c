"""Sharing between a jongere and the people they invite (mentor, JIM, ...): invites, links, messages, audit.

A link is the jongere's consent: which leefgebieden one person may see. Every read by that person checks
the live link (no cached access) and writes an audit entry the jongere can see. Messages are the in-app
inbox for encouragements (mentor -> jongere) and nudges (-> mentor); a push goes out when push is on.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import field_validator
from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.accounts.models import utcnow

LinkRole = Literal["jim", "mentor", "begeleider", "familie", "anders"]
ROLE_LABELS: dict[str, str] = {
    "jim": "JIM",
    "mentor": "Mentor",
    "begeleider": "Begeleider",
    "familie": "Ouder of familie",
    "anders": "Iemand anders",
}

# Message kinds and push states
ENCOURAGEMENT, NUDGE = "encouragement", "nudge"
RETENTION = "retention"  # from Startklaar itself: the account will be deleted (backend/privacy)
PUSH_PENDING, PUSH_SENT, PUSH_NONE, PUSH_FAILED = "pending", "sent", "none", "failed"


class Invite(SQLModel, table=True):
    """An invitation to follow a jongere. Only the code's SHA-256 is stored; the jongere sees the code once."""

    __tablename__ = "invite"

    id: int | None = Field(default=None, primary_key=True)
    jongere_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE", index=True)
    code_hash: str = Field(max_length=64, unique=True)
    role: str = Field(max_length=16)
    leefgebieden: str = Field(default="", max_length=400)  # comma-separated ids
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None
    revoked_at: datetime | None = None


class ShareLink(SQLModel, table=True):
    """One person following one jongere, with what the jongere shares with them."""

    __tablename__ = "share_link"
    __table_args__ = (UniqueConstraint("jongere_id", "mentor_id", name="uq_share_link_pair"),)

    id: int | None = Field(default=None, primary_key=True)
    jongere_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE", index=True)
    mentor_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE", index=True)
    role: str = Field(max_length=16)
    leefgebieden: str = Field(default="", max_length=400)  # comma-separated ids; empty: nothing shared
    nudges_enabled: bool = True  # the jongere may switch off "overdue" nudges to this person
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Message(SQLModel, table=True):
    """An in-app message (and maybe a push): an encouragement for a jongere or a nudge for a mentor."""

    __tablename__ = "message"
    __table_args__ = (
        UniqueConstraint("link_id", "dedupe_key", name="uq_message_dedupe"),
        Index("ix_message_push", "push_status", "push_after"),
        Index("ix_message_recipient", "recipient_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    recipient_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    # The link it came through; a message stays with its recipient when the link ends.
    link_id: int | None = Field(default=None, foreign_key="share_link.id", ondelete="SET NULL")
    sender_name: str = Field(max_length=40)  # as it was when sent
    kind: str = Field(max_length=16)
    text: str = Field(max_length=400)
    url: str = Field(default="/", max_length=200)
    dedupe_key: str | None = Field(default=None, max_length=120)  # nudges: one per step cycle per link
    created_at: datetime = Field(default_factory=utcnow)
    read_at: datetime | None = None
    push_status: str = Field(default=PUSH_PENDING, max_length=16)
    push_after: datetime = Field(default_factory=utcnow)
    lease_until: datetime | None = None


class AuditEntry(SQLModel, table=True):
    """Who looked at what of whose data, and when. Written by the service; the API never edits it.

    Repeated reads (the same mentor, kind of read and leefgebieden) within one window of READ_WINDOW are one
    entry: `read_slot` numbers the window, the unique index makes that hold for parallel reads too, `times`
    counts them and `last_at` is the last. Other actions have no slot and are never merged."""

    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_subject", "subject_id", "created_at"),
        Index("uq_audit_read", "subject_id", "actor_id", "action", "detail", "read_slot", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    subject_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")  # whose data
    actor_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL", index=True)
    actor_name: str = Field(max_length=40)  # kept readable when the actor's account is gone
    action: str = Field(max_length=40)
    detail: str = Field(default="", max_length=400)
    created_at: datetime = Field(default_factory=utcnow)
    read_slot: int | None = None  # reads only: created_at in whole READ_WINDOWs since 1970
    times: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    last_at: datetime | None = None  # reads only: the last read this entry stands for


# --- API schemas --------------------------------------------------------------------------------------


def _clean_ids(v: list[str]) -> list[str]:
    return list(dict.fromkeys(x.strip() for x in v if x.strip()))


class InviteIn(SQLModel):
    role: LinkRole
    leefgebieden: list[str] = Field(default_factory=list, max_length=20)

    _clean = field_validator("leefgebieden")(_clean_ids)


class InviteCreated(SQLModel):
    id: int
    code: str  # shown once; only its hash is stored
    url: str
    expires_at: datetime


class InviteOut(SQLModel):
    id: int
    role: str
    role_label: str
    leefgebieden: list[str]
    created_at: datetime
    expires_at: datetime


class InvitePreview(SQLModel):
    jongere_name: str
    role: str
    role_label: str
    leefgebieden: list[str]
    leefgebied_labels: list[str]
    expires_at: datetime


class LinkUpdate(SQLModel):
    leefgebieden: list[str] = Field(max_length=20)
    nudges_enabled: bool | None = None

    _clean = field_validator("leefgebieden")(_clean_ids)


class FollowerOut(SQLModel):
    link_id: int
    name: str
    role: str
    role_label: str
    leefgebieden: list[str]
    nudges_enabled: bool
    since: datetime
    last_viewed_at: datetime | None


class FollowersOut(SQLModel):
    followers: list[FollowerOut]
    invites: list[InviteOut]


class LeefgebiedShare(SQLModel):
    leefgebied: str
    label: str
    done: int
    total: int


class SharedStep(SQLModel):
    step_id: str
    leefgebied: str
    title: str
    due_date: date
    bucket: str
    state: str
    overdue: bool
    label: str | None


class JongereSummary(SQLModel):
    link_id: int
    name: str
    age: int | None
    role: str
    role_label: str
    leefgebieden: list[LeefgebiedShare]
    overdue: int
    due_soon: int
    last_activity: datetime | None
    has_plan: bool


class MentorPlanOut(JongereSummary):
    steps: list[SharedStep]


class EncouragementIn(SQLModel):
    text: str = Field(max_length=1000)  # the real limit (280) is checked with a Dutch message


class MessageOut(SQLModel):
    id: int
    kind: str
    sender_name: str
    text: str
    url: str
    created_at: datetime
    read: bool


class MessagesOut(SQLModel):
    items: list[MessageOut]
    unread: int


class AuditOut(SQLModel):
    id: int
    actor_name: str
    action: str
    what: str  # Dutch, for people
    created_at: datetime
    times: int = 1  # repeated reads within a few minutes are one entry
    last_at: datetime | None = None  # the last of those reads

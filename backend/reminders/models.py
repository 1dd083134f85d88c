"""Reminder tables (subscriptions, preferences, reminders, deliveries) and the API schemas.

Reminder statuses
-----------------
``pending``  waits for ``next_attempt_at`` (its send moment, the end of quiet hours, or a retry).
``sent``     pushed to at least one device.
``inbox``    not pushed (push off, paused, leefgebied not chosen, or no device); only in the in-app inbox.
``failed``   every device refused it or the attempts ran out; still in the inbox.
Every reminder whose ``send_at`` has passed is in the inbox, whatever its status.
"""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.accounts.models import utcnow

PENDING, SENT, INBOX, FAILED = "pending", "sent", "inbox", "failed"
DELIVERY_SENT, DELIVERY_RETRY, DELIVERY_FAILED = "sent", "retry", "failed"

ENDPOINT_MAX = 2048
DEFAULT_QUIET_START = time(21, 0)
DEFAULT_QUIET_END = time(9, 0)


class PushSubscription(SQLModel, table=True):
    """One device's push subscription (PushSubscription.toJSON() in the browser). One endpoint, one owner."""

    __tablename__ = "push_subscription"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE", index=True)
    endpoint: str = Field(max_length=ENDPOINT_MAX, unique=True)
    p256dh: str = Field(max_length=100)  # base64url, 65-byte uncompressed P-256 point
    auth: str = Field(max_length=40)  # base64url, 16 bytes
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ReminderPreferences(SQLModel, table=True):
    """How a person wants reminders. No row means the defaults."""

    __tablename__ = "reminder_preferences"

    user_id: int = Field(primary_key=True, foreign_key="user_account.id", ondelete="CASCADE")
    push_enabled: bool = True
    quiet_start: time = DEFAULT_QUIET_START  # Europe/Amsterdam; equal start and end: no quiet hours
    quiet_end: time = DEFAULT_QUIET_END
    paused_until: date | None = None  # no pushes up to and including this day
    leefgebieden: str | None = Field(default=None, max_length=400)  # comma-separated ids; None = all
    updated_at: datetime = Field(default_factory=utcnow)


class Reminder(SQLModel, table=True):
    """One reminder moment for one person: (step, rule id, due date). Sent rows are the inbox history."""

    __tablename__ = "reminder"
    __table_args__ = (
        UniqueConstraint("user_id", "step_id", "rule_id", "due_on", name="uq_reminder_moment"),
        Index("ix_reminder_claim", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    step_id: str = Field(max_length=80)
    rule_id: str = Field(max_length=40)
    due_on: date
    send_at: datetime  # due_on at 10:00 Europe/Amsterdam, in UTC; the inbox shows it as due_at
    status: str = Field(default=PENDING, max_length=16)
    next_attempt_at: datetime
    attempts: int = 0
    lease_until: datetime | None = None
    claimed_by: str | None = Field(default=None, max_length=64)
    finished_at: datetime | None = None
    read_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class ReminderDelivery(SQLModel, table=True):
    """The outcome of one reminder on one device; unique, so a device gets a reminder at most once."""

    __tablename__ = "reminder_delivery"
    __table_args__ = (UniqueConstraint("reminder_id", "subscription_id", name="uq_reminder_delivery"),)

    id: int | None = Field(default=None, primary_key=True)
    reminder_id: int = Field(foreign_key="reminder.id", ondelete="CASCADE")
    subscription_id: int = Field(foreign_key="push_subscription.id", ondelete="CASCADE", index=True)
    status: str = Field(max_length=16)  # sent | retry | failed
    attempts: int = 0
    last_status_code: int | None = None
    updated_at: datetime = Field(default_factory=utcnow)


# --- API schemas --------------------------------------------------------------------------------------


class PushKeys(SQLModel):
    p256dh: str = Field(max_length=200)
    auth: str = Field(max_length=100)


class PushSubscriptionIn(SQLModel):
    endpoint: str = Field(max_length=4096)  # the real limit (2048) is checked with a Dutch message
    keys: PushKeys  # other fields of PushSubscription.toJSON() (expirationTime) are ignored


class PushSubscriptionRemove(SQLModel):
    endpoint: str = Field(max_length=4096)


class PushSubscriptionOut(SQLModel):
    endpoint: str
    created_at: datetime
    updated_at: datetime


class PublicKeyOut(SQLModel):
    public_key: str  # base64url uncompressed P-256 point: the applicationServerKey


class LeefgebiedOption(SQLModel):
    id: str
    label: str


class PreferencesIn(SQLModel):
    push_enabled: bool = True
    quiet_start: str = Field(default="21:00", max_length=5, description="UU:MM, Nederlandse tijd")
    quiet_end: str = Field(default="09:00", max_length=5, description="UU:MM, Nederlandse tijd")
    paused_until: date | None = None
    leefgebieden: list[str] | None = Field(default=None, max_length=20, description="null: alle leefgebieden")


class PreferencesOut(SQLModel):
    push_enabled: bool
    quiet_start: str
    quiet_end: str
    paused_until: date | None
    leefgebieden: list[str]  # the chosen ids (all of them by default)
    options: list[LeefgebiedOption]  # every leefgebied, for the settings screen
    devices: int  # devices with a push subscription


class InboxItem(SQLModel):
    id: int
    step_id: str
    title: str
    body: str
    url: str
    due_at: datetime
    status: str
    read: bool


class InboxOut(SQLModel):
    items: list[InboxItem]
    unread: int

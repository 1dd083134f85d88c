"""API schemas for "Download mijn gegevens" and "Verwijder mijn account". Privacy has no tables of its own."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from backend.sharing.models import AuditOut, MessageOut

CONFIRM_WORD = "VERWIJDER"


class DeleteAccountIn(SQLModel):
    """One body for every account: the password, or (an account that only logs in through an organisation)
    the word VERWIJDER."""

    password: str | None = Field(default=None, max_length=1000, description="Je wachtwoord")
    confirm: str | None = Field(
        default=None,
        max_length=40,
        description=f'Alleen als je inlogt via je organisatie (zonder wachtwoord): typ "{CONFIRM_WORD}"',
    )


class ExportAccount(SQLModel):
    username: str
    role: str
    display_name: str | None
    created_at: datetime
    last_seen_at: datetime
    password_changed_at: datetime


class ExportProfile(SQLModel):
    birth_date: date
    gemeente_code: str
    gemeente: str | None
    vertrekdatum: date | None
    situation: str | None
    future_gemeente_code: str | None = None
    future_gemeente: str | None = None
    updated_at: datetime


class ExportProgress(SQLModel):
    step_id: str
    title: str | None  # None: the step is no longer in the content
    state: str
    client_updated_at: datetime
    updated_at: datetime


class ExportPreferences(SQLModel):
    push_enabled: bool
    quiet_start: str
    quiet_end: str
    paused_until: date | None
    leefgebieden: list[str] | None  # labels; None: all of them
    updated_at: datetime


class ExportReminder(SQLModel):
    step_id: str
    title: str | None
    due_on: date
    send_at: datetime
    status: str
    read: bool


class ExportDevice(SQLModel):
    endpoint_host: str  # never the full endpoint or its keys
    created_at: datetime
    updated_at: datetime


class ExportFollower(SQLModel):
    """Someone who follows this jongere, and what they see."""

    name: str
    role_label: str
    leefgebieden: list[str]  # labels
    nudges_enabled: bool
    since: datetime
    last_viewed_at: datetime | None


class ExportFollowing(SQLModel):
    """A jongere this person follows: her first name only."""

    name: str
    role_label: str
    leefgebieden: list[str]  # labels
    since: datetime


class ExportInvite(SQLModel):
    role_label: str
    leefgebieden: list[str]  # labels
    created_at: datetime
    expires_at: datetime


class ExportSentMessage(SQLModel):
    to: str  # the jongere's first name
    text: str
    created_at: datetime


class ExportView(SQLModel):
    """Something this person (as a mentor) looked at or did, from the jongere's audit log."""

    jongere: str
    what: str
    created_at: datetime


class ExportOidc(SQLModel):
    issuer: str
    created_at: datetime


class ExportSession(SQLModel):
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime


class ExportSessions(SQLModel):
    count: int
    items: list[ExportSession]


class ExportAttempts(SQLModel):
    """Counted attempts (failed logins, invite codes, delete attempts) kept to slow down guessing."""

    what: str
    window_start: datetime
    count: int


class ExportKaartAction(SQLModel):
    kaart: str
    what: str
    at: datetime | None


class ExportCorrection(SQLModel):
    kaart: str
    service_name: str
    message: str
    contact: str | None
    status: str
    created_at: datetime


class ExportKaart(SQLModel):
    gemeenten: list[str]  # the kaarten this editor may change
    actions: list[ExportKaartAction]  # uploads, publications, handled remarks, API clients made
    corrections_sent: list[ExportCorrection]  # "Klopt dit niet?" remarks this person sent


class ExportOut(SQLModel):
    generated_at: datetime
    account: ExportAccount
    profile: ExportProfile | None
    progress: list[ExportProgress]
    reminder_preferences: ExportPreferences | None  # None: the defaults, nothing stored
    reminders: list[ExportReminder]
    push_subscriptions: list[ExportDevice]
    followers: list[ExportFollower]
    following: list[ExportFollowing]
    open_invites: list[ExportInvite]
    messages: list[MessageOut]
    messages_sent: list[ExportSentMessage]
    audit: list[AuditOut]  # who looked at your data
    views: list[ExportView]  # what you looked at (as a mentor)
    oidc_identities: list[ExportOidc]
    sessions: ExportSessions
    attempts: list[ExportAttempts]
    kaart: ExportKaart

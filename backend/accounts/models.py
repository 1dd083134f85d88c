from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import field_validator
from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

Role = Literal["jongere", "mentor", "editor", "admin"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class UserAccount(SQLModel, table=True):
    """A person who logs in. No e-mail, phone or BSN: a username and a password are enough."""

    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=32, unique=True, index=True)  # stored lower case
    password_hash: str = Field(max_length=200)
    recovery_code_hash: str = Field(max_length=200)
    role: str = Field(default="jongere", max_length=16)
    # First name or nickname, shown to a mentor the jongere invited; optional.
    display_name: str | None = Field(default=None, max_length=40)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    password_changed_at: datetime = Field(default_factory=utcnow)


class AuthSession(SQLModel, table=True):
    """A login on one device. The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "auth_session"

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime


class OidcIdentity(SQLModel, table=True):
    """A login at an organisation's OpenID Connect provider, tied to one (mentor) account by (issuer, sub)."""

    __tablename__ = "oidc_identity"
    __table_args__ = (UniqueConstraint("issuer", "subject", name="uq_oidc_identity"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE", index=True)
    issuer: str = Field(max_length=255)
    subject: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow)


class RateLimitHit(SQLModel, table=True):
    """Failed attempts per key (e.g. "login-ip:1.2.3.4") per time window; shared by all API processes."""

    __tablename__ = "rate_limit_hit"

    key: str = Field(primary_key=True, max_length=200)
    window_start: datetime = Field(primary_key=True)
    count: int = 0


# --- API schemas --------------------------------------------------------------------------------------


class Credentials(SQLModel):
    username: str = Field(max_length=200)
    password: str = Field(max_length=1000)


class AccountCreate(Credentials):
    display_name: str | None = Field(default=None, max_length=40)
    # "mentor": someone who follows a jongere who invited them (JIM, mentor, family). Other roles are given
    # by an admin, never chosen at sign-up.
    account_type: Literal["jongere", "mentor"] = "jongere"

    @field_validator("display_name")
    @classmethod
    def _strip(cls, v: str | None) -> str | None:
        return (v or "").strip() or None


class PasswordChange(SQLModel):
    current_password: str = Field(max_length=1000)
    new_password: str = Field(max_length=1000)


class Recovery(SQLModel):
    username: str = Field(max_length=200)
    recovery_code: str = Field(max_length=100)
    new_password: str = Field(max_length=1000)


class AccountOut(SQLModel):
    username: str
    role: str
    display_name: str | None
    created_at: datetime


class SessionOut(SQLModel):
    account: AccountOut
    csrf_token: str


class CreatedAccountOut(SessionOut):
    recovery_code: str  # shown once; only its hash is stored


class RecoveryCodeOut(SQLModel):
    recovery_code: str

from __future__ import annotations

import re
import unicodedata
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


# --- names shown to others ---------------------------------------------------------------------------------
#
# A display name is shown to other people (a jongere's mentor, a mentor's jongeren), so it may not hide or
# reorder text (bidi overrides, zero-width and other invisible characters, controls, private use, unassigned
# code points, line separators), stack marks without end, or pass for Startklaar or its beheer.

NAME_INVISIBLE = "Je naam mag geen onzichtbare tekens of tekens die de tekst omdraaien bevatten. Typ je naam opnieuw."
NAME_PRODUCT = "Deze naam lijkt op Startklaar of op de beheerder. Kies een andere naam."
NAME_STACKED = "Je naam heeft te veel tekens boven of onder elkaar. Typ je naam opnieuw."

_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})
_ZWNJ, _ZWJ, _VS16 = "\u200c", "\u200d", "\ufe0f"
_MAX_MARKS = 3  # combining marks in a row (a keycap emoji has 2; NFC leaves Latin, Vietnamese, Thai with <= 2)

# Look-alikes folded onto one letter, applied after NFKD, casefold and dropping accents ("5tartk1aar",
# Cyrillic "Аdmin"); "rn" reads as "m". The product's and beheer's names are folded the same way.
_FOLD = str.maketrans(
    {
        **dict.fromkeys("il1|!ıіӏιɩ", "l"),
        **dict.fromkeys("0оοσ", "o"),
        **dict.fromkeys("3еεэ", "e"),
        **dict.fromkeys("4@аα", "a"),
        **dict.fromkeys("5$ѕ", "s"),
        **dict.fromkeys("7+тτ", "t"),
        **dict.fromkeys("сϲ", "c"),
        **dict.fromkeys("рρ", "p"),
        **dict.fromkeys("хχ", "x"),
        **dict.fromkeys("уγ", "y"),
        **dict.fromkeys("кκ", "k"),
        **dict.fromkeys("м", "m"),
        **dict.fromkeys("нһ", "h"),
        **dict.fromkeys("јϳ", "j"),
        **dict.fromkeys("ԁ", "d"),
        **dict.fromkeys("ѵν", "v"),
        **dict.fromkeys("ԝω", "w"),
        **dict.fromkeys("8β", "b"),
    }
)


def _folded_words(text: str) -> list[str]:
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c)).translate(_FOLD).replace("rn", "m")
    return [w for w in re.split(r"[^a-z0-9]+", text) if w]


_PRODUCT = "".join(_folded_words("startklaar"))
_STAFF = frozenset(
    "".join(_folded_words(w))
    for w in ("beheer", "beheerder", "beheerders", "admin", "admins", "administrator", "sysadmin", "moderator")
)


def passes_for_staff(name: str) -> bool:
    """True for 'Startklaar' (also spread out or within a name) and for the beheer's titles as a word, in any
    case, with look-alike letters or digits."""
    words = _folded_words(name)
    return _PRODUCT in "".join(words) or any(w in _STAFF for w in words)


def _joiner_ok(prev: str, nxt: str) -> bool:
    """ZWJ/ZWNJ where a script or an emoji needs them: between two non-Latin letters (Persian, Indic), or a
    ZWJ inside an emoji sequence ('👩‍💻')."""
    if not prev or not nxt:
        return False
    cat_prev, cat_next = unicodedata.category(prev), unicodedata.category(nxt)
    letters = cat_prev.startswith("L") and cat_next.startswith("L") and ord(prev) > 0x24F and ord(nxt) > 0x24F
    emoji = (cat_prev in ("So", "Sk") or prev == _VS16) and cat_next == "So"
    return letters or emoji


def has_hidden_characters(text: str) -> bool:
    """True when the text has a control, bidi, invisible, private-use, unassigned or line-separator character
    (a joiner only where a script or emoji needs it: _joiner_ok). Also for other texts people send each other."""
    for i, c in enumerate(text):
        if c in (_ZWJ, _ZWNJ):
            if not _joiner_ok(text[i - 1] if i else "", text[i + 1] if i + 1 < len(text) else ""):
                return True
        elif unicodedata.category(c) in _REFUSED_CATEGORIES:
            return True
    return False


def _name_problem(text: str) -> str | None:
    """Which rule an NFC text breaks (a Dutch message), or None."""
    if has_hidden_characters(text):
        return NAME_INVISIBLE
    marks = 0
    for i, c in enumerate(text):
        marks = marks + 1 if unicodedata.category(c) in ("Mn", "Me") else 0
        if marks > _MAX_MARKS or (marks and i == 0):
            return NAME_STACKED
    if passes_for_staff(text):
        return NAME_PRODUCT
    return None


def clean_display_name(value: str | None) -> str | None:
    """The name as stored: NFC, spaces tidied; None when empty. ValueError with a Dutch message otherwise."""
    text = unicodedata.normalize("NFC", value or "")
    if (problem := _name_problem(text)) is not None:
        raise ValueError(problem)
    return " ".join(text.split()) or None


def shown_name(value: str | None) -> str | None:
    """A stored name as it may be shown to someone else: names stored before clean_display_name existed, or
    taken from an organisation's login, lose the characters it refuses (controls and line breaks become
    spaces). None when nothing is left, or when the name passes for Startklaar or its beheer."""
    text = unicodedata.normalize("NFC", value or "")
    kept: list[str] = []
    marks = 0
    for i, c in enumerate(text):
        cat = unicodedata.category(c)
        if c in (_ZWJ, _ZWNJ):
            if kept and i + 1 < len(text) and _joiner_ok(kept[-1], text[i + 1]):
                kept.append(c)
            continue
        if cat in _REFUSED_CATEGORIES:
            if c.isspace() or cat in ("Zl", "Zp"):
                kept.append(" ")
            continue
        marks = marks + 1 if cat in ("Mn", "Me") else 0
        if marks and (marks > _MAX_MARKS or not kept):
            continue
        kept.append(c)
    name = " ".join("".join(kept).split())[:40].strip()
    return name if name and not passes_for_staff(name) else None


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
    def _clean(cls, v: str | None) -> str | None:
        return clean_display_name(v)


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

"""Accounts: passwords (argon2id), sessions, recovery codes and rate limits on guessing."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, select

from backend.accounts.models import AuthSession, RateLimitHit, UserAccount, passes_for_staff, utcnow
from backend.errors import AppError, FieldErrors

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,31}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 128
SESSION_IDLE = timedelta(days=30)
SESSION_MAX = timedelta(days=180)
TOUCH_EVERY = timedelta(minutes=10)  # write last_used_at at most this often
# Passwords people pick first; refused so a guess in the rate-limit window rarely works.
COMMON_PASSWORDS = {
    "12345678",
    "123456789",
    "1234567890",
    "password",
    "wachtwoord",
    "wachtwoord1",
    "qwertyuiop",
    "11111111",
    "00000000",
    "abcdefgh",
    "iloveyou",
    "welkom01",
    "welkom123",
    "password1",
    "qwerty123",
    "startklaar",
    "startklaar1",
}
# Recovery codes: 4 groups of 4 from an alphabet without look-alikes (no 0/O, 1/I/L).
RECOVERY_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

_hasher = PasswordHasher()  # argon2id with the library's recommended parameters


def configure_hasher(memory_kib: int, time_cost: int) -> None:
    """Tests use cheaper argon2id parameters; production keeps the defaults."""
    global _hasher
    _hasher = PasswordHasher(memory_cost=memory_kib, time_cost=time_cost, parallelism=1)


def hash_secret(value: str) -> str:
    return _hasher.hash(value)


def verify_secret(stored: str, value: str) -> bool:
    try:
        return _hasher.verify(stored, value)
    except (VerificationError, InvalidHashError):
        return False


_DUMMY_HASH: str | None = None


def _burn_time(password: str) -> None:
    """Unknown usernames cost as much as wrong passwords, so timing does not reveal who has an account."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = _hasher.hash("dummy-password-for-timing")
    verify_secret(_DUMMY_HASH, password)


def normalise_username(username: str) -> str:
    return username.strip().lower()


def check_new_password(password: str, username: str) -> str | None:
    if len(password) < MIN_PASSWORD:
        return f"Je wachtwoord is te kort. Gebruik minstens {MIN_PASSWORD} tekens."
    if len(password) > MAX_PASSWORD:
        return f"Je wachtwoord is te lang. Gebruik hoogstens {MAX_PASSWORD} tekens."
    if password.lower() in COMMON_PASSWORDS or password.lower() == username:
        return "Dit wachtwoord is te makkelijk te raden. Kies een ander wachtwoord."
    return None


def new_recovery_code() -> str:
    raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def _normalise_recovery_code(code: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", code.upper())


def create_account(
    session: Session,
    username: str,
    password: str,
    role: str = "jongere",
    display_name: str | None = None,
    *,
    chosen: bool = False,
) -> tuple[UserAccount, str]:
    """Returns the new account and its recovery code (shown once). `chosen`: the person picked the name at
    sign-up (not an admin): it may not pass for Startklaar or its beheer, since a mentor sees the username of a
    jongere without a display name."""
    name = normalise_username(username)
    problems: dict[str, str] = {}
    if not USERNAME_RE.match(name):
        problems["username"] = (
            "Kies een gebruikersnaam van 3 tot 32 tekens: letters, cijfers, punt, streepje of liggend streepje."
        )
    elif chosen and passes_for_staff(name):
        problems["username"] = "Deze gebruikersnaam lijkt op Startklaar of op de beheerder. Kies een andere."
    if (msg := check_new_password(password, name)) is not None:
        problems["password"] = msg
    if problems:
        raise FieldErrors(problems)
    if session.exec(select(UserAccount.id).where(UserAccount.username == name)).first() is not None:
        raise UsernameTaken()
    code = new_recovery_code()
    # Both hashes (the slow part) before any write: no lock is held while they are computed.
    password_hash = hash_secret(password)
    recovery_hash = hash_secret(_normalise_recovery_code(code))
    user = UserAccount(
        username=name,
        password_hash=password_hash,
        recovery_code_hash=recovery_hash,
        role=role,
        display_name=display_name,
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:  # the same name signed up at the same moment: one wins, the other a 409
        if "username" not in str(exc.orig):
            raise
        raise UsernameTaken() from exc  # the request rolls back; nothing else of it is kept
    return user, code


class UsernameTaken(FieldErrors):
    def __init__(self) -> None:
        super().__init__({"username": "Deze gebruikersnaam is al in gebruik. Kies een andere."})
        self.status = 409


def authenticate(session: Session, username: str, password: str) -> UserAccount | None:
    user = session.exec(select(UserAccount).where(UserAccount.username == normalise_username(username))).first()
    if user is None:
        _burn_time(password)
        return None
    if not verify_secret(user.password_hash, password):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_secret(password)
        session.add(user)
    return user


def change_password(session: Session, user: UserAccount, current: str, new: str) -> None:
    if not verify_secret(user.password_hash, current):
        raise FieldErrors({"current_password": "Je huidige wachtwoord klopt niet."})
    if (msg := check_new_password(new, user.username)) is not None:
        raise FieldErrors({"new_password": msg})
    user.password_hash = hash_secret(new)
    user.password_changed_at = utcnow()
    session.add(user)
    end_all_sessions(session, user.id)


def recover(session: Session, username: str, code: str, new_password: str) -> tuple[UserAccount, str] | None:
    """Set a new password with the recovery code; returns the user and a fresh recovery code."""
    user = session.exec(select(UserAccount).where(UserAccount.username == normalise_username(username))).first()
    if user is None:
        _burn_time(code)
        return None
    if not verify_secret(user.recovery_code_hash, _normalise_recovery_code(code)):
        return None
    if (msg := check_new_password(new_password, user.username)) is not None:
        raise FieldErrors({"new_password": msg})
    fresh = new_recovery_code()  # a used code is spent
    user.password_hash = hash_secret(new_password)
    user.recovery_code_hash = hash_secret(_normalise_recovery_code(fresh))
    user.password_changed_at = utcnow()
    session.add(user)
    end_all_sessions(session, user.id)
    return user, fresh


# --- sessions ------------------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


token_hash = _token_hash


def session_is_fresh(expires_at: datetime, last_used_at: datetime, now: datetime) -> bool:
    """Live and touched recently: a read may skip the full session check (and its write)."""
    return expires_at > now and now - last_used_at <= TOUCH_EVERY


@dataclass(frozen=True)
class NewSession:
    token: str
    csrf_token: str
    expires_at: datetime


def start_session(session: Session, user: UserAccount) -> NewSession:
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    now = utcnow()
    row = AuthSession(
        token_hash=_token_hash(token),
        user_id=user.id,
        csrf_token=csrf,
        created_at=now,
        last_used_at=now,
        expires_at=now + SESSION_MAX,
    )
    session.add(row)
    user.last_seen_at = now
    session.add(user)
    return NewSession(token, csrf, row.expires_at)


def session_user(session: Session, token: str) -> tuple[UserAccount, AuthSession] | None:
    row = session.get(AuthSession, _token_hash(token))
    if row is None:
        return None
    now = utcnow()
    if row.expires_at <= now or row.last_used_at + SESSION_IDLE <= now:
        session.delete(row)
        return None
    user = session.get(UserAccount, row.user_id)
    if user is None:
        return None
    if now - row.last_used_at > TOUCH_EVERY:
        # In a short transaction of its own: the request must not hold these rows locked while it runs
        # (parallel requests of one person would all wait for them).
        with own_transaction(session) as conn:
            conn.execute(
                update(AuthSession)
                .where(AuthSession.token_hash == row.token_hash, AuthSession.last_used_at < now)  # type: ignore[arg-type]
                .values(last_used_at=now)
            )
            conn.execute(update(UserAccount).where(UserAccount.id == user.id).values(last_seen_at=now))  # type: ignore[arg-type]
        set_committed_value(row, "last_used_at", now)
        set_committed_value(user, "last_seen_at", now)
    return user, row


def live_user_id(session: Session, token: str) -> int | None:
    """Fast path for frequent reads: the user id when the session is live and needs no touch, else None.

    One indexed lookup without building ORM objects; on None the caller takes the full path
    (session_user), which also expires, deletes and touches sessions.
    """
    found = session.execute(
        select(AuthSession.user_id, AuthSession.expires_at, AuthSession.last_used_at).where(
            AuthSession.token_hash == _token_hash(token)
        )
    ).first()
    if found is None:
        return None
    user_id, expires_at, last_used_at = found
    if not session_is_fresh(expires_at, last_used_at, utcnow()):
        return None
    return int(user_id)


def end_session(session: Session, token: str) -> None:
    session.exec(delete(AuthSession).where(AuthSession.token_hash == _token_hash(token)))  # type: ignore[call-overload]


def end_all_sessions(session: Session, user_id: int | None) -> None:
    session.exec(delete(AuthSession).where(AuthSession.user_id == user_id))  # type: ignore[call-overload]


# --- known devices ---------------------------------------------------------------------------------------
# After a successful login the browser keeps a signed "this device knew the password" token (OWASP's device
# cookies). Login attempts with it are limited per device only, so someone hammering an account from elsewhere
# can never lock its owner out of a phone she used before, and a typo storm at one address (an instelling's
# NAT) does not block people who logged in there before.


def _device_mac(secret: str, username: str, nonce: str) -> str:
    return hmac.new(secret.encode(), f"device:{username}:{nonce}".encode(), hashlib.sha256).hexdigest()[:32]


def new_device_token(secret: str, username: str) -> str:
    nonce = secrets.token_urlsafe(12)
    return f"{nonce}.{_device_mac(secret, normalise_username(username), nonce)}"


def known_device(secret: str, token: str | None, username: str) -> str | None:
    """The device's id when `token` was given to this device at a login as `username`, else None."""
    if not token or token.count(".") != 1:
        return None
    nonce, mac = token.split(".")
    if hmac.compare_digest(mac, _device_mac(secret, normalise_username(username), nonce)):
        return nonce
    return None


def csrf_matches(row: AuthSession, header_value: str | None) -> bool:
    return header_value is not None and hmac.compare_digest(row.csrf_token, header_value)


# --- rate limits ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limit:
    """At most `attempts` failures per `window` for one key."""

    attempts: int
    window: timedelta


class TooManyAttempts(AppError):
    def __init__(self, retry_after: int) -> None:
        minutes = max(1, round(retry_after / 60))
        super().__init__(429, f"Te veel pogingen. Probeer het over {minutes} minuten opnieuw.")
        self.headers = {"Retry-After": str(retry_after)}


def _window_start(now: datetime, limit: Limit) -> datetime:
    seconds = int(limit.window.total_seconds())
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, UTC)


def check_rate_limit(session: Session, key: str, limit: Limit, now: datetime | None = None) -> None:
    """Raise 429 (with Retry-After) when this key already failed too often in the current window."""
    now = now or utcnow()
    start = _window_start(now, limit)
    hit = session.get(RateLimitHit, (key, start))
    if hit is not None and hit.count >= limit.attempts:
        retry = int((start + limit.window - now).total_seconds()) + 1
        raise TooManyAttempts(max(retry, 1))


@contextlib.contextmanager
def own_transaction(session: Session) -> Iterator[Connection]:
    """A short transaction of its own, committed at once, for counters and touches that must not wait for the
    request's commit (and must not be lost when the request fails).

    SQLite has one writer: when the request already writes (it holds the write lock), a second connection
    would wait for its own request; then the write joins the request's transaction, which commits in the
    same thread soon after (backend.db.OneHopRoute)."""
    conn = session.connection()
    raw = conn.connection.dbapi_connection
    if conn.dialect.name == "sqlite" and getattr(raw, "in_transaction", False):
        yield conn
        return
    with conn.engine.begin() as own:
        yield own


def _count(conn: Connection, key: str, limit: Limit, now: datetime) -> int:
    """Add one to the key's counter in the current window (an upsert: safe under concurrency); the new count."""
    table = RateLimitHit.__table__  # type: ignore[attr-defined]
    start = _window_start(now, limit)
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    stmt = insert(table).values(key=key, window_start=start, count=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.key, table.c.window_start], set_={"count": table.c.count + 1}
    ).returning(table.c.count)
    return int(conn.execute(stmt).scalar_one())


def record_failures(session: Session, keys: Sequence[tuple[str, Limit]], now: datetime | None = None) -> None:
    """Count a failed attempt for each key, in one short transaction of its own."""
    now = now or utcnow()
    with own_transaction(session) as conn:
        for key, limit in keys:
            _count(conn, key, limit, now)


def record_failure(session: Session, key: str, limit: Limit, now: datetime | None = None) -> None:
    record_failures(session, [(key, limit)], now)


def count_attempt(session: Session, keys: Sequence[tuple[str, Limit]], now: datetime | None = None) -> None:
    """Every attempt counts (sign-ups, reports, uploads): count it for each key and refuse it (429) when a key
    is past its limit. Counted before the check, in one short transaction of its own, so parallel attempts
    cannot all slip through."""
    now = now or utcnow()
    over: list[int] = []
    with own_transaction(session) as conn:
        for key, limit in keys:
            if _count(conn, key, limit, now) > limit.attempts:
                start = _window_start(now, limit)
                over.append(int((start + limit.window - now).total_seconds()) + 1)
    if over:
        raise TooManyAttempts(max(1, max(over)))


def prune_rate_limits(session: Session, older_than: timedelta = timedelta(days=1)) -> None:
    cutoff = utcnow() - older_than
    session.exec(delete(RateLimitHit).where(RateLimitHit.window_start < cutoff))  # type: ignore[call-overload]


def count_sessions(session: Session, user_id: int) -> int:
    return int(session.exec(select(func.count()).select_from(AuthSession).where(AuthSession.user_id == user_id)).one())

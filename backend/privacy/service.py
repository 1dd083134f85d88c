"""Privacy rights (AVG art. 15 and 17): export everything stored about one person, delete the person, and
delete accounts that were not used for two years (after a warning).

Deleting leans on the schema: every foreign key to user_account is ON DELETE CASCADE (the person's own rows)
or SET NULL (rows that belong to someone else, such as a jongere's audit log). What a foreign key cannot
reach is done here, before the account row goes:

* rate-limit rows whose key names the person (username, account id, or one of their links);
* messages: nudges about a deleted jongere (to her mentors, with her name) are deleted; encouragements a
  deleted mentor sent keep their text for the jongere, but the sender becomes "Verwijderd account";
* audit entries about the person go (cascade); entries where they were the one who looked stay in the
  jongere's log, with the actor "Verwijderd account";
* sociale kaart history: "redacteur <username>" becomes "redacteur (verwijderd account)", so the gemeente
  still sees that an editor published a version, not who. API clients ("API-koppeling <name>") and the
  command line are systems of an organisation, not people, and stay as they are;
* "Klopt dit niet?" remarks the person sent stay for the editors (they are about a service), without the
  contact details and without the link to the account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, exists, or_, text
from sqlmodel import Session, col, delete, func, select, update

from backend.accounts import service as accounts
from backend.accounts.models import AuthSession, OidcIdentity, RateLimitHit, UserAccount
from backend.checklists import service as checklists
from backend.checklists.models import StepProgress, UserProfile
from backend.clock import aware
from backend.errors import AppError, FieldErrors
from backend.gemeenten.service import get_gemeente
from backend.kaart.models import KaartApiClient, KaartCorrection, KaartCurrent, KaartEditor, KaartVersion
from backend.privacy.models import (
    CONFIRM_WORD,
    DeleteAccountIn,
    ExportAccount,
    ExportAttempts,
    ExportCorrection,
    ExportDevice,
    ExportFollower,
    ExportFollowing,
    ExportInvite,
    ExportKaart,
    ExportKaartAction,
    ExportOidc,
    ExportOut,
    ExportPreferences,
    ExportProfile,
    ExportProgress,
    ExportReminder,
    ExportSentMessage,
    ExportSession,
    ExportSessions,
    ExportView,
)
from backend.reminders.models import PushSubscription, Reminder, ReminderPreferences
from backend.sharing import service as sharing
from backend.sharing.models import ENCOURAGEMENT, NUDGE, RETENTION, ROLE_LABELS, AuditEntry, Message, ShareLink

DELETED_NAME = "Verwijderd account"
DELETED_KAART = "(verwijderd account)"
KAART_ROLES = ("redacteur", "beheerder")  # as kaart.service.check_editor writes "<role> <username>"
ENCOURAGE_PREFIX = "encourage:"  # sharing.send_encouragement counts per link
EVERYTHING = 100_000  # "all rows" for list functions that take a limit

# Wrong passwords on DELETE /api/me count like wrong logins (bounded in time, never a lockout for good).
DELETE_PER_USER = accounts.Limit(5, timedelta(minutes=15))
DELETE_PER_IP = accounts.Limit(50, timedelta(minutes=15))

# Retention: an account nobody used for two years is deleted, after a warning a month before.
UNUSED_LIMIT = timedelta(days=730)
WARN_AHEAD = timedelta(days=30)
RETENTION_BATCH = 200
RETENTION_TEXT = (
    "Je account wordt over een maand verwijderd, omdat je het 2 jaar niet hebt gebruikt. Log in om het te houden."
)
RETENTION_URL = "/ik"

# What a mentor did, from their side (sharing.ACTION_TEXT says it to the jongere).
VIEW_TEXT = {
    "overzicht": "bekeek het overzicht",
    "plan": "bekeek de stappen",
    "aanmoediging": "stuurde een bericht",
    "gekoppeld": "ging meekijken",
    "gestopt": "stopte met meekijken",
}
ATTEMPT_LABELS = {
    "login-user": "inloggen",
    "login-user-ip": "inloggen vanaf één adres",
    "recover-user": "wachtwoord herstellen",
    "invite-user": "code van een uitnodiging invullen",
    "delete-user": "account verwijderen",
    "encourage": "aanmoedigingen via een koppeling (per dag geteld)",
}


# --- who is this person in other tables --------------------------------------------------------------------


@dataclass(frozen=True)
class _Footprint:
    """Ids and names by which other rows refer to one person."""

    user_id: int
    username: str
    name: str  # as written in audit entries and in messages a mentor sends
    jongere_name: str  # as written in nudges about a jongere
    links_as_jongere: list[int]
    links_as_mentor: list[int]


def _footprint(session: Session, user: UserAccount) -> _Footprint:
    assert user.id is not None
    links = session.exec(
        select(ShareLink.id, ShareLink.jongere_id).where(
            or_(ShareLink.jongere_id == user.id, ShareLink.mentor_id == user.id)
        )
    ).all()
    return _Footprint(
        user_id=user.id,
        username=user.username,
        name=sharing.display_name(user),
        jongere_name=sharing.jongere_name(user),
        links_as_jongere=[i for i, j in links if j == user.id],  # type: ignore[misc]
        links_as_mentor=[i for i, j in links if j != user.id],  # type: ignore[misc]
    )


def delete_attempt_key(user_id: int) -> str:
    return f"delete-user:{user_id}"


def _attempts_of(fp: _Footprint) -> ColumnElement[bool]:
    """Rate-limit rows whose key names this person (see accounts/routes.py and sharing for the key formats)."""
    exact = [
        f"login-user:{fp.username}",
        f"recover-user:{fp.username}",
        f"invite-user:{fp.user_id}",
        delete_attempt_key(fp.user_id),
        f"upload-user:{fp.user_id}",
        *(f"{ENCOURAGE_PREFIX}{i}" for i in fp.links_as_jongere + fp.links_as_mentor),
    ]
    key = col(RateLimitHit.key)
    return key.in_(exact) | key.startswith(f"login-user-ip:{fp.username}:", autoescape=True)


def _kaart_labels(username: str) -> dict[str, str]:
    return {f"{role} {username}": f"{role} {DELETED_KAART}" for role in KAART_ROLES}


def _mentors_ever(session: Session, fp: _Footprint) -> set[int]:
    """Everyone who followed this jongere: linked now, or named in her audit log (linking writes an entry)."""
    now_linked = session.exec(select(ShareLink.mentor_id).where(ShareLink.jongere_id == fp.user_id)).all()
    logged = session.exec(
        select(AuditEntry.actor_id).where(AuditEntry.subject_id == fp.user_id, col(AuditEntry.actor_id).is_not(None))
    ).all()
    return {*now_linked, *(i for i in logged if i is not None)}


def _jongeren_ever(session: Session, fp: _Footprint) -> set[int]:
    now_linked = session.exec(select(ShareLink.jongere_id).where(ShareLink.mentor_id == fp.user_id)).all()
    logged = session.exec(select(AuditEntry.subject_id).where(AuditEntry.actor_id == fp.user_id)).all()
    return {*now_linked, *logged}


# --- delete ------------------------------------------------------------------------------------------------


def logs_in_with_password(session: Session, user: UserAccount) -> bool:
    """False for accounts made by an organisation's login (OIDC): their password is random and unknown."""
    return session.exec(select(OidcIdentity.id).where(OidcIdentity.user_id == user.id)).first() is None


def check_delete_request(session: Session, user: UserAccount, body: DeleteAccountIn) -> bool:
    """Raise 409/422 with a Dutch message when the request cannot go on; True when a password must be checked."""
    if user.role == "admin":
        admins = session.exec(select(func.count()).select_from(UserAccount).where(UserAccount.role == "admin")).one()
        if admins <= 1:
            raise AppError(409, "Je bent de laatste beheerder. Maak eerst een andere beheerder, dan kun je weg.")
    if logs_in_with_password(session, user):
        if not body.password:
            raise FieldErrors({"password": "Vul je wachtwoord in. Zo weten we zeker dat jij het bent."})
        return True
    if (body.confirm or "").strip().upper() != CONFIRM_WORD:
        raise FieldErrors({"confirm": f"Typ {CONFIRM_WORD} om te laten zien dat je je account echt wilt verwijderen."})
    return False


def password_matches(user: UserAccount, password: str) -> bool:
    return accounts.verify_secret(user.password_hash, password)


def delete_person(session: Session, user: UserAccount) -> None:
    """Delete the person and everything that refers to them, in the caller's transaction (never commits)."""
    _require_foreign_keys(session)
    session.flush()  # pending changes (a touched session row, say) go first: afterwards rows vanish under them
    fp = _footprint(session, user)
    uid = fp.user_id

    # Messages the foreign keys cannot sort out.
    mentors = _mentors_ever(session, fp)
    session.exec(  # type: ignore[call-overload]
        delete(Message).where(
            Message.recipient_id != uid,
            or_(
                col(Message.link_id).in_(fp.links_as_jongere),
                # a nudge from a link that has ended since (its link_id was set to NULL)
                (Message.kind == NUDGE)
                & col(Message.link_id).is_(None)
                & (Message.sender_name == fp.jongere_name)
                & col(Message.recipient_id).in_(mentors),
            ),
        )
    )
    jongeren = _jongeren_ever(session, fp)
    session.exec(  # type: ignore[call-overload]
        update(Message)
        .where(
            Message.recipient_id != uid,
            or_(
                col(Message.link_id).in_(fp.links_as_mentor),
                # an encouragement through a link that has ended since
                (Message.kind == ENCOURAGEMENT)
                & col(Message.link_id).is_(None)
                & (Message.sender_name == fp.name)
                & col(Message.recipient_id).in_(jongeren),
            ),
        )
        .values(sender_name=DELETED_NAME)
    )

    # The audit log: about them goes; what they did stays in the jongere's log, nameless.
    session.exec(delete(AuditEntry).where(AuditEntry.subject_id == uid))  # type: ignore[call-overload]
    session.exec(update(AuditEntry).where(AuditEntry.actor_id == uid).values(actor_name=DELETED_NAME))  # type: ignore[call-overload]

    session.exec(delete(RateLimitHit).where(_attempts_of(fp)))  # type: ignore[call-overload]

    # Sociale kaart: the history keeps the role, not the person.
    for old, new in _kaart_labels(fp.username).items():
        for column in (
            KaartVersion.created_by,
            KaartVersion.published_by,
            KaartCurrent.updated_by,
            KaartCorrection.resolved_by,
            KaartApiClient.created_by,
        ):
            table = column.class_  # type: ignore[attr-defined]
            session.exec(update(table).where(col(column) == old).values({column.key: new}))  # type: ignore[attr-defined, call-overload]
    session.exec(update(KaartCorrection).where(KaartCorrection.user_id == uid).values(contact=None))  # type: ignore[call-overload]

    # The account itself; the foreign keys delete or detach the rest.
    session.exec(delete(UserAccount).where(col(UserAccount.id) == uid))  # type: ignore[call-overload]
    if user in session:
        session.expunge(user)
    _forget_ended_links(session)
    checklists.forget_plans(uid)


def _forget_ended_links(session: Session) -> None:
    """Counters of links that no longer exist: the person's own, and those of links ended earlier (which no
    table ties to anyone any more, but whose id was theirs)."""
    keys = session.exec(select(RateLimitHit.key).where(col(RateLimitHit.key).startswith(ENCOURAGE_PREFIX))).all()
    ids = {int(k.removeprefix(ENCOURAGE_PREFIX)) for k in keys if k.removeprefix(ENCOURAGE_PREFIX).isdigit()}
    live = {str(i) for i in session.exec(select(ShareLink.id).where(col(ShareLink.id).in_(ids))).all()}
    ended = [k for k in keys if k.removeprefix(ENCOURAGE_PREFIX) not in live]
    if ended:
        session.exec(delete(RateLimitHit).where(col(RateLimitHit.key).in_(ended)))  # type: ignore[call-overload]


def _require_foreign_keys(session: Session) -> None:
    """Without SQLite's foreign_keys pragma the cascades would silently leave the person's rows behind."""
    if session.get_bind().dialect.name == "sqlite" and not session.execute(text("PRAGMA foreign_keys")).scalar():
        raise RuntimeError("SQLite foreign keys are off: refusing to delete an account")


# --- export ------------------------------------------------------------------------------------------------


def _labels(ids: list[str] | str | None) -> list[str]:
    known = {lg.id: lg.label for lg in checklists.content().leefgebieden.values()}
    if isinstance(ids, str):
        ids = [x for x in ids.split(",") if x]
    return [known.get(x, x) for x in ids or []]


def _step_title(step_id: str) -> str | None:
    catalogue = checklists.content()
    step = catalogue.steps.get(step_id.split("@", 1)[0])  # progress keys may be "<step>@<year>"
    return catalogue.render(step.title) if step else None


def endpoint_host(endpoint: str) -> str:
    try:
        return urlsplit(endpoint).hostname or "onbekend"
    except ValueError:
        return "onbekend"


def _attempt_label(key: str) -> str:
    return ATTEMPT_LABELS.get(key.split(":", 1)[0], "pogingen")


def export(session: Session, user: UserAccount, now: datetime) -> ExportOut:
    """Everything stored about this person, readable (no password hashes, codes, tokens or push keys)."""
    fp = _footprint(session, user)
    uid = fp.user_id
    profile = session.get(UserProfile, uid)
    gemeente = get_gemeente(session, profile.gemeente_code) if profile else None
    future = get_gemeente(session, profile.future_gemeente_code) if profile and profile.future_gemeente_code else None
    prefs = session.get(ReminderPreferences, uid)
    return ExportOut(
        generated_at=now,
        account=ExportAccount(
            username=user.username,
            role=user.role,
            display_name=user.display_name,
            created_at=aware(user.created_at),
            last_seen_at=aware(user.last_seen_at),
            password_changed_at=aware(user.password_changed_at),
        ),
        profile=ExportProfile(
            birth_date=profile.birth_date,
            gemeente_code=profile.gemeente_code,
            gemeente=gemeente.weergavenaam if gemeente else None,
            vertrekdatum=profile.vertrekdatum,
            situation=profile.situation,
            future_gemeente_code=profile.future_gemeente_code,
            future_gemeente=future.weergavenaam if future else None,
            updated_at=aware(profile.updated_at),
        )
        if profile
        else None,
        progress=[
            ExportProgress(
                step_id=p.step_id,
                title=_step_title(p.step_id),
                state=p.state,
                client_updated_at=aware(p.client_updated_at),
                updated_at=aware(p.updated_at),
            )
            for p in session.exec(
                select(StepProgress).where(StepProgress.user_id == uid).order_by(StepProgress.step_id)
            )
        ],
        reminder_preferences=ExportPreferences(
            push_enabled=prefs.push_enabled,
            quiet_start=prefs.quiet_start.strftime("%H:%M"),
            quiet_end=prefs.quiet_end.strftime("%H:%M"),
            paused_until=prefs.paused_until,
            leefgebieden=None if prefs.leefgebieden is None else _labels(prefs.leefgebieden),
            updated_at=aware(prefs.updated_at),
        )
        if prefs
        else None,
        reminders=[
            ExportReminder(
                step_id=r.step_id,
                title=_step_title(r.step_id),
                due_on=r.due_on,
                send_at=aware(r.send_at),
                status=r.status,
                read=r.read_at is not None,
            )
            for r in session.exec(select(Reminder).where(Reminder.user_id == uid).order_by(col(Reminder.send_at)))
        ],
        push_subscriptions=[
            ExportDevice(
                endpoint_host=endpoint_host(s.endpoint), created_at=aware(s.created_at), updated_at=aware(s.updated_at)
            )
            for s in session.exec(select(PushSubscription).where(PushSubscription.user_id == uid))
        ],
        followers=[
            ExportFollower(
                name=f.name,
                role_label=f.role_label,
                leefgebieden=_labels(f.leefgebieden),
                nudges_enabled=f.nudges_enabled,
                since=aware(f.since),
                last_viewed_at=aware(f.last_viewed_at) if f.last_viewed_at else None,
            )
            for f in sharing.followers(session, uid, now).followers
        ],
        following=_following(session, uid),
        open_invites=[
            ExportInvite(
                role_label=i.role_label,
                leefgebieden=_labels(i.leefgebieden),
                created_at=aware(i.created_at),
                expires_at=aware(i.expires_at),
            )
            for i in sharing.open_invites(session, uid, now)
        ],
        messages=sharing.messages(session, uid, limit=EVERYTHING).items,
        messages_sent=_messages_sent(session, fp),
        audit=sharing.audit_for(session, uid, limit=EVERYTHING),
        views=_views(session, uid),
        oidc_identities=[
            ExportOidc(issuer=o.issuer, created_at=aware(o.created_at))
            for o in session.exec(select(OidcIdentity).where(OidcIdentity.user_id == uid))
        ],
        sessions=_sessions(session, uid),
        attempts=[
            ExportAttempts(what=_attempt_label(h.key), window_start=aware(h.window_start), count=h.count)
            for h in session.exec(select(RateLimitHit).where(_attempts_of(fp)).order_by(col(RateLimitHit.window_start)))
        ],
        kaart=_kaart(session, fp),
    )


def _following(session: Session, uid: int) -> list[ExportFollowing]:
    rows = session.exec(
        select(ShareLink, UserAccount)
        .join(UserAccount, col(UserAccount.id) == col(ShareLink.jongere_id))
        .where(ShareLink.mentor_id == uid)
        .order_by(col(ShareLink.created_at))
    ).all()
    return [
        ExportFollowing(
            name=sharing.jongere_name(jongere),
            role_label=ROLE_LABELS.get(link.role, link.role),
            leefgebieden=_labels(link.leefgebieden),
            since=aware(link.created_at),
        )
        for link, jongere in rows
    ]


def _messages_sent(session: Session, fp: _Footprint) -> list[ExportSentMessage]:
    rows = session.exec(
        select(Message, UserAccount)
        .join(UserAccount, col(UserAccount.id) == col(Message.recipient_id))
        .where(col(Message.link_id).in_(fp.links_as_mentor), Message.recipient_id != fp.user_id)
        .order_by(col(Message.created_at))
    ).all()
    return [
        ExportSentMessage(to=sharing.jongere_name(to), text=m.text, created_at=aware(m.created_at)) for m, to in rows
    ]


def _views(session: Session, uid: int) -> list[ExportView]:
    rows = session.exec(
        select(AuditEntry, UserAccount)
        .join(UserAccount, col(UserAccount.id) == col(AuditEntry.subject_id))
        .where(AuditEntry.actor_id == uid)
        .order_by(col(AuditEntry.created_at))
    ).all()
    out = []
    for entry, jongere in rows:
        what = VIEW_TEXT.get(entry.action, entry.action)
        if seen := _labels(entry.detail):
            what = f"{what}: {', '.join(seen)}"
        out.append(ExportView(jongere=sharing.jongere_name(jongere), what=what, created_at=aware(entry.created_at)))
    return out


def _sessions(session: Session, uid: int) -> ExportSessions:
    rows = session.exec(
        select(AuthSession).where(AuthSession.user_id == uid).order_by(col(AuthSession.created_at))
    ).all()
    return ExportSessions(
        count=len(rows),
        items=[
            ExportSession(
                created_at=aware(r.created_at), last_used_at=aware(r.last_used_at), expires_at=aware(r.expires_at)
            )
            for r in rows
        ],
    )


def _kaart(session: Session, fp: _Footprint) -> ExportKaart:
    labels = list(_kaart_labels(fp.username))
    actions: list[ExportKaartAction] = []
    for v in session.exec(
        select(KaartVersion).where(
            or_(col(KaartVersion.created_by).in_(labels), col(KaartVersion.published_by).in_(labels))
        )
    ):
        if v.created_by in labels:
            actions.append(ExportKaartAction(kaart=v.kaart, what=f"versie {v.id} gemaakt", at=aware(v.created_at)))
        if v.published_by in labels and v.published_at:
            actions.append(
                ExportKaartAction(kaart=v.kaart, what=f"versie {v.id} gepubliceerd", at=aware(v.published_at))
            )
    for p in session.exec(select(KaartCurrent).where(col(KaartCurrent.updated_by).in_(labels))):
        actions.append(ExportKaartAction(kaart=p.kaart, what="de getoonde versie gewisseld", at=aware(p.updated_at)))
    for c in session.exec(select(KaartCorrection).where(col(KaartCorrection.resolved_by).in_(labels))):
        at = aware(c.resolved_at) if c.resolved_at else None
        actions.append(ExportKaartAction(kaart=c.kaart, what=f"melding over {c.service_name} afgehandeld", at=at))
    for a in session.exec(select(KaartApiClient).where(col(KaartApiClient.created_by).in_(labels))):
        actions.append(
            ExportKaartAction(kaart=a.gemeente_code, what=f"API-koppeling {a.name} gemaakt", at=aware(a.created_at))
        )
    sent = session.exec(
        select(KaartCorrection).where(KaartCorrection.user_id == fp.user_id).order_by(col(KaartCorrection.created_at))
    ).all()
    return ExportKaart(
        gemeenten=sorted(
            session.exec(select(KaartEditor.gemeente_code).where(KaartEditor.user_id == fp.user_id)).all()
        ),
        actions=sorted(actions, key=lambda a: (a.at is None, a.at or datetime.min)),
        corrections_sent=[
            ExportCorrection(
                kaart=c.kaart,
                service_name=c.service_name,
                message=c.message,
                contact=c.contact,
                status=c.status,
                created_at=aware(c.created_at),
            )
            for c in sent
        ],
    )


# --- retention ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetentionRound:
    warned: int
    deleted: int


def _warned_since_last_seen(before: datetime | None = None) -> ColumnElement[bool]:
    """A retention warning newer than the last login (and, with `before`, at least that old)."""
    query = select(Message.id).where(
        Message.recipient_id == UserAccount.id,
        Message.kind == RETENTION,
        Message.created_at > UserAccount.last_seen_at,
    )
    if before is not None:
        query = query.where(Message.created_at <= before)
    return exists(query)


def retention_round(session: Session, now: datetime, limit: int = RETENTION_BATCH) -> RetentionRound:
    """Warn accounts unused for 23 months; delete those unused for 24 months that were warned a month ago.

    Admins are never deleted this way. A login after the warning makes it void (and it is removed).
    Counted attempts (rate-limit rows, which may name a username) are kept a day at most: every window is
    a day or shorter."""
    accounts.prune_rate_limits(session)
    # Warnings that no longer hold: the person came back.
    stale = (
        select(Message.id)
        .join(UserAccount, col(UserAccount.id) == col(Message.recipient_id))
        .where(Message.kind == RETENTION, Message.created_at <= UserAccount.last_seen_at)
    )
    session.exec(delete(Message).where(col(Message.id).in_(stale)))  # type: ignore[call-overload]
    postgres = session.get_bind().dialect.name == "postgresql"

    due = (
        select(UserAccount)
        .where(
            UserAccount.role != "admin",
            UserAccount.last_seen_at < now - UNUSED_LIMIT,
            _warned_since_last_seen(before=now - WARN_AHEAD),
        )
        .order_by(col(UserAccount.id))
        .limit(limit)
    )
    if postgres:  # several workers: each deletes different accounts
        due = due.with_for_update(skip_locked=True)
    doomed = list(session.exec(due).all())
    for user in doomed:
        delete_person(session, user)

    to_warn = (
        select(UserAccount.id)
        .where(
            UserAccount.role != "admin",
            UserAccount.last_seen_at < now - (UNUSED_LIMIT - WARN_AHEAD),
            ~_warned_since_last_seen(),
        )
        .order_by(col(UserAccount.id))
        .limit(limit)
    )
    if postgres:
        to_warn = to_warn.with_for_update(skip_locked=True)
    ids = list(session.exec(to_warn).all())
    for user_id in ids:
        sharing.send_notice(session, user_id, RETENTION, RETENTION_TEXT, RETENTION_URL, now)  # type: ignore[arg-type]
    return RetentionRound(warned=len(ids), deleted=len(doomed))

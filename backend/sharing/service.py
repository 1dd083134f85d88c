"""Sharing rules: invites, the jongere's consent per leefgebied, what a mentor may see, messages, audit.

Every mentor read goes through `mentor_link()`, which loads the live link from the database on each
request (revoking or narrowing takes effect on the next request) and writes an audit entry.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, delete, select, update

from backend.accounts import service as accounts
from backend.accounts.models import UserAccount, has_hidden_characters, shown_name
from backend.checklists import service as checklists
from backend.checklists.models import StepProgress, UserProfile
from backend.checklists.plan import age_on
from backend.clock import NL, aware, nl_date
from backend.db import dialect_insert
from backend.errors import AppError, FieldErrors
from backend.reminders import push
from backend.reminders import service as reminders
from backend.reminders.models import DEFAULT_QUIET_END, DEFAULT_QUIET_START, PushSubscription, ReminderPreferences
from backend.sharing.models import (
    ENCOURAGEMENT,
    NUDGE,
    PUSH_FAILED,
    PUSH_NONE,
    PUSH_PENDING,
    PUSH_SENT,
    ROLE_LABELS,
    AuditEntry,
    AuditOut,
    EncouragementIn,
    FollowerOut,
    FollowersOut,
    Invite,
    InviteCreated,
    InviteIn,
    InviteOut,
    InvitePreview,
    JongereSummary,
    LeefgebiedShare,
    LinkUpdate,
    MentorPlanOut,
    Message,
    MessageOut,
    MessagesOut,
    SharedStep,
    ShareLink,
)

# No 0/O, 1/I/L: easy to read aloud and to type over from another phone.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
INVITE_VALID = timedelta(days=7)
MAX_OPEN_INVITES = 10
MAX_LINKS_PER_JONGERE = 20
ENCOURAGEMENT_MAX = 280
MESSAGE_HIDDEN = "Je bericht mag geen onzichtbare tekens of tekens die de tekst omdraaien bevatten. Typ het opnieuw."
ENCOURAGEMENTS_PER_DAY = accounts.Limit(20, timedelta(days=1))
NUDGE_AFTER = timedelta(days=14)
MESSAGE_PUSH_TTL = 3 * 24 * 3600
MESSAGE_LEASE = timedelta(seconds=120)
INBOX_LIMIT = 50
AUDIT_LIMIT = 200
# A mentor's reads: repeated within one window of READ_WINDOW they are one audit entry that counts them.
READ_ACTIONS = ("overzicht", "plan")
READ_WINDOW = timedelta(minutes=10)
DUE_SOON_DAYS = 14

ACTION_TEXT = {
    "overzicht": "zag je voortgang in het overzicht",
    "plan": "bekeek je stappen",
    "aanmoediging": "stuurde je een bericht",
    "gekoppeld": "kijkt nu mee",
    "gestopt": "kijkt niet meer mee",
}


# --- codes and leefgebieden ------------------------------------------------------------------------------


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(code: str) -> str:
    """Upper case without spaces or dashes ("abcd-efgh" works as well as "ABCDEFGH")."""
    return re.sub(r"[^A-Z0-9]", "", code.upper())[:32]


def _code_hash(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


def _leefgebied_labels() -> dict[str, str]:
    return {lg.id: lg.label for lg in checklists.content().leefgebieden.values()}


def check_leefgebieden(ids: list[str]) -> list[str]:
    known = _leefgebied_labels()
    unknown = [x for x in ids if x not in known]
    if unknown:
        raise FieldErrors({"leefgebieden": f"Dit onderwerp kennen we niet: {', '.join(unknown)}."})
    return [x for x in known if x in ids]  # the content's order


def _split(value: str) -> list[str]:
    return [x for x in value.split(",") if x]


def display_name(user: UserAccount) -> str:
    """A mentor's name as others see it. shown_name: names stored before names were checked, or from an
    organisation's login, without hidden characters, and never one that passes for Startklaar or its beheer."""
    return shown_name(user.display_name) or shown_name(user.username) or "Onbekend"


def jongere_name(user: UserAccount) -> str:
    # Only the first name or nickname the jongere chose; never the username, which may be anything.
    return shown_name(user.display_name) or "Jongere"


def _require(user: UserAccount, role: str, message: str) -> None:
    if user.role != role:
        raise AppError(403, message)


def require_jongere(user: UserAccount) -> None:
    _require(user, "jongere", "Alleen een jongere kan mensen laten meekijken.")


def require_mentor(user: UserAccount) -> None:
    _require(user, "mentor", "Dit kan alleen met een meekijk-account.")


# --- invites ---------------------------------------------------------------------------------------------


def create_invite(session: Session, user: UserAccount, body: InviteIn, base_url: str, now: datetime) -> InviteCreated:
    require_jongere(user)
    leefgebieden = check_leefgebieden(body.leefgebieden)
    open_count = session.exec(
        select(func.count())
        .select_from(Invite)
        .where(
            Invite.jongere_id == user.id,
            col(Invite.used_at).is_(None),
            col(Invite.revoked_at).is_(None),
            Invite.expires_at > now,
        )
    ).one()
    if open_count >= MAX_OPEN_INVITES:
        raise AppError(429, "Je hebt al 10 open uitnodigingen. Trek er eerst een in.")
    for _ in range(5):  # a clash of two random 40-bit codes is rare; try again rather than fail
        code = new_code()
        if session.exec(select(Invite.id).where(Invite.code_hash == _code_hash(code))).first() is None:
            break
    row = Invite(
        jongere_id=user.id,  # type: ignore[arg-type]
        code_hash=_code_hash(code),
        role=body.role,
        leefgebieden=",".join(leefgebieden),
        created_at=now,
        expires_at=now + INVITE_VALID,
    )
    session.add(row)
    session.flush()
    url = f"{base_url.rstrip('/')}/meekijken/{code}"
    return InviteCreated(id=row.id, code=code, url=url, expires_at=row.expires_at)  # type: ignore[arg-type]


def _invite_out(row: Invite) -> InviteOut:
    return InviteOut(
        id=row.id,  # type: ignore[arg-type]
        role=row.role,
        role_label=ROLE_LABELS.get(row.role, row.role),
        leefgebieden=_split(row.leefgebieden),
        created_at=row.created_at,
        expires_at=row.expires_at,
    )


def open_invites(session: Session, jongere_id: int, now: datetime) -> list[InviteOut]:
    rows = session.exec(
        select(Invite)
        .where(
            Invite.jongere_id == jongere_id,
            col(Invite.used_at).is_(None),
            col(Invite.revoked_at).is_(None),
            Invite.expires_at > now,
        )
        .order_by(col(Invite.created_at).desc())
    ).all()
    return [_invite_out(r) for r in rows]


def revoke_invite(session: Session, jongere_id: int, invite_id: int, now: datetime) -> None:
    row = session.get(Invite, invite_id)
    if row is None or row.jongere_id != jongere_id:
        raise AppError(404, "Deze uitnodiging bestaat niet (meer).")
    if row.used_at is not None:
        raise AppError(409, "Deze uitnodiging is al gebruikt. Stop het meekijken bij 'Wie kijkt mee?'.")
    if row.revoked_at is None:
        row.revoked_at = now
        session.add(row)


def _usable_invite(session: Session, code: str, now: datetime) -> Invite:
    code = normalise_code(code)
    row = session.exec(select(Invite).where(Invite.code_hash == _code_hash(code))).first() if code else None
    if row is None:
        raise AppError(404, "Deze code kennen we niet. Kijk of je hem goed hebt overgetypt.")
    if row.revoked_at is not None:
        raise AppError(410, "Deze uitnodiging is ingetrokken. Vraag de jongere om een nieuwe.")
    if row.used_at is not None:
        raise AppError(410, "Deze uitnodiging is al gebruikt. Een code werkt maar één keer.")
    if aware(row.expires_at) <= now:
        raise AppError(410, "Deze uitnodiging is verlopen (na 7 dagen). Vraag de jongere om een nieuwe.")
    return row


def preview_invite(session: Session, code: str, now: datetime) -> InvitePreview:
    row = _usable_invite(session, code, now)
    jongere = session.get(UserAccount, row.jongere_id)
    labels = _leefgebied_labels()
    ids = _split(row.leefgebieden)
    return InvitePreview(
        jongere_name=jongere_name(jongere) if jongere else "Jongere",
        role=row.role,
        role_label=ROLE_LABELS.get(row.role, row.role),
        leefgebieden=ids,
        leefgebied_labels=[labels.get(x, x) for x in ids],
        expires_at=row.expires_at,
    )


def accept_invite(session: Session, mentor: UserAccount, code: str, now: datetime) -> ShareLink:
    require_mentor(mentor)
    row = _usable_invite(session, code, now)
    taken = session.exec(
        select(ShareLink.id).where(ShareLink.jongere_id == row.jongere_id, ShareLink.mentor_id == mentor.id)
    ).first()
    if taken is not None:
        # Left unused: the jongere can still give it to someone else, or revoke it.
        raise AppError(409, "Je kijkt al mee met deze jongere. Een tweede uitnodiging is niet nodig.")
    count = session.exec(
        select(func.count()).select_from(ShareLink).where(ShareLink.jongere_id == row.jongere_id)
    ).one()
    if count >= MAX_LINKS_PER_JONGERE:
        raise AppError(409, "Er kijken al 20 mensen mee met deze jongere.")
    # Claim the invite with a conditional update: of two people accepting at once, one wins.
    claimed = session.exec(  # type: ignore[call-overload]
        update(Invite).where(col(Invite.id) == row.id, col(Invite.used_at).is_(None)).values(used_at=now)
    )
    if claimed.rowcount != 1:
        raise AppError(410, "Deze uitnodiging is al gebruikt. Een code werkt maar één keer.")
    link = ShareLink(
        jongere_id=row.jongere_id,
        mentor_id=mentor.id,  # type: ignore[arg-type]
        role=row.role,
        leefgebieden=row.leefgebieden,
        created_at=now,
        updated_at=now,
    )
    session.add(link)
    session.flush()
    write_audit(session, row.jongere_id, mentor, "gekoppeld", "", now)
    return link


# --- the jongere's side ----------------------------------------------------------------------------------


def _own_link(session: Session, jongere_id: int, link_id: int) -> ShareLink:
    link = session.get(ShareLink, link_id)
    if link is None or link.jongere_id != jongere_id:
        raise AppError(404, "Deze persoon kijkt niet (meer) met je mee.")
    return link


def followers(session: Session, jongere_id: int, now: datetime) -> FollowersOut:
    links = session.exec(
        select(ShareLink).where(ShareLink.jongere_id == jongere_id).order_by(col(ShareLink.created_at))
    ).all()
    mentors = {
        u.id: u
        for u in session.exec(select(UserAccount).where(col(UserAccount.id).in_([ln.mentor_id for ln in links])))
    }
    last_viewed = dict(
        session.execute(
            select(AuditEntry.actor_id, func.max(func.coalesce(AuditEntry.last_at, AuditEntry.created_at)))
            .where(AuditEntry.subject_id == jongere_id, col(AuditEntry.action).in_(READ_ACTIONS))
            .group_by(AuditEntry.actor_id)
        ).all()
    )
    out = [
        FollowerOut(
            link_id=ln.id,  # type: ignore[arg-type]
            name=display_name(mentors[ln.mentor_id]) if ln.mentor_id in mentors else "Onbekend",
            role=ln.role,
            role_label=ROLE_LABELS.get(ln.role, ln.role),
            leefgebieden=_split(ln.leefgebieden),
            nudges_enabled=ln.nudges_enabled,
            since=ln.created_at,
            last_viewed_at=last_viewed.get(ln.mentor_id),
        )
        for ln in links
    ]
    return FollowersOut(followers=out, invites=open_invites(session, jongere_id, now))


def update_link(session: Session, jongere_id: int, link_id: int, body: LinkUpdate, now: datetime) -> ShareLink:
    link = _own_link(session, jongere_id, link_id)
    link.leefgebieden = ",".join(check_leefgebieden(body.leefgebieden))
    if body.nudges_enabled is not None:
        link.nudges_enabled = body.nudges_enabled
    link.updated_at = now
    session.add(link)
    return link


def stop_link(session: Session, user: UserAccount, link_id: int, now: datetime) -> None:
    """The jongere stops sharing, or the mentor stops following: either may end a link at once."""
    link = session.get(ShareLink, link_id)
    if link is None or user.id not in (link.jongere_id, link.mentor_id):
        raise AppError(404, "Deze koppeling bestaat niet (meer).")
    if user.id == link.mentor_id:
        write_audit(session, link.jongere_id, user, "gestopt", "", now)
    session.delete(link)


# --- audit -----------------------------------------------------------------------------------------------


def write_audit(session: Session, subject_id: int, actor: UserAccount, action: str, detail: str, now: datetime) -> None:
    """One entry per action; a read repeated within its READ_WINDOW slot counts in the entry already there
    (one upsert on the unique index, so parallel reads wait for each other instead of adding entries)."""
    values: dict[str, Any] = {
        "subject_id": subject_id,
        "actor_id": actor.id,
        "actor_name": display_name(actor),
        "action": action,
        "detail": detail[:400],
        "created_at": now,
    }
    if action not in READ_ACTIONS:
        session.add(AuditEntry(**values))
        return
    table = AuditEntry.__table__  # type: ignore[attr-defined]
    insert = dialect_insert(session, table).values(
        **values, read_slot=int(now.timestamp() // READ_WINDOW.total_seconds()), times=1, last_at=now
    )
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["subject_id", "actor_id", "action", "detail", "read_slot"],
            set_={"times": table.c.times + 1, "last_at": insert.excluded.last_at},
        )
    )


def audit_for(session: Session, subject_id: int, limit: int = AUDIT_LIMIT) -> list[AuditOut]:
    labels = _leefgebied_labels()
    rows = session.exec(
        select(AuditEntry)
        .where(AuditEntry.subject_id == subject_id)
        .order_by(col(AuditEntry.created_at).desc(), col(AuditEntry.id).desc())
        .limit(limit)
    ).all()
    out = []
    for r in rows:
        what = ACTION_TEXT.get(r.action, r.action)
        seen = [labels.get(x, x) for x in _split(r.detail)]
        if seen:
            what = f"{what}: {', '.join(seen)}"
        if r.times > 1:
            what = f"{what} ({r.times} keer)"
        out.append(
            AuditOut(
                id=r.id,  # type: ignore[arg-type]
                actor_name=r.actor_name,
                action=r.action,
                what=what,
                created_at=r.created_at,
                times=r.times,
                last_at=r.last_at,
            )
        )
    return out


# --- the mentor's side -----------------------------------------------------------------------------------


def mentor_link(session: Session, mentor: UserAccount, link_id: int) -> ShareLink:
    """The live link, checked on every request: nothing about a jongere is cached for a mentor."""
    require_mentor(mentor)
    link = session.get(ShareLink, link_id)
    if link is None or link.mentor_id != mentor.id:
        raise AppError(404, "Je kijkt niet (meer) mee met deze jongere.")
    return link


@dataclass
class _View:
    summary: dict[str, Any]
    steps: list[SharedStep]


def _view(session: Session, link: ShareLink, today: date) -> _View:
    jongere = session.get(UserAccount, link.jongere_id)
    shared = _split(link.leefgebieden)
    labels = _leefgebied_labels()
    profile = session.get(UserProfile, link.jongere_id)
    raw = checklists.user_plan_json(session, link.jongere_id, today) if profile is not None else None
    plan = json.loads(raw) if raw else None
    steps: list[SharedStep] = []
    progress: list[LeefgebiedShare] = []
    if plan is not None:
        by_lg = {p["leefgebied"]: p for p in plan["progress"]}
        for lg in shared:
            p = by_lg.get(lg)
            progress.append(
                LeefgebiedShare(
                    leefgebied=lg,
                    label=labels.get(lg, lg),
                    done=p["done"] if p else 0,
                    total=p["total"] if p else 0,
                )
            )
        steps = [
            SharedStep(
                step_id=i["step_id"],
                leefgebied=i["leefgebied"],
                title=i["title"],
                due_date=date.fromisoformat(i["due_date"]),
                bucket=i["bucket"],
                state=i["state"],
                overdue=i["overdue"],
                label=i["label"],
            )
            for i in plan["items"]
            if i["leefgebied"] in shared
        ]
    else:
        progress = [LeefgebiedShare(leefgebied=lg, label=labels.get(lg, lg), done=0, total=0) for lg in shared]
    catalogue = checklists.content()
    # Last activity within what is shared only (a person's progress rows are a few dozen at most).
    # Progress keys are "<step>" or "<step>@<year>".
    times = [
        updated
        for key, updated in session.execute(
            select(StepProgress.step_id, StepProgress.updated_at).where(StepProgress.user_id == link.jongere_id)
        )
        if (step := catalogue.steps.get(key.split("@", 1)[0])) is not None and step.leefgebied in shared
    ]
    last = max(times) if times else None
    soon = today + timedelta(days=DUE_SOON_DAYS)
    summary = {
        "link_id": link.id,
        "name": jongere_name(jongere) if jongere else "Jongere",
        "age": age_on(profile.birth_date, today) if profile else None,
        "role": link.role,
        "role_label": ROLE_LABELS.get(link.role, link.role),
        "leefgebieden": progress,
        "overdue": sum(1 for s in steps if s.overdue),
        "due_soon": sum(1 for s in steps if s.state == "todo" and not s.overdue and s.due_date <= soon),
        "last_activity": aware(last) if last else None,
        "has_plan": plan is not None,
    }
    return _View(summary, steps)


def mentor_overview(session: Session, mentor: UserAccount, today: date, now: datetime) -> list[JongereSummary]:
    require_mentor(mentor)
    links = session.exec(
        select(ShareLink).where(ShareLink.mentor_id == mentor.id).order_by(col(ShareLink.created_at))
    ).all()
    out = []
    for link in links:
        view = _view(session, link, today)
        write_audit(session, link.jongere_id, mentor, "overzicht", link.leefgebieden, now)
        out.append(JongereSummary(**view.summary))
    return out


def mentor_plan(session: Session, mentor: UserAccount, link_id: int, today: date, now: datetime) -> MentorPlanOut:
    link = mentor_link(session, mentor, link_id)
    view = _view(session, link, today)
    write_audit(session, link.jongere_id, mentor, "plan", link.leefgebieden, now)
    return MentorPlanOut(**view.summary, steps=view.steps)


def mentor_summary(
    session: Session, mentor: UserAccount, link: ShareLink, today: date, now: datetime
) -> JongereSummary:
    """One jongere's overview line (as after accepting an invite): logged as a read of that jongere only."""
    view = _view(session, link, today)
    write_audit(session, link.jongere_id, mentor, "overzicht", link.leefgebieden, now)
    return JongereSummary(**view.summary)


# --- messages --------------------------------------------------------------------------------------------


def _push_after(session: Session, recipient_id: int, now: datetime) -> tuple[str, datetime]:
    """(push status, when) for a new message: no push when push is off or paused; never in quiet hours."""
    prefs = session.get(ReminderPreferences, recipient_id)
    if prefs is not None and (
        not prefs.push_enabled or (prefs.paused_until is not None and prefs.paused_until >= nl_date(now))
    ):
        return PUSH_NONE, now
    start = prefs.quiet_start if prefs else DEFAULT_QUIET_START
    end = prefs.quiet_end if prefs else DEFAULT_QUIET_END
    if reminders.in_quiet_hours(now.astimezone(NL).time(), start, end):
        return PUSH_PENDING, reminders.quiet_hours_end(now, end)
    return PUSH_PENDING, now


def send_encouragement(
    session: Session, mentor: UserAccount, link_id: int, body: EncouragementIn, now: datetime
) -> MessageOut:
    link = mentor_link(session, mentor, link_id)
    text = re.sub(r"\s+", " ", unicodedata.normalize("NFC", body.text)).strip()
    if not text:
        raise FieldErrors({"text": "Schrijf een kort bericht."})
    if has_hidden_characters(text):
        raise FieldErrors({"text": MESSAGE_HIDDEN})
    if len(text) > ENCOURAGEMENT_MAX:
        raise FieldErrors({"text": f"Je bericht is te lang: hoogstens {ENCOURAGEMENT_MAX} tekens."})
    key = f"encourage:{link.id}"
    accounts.check_rate_limit(session, key, ENCOURAGEMENTS_PER_DAY, now)
    accounts.record_failure(session, key, ENCOURAGEMENTS_PER_DAY, now)
    status, after = _push_after(session, link.jongere_id, now)
    row = Message(
        recipient_id=link.jongere_id,
        link_id=link.id,
        sender_name=display_name(mentor),
        kind=ENCOURAGEMENT,
        text=text,
        url="/ik/berichten",
        created_at=now,
        push_status=status,
        push_after=after,
    )
    session.add(row)
    session.flush()
    write_audit(session, link.jongere_id, mentor, "aanmoediging", "", now)
    return _message_out(row)


def send_notice(session: Session, recipient_id: int, kind: str, text: str, url: str, now: datetime) -> Message:
    """A message from Startklaar itself (no link), in the inbox and pushed like any other."""
    status, after = _push_after(session, recipient_id, now)
    row = Message(
        recipient_id=recipient_id,
        sender_name="Startklaar",
        kind=kind,
        text=text,
        url=url,
        created_at=now,
        push_status=status,
        push_after=after,
    )
    session.add(row)
    return row


def _message_out(row: Message) -> MessageOut:
    return MessageOut(
        id=row.id,  # type: ignore[arg-type]
        kind=row.kind,
        sender_name=row.sender_name,
        text=row.text,
        url=row.url,
        created_at=row.created_at,
        read=row.read_at is not None,
    )


def messages(session: Session, user_id: int, limit: int = INBOX_LIMIT) -> MessagesOut:
    rows = session.exec(
        select(Message)
        .where(Message.recipient_id == user_id)
        .order_by(col(Message.created_at).desc(), col(Message.id).desc())
        .limit(limit)
    ).all()
    unread = session.exec(
        select(func.count()).select_from(Message).where(Message.recipient_id == user_id, col(Message.read_at).is_(None))
    ).one()
    return MessagesOut(items=[_message_out(r) for r in rows], unread=unread)


def mark_message_read(session: Session, user_id: int, message_id: int, now: datetime) -> MessageOut:
    row = session.get(Message, message_id)
    if row is None or row.recipient_id != user_id:
        raise AppError(404, "Dit bericht bestaat niet (meer).")
    if row.read_at is None:
        row.read_at = now
        session.add(row)
    return _message_out(row)


# --- nudges ----------------------------------------------------------------------------------------------


def scan_nudges(session: Session, today: date, now: datetime) -> int:
    """A message to each mentor (nudges on) for every shared step that is two weeks or more overdue.

    Once per step cycle per link (unique dedupe key), so running this often is harmless."""
    links = session.exec(select(ShareLink).where(col(ShareLink.nudges_enabled).is_(True))).all()
    made = 0
    for link in links:
        shared = set(_split(link.leefgebieden))
        if not shared:
            continue
        raw = checklists.user_plan_json(session, link.jongere_id, today)
        if not raw:
            continue
        jongere = session.get(UserAccount, link.jongere_id)
        name = jongere_name(jongere) if jongere else "Jongere"
        late = [
            i
            for i in json.loads(raw)["items"]
            if i["leefgebied"] in shared
            and i["overdue"]
            and date.fromisoformat(i["due_date"]) <= today - timedelta(days=NUDGE_AFTER.days)
        ]
        if not late:
            continue
        sent = set(
            session.exec(select(Message.dedupe_key).where(Message.link_id == link.id, Message.kind == NUDGE)).all()
        )
        for item in late:
            key = f"{item['progress_key']}:{item['due_date']}"
            if key in sent:
                continue
            status, after = _push_after(session, link.mentor_id, now)
            session.add(
                Message(
                    recipient_id=link.mentor_id,
                    link_id=link.id,
                    sender_name=name,
                    kind=NUDGE,
                    text=f"{name} heeft '{item['title']}' al twee weken of langer niet gedaan. "
                    "Misschien helpt een berichtje?",
                    url=f"/meekijken/jongere/{link.id}",
                    dedupe_key=key,
                    created_at=now,
                    push_status=status,
                    push_after=after,
                )
            )
            made += 1
    return made


# --- message pushes (run by the worker) ------------------------------------------------------------------


@dataclass(frozen=True)
class MessageJob:
    message_id: int
    sub: push.Subscription
    payload: bytes


def claim_message_pushes(session: Session, now: datetime, limit: int = 100) -> list[MessageJob]:
    """Take due message pushes with a lease (a crashed worker's messages are taken again after it)."""
    query = (
        select(Message.id)
        .where(
            Message.push_status == PUSH_PENDING,
            Message.push_after <= now,
            (col(Message.lease_until).is_(None)) | (col(Message.lease_until) < now),
        )
        .order_by(col(Message.push_after))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(session.exec(query).all())
    if not ids:
        return []
    session.exec(update(Message).where(col(Message.id).in_(ids)).values(lease_until=now + MESSAGE_LEASE))  # type: ignore[call-overload]
    rows = session.exec(select(Message).where(col(Message.id).in_(ids))).all()
    subs: dict[int, list[push.Subscription]] = {}
    for s in session.exec(
        select(PushSubscription).where(col(PushSubscription.user_id).in_({r.recipient_id for r in rows}))
    ):
        subs.setdefault(s.user_id, []).append(push.Subscription(s.id, s.endpoint, s.p256dh, s.auth))  # type: ignore[arg-type]
    jobs = []
    no_device = []
    for r in rows:
        devices = subs.get(r.recipient_id, [])
        if not devices:
            no_device.append(r.id)
            continue
        # A nudge names a jongere: on the lock screen it says nothing about her. Other messages are shown.
        title = f"Bericht van {r.sender_name}" if r.kind != NUDGE else "Iemand kan je hulp gebruiken"
        body = r.text if r.kind != NUDGE else "Er staat een stap open bij iemand met wie je meekijkt."
        data = {
            "title": title[:80],
            "body": body,
            "url": r.url,
            "tag": f"message-{r.id}",
            "id": r.id,
            "kind": "message",
        }
        payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
        jobs.extend(MessageJob(r.id, s, payload) for s in devices)  # type: ignore[arg-type]
    if no_device:
        session.exec(  # type: ignore[call-overload]
            update(Message).where(col(Message.id).in_(no_device)).values(push_status=PUSH_NONE, lease_until=None)
        )
    return jobs


def record_message_pushes(session: Session, results: list[tuple[MessageJob, push.PushResult | None]]) -> None:
    """Sent when any device took it; a retryable failure is left for the next round (lease expiry)."""
    outcome: dict[int, str] = {}
    gone: list[int] = []
    for job, result in results:
        if result is None:
            continue
        if result.outcome == push.SENT:
            outcome[job.message_id] = PUSH_SENT
        elif result.outcome == push.GONE:
            gone.append(job.sub.id)
            outcome.setdefault(job.message_id, PUSH_FAILED)
        elif result.outcome == push.FAILED:
            outcome.setdefault(job.message_id, PUSH_FAILED)
    for status in (PUSH_SENT, PUSH_FAILED):
        ids = [m for m, s in outcome.items() if s == status]
        if ids:
            session.exec(  # type: ignore[call-overload]
                update(Message).where(col(Message.id).in_(ids)).values(push_status=status, lease_until=None)
            )
    if gone:
        session.exec(delete(PushSubscription).where(col(PushSubscription.id).in_(gone)))  # type: ignore[call-overload]

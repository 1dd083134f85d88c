"""A mentor cannot flood a jongere's audit log (security review, issue 11): repeated reads of the same thing by
the same mentor within one 10-minute window are one entry that counts them; every distinct read (another
mentor, another kind of read, other leefgebieden shared, another window) still has its own entry. Holds when
the reads run at the same moment (PostgreSQL: parallel transactions)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from backend.accounts.models import UserAccount
from backend.sharing import service
from backend.sharing.models import AuditEntry
from tests.sharing.test_sharing_api import link, make_jongere, make_mentor


def reads(engine: Engine, subject_id: int) -> list[AuditEntry]:
    with Session(engine) as s:
        rows = s.exec(
            select(AuditEntry)
            .where(AuditEntry.subject_id == subject_id, AuditEntry.action.in_(["plan", "overzicht"]))  # type: ignore[attr-defined]
            .order_by(AuditEntry.id)  # type: ignore[arg-type]
        ).all()
        return list(rows)


@pytest.fixture
def one_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """API tests cannot choose the time: a window of a thousand years keeps a test from straddling two."""
    monkeypatch.setattr(service, "READ_WINDOW", timedelta(days=365_000))


def user_id(engine: Engine, display_name: str) -> int:
    with Session(engine) as s:
        found = s.exec(select(UserAccount.id).where(UserAccount.display_name == display_name)).one()
        assert found is not None
        return found


def test_repeated_reads_are_one_entry_that_counts_them(client: TestClient, engine: Engine, one_window: None) -> None:
    jongere = make_jongere(client, "Sam")
    mentor = make_mentor(client, "Anja")
    link_id = link(jongere, mentor, ["wonen"])
    before = len(jongere.get("/api/me/audit").json())
    for _ in range(50):
        assert mentor.get(f"/api/mentor/jongeren/{link_id}/plan").status_code == 200
    for _ in range(20):
        assert mentor.get("/api/mentor/jongeren").status_code == 200
    entries = jongere.get("/api/me/audit").json()
    # 'overzicht' after accepting the invite is in the same window as the 20 overview reads.
    assert len(entries) == before + 1
    plan = next(e for e in entries if e["action"] == "plan")
    assert plan["times"] == 50 and plan["what"] == "bekeek je stappen: Wonen (50 keer)"
    overview = next(e for e in entries if e["action"] == "overzicht")
    assert overview["times"] == 21
    follower = jongere.get("/api/me/followers").json()["followers"][0]
    assert follower["last_viewed_at"] == max(plan["last_at"], overview["last_at"])


def test_distinct_reads_keep_their_own_entries(client: TestClient, engine: Engine, one_window: None) -> None:
    jongere = make_jongere(client, "Sam")
    anja, bram = make_mentor(client, "Anja"), make_mentor(client, "Bram")
    link_anja = link(jongere, anja, ["wonen"])  # accepting shows the overview once: a read
    link(jongere, bram, ["wonen"])
    anja.get(f"/api/mentor/jongeren/{link_anja}/plan")
    bram.get("/api/mentor/jongeren")
    anja.get(f"/api/mentor/jongeren/{link_anja}/plan")
    assert jongere.put(f"/api/me/followers/{link_anja}", json={"leefgebieden": ["wonen", "inkomen"]}).status_code == 200
    anja.get(f"/api/mentor/jongeren/{link_anja}/plan")  # now sees more: a new entry
    rows = reads(engine, user_id(engine, "Sam"))
    assert [(r.actor_name, r.action, r.detail, r.times) for r in rows] == [
        ("Anja", "overzicht", "wonen", 1),
        ("Bram", "overzicht", "wonen", 2),
        ("Anja", "plan", "wonen", 2),
        ("Anja", "plan", "wonen,inkomen", 1),
    ]


def test_the_window_is_ten_minutes(client: TestClient, engine: Engine, session: Session) -> None:
    make_jongere(client, "Sam")
    make_mentor(client, "Anja")
    sam, anja = user_id(engine, "Sam"), session.get(UserAccount, user_id(engine, "Anja"))
    assert anja is not None
    assert service.READ_WINDOW == timedelta(minutes=10)
    window = service.READ_WINDOW.total_seconds()
    start = datetime.fromtimestamp((datetime.now(UTC).timestamp() // window) * window, UTC)
    for minutes in (0, 4, 9.9, 10, 19, 35):
        service.write_audit(session, sam, anja, "plan", "wonen", start + timedelta(minutes=minutes))
    session.commit()
    rows = reads(engine, sam)
    assert [(r.times, r.created_at, r.last_at) for r in rows] == [
        (3, start, start + timedelta(minutes=9.9)),
        (2, start + timedelta(minutes=10), start + timedelta(minutes=19)),
        (1, start + timedelta(minutes=35), start + timedelta(minutes=35)),
    ]


def test_other_actions_are_never_merged(client: TestClient, engine: Engine, session: Session) -> None:
    make_jongere(client, "Sam")
    make_mentor(client, "Anja")
    sam, anja = user_id(engine, "Sam"), session.get(UserAccount, user_id(engine, "Anja"))
    assert anja is not None
    now = datetime.now(UTC)
    for _ in range(3):
        service.write_audit(session, sam, anja, "aanmoediging", "", now)
    session.commit()
    with Session(engine) as s:
        rows = s.exec(select(AuditEntry).where(AuditEntry.subject_id == sam, AuditEntry.action == "aanmoediging")).all()
    assert len(rows) == 3


def test_parallel_reads_become_one_entry_without_errors(client: TestClient, engine: Engine) -> None:
    """Eight transactions read at the same moment (PostgreSQL: truly in parallel; SQLite: one writer)."""
    jongere = make_jongere(client, "Sam")
    mentor = make_mentor(client, "Anja")
    link_id = link(jongere, mentor, ["wonen"])
    sam, anja_id = user_id(engine, "Sam"), user_id(engine, "Anja")
    start = len(reads(engine, sam))
    now = datetime.now(UTC)
    n = 8
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def read() -> None:
        try:
            with Session(engine) as s:
                anja = s.get(UserAccount, anja_id)
                assert anja is not None
                barrier.wait(10)
                service.mentor_plan(s, anja, link_id, now.date(), now)
                s.commit()
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    rows = [r for r in reads(engine, sam)[start:] if r.action == "plan"]
    assert len(rows) == 1 and rows[0].times == n

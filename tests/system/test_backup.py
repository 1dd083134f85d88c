"""`startklaar backup` / `startklaar restore`: SQLite's online backup API and the pg_dump route.

- An SQLite backup taken while a thread writes through the app's engine is one consistent snapshot that
  restores, with the accounts and progress made through the API.
- A file that is not a Startklaar database is refused before the current database is touched.
- PostgreSQL: `startklaar backup` (pg_dump -Fc) of a fresh database, `startklaar restore` (pg_restore --clean
  --if-exists) into another one: the same rows. pg_dump must be installed (CI installs postgresql-client).
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, select
from typer.testing import CliRunner

from backend import migrate
from backend.accounts.models import UserAccount
from backend.app import create_app
from backend.checklists import service as checklists
from backend.checklists.models import ProgressIn, UserProfile
from backend.cli import cli
from backend.config import Settings
from backend.system import backup
from tests.accounts.helpers import login, new_client, signup
from tests.dbutil import PG_URL, app_settings

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
PROFILE = {"birth_date": "2008-03-14", "gemeente_code": "GM0363", "situation": "instelling"}


def _run(args: list[str], db_url: str, data_dir: Path) -> Any:
    env = {"STARTKLAAR_DATABASE_URL": db_url, "STARTKLAAR_DATA_DIR": str(data_dir), "STARTKLAAR_ENV": "development"}
    return CliRunner().invoke(cli, args, env=env)


def _people(client: TestClient, n: int) -> list[dict[str, Any]]:
    """n jongeren made through the API: account, profile, and two ticked steps each."""
    out = []
    for _ in range(n):
        c = new_client(client)
        who = signup(c)
        assert c.put("/api/me/profile", json=PROFILE).status_code == 200
        steps = [item["step_id"] for item in c.get("/api/me/plan").json()["items"][:2]]
        for k, step in enumerate(steps):
            body = {"state": "done", "client_updated_at": datetime.now(UTC).isoformat(), "client_id": f"api-{k:05d}"}
            assert c.put(f"/api/me/progress/{step}", json=body).status_code == 200
        with Session(client.app.state.engine) as s:  # type: ignore[attr-defined]
            user_id = s.exec(select(UserAccount.id).where(UserAccount.username == who["username"])).one()
        out.append({"username": who["username"], "id": user_id, "steps": steps})
    return out


class Writer(threading.Thread):
    """Ticks one step over and over through the app's engine, one transaction per tick.

    Each tick also bumps the person's profile revision in the same transaction, so in any consistent
    snapshot `revision - base == n` and the step's client_id is `w{n}`: a torn copy breaks that.
    """

    def __init__(self, engine: Engine, user_id: int, step: str) -> None:
        super().__init__(daemon=True)
        self.engine, self.user_id, self.step = engine, user_id, step
        self.done = 0
        self.stop = threading.Event()
        self.error: BaseException | None = None
        with Session(engine) as s:
            self.base = s.get(UserProfile, user_id).revision  # type: ignore[union-attr]

    def run(self) -> None:
        start = datetime.now(UTC)
        try:
            with Session(self.engine) as s:
                while not self.stop.is_set():
                    n = self.done + 1
                    body = ProgressIn(
                        state="done" if n % 2 else "todo",
                        client_updated_at=start + timedelta(milliseconds=n),
                        client_id=f"w{n:07d}",
                    )
                    assert checklists.put_progress(s, self.user_id, self.step, body).applied
                    s.commit()
                    self.done = n
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc

    def wait_for(self, n: int) -> None:
        while self.done < n:
            assert self.error is None, self.error
            assert self.is_alive()
            self.stop.wait(0.01)


def _writes_in(conn: sqlite3.Connection, writer: Writer) -> int:
    """The number of the writer's ticks in this snapshot, after checking they agree with each other."""
    (revision,) = conn.execute("SELECT revision FROM user_profile WHERE user_id = ?", (writer.user_id,)).fetchone()
    (client_id,) = conn.execute(
        "SELECT client_id FROM step_progress WHERE user_id = ? AND step_id = ?", (writer.user_id, writer.step)
    ).fetchone()
    n = revision - writer.base
    assert client_id == f"w{n:07d}", f"torn snapshot: revision says {n} ticks, progress row says {client_id}"
    return n


@SQLITE_ONLY
def test_sqlite_backup_during_writes_is_consistent_and_restores(
    client: TestClient, settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    people = _people(client, 3)
    writer = Writer(engine, people[0]["id"], people[0]["steps"][0])
    writer.start()
    try:
        writer.wait_for(20)
        snapshots = []
        for k in range(3):  # several backups, each taken while ticks keep committing
            before = writer.done
            target = tmp_path / f"backup-{k}.db"
            result = _run(["backup", str(target)], settings.db_url, settings.data_dir)
            assert result.exit_code == 0, result.output
            assert "integriteit gecontroleerd" in result.output
            snapshots.append((target, before, writer.done))
        writer.wait_for(writer.done + 20)  # the live database moves on past the last backup
    finally:
        writer.stop.set()
        writer.join()
    assert writer.error is None, writer.error
    assert snapshots[-1][2] > snapshots[0][1], "the writer made no progress while backups were taken"

    target, before, after = snapshots[-1]
    assert not list(tmp_path.glob(".*.tmp")), "temporary files must not stay behind"
    with sqlite3.connect(f"{target.as_uri()}?mode=ro", uri=True) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",), "a backup is one self-contained file"
        in_backup = _writes_in(conn, writer)
        assert before <= in_backup <= after
        for p in people:
            rows = conn.execute("SELECT step_id FROM step_progress WHERE user_id = ?", (p["id"],)).fetchall()
            assert {r[0] for r in rows} == set(p["steps"])
    for older, _, _ in snapshots[:-1]:
        with sqlite3.connect(f"{older.as_uri()}?mode=ro", uri=True) as conn:
            _writes_in(conn, writer)

    # Restore, with the "server" stopped: the live database has more ticks than the backup.
    live = Path(make_url(settings.db_url).database)  # type: ignore[arg-type]
    with sqlite3.connect(live) as conn:
        assert _writes_in(conn, writer) == writer.done > in_backup
    engine.dispose()
    result = _run(["restore", "--yes", str(target)], settings.db_url, settings.data_dir)
    assert result.exit_code == 0, result.output
    assert "teruggezet" in result.output
    kept = list(live.parent.glob(f"{live.name}.voor-terugzetten-*"))
    assert len(kept) == 1, "the database from before the restore is kept beside it"
    with sqlite3.connect(kept[0]) as conn:
        assert _writes_in(conn, writer) == writer.done

    restarted = create_app(settings)
    try:
        with TestClient(restarted, base_url="http://localhost") as c:
            assert c.get("/readyz").status_code == 200
            for p in people:
                login(c, p["username"])
                progress = {r["step_id"]: r for r in c.get("/api/me/progress").json()}
                assert set(progress) == set(p["steps"])
            login(c, people[0]["username"])
            ticked = {r["step_id"]: r for r in c.get("/api/me/progress").json()}[writer.step]
            assert ticked["client_id"] == f"w{in_backup:07d}"
            assert c.get("/api/me/plan").status_code == 200
    finally:
        restarted.state.engine.dispose()


def _fingerprint(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    h = hashlib.sha256()
    for path in (db, db.with_name(db.name + "-wal")):  # not -shm: an index that every reader rewrites
        if path.exists():
            h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()


@pytest.fixture
def live_db(
    client: TestClient, settings: Settings, engine: Engine, tmp_path: Path
) -> Iterator[tuple[Path, list[dict[str, Any]], Path]]:
    """The current database with two people in it, the server stopped, and a good backup of it."""
    people = _people(client, 2)
    engine.dispose()
    good = tmp_path / "startklaar-backup.db"
    assert _run(["backup", str(good)], settings.db_url, settings.data_dir).exit_code == 0
    yield Path(make_url(settings.db_url).database), people, good  # type: ignore[arg-type]


def _foreign_files(tmp: Path) -> dict[str, tuple[Path, str]]:
    text_file = tmp / "notities.txt"
    text_file.write_text("dit is geen database\n")
    other = tmp / "ander-programma.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE klant (id INTEGER PRIMARY KEY, naam TEXT)")
        conn.execute("INSERT INTO klant (naam) VALUES ('Jan')")
    future = tmp / "toekomst.db"
    shutil.copyfile(tmp / "startklaar-backup.db", future)
    with sqlite3.connect(future) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    damaged = tmp / "beschadigd.db"
    data = bytearray((tmp / "startklaar-backup.db").read_bytes())
    data[4096 * 3 : 4096 * 6] = b"\xff" * (4096 * 3)  # pages of tables and indexes overwritten
    damaged.write_bytes(bytes(data))
    return {
        "text": (text_file, "geen SQLite-database"),
        "other sqlite": (other, "geen Startklaar-database"),
        "unknown revision": (future, "niet kent"),
        "damaged": (damaged, "beschadigd"),
    }


@SQLITE_ONLY
def test_restore_refuses_what_is_not_a_startklaar_backup(
    live_db: tuple[Path, list[dict[str, Any]], Path], settings: Settings, tmp_path: Path
) -> None:
    db, people, _ = live_db
    before = _fingerprint(db)
    for what, (path, message) in _foreign_files(tmp_path).items():
        result = _run(["restore", "--yes", str(path)], settings.db_url, settings.data_dir)
        assert result.exit_code == 1, (what, result.output)
        assert message in result.output, (what, result.output)
        assert _fingerprint(db) == before, f"{what}: the current database was touched"
        assert not list(db.parent.glob(f"{db.name}.voor-terugzetten-*")), what
    missing = _run(["restore", "--yes", str(tmp_path / "bestaat-niet.db")], settings.db_url, settings.data_dir)
    assert missing.exit_code == 1 and "bestaat niet" in missing.output

    app = create_app(settings)
    try:
        with TestClient(app, base_url="http://localhost") as c:
            for p in people:
                login(c, p["username"])
                assert {r["step_id"] for r in c.get("/api/me/progress").json()} == set(p["steps"])
    finally:
        app.state.engine.dispose()


@SQLITE_ONLY
def test_restore_refuses_while_another_process_has_the_database_open(
    live_db: tuple[Path, list[dict[str, Any]], Path], settings: Settings
) -> None:
    db, _, good = live_db
    holder = subprocess.Popen(  # a stand-in for a running server: a connection kept open
        [
            sys.executable,
            "-c",
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('SELECT count(*) FROM user_account')"
            ".fetchone(); print('open', flush=True); sys.stdin.read()",
            str(db),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        before = _fingerprint(db)
        result = _run(["restore", "--yes", str(good)], settings.db_url, settings.data_dir)
        assert result.exit_code == 1, result.output
        assert "Stop eerst startklaar serve" in result.output
        assert _fingerprint(db) == before
    finally:
        holder.communicate("", timeout=10)
    result = _run(["restore", "--yes", str(good)], settings.db_url, settings.data_dir)
    assert result.exit_code == 0, result.output


@SQLITE_ONLY
def test_backup_into_a_directory_and_not_over_the_database(
    live_db: tuple[Path, list[dict[str, Any]], Path], settings: Settings, tmp_path: Path
) -> None:
    db, _, _ = live_db
    folder = tmp_path / "backups"
    folder.mkdir()
    result = _run(["backup", str(folder)], settings.db_url, settings.data_dir)
    assert result.exit_code == 0, result.output
    (made,) = folder.glob("startklaar-*.db")
    assert made.read_bytes().startswith(backup.SQLITE_MAGIC)
    result = _run(["backup", str(db)], settings.db_url, settings.data_dir)
    assert result.exit_code == 1 and "ander bestand" in result.output
    result = _run(["restore", str(made)], settings.db_url, settings.data_dir)  # no --yes, answer "n"
    assert result.exit_code != 0 and "Aborted" in result.output


# --- PostgreSQL: the pg_dump route ----------------------------------------------------------------------


def _pg_admin() -> Engine:
    return create_engine(make_url(PG_URL).set(database="postgres"), isolation_level="AUTOCOMMIT")


@pytest.fixture
def pg_databases() -> Iterator[list[str]]:
    """Three throw-away databases of this test's own (sk_backup_*), dropped afterwards."""
    if not PG_URL:
        pytest.skip("PostgreSQL not configured: set STARTKLAAR_TEST_POSTGRES_URL")
    suffix = uuid.uuid4().hex[:8]
    names = [f"sk_backup_{role}_{suffix}" for role in ("src", "dst", "empty")]
    admin = _pg_admin()
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield [make_url(PG_URL).set(database=n).render_as_string(hide_password=False) for n in names]
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _all_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            out = {}
            for table in sorted(inspect(conn).get_table_names()):
                rows = conn.execute(text(f'SELECT * FROM "{table}"')).all()
                out[table] = sorted((tuple(r) for r in rows), key=repr)
            return out
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_pg_dump_and_pg_restore_give_the_same_rows(pg_databases: list[str], tmp_path: Path) -> None:
    for tool in ("pg_dump", "pg_restore"):  # not a skip: without the tools the documented route is untested
        assert shutil.which(tool), f"{tool} is missing: apt-get install -y postgresql-client"
    src, dst, empty = pg_databases
    for url in (src, dst):
        engine = create_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
    apps = []
    for url in (src, dst):
        apps.append(create_app(app_settings(url, tmp_path / "data")))
    try:
        with TestClient(apps[0], base_url="http://localhost") as c:
            people = _people(c, 3)
        with TestClient(apps[1], base_url="http://localhost") as c:
            stranger = signup(c)  # only in the database that is restored over: must be gone afterwards
    finally:
        for a in apps:
            a.state.engine.dispose()

    dump = tmp_path / "startklaar.dump"
    result = _run(["backup", str(dump)], src, tmp_path / "data")
    assert result.exit_code == 0, result.output
    assert dump.read_bytes().startswith(backup.PGDUMP_MAGIC)

    # A dump of a database that is not Startklaar's is refused, and the target is left alone.
    foreign = tmp_path / "foreign.dump"
    pg_dump = ["pg_dump", "--format=custom", "--file", str(foreign), backup._libpq(make_url(empty))]
    subprocess.run(pg_dump, check=True)
    dst_before = _all_rows(dst)
    result = _run(["restore", "--yes", str(foreign)], dst, tmp_path / "data")
    assert result.exit_code == 1 and "geen Startklaar-database" in result.output, result.output
    sqlite_file = tmp_path / "x.db"
    sqlite3.connect(sqlite_file).execute("CREATE TABLE t (a)").connection.close()
    result = _run(["restore", "--yes", str(sqlite_file)], dst, tmp_path / "data")
    assert result.exit_code == 1 and "SQLite-back-up" in result.output, result.output
    assert _all_rows(dst) == dst_before

    result = _run(["restore", "--yes", str(dump)], dst, tmp_path / "data")
    assert result.exit_code == 0, result.output
    restored = _all_rows(dst)
    assert restored == _all_rows(src)
    engine = create_engine(dst)
    with engine.connect() as conn:
        names = set(conn.execute(text("SELECT username FROM user_account")).scalars())
    engine.dispose()
    assert names == {p["username"] for p in people} and stranger["username"] not in names
    assert len(restored["step_progress"]) == 6

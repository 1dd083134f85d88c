"""`startklaar backup FILE` and `startklaar restore FILE`.

SQLite: SQLite's online backup API (`sqlite3.Connection.backup`) copies a consistent snapshot while the
server keeps running (in WAL mode readers do not block writers). The copy goes to a temporary file next to
the target, is checked (`PRAGMA integrity_check`, a Startklaar schema) and only then renamed into place, so
a backup file is either complete or absent. Restore checks the file first and refuses anything that is not a
Startklaar database, before it touches the current database; it keeps a copy of the current database next to
it, then copies the backup in with the same API. Restore with the server stopped: the API processes cache
plans in memory, which a restore underneath them would make stale.

PostgreSQL: PostgreSQL's own tools, `pg_dump -Fc` and `pg_restore --clean --if-exists` (in one transaction).
The client tools' major version must be at least the server's.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import sqlite3
import struct
import subprocess
from contextlib import closing
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import URL, make_url

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"
NOT_STARTKLAAR = "{name} is geen Startklaar-database (er is geen tabel alembic_version)."


class BackupError(RuntimeError):
    """The backup or restore cannot go ahead; the message (in Dutch) says why and what to do."""


def backup(db_url: str, target: Path) -> str:
    """Write a backup of the database at `db_url` to `target` (a file, or a directory to put a dated file in)."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        db = _sqlite_path(url)
        path = _target_file(target, ".db")
        revision = backup_sqlite(db, path)
        return f"Back-up van {db} geschreven naar {path} (schemaversie {revision}, integriteit gecontroleerd)."
    if url.get_backend_name() == "postgresql":
        path = _target_file(target, ".dump")
        revision = backup_postgres(url, path)
        return f"Back-up (pg_dump -Fc) van {_safe(url)} geschreven naar {path} (schemaversie {revision})."
    raise BackupError(f"Back-ups van {url.get_backend_name()} worden niet ondersteund.")


def restore(db_url: str, source: Path) -> str:
    """Replace the contents of the database at `db_url` with the backup `source`, after checking it."""
    url = make_url(db_url)
    kind = _file_kind(source)
    if url.get_backend_name() == "sqlite":
        if kind == "pgdump":
            raise BackupError(f"{source} is een PostgreSQL-back-up, maar STARTKLAAR_DATABASE_URL wijst naar SQLite.")
        return restore_sqlite(_sqlite_path(url), source)
    if url.get_backend_name() == "postgresql":
        if kind == "sqlite":
            raise BackupError(f"{source} is een SQLite-back-up, maar STARTKLAAR_DATABASE_URL wijst naar PostgreSQL.")
        return restore_postgres(url, source)
    raise BackupError(f"Terugzetten naar {url.get_backend_name()} wordt niet ondersteund.")


def describe(db_url: str) -> str:
    """The database, for people: the SQLite file or the PostgreSQL URL without its password."""
    url = make_url(db_url)
    return str(_sqlite_path(url)) if url.get_backend_name() == "sqlite" else _safe(url)


# --- SQLite ------------------------------------------------------------------------------------------------


def backup_sqlite(db: Path, target: Path) -> str:
    """Online backup of `db` to `target` (atomically replaced); returns the schema revision of the copy."""
    if not db.is_file():
        raise BackupError(f"De database {db} bestaat niet.")
    if target.resolve() in {db.resolve(), *(db.resolve().with_name(db.name + s) for s in ("-wal", "-shm"))}:
        raise BackupError("Schrijf de back-up naar een ander bestand dan de database zelf.")
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with closing(_open_readonly(db)) as src, closing(sqlite3.connect(tmp)) as dst:
            src.backup(dst)  # all pages in one step: one consistent snapshot, writers carry on meanwhile
            dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file, no -wal beside it
            revision = _check_sqlite(dst, str(db))
        _fsync(tmp)
        os.replace(tmp, target)
        _fsync(target.parent)
    except sqlite3.Error as exc:
        raise BackupError(f"De back-up van {db} is mislukt: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return revision


def restore_sqlite(db: Path, source: Path) -> str:
    """Check `source`, keep a copy of the current `db`, then copy `source` into `db`."""
    try:
        with closing(_open_readonly(source)) as src:
            revision = _check_sqlite(src, str(source))
    except sqlite3.Error as exc:
        raise BackupError(f"{source} is beschadigd of geen bruikbare SQLite-database: {exc}") from exc
    note = _revision_note(revision)
    if _in_use_elsewhere(db):
        raise BackupError(
            f"De database {db} is nog open in een ander proces (draait de server of een worker nog?). "
            "Stop eerst startklaar serve en startklaar worker, en zet dan terug."
        )
    db.parent.mkdir(parents=True, exist_ok=True)
    kept = _keep_current(db) if db.exists() else None
    try:
        with closing(_open_readonly(source)) as src, closing(sqlite3.connect(db, timeout=30)) as dst:
            src.backup(dst)
            _check_sqlite(dst, str(db))
    except sqlite3.Error as exc:
        if kept is None:
            raise BackupError(f"Terugzetten is mislukt: {exc}") from exc
        raise BackupError(f"Terugzetten is mislukt: {exc}. De vorige database staat in {kept}.") from exc
    lines = [f"{source} teruggezet in {db} (schemaversie {revision})."]
    if kept:
        lines.append(f"De database van voor het terugzetten staat in {kept}; verwijder die als alles goed is.")
    if note:
        lines.append(note)
    return "\n".join(lines)


def _open_readonly(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise BackupError(f"{path} bestaat niet.")
    if _file_kind(path) != "sqlite":
        raise BackupError(f"{path} is geen SQLite-database, dus geen Startklaar-back-up.")
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)


def _check_sqlite(conn: sqlite3.Connection, name: str) -> str:
    """Integrity and the Startklaar schema; returns the Alembic revision."""
    problems = [row[0] for row in conn.execute("PRAGMA integrity_check").fetchall()]
    if problems != ["ok"]:
        raise BackupError(f"{name} is beschadigd: {'; '.join(problems[:5])}")
    found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'").fetchone()
    if not found:
        raise BackupError(NOT_STARTKLAAR.format(name=name))
    revisions = [row[0] for row in conn.execute("SELECT version_num FROM alembic_version")]
    if len(revisions) != 1:
        raise BackupError(f"{name} heeft geen eenduidige schemaversie ({revisions}).")
    return str(revisions[0])


def _keep_current(db: Path) -> Path:
    """A copy of the current database before it is overwritten (raw files when it is too broken to open)."""
    kept = db.with_name(f"{db.name}.voor-terugzetten-{datetime.now():%Y%m%d-%H%M%S}")
    try:
        with closing(sqlite3.connect(db, timeout=30)) as src, closing(sqlite3.connect(kept)) as dst:
            src.backup(dst)
    except sqlite3.Error:
        kept.unlink(missing_ok=True)
        shutil.copy2(db, kept)
        wal = db.with_name(db.name + "-wal")
        if wal.exists():
            shutil.copy2(wal, kept.with_name(kept.name + "-wal"))
    return kept


# Every connection to a WAL database holds a read lock on this byte of the -shm file while it is open
# (SQLite's unix VFS: UNIX_SHM_DMS). Locks of this process do not show up, only other processes'.
_SHM_DMS_BYTE = 128


def _in_use_elsewhere(db: Path) -> bool:
    shm = db.with_name(db.name + "-shm")
    try:
        fd = os.open(shm, os.O_RDONLY)
    except OSError:
        return False
    try:
        probe = struct.pack("hhqqi", fcntl.F_WRLCK, os.SEEK_SET, _SHM_DMS_BYTE, 1, 0)
        answer = fcntl.fcntl(fd, fcntl.F_GETLK, probe)
        return struct.unpack("hhqqi", answer)[0] != fcntl.F_UNLCK
    except OSError:
        return False  # cannot tell: the documentation says to stop the server first
    finally:
        os.close(fd)


# --- PostgreSQL --------------------------------------------------------------------------------------------


def backup_postgres(url: URL, target: Path) -> str:
    pg_dump = _tool("pg_dump", url, target)
    revision = _pg_revision(url)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        _run([pg_dump, "--format=custom", "--file", str(tmp), "--dbname", _libpq(url)], url)
        _check_dump(tmp)
        _fsync(tmp)
        os.replace(tmp, target)
        _fsync(target.parent)
    finally:
        tmp.unlink(missing_ok=True)
    return revision


def restore_postgres(url: URL, source: Path) -> str:
    pg_restore = _tool("pg_restore", url, source)
    if not source.is_file():
        raise BackupError(f"{source} bestaat niet.")
    if _file_kind(source) != "pgdump":
        raise BackupError(f"{source} is geen back-up van pg_dump -Fc, dus geen Startklaar-back-up.")
    revision = _check_dump(source)
    note = _revision_note(revision)
    _run(
        [
            pg_restore,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",  # all or nothing: a failed restore leaves the database as it was
            "--dbname",
            _libpq(url),
            str(source),
        ],
        url,
    )
    lines = [f"{source} teruggezet in {_safe(url)} (schemaversie {revision})."]
    if note:
        lines.append(note)
    return "\n".join(lines)


def _check_dump(path: Path) -> str:
    """The archive is readable and holds a Startklaar schema; returns its Alembic revision."""
    listing = _run(["pg_restore", "--list", str(path)], None)
    if not re.search(r"TABLE DATA \S+ alembic_version ", listing):
        raise BackupError(NOT_STARTKLAAR.format(name=str(path)))
    data = _run(["pg_restore", "--data-only", "--table=alembic_version", "--file=-", str(path)], None)
    match = re.search(r"^COPY \S*alembic_version \(version_num\) FROM stdin;\n(.*?)\\\.$", data, re.M | re.S)
    revisions = match.group(1).split() if match else []
    if len(revisions) != 1:
        raise BackupError(f"{path} heeft geen eenduidige schemaversie ({revisions}).")
    return revisions[0]


def _pg_revision(url: URL) -> str:
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                raise BackupError(NOT_STARTKLAAR.format(name=_safe(url)))
            return str(conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one())
    except BackupError:
        raise
    except Exception as exc:  # noqa: BLE001 - any connection problem: say which
        raise BackupError(f"Kan {_safe(url)} niet lezen: {type(exc).__name__}: {exc}") from exc
    finally:
        engine.dispose()


def _tool(name: str, url: URL, path: Path) -> str:
    found = shutil.which(name)
    if found:
        return found
    if name == "pg_dump":
        manual = f"pg_dump --format=custom --file {path} '{_libpq(url)}'"
    else:
        manual = f"pg_restore --clean --if-exists --no-owner --single-transaction --dbname '{_libpq(url)}' {path}"
    raise BackupError(
        f"{name} is niet gevonden. Installeer de PostgreSQL-clienttools (Debian/Ubuntu: apt-get install "
        f"postgresql-client; dezelfde hoofdversie als de server of nieuwer), of voer zelf uit:\n  {manual}"
    )


def _run(cmd: list[str], url: URL | None) -> str:
    env = os.environ.copy()
    if url is not None and url.password:
        env["PGPASSWORD"] = str(url.password)  # not on the command line, where `ps` would show it
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise BackupError(f"{cmd[0]} is niet gevonden: installeer postgresql-client.") from exc
    if done.returncode != 0:
        raise BackupError(f"{Path(cmd[0]).name} is mislukt:\n{done.stderr.strip()}")
    return done.stdout


def _libpq(url: URL) -> str:
    """The URL as libpq reads it (no SQLAlchemy driver name, no password)."""
    return url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)


def _safe(url: URL) -> str:
    return url.render_as_string(hide_password=True)


# --- shared ------------------------------------------------------------------------------------------------


def _revision_note(revision: str) -> str | None:
    """None when the backup is at the newest schema; a note when it is older; BackupError when unknown."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    from backend.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    head = script.get_current_head()
    if revision == head:
        return None
    try:
        known = script.get_revision(revision) is not None
    except CommandError:
        known = False
    if not known:
        raise BackupError(
            f"De back-up heeft schemaversie {revision}, die deze versie van Startklaar niet kent (nieuwste: "
            f"{head}). Is hij met een nieuwere versie gemaakt? Zet hem terug met die versie."
        )
    return f"De back-up heeft een oudere schemaversie ({revision}); voer nu uit: startklaar migrate"


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("Een SQLite-database in het geheugen heeft geen back-up.")
    return Path(url.database)


def _target_file(target: Path, suffix: str) -> Path:
    if target.is_dir():
        return target / f"startklaar-{datetime.now():%Y%m%d-%H%M%S}{suffix}"
    if not target.parent.is_dir():
        raise BackupError(f"De map {target.parent} bestaat niet.")
    return target


def _file_kind(path: Path) -> str | None:
    try:
        with path.open("rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError:
        return None
    if head == SQLITE_MAGIC:
        return "sqlite"
    if head.startswith(PGDUMP_MAGIC):
        return "pgdump"
    return None


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

"""`startklaar kaart ...` and `startklaar admin create-admin`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from backend.accounts.models import UserAccount
from backend.cli import cli
from backend.kaart.models import KaartCurrent, KaartVersion
from tests.kaart.kaart_api import EXAMPLES, csv_bytes, row


@pytest.fixture
def env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("STARTKLAAR_DATABASE_URL", db_url)
    monkeypatch.setenv("STARTKLAAR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("STARTKLAAR_SECRET_KEY", "cli-test-" + "x" * 40)
    monkeypatch.delenv("STARTKLAAR_ADMIN_PASSWORD", raising=False)
    return CliRunner()


def test_load_examples_is_idempotent(env: CliRunner, engine: Engine) -> None:
    first = env.invoke(cli, ["kaart", "load-examples"])
    assert first.exit_code == 0, first.output
    assert "GM0014: GM0014-groningen.csv -> versie" in first.output and "nieuw, gepubliceerd" in first.output
    second = env.invoke(cli, ["kaart", "load-examples"])
    assert second.exit_code == 0 and "gepubliceerd" not in second.output and "al aanwezig" in second.output
    with Session(engine) as s:
        assert len(s.exec(select(KaartVersion)).all()) == 4
        assert {c.kaart for c in s.exec(select(KaartCurrent)).all()} == {"landelijk", "GM0014", "GM0363", "GM0518"}


def test_validate_import_and_export(env: CliRunner, tmp_path: Path) -> None:
    good = EXAMPLES["GM0014"]
    ok = env.invoke(cli, ["kaart", "validate", str(good)])
    assert ok.exit_code == 0 and "0 fouten" in ok.output
    bad = tmp_path / "fout.csv"
    bad.write_bytes(csv_bytes([row("Fout", postcode="12")]))
    failed = env.invoke(cli, ["kaart", "validate", str(bad)])
    assert failed.exit_code == 1 and "[FOUT] Rij 2, kolom postcode" in failed.output
    assert env.invoke(cli, ["kaart", "import", "GM0014", str(bad)]).exit_code == 1

    imported = env.invoke(cli, ["kaart", "import", "GM0014", str(good), "--publish"])
    assert imported.exit_code == 0 and "nieuwe versie" in imported.output and "gepubliceerd" in imported.output
    out = tmp_path / "export.json"
    exported = env.invoke(cli, ["kaart", "export", "GM0014", "--format", "hsds", "--output", str(out)])
    assert exported.exit_code == 0 and len(json.loads(out.read_bytes())) == 14
    as_csv = env.invoke(cli, ["kaart", "export", "GM0014", "--format", "csv"])
    assert as_csv.exit_code == 0 and as_csv.output.startswith("organisatie_id,organisatie,")
    assert env.invoke(cli, ["kaart", "export", "GM0363"]).exit_code == 1  # nothing published
    assert env.invoke(cli, ["kaart", "import", "GM9999", str(good)]).exit_code == 1


def test_create_admin(env: CliRunner, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    prompted = env.invoke(cli, ["admin", "create-admin", "hoofdbeheer"], input="lang-genoeg-42\nlang-genoeg-42\n")
    assert prompted.exit_code == 0, prompted.output
    assert "Beheerder 'hoofdbeheer' is aangemaakt" in prompted.output and "Herstelcode" in prompted.output
    monkeypatch.setenv("STARTKLAAR_ADMIN_PASSWORD", "nog-een-lang-wachtwoord")
    from_env = env.invoke(cli, ["admin", "create-admin", "tweede"])
    assert from_env.exit_code == 0
    duplicate = env.invoke(cli, ["admin", "create-admin", "tweede"])
    assert duplicate.exit_code == 1 and "al in gebruik" in duplicate.output
    with Session(engine) as s:
        roles = {u.username: u.role for u in s.exec(select(UserAccount)).all()}
    assert roles == {"hoofdbeheer": "admin", "tweede": "admin"}

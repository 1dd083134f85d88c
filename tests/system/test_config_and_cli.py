"""Settings refuse unsafe production configs; the CLI migrates, and the worker stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backend.config import ConfigError, Settings

STARTKLAAR = [sys.executable, "-m", "backend.cli"]


@pytest.mark.parametrize("secret", ["", "changethis", "secret", "te-kort-geheim"])
def test_production_refuses_missing_or_placeholder_secret(tmp_path: Path, secret: str) -> None:
    s = Settings(env="production", secret_key=secret, base_url="https://x.nl", data_dir=tmp_path)
    with pytest.raises(ConfigError, match="STARTKLAAR_SECRET_KEY"):
        s.prepare()


def test_production_requires_https(tmp_path: Path) -> None:
    s = Settings(env="production", secret_key="k" * 40, base_url="http://x.nl", data_dir=tmp_path)
    with pytest.raises(ConfigError, match="https"):
        s.prepare()


def test_development_generates_and_keeps_a_secret(tmp_path: Path) -> None:
    first = Settings(env="development", data_dir=tmp_path).prepare().secret_key
    second = Settings(env="development", data_dir=tmp_path).prepare().secret_key
    assert len(first) >= 32 and first == second
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_postgres_urls_from_hosting_providers_are_accepted() -> None:
    s = Settings(database_url="postgres://u:p@h:5432/db")
    assert s.db_url == "postgresql+psycopg://u:p@h:5432/db"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STARTKLAAR_")}
    env |= {"STARTKLAAR_DATA_DIR": str(tmp_path), **extra}
    return env


def test_cli_migrate_creates_the_sqlite_database(tmp_path: Path) -> None:
    out = subprocess.run([*STARTKLAAR, "migrate"], env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Database bijgewerkt" in out.stdout
    assert (tmp_path / "startklaar.db").exists()


def test_cli_production_start_fails_with_a_clear_message(tmp_path: Path) -> None:
    out = subprocess.run(
        [*STARTKLAAR, "migrate"],
        env=_env(tmp_path, STARTKLAAR_ENV="production", STARTKLAAR_BASE_URL="https://x.nl"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "STARTKLAAR_SECRET_KEY" in out.stderr


def test_worker_starts_logs_and_stops_on_sigterm(tmp_path: Path) -> None:
    subprocess.run([*STARTKLAAR, "migrate"], env=_env(tmp_path), check=True, capture_output=True, timeout=120)
    proc = subprocess.Popen(
        [*STARTKLAAR, "worker"], env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 30
        lines: list[str] = []
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "worker gestart" in line:
                break
        assert any("worker gestart" in ln for ln in lines), lines
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=20)
        assert proc.returncode == 0
        assert "worker gestopt" in rest
    finally:
        if proc.poll() is None:
            proc.kill()

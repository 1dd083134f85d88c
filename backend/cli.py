"""`startklaar` command line: serve, worker, migrate (and more per domain)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import typer

from backend.config import ConfigError, Settings
from backend.kaart.commands import admin_cli, kaart_cli

cli = typer.Typer(help="Startklaar: API, PWA en herinneringen.", no_args_is_help=True, add_completion=False)
vapid = typer.Typer(help="Sleutels voor pushberichten (VAPID).", no_args_is_help=True)
cli.add_typer(vapid, name="vapid")
cli.add_typer(kaart_cli, name="kaart")
cli.add_typer(admin_cli, name="admin")


def _settings() -> Settings:
    try:
        return Settings().prepare()
    except ConfigError as exc:
        typer.secho(f"Startklaar kan niet starten: {exc}", fg="red", err=True)
        raise typer.Exit(2) from exc


def _logging(settings: Settings) -> None:
    from backend.requestlog import configure_logging

    configure_logging(settings.log_level)


@cli.command()
def migrate() -> None:
    """Bring the database schema to the newest version and sync reference data (gemeenten)."""
    from backend import migrate as m
    from backend.db import make_engine

    settings = _settings()
    engine = make_engine(settings.db_url, statement_timeout_ms=0)  # an index on a big table may take long
    m.upgrade(engine)
    typer.echo(f"Database bijgewerkt tot {m.current_revision(engine)} ({engine.url.get_backend_name()}).")
    engine.dispose()


@cli.command()
def serve(
    host: str = typer.Option(None, help="Adres om op te luisteren (standaard STARTKLAAR_HOST)"),
    port: int = typer.Option(None, help="Poort (standaard STARTKLAAR_PORT of 8000)"),
    workers: int = typer.Option(1, help="Aantal API-processen"),
    migrate_first: bool = typer.Option(
        None, "--migrate/--no-migrate", help="Eerst migreren (standaard: ja in development, nee in productie)"
    ),
) -> None:
    """Serve the API and the PWA (with the embedded reminder worker unless STARTKLAAR_EMBEDDED_WORKER=false)."""
    import uvicorn

    settings = _settings()
    _logging(settings)
    if migrate_first if migrate_first is not None else not settings.is_production:
        migrate()
    # Every API process reads its settings from the environment; keep the generated secret for all.
    os.environ.setdefault("STARTKLAAR_SECRET_KEY", settings.secret_key)
    from backend.system import serving

    config = uvicorn.Config(
        "backend.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        # Forwarded headers only from the proxies the operator named (none by default): see trusted_proxies.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=settings.trusted_proxies or "",
        log_level=settings.log_level,
    )
    serving.run(config)


@cli.command()
def worker() -> None:
    """Run the reminder worker on its own (production: one or more next to the API processes)."""
    from backend.db import make_engine
    from backend.reminders.worker import run_worker

    settings = _settings()
    _logging(settings)
    engine = make_engine(settings.db_url)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run_worker(settings, engine, stop)

    try:
        _run_fast(main())
    except ConfigError as exc:
        typer.secho(f"Startklaar kan niet starten: {exc}", fg="red", err=True)
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()


def _run_fast(coro: Coroutine[Any, Any, None]) -> None:
    """uvloop when installed (uvicorn[standard] brings it; `serve` runs on it too): cheaper network I/O."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(coro)
    else:
        uvloop.run(coro)


@cli.command()
def backup(target: Path = typer.Argument(..., help="Bestand (of map) voor de back-up")) -> None:
    """Back up the database while the server runs (SQLite: online backup API; PostgreSQL: pg_dump -Fc)."""
    from backend.system import backup as b

    try:
        typer.echo(b.backup(_settings().db_url, target))
    except b.BackupError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1) from exc


@cli.command()
def restore(
    source: Path = typer.Argument(..., help="Een back-up van startklaar backup"),
    yes: bool = typer.Option(False, "--yes", "-y", help="Niet om bevestiging vragen"),
) -> None:
    """Replace the database with a backup (checked first). Stop the server and workers before you restore."""
    from backend.system import backup as b

    settings = _settings()
    if not yes:
        typer.confirm(f"Alle gegevens in {b.describe(settings.db_url)} vervangen door {source}?", abort=True)
    try:
        typer.echo(b.restore(settings.db_url, source))
    except b.BackupError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1) from exc


@vapid.command("generate")
def vapid_generate() -> None:
    """Print a new VAPID key pair, to put in the environment of every API and worker process."""
    from backend.reminders.push import generate_keys

    private, public = generate_keys()
    typer.echo(f"STARTKLAAR_VAPID_PRIVATE_KEY={private}")
    typer.echo(f"STARTKLAAR_VAPID_PUBLIC_KEY={public}")


def main() -> None:
    cli(prog_name="startklaar")


if __name__ == "__main__":
    sys.exit(main())

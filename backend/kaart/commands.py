"""`startklaar kaart ...` and `startklaar admin ...`: the sociale kaart from the command line."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from sqlmodel import Session

from backend.config import ROOT, ConfigError, Settings

kaart_cli = typer.Typer(help="Sociale kaart: controleren, importeren, publiceren en exporteren.", no_args_is_help=True)
admin_cli = typer.Typer(help="Beheerders en redacteuren.", no_args_is_help=True)

EXAMPLES = ROOT / "sociale_kaart"
CLI_ACTOR = "commandoregel"


@contextmanager
def _session() -> Iterator[Session]:
    from backend import migrate
    from backend.db import make_engine

    try:
        settings = Settings().prepare()
    except ConfigError as exc:
        typer.secho(f"Startklaar kan niet starten: {exc}", fg="red", err=True)
        raise typer.Exit(2) from exc
    engine = make_engine(settings.db_url, statement_timeout_ms=0)  # a national kaart is one long import
    if migrate.current_revision(engine) != migrate.head_revision():
        typer.secho("De database is niet bijgewerkt. Voer eerst uit: startklaar migrate", fg="red", err=True)
        raise typer.Exit(2)
    try:
        with Session(engine) as session:
            yield session
            session.commit()
    finally:
        engine.dispose()


def _print_report(report: dict[str, object]) -> None:
    typer.echo(str(report["summary"]))
    for issue in report["issues"]:  # type: ignore[attr-defined]
        level = "FOUT" if issue["level"] == "error" else "let op"
        typer.echo(f"  [{level}] {issue['text']}")


def _read(path: Path) -> bytes:
    from backend.kaart.safety import DEFAULT_LIMITS, UploadError, read_limited

    try:
        with path.open("rb") as f:
            return read_limited(f, DEFAULT_LIMITS)
    except UploadError as exc:
        typer.secho(exc.message, fg="red", err=True)
        raise typer.Exit(1) from exc
    except OSError as exc:
        typer.secho(f"Kan {path} niet lezen: {exc.strerror}.", fg="red", err=True)
        raise typer.Exit(1) from exc


@kaart_cli.command("validate")
def validate(
    file: Path = typer.Argument(..., help="CSV, Excel (.xlsx), HSDS-JSON of HSDS-datapakket (.zip)"),
    gemeente: str = typer.Option("", help="Gemeentecode (voor de ids); mag leeg"),
) -> None:
    """Controleer een bestand zonder iets op te slaan. Exitcode 1 bij fouten."""
    from backend.clock import today_nl
    from backend.errors import AppError
    from backend.kaart.service import normalize_kaart, parse_file

    try:
        result = parse_file(_read(file), file.name, None, normalize_kaart(gemeente) if gemeente else "", today_nl())
    except AppError as exc:
        typer.secho(exc.message, fg="red", err=True)
        raise typer.Exit(1) from exc
    _print_report(result.report.to_dict())
    typer.echo(f"{len(result.kaart.services)} diensten, {len(result.kaart.locations)} locaties.")
    raise typer.Exit(0 if result.report.ok else 1)


def _import(session: Session, kaart: str, path: Path, publish: bool) -> tuple[int, bool, bool]:
    """(version id, created, published now)."""
    from backend.clock import today_nl
    from backend.kaart import service

    result = service.parse_file(_read(path), path.name, None, kaart, today_nl())
    actor = service.Actor(CLI_ACTOR)
    try:
        version, created = service.store_version(session, kaart, result, path.name, actor)
    except service.UploadInvalid:
        _print_report(result.report.to_dict())
        typer.secho(f"{path.name}: niet geïmporteerd, er zijn fouten.", fg="red", err=True)
        raise typer.Exit(1) from None
    published = False
    if publish and not service.is_current(session, version):
        service.publish(session, kaart, version.id, actor)  # type: ignore[arg-type]
        published = True
    return version.id, created, published  # type: ignore[return-value]


@kaart_cli.command("import")
def import_(
    gemeente: str = typer.Argument(..., help="Gemeentecode (GM0014) of 'landelijk'"),
    file: Path = typer.Argument(..., help="CSV, Excel (.xlsx), HSDS-JSON of HSDS-datapakket (.zip)"),
    publish: bool = typer.Option(False, "--publish", help="Meteen publiceren"),
) -> None:
    """Importeer een bestand als nieuwe versie (hetzelfde bestand nog eens: dezelfde versie)."""
    from backend.errors import AppError
    from backend.kaart import service

    with _session() as session:
        try:
            kaart = service.require_kaart(session, gemeente)
            vid, created, published = _import(session, kaart, file, publish)
        except AppError as exc:
            typer.secho(exc.message, fg="red", err=True)
            raise typer.Exit(1) from exc
    state = "nieuwe versie" if created else "bestond al"
    typer.echo(f"{kaart}: versie {vid} ({state}){', gepubliceerd' if published else ''}.")


@kaart_cli.command("export")
def export(
    gemeente: str = typer.Argument(..., help="Gemeentecode (GM0014) of 'landelijk'"),
    format: str = typer.Option("csv", "--format", help="csv, excel-csv, hsds of datapackage"),
    output: Path | None = typer.Option(None, "--output", "-o", help="Bestand (standaard: stdout)"),
    version: int | None = typer.Option(None, help="Versie (standaard: de gepubliceerde)"),
) -> None:
    """Exporteer de gepubliceerde kaart (of een versie)."""
    from backend.errors import AppError
    from backend.kaart import service

    if format not in ("csv", "excel-csv", "hsds", "datapackage"):
        typer.secho("Kies --format csv, excel-csv, hsds of datapackage.", fg="red", err=True)
        raise typer.Exit(2)
    with _session() as session:
        try:
            content, _media, name = service.export(session, service.require_kaart(session, gemeente), format, version)
        except AppError as exc:
            typer.secho(exc.message, fg="red", err=True)
            raise typer.Exit(1) from exc
    if output is None:
        sys.stdout.buffer.write(content)
        sys.stdout.flush()
    else:
        output.write_bytes(content)
        typer.echo(f"Geschreven: {output} ({len(content)} bytes; voorgestelde naam {name}).", err=True)


def example_files() -> list[tuple[str, Path]]:
    """(kaart, file) for the national kaart and every example in sociale_kaart/voorbeelden/."""
    files = [("landelijk", EXAMPLES / "landelijk.csv")]
    for path in sorted((EXAMPLES / "voorbeelden").glob("*.csv")):
        m = re.match(r"(GM\d{4})", path.name)
        if m:
            files.append((m[1], path))
    return files


@kaart_cli.command("load-examples")
def load_examples() -> None:
    """Importeer en publiceer de landelijke kaart en de voorbeeldkaarten. Nog eens uitvoeren verandert niets."""
    with _session() as session:
        for kaart, path in example_files():
            vid, created, published = _import(session, kaart, path, publish=True)
            what = "nieuw" if created else "al aanwezig"
            typer.echo(f"{kaart}: {path.name} -> versie {vid} ({what}{', gepubliceerd' if published else ''})")


@admin_cli.command("create-admin")
def create_admin(username: str = typer.Argument(..., help="Gebruikersnaam van de beheerder")) -> None:
    """Maak een beheerder. Het wachtwoord komt uit STARTKLAAR_ADMIN_PASSWORD, of wordt gevraagd."""
    from backend.accounts.service import create_account
    from backend.errors import FieldErrors

    password = os.environ.get("STARTKLAAR_ADMIN_PASSWORD") or typer.prompt(
        "Wachtwoord", hide_input=True, confirmation_prompt="Nog een keer"
    )
    with _session() as session:
        try:
            user, code = create_account(session, username, password, role="admin")
        except FieldErrors as exc:
            for message in exc.fields.values():
                typer.secho(message, fg="red", err=True)
            raise typer.Exit(1) from exc
        name = user.username
    typer.echo(f"Beheerder '{name}' is aangemaakt.")
    typer.echo(f"Herstelcode (bewaar hem goed, je ziet hem maar één keer): {code}")

"""Helpers for the sociale kaart API tests: people with roles, small kaarten as CSV, uploads, OAuth clients."""

from __future__ import annotations

import base64
import csv
import io
import itertools
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import Session

from backend.accounts.service import create_account
from backend.kaart import service
from backend.kaart.schedule import TZ
from backend.kaart.validation import COLUMNS
from tests.accounts.helpers import PASSWORD, login, new_client, signup

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = {
    "landelijk": ROOT / "sociale_kaart" / "landelijk.csv",
    "GM0014": ROOT / "sociale_kaart" / "voorbeelden" / "GM0014-groningen.csv",
    "GM0363": ROOT / "sociale_kaart" / "voorbeelden" / "GM0363-amsterdam.csv",
    "GM0518": ROOT / "sociale_kaart" / "voorbeelden" / "GM0518-s-gravenhage.csv",
}
A, B = "GM0014", "GM0363"  # Groningen and Amsterdam
# Monday 2 March 2026, 10:00 in Amsterdam: most services are open.
MONDAY_10 = datetime(2026, 3, 2, 10, 0, tzinfo=TZ)
# The day example kaarten are parsed: on or after every gecontroleerd_op in them (landelijk.csv: 2026-12-01).
PARSED_ON = date(2026, 12, 2)

_n = itertools.count(1)


def csv_bytes(rows: list[dict[str, Any]], *, delimiter: str = ",", encoding: str = "utf-8") -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(COLUMNS), delimiter=delimiter, lineterminator="\r\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in r.items()})
    return buf.getvalue().encode(encoding)


def row(dienst: str, **values: Any) -> dict[str, Any]:
    """One template row with sensible defaults (a service at a location in Groningen)."""
    base: dict[str, Any] = {
        "organisatie": "Stichting Test",
        "dienst": dienst,
        "dienst_id": dienst.upper().replace(" ", "-")[:30],
        "omschrijving": f"{dienst}: hulp voor jongeren.",
        "leefgebieden": "inkomen",
        "onderwerpen": "geldzaken",
        "kosten": "gratis",
        "straat": "Grote Markt",
        "huisnummer": "1",
        "postcode": "9712 HN",
        "plaats": "Groningen",
        "telefoon": "050 000 10 00",
        "openingstijden": "ma-vr 09:00-17:00",
        "gecontroleerd_op": "2026-01-12",
    }
    base.update(values)
    return base


def make_admin(session: Session, client: TestClient) -> TestClient:
    name = f"beheerder{next(_n)}"
    create_account(session, name, PASSWORD, role="admin")
    session.commit()
    c = new_client(client)
    login(c, name)
    return c


def make_editor(admin: TestClient, gemeente: str) -> TestClient:
    name = f"redacteur{next(_n)}"
    r = admin.post("/api/admin/editors", json={"username": name, "password": PASSWORD, "gemeente_code": gemeente})
    assert r.status_code == 201, r.text
    c = new_client(admin)
    login(c, name)
    return c


def make_jongere(client: TestClient) -> TestClient:
    c = new_client(client)
    signup(c)
    return c


def upload(c: TestClient, kaart: str, data: bytes, filename: str = "kaart.csv", ctype: str = "text/csv") -> Response:
    return c.post(f"/api/beheer/kaart/{kaart}/uploads", files={"file": (filename, data, ctype)})


def upload_and_publish(c: TestClient, kaart: str, data: bytes, filename: str = "kaart.csv") -> int:
    r = upload(c, kaart, data, filename)
    assert r.status_code in (200, 201), r.text
    vid = int(r.json()["version"]["id"])
    p = c.post(f"/api/beheer/kaart/{kaart}/versions/{vid}/publish")
    assert p.status_code == 200, p.text
    return vid


def load_examples(session: Session, kaarten: tuple[str, ...] = ("landelijk", A, B)) -> dict[str, int]:
    """Import and publish example kaarten through the service (fast; no HTTP)."""
    out = {}
    actor = service.Actor("test")
    for kaart in kaarten:
        path = EXAMPLES[kaart]
        result = service.parse_file(path.read_bytes(), path.name, None, kaart, PARSED_ON)
        version, _ = service.store_version(session, kaart, result, path.name, actor)
        service.publish(session, kaart, version.id, actor)  # type: ignore[arg-type]
        out[kaart] = int(version.id)  # type: ignore[arg-type]
    session.commit()
    return out


def make_api_client(admin: TestClient, gemeente: str) -> tuple[str, str]:
    r = admin.post("/api/admin/api-clients", json={"gemeente_code": gemeente, "name": f"Systeem {gemeente}"})
    assert r.status_code == 201, r.text
    return r.json()["client_id"], r.json()["client_secret"]


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def get_token(c: TestClient, client_id: str, secret: str) -> str:
    r = c.post("/api/oauth/token", data={"grant_type": "client_credentials"}, headers=basic(client_id, secret))
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def names(response: Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [x["name"] for x in response.json()["results"]]

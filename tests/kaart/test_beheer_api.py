"""The beheer API: upload -> report -> draft -> preview -> publish (atomic) -> rollback; bad files change
nothing that is published; exports are safe and round-trip."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from backend.kaart import service
from backend.kaart.models import KaartVersion
from backend.kaart.parsing import parse_upload
from tests.kaart.kaart_api import EXAMPLES, A, csv_bytes, make_editor, names, row, upload, upload_and_publish

pytestmark = pytest.mark.usefixtures("set_now")


def search(c: TestClient, **params: Any) -> list[str]:
    return names(c.get(f"/api/kaart/{A}/services", params={"per_page": 100, **params}))


def test_upload_preview_publish_and_search(admin: TestClient, client: TestClient) -> None:
    editor = make_editor(admin, A)
    data = csv_bytes([row("Schuldhulp"), row("Jongerenloket", onderwerpen="digid")])
    r = upload(editor, A, data)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["created"] is True
    assert body["version"]["status"] == "draft" and body["version"]["current"] is False
    assert body["version"]["service_count"] == 2
    assert body["version"]["created_by"].startswith("redacteur ")
    assert body["report"]["ok"] is True
    vid = body["version"]["id"]

    # A draft is not visible to jongeren, but the editor can preview it.
    assert search(client) == []
    preview = editor.get(f"/api/beheer/kaart/{A}/versions/{vid}/services")
    assert [x["name"] for x in preview.json()["results"]] == ["Schuldhulp", "Jongerenloket"]
    sid = preview.json()["results"][0]["id"]
    detail = editor.get(f"/api/beheer/kaart/{A}/versions/{vid}/services/{sid}")
    assert detail.status_code == 200 and detail.json()["name"] == "Schuldhulp"

    r = editor.post(f"/api/beheer/kaart/{A}/versions/{vid}/publish")
    assert r.status_code == 200 and r.json()["status"] == "published" and r.json()["current"] is True
    assert search(client) == ["Schuldhulp", "Jongerenloket"]
    versions = editor.get(f"/api/beheer/kaart/{A}/versions").json()
    assert [(v["id"], v["status"], v["current"]) for v in versions] == [(vid, "published", True)]
    kaarten = editor.get("/api/beheer/kaarten").json()
    assert kaarten == [
        {
            "kaart": A,
            "naam": "Groningen",
            "current_version_id": vid,
            "published_at": kaarten[0]["published_at"],
            "service_count": 2,
            "open_corrections": 0,
        }
    ]


def test_reupload_is_harmless_and_rollback_restores(admin: TestClient, client: TestClient, session: Session) -> None:
    editor = make_editor(admin, A)
    first = csv_bytes([row("Eerste dienst")])
    second = csv_bytes([row("Tweede dienst")])
    v1 = upload_and_publish(editor, A, first)
    again = upload(editor, A, first, filename="zelfde-inhoud.csv")
    assert again.status_code == 200
    assert again.json()["created"] is False and again.json()["version"]["id"] == v1
    assert again.json()["version"]["current"] is True

    v2 = upload_and_publish(editor, A, second)
    assert search(client) == ["Tweede dienst"]
    statuses = {v["id"]: v["status"] for v in editor.get(f"/api/beheer/kaart/{A}/versions").json()}
    assert statuses == {v1: "archived", v2: "published"}

    r = editor.post(f"/api/beheer/kaart/{A}/rollback")
    assert r.status_code == 200 and r.json()["id"] == v1
    assert search(client) == ["Eerste dienst"]
    # Rollback to a chosen version, and publishing the current one again changes nothing.
    assert editor.post(f"/api/beheer/kaart/{A}/rollback", json={"version_id": v2}).json()["id"] == v2
    assert editor.post(f"/api/beheer/kaart/{A}/versions/{v2}/publish").status_code == 200
    assert search(client) == ["Tweede dienst"]
    assert len(session.exec(select(KaartVersion)).all()) == 2

    v3 = upload(editor, A, csv_bytes([row("Derde dienst")])).json()["version"]["id"]
    r = editor.post(f"/api/beheer/kaart/{A}/rollback", json={"version_id": v3})
    assert r.status_code == 409 and "nog nooit gepubliceerd" in r.json()["detail"]


def test_rollback_without_an_earlier_version_is_refused(admin: TestClient) -> None:
    editor = make_editor(admin, A)
    upload_and_publish(editor, A, csv_bytes([row("Enige dienst")]))
    r = editor.post(f"/api/beheer/kaart/{A}/rollback")
    assert r.status_code == 409
    assert "geen eerdere" in r.json()["detail"]


def test_a_publish_that_fails_midway_leaves_the_old_version_served(
    admin: TestClient, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    editor = make_editor(admin, A)
    v1 = upload_and_publish(editor, A, csv_bytes([row("Oud")]))
    v2 = upload(editor, A, csv_bytes([row("Nieuw")])).json()["version"]["id"]

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database weg, net na het archiveren van de oude versie")

    monkeypatch.setattr(service, "_switch_pointer", broken)
    failing = TestClient(editor.app, base_url="http://localhost", raise_server_exceptions=False)
    failing.cookies = editor.cookies
    failing.headers["X-CSRF-Token"] = editor.headers["X-CSRF-Token"]
    r = failing.post(f"/api/beheer/kaart/{A}/versions/{v2}/publish")
    assert r.status_code == 500
    monkeypatch.undo()

    assert search(client) == ["Oud"]
    statuses = {v["id"]: (v["status"], v["current"]) for v in editor.get(f"/api/beheer/kaart/{A}/versions").json()}
    assert statuses == {v1: ("published", True), v2: ("draft", False)}
    # And the publish works once the failure is gone.
    assert editor.post(f"/api/beheer/kaart/{A}/versions/{v2}/publish").status_code == 200
    assert search(client) == ["Nieuw"]


def test_validate_only_stores_nothing(admin: TestClient, session: Session) -> None:
    editor = make_editor(admin, A)
    r = editor.post(f"/api/beheer/kaart/{A}/validate", files={"file": ("k.csv", csv_bytes([row("X")]), "text/csv")})
    assert r.status_code == 200
    assert r.json()["ok"] is True and r.json()["service_count"] == 1 and r.json()["format"] == "csv"
    assert session.exec(select(KaartVersion)).all() == []


# ----------------------------------------------------------------------------------------- bad input


def _issues(r: Any) -> list[str]:
    return [i["text"] for i in r.json()["report"]["issues"] if i["level"] == "error"]


def test_files_with_errors_get_the_dutch_report_and_change_nothing(
    admin: TestClient, client: TestClient, session: Session
) -> None:
    editor = make_editor(admin, A)
    upload_and_publish(editor, A, csv_bytes([row("Gepubliceerd")]))
    bad = csv_bytes(
        [
            row("Dienst 1", dienst_id="D1", postcode="1234"),
            row("Dienst 2", dienst_id="D1", organisatie="Ander", telefoon="12345"),  # id used twice
            row("Dienst 3", website="javascript:alert(1)", email="geen-mail"),
            row("Dienst 4", openingstijden="soms wel, soms niet", minimum_leeftijd="130"),
        ]
    )
    r = upload(editor, A, bad)
    assert r.status_code == 422
    assert "fouten" in r.json()["detail"] and "niets veranderd" in r.json()["detail"]
    text = "\n".join(_issues(r))
    assert "Rij 2, kolom postcode" in text and "'1234' is geen postcode" in text
    assert "Rij 3" in text and "telefoonnummer" in text
    assert "Rij 3, kolom dienst_id: dienst 'D1' hoort op rij 2 bij een andere organisatie" in text
    assert "Rij 4, kolom website" in text and "Rij 4, kolom email" in text
    assert "Rij 5, kolom openingstijden" in text and "Rij 5, kolom minimum_leeftijd" in text
    assert len(session.exec(select(KaartVersion)).all()) == 1
    assert search(client) == ["Gepubliceerd"]


def test_missing_columns_wrong_encoding_and_wrong_types_are_refused(admin: TestClient, client: TestClient) -> None:
    editor = make_editor(admin, A)
    upload_and_publish(editor, A, csv_bytes([row("Gepubliceerd")]))

    r = upload(editor, A, b"naam_organisatie_x;iets\nA;B\n")
    assert r.status_code == 422
    assert any("organisatie" in t for t in _issues(r))

    r = upload(editor, A, "organisatie,dienst\nA,B\n".encode("utf-16-le"))  # UTF-16 without BOM
    assert r.status_code == 415 and "geen tekst" in r.json()["detail"]

    r = upload(editor, A, b"organisatie,dienst\nA\x81\x8d,B\n")  # neither UTF-8 nor Windows-1252
    assert r.status_code == 422 and "UTF-8" in r.json()["detail"]

    r = upload(editor, A, b"%PDF-1.4 binary", filename="kaart.pdf", ctype="application/pdf")
    assert r.status_code == 415 and "lezen we niet" in r.json()["detail"]

    r = upload(editor, A, b"", filename="leeg.csv")
    assert r.status_code == 422 and "leeg" in r.json()["detail"]

    # Windows-1252 is read, with a warning in the report.
    r = upload(editor, A, csv_bytes([row("Café de Hoek")], delimiter=";", encoding="cp1252"))
    assert r.status_code == 201
    assert any("Windows-1252" in i["text"] for i in r.json()["report"]["issues"])
    assert search(client) == ["Gepubliceerd"]


def test_a_50_mb_upload_is_refused_early(admin: TestClient, client: TestClient) -> None:
    editor = make_editor(admin, A)
    upload_and_publish(editor, A, csv_bytes([row("Gepubliceerd")]))
    big = b"organisatie,dienst\n" + b"a,b\n" * (50 * 1024 * 1024 // 4)
    r = upload(editor, A, big)
    assert r.status_code == 413
    assert "te groot" in r.json()["detail"] and "10,0 MB" in r.json()["detail"]

    # Streamed without Content-Length (chunked): stopped at the cap too.
    def chunks() -> Any:
        for _ in range(12):
            yield b"x" * (1024 * 1024)

    r = editor.post(
        f"/api/beheer/kaart/{A}/uploads",
        content=chunks(),
        headers={"Content-Type": "text/csv"},
        params={"filename": "k.csv"},
    )
    assert r.status_code == 413
    assert search(client) == ["Gepubliceerd"]


def test_a_zip_bomb_is_refused(admin: TestClient, client: TestClient) -> None:
    editor = make_editor(admin, A)
    upload_and_publish(editor, A, csv_bytes([row("Gepubliceerd")]))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("services.csv", b"id,name\n" + b"0" * (8 * 1024 * 1024))
    assert len(buf.getvalue()) < 200_000
    r = upload(editor, A, buf.getvalue(), filename="kaart.zip", ctype="application/zip")
    assert r.status_code == 422 and "zip-bom" in r.json()["detail"]
    assert search(client) == ["Gepubliceerd"]


def test_html_in_descriptions_is_removed(admin: TestClient, client: TestClient) -> None:
    editor = make_editor(admin, A)
    desc = '<p onclick="x()">Hulp bij <b>geld</b>.</p><script>alert("hoi")</script><img src=x onerror=alert(1)>'
    r = upload(editor, A, csv_bytes([row("Geldhulp", omschrijving=desc)]))
    assert r.status_code == 201
    assert any("HTML" in i["text"] for i in r.json()["report"]["issues"])
    editor.post(f"/api/beheer/kaart/{A}/versions/{r.json()['version']['id']}/publish")
    found = client.get(f"/api/kaart/{A}/services").json()["results"][0]
    detail = client.get(f"/api/kaart/{A}/services/{found['id']}").json()
    assert "<" not in detail["description"] and "alert" not in detail["description"]
    assert detail["description"].startswith("Hulp bij geld")


# -------------------------------------------------------------------------------------------- export


def test_csv_export_escapes_formulas_and_round_trips(admin: TestClient) -> None:
    editor = make_editor(admin, A)
    evil = "=cmd|' /C calc'!A0"
    data = csv_bytes([row("Formule", omschrijving=evil, aanmelden="+31 bellen"), row("Gewoon")])
    vid = upload_and_publish(editor, A, data)
    r = editor.get(f"/api/beheer/kaart/{A}/export", params={"format": "csv"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert f"sociale-kaart-{A}-v{vid}.csv" in r.headers["content-disposition"]
    cells = [c for line in csv.reader(io.StringIO(r.content.decode("utf-8"))) for c in line]
    assert "'" + evil in cells and evil not in cells
    assert "'+31 bellen" in cells
    # Reading the export back gives the same kaart (the apostrophes are removed again).
    original = parse_upload(data, "k.csv", namespace=A).kaart
    assert parse_upload(r.content, "export.csv", namespace=A).kaart == original
    excel = editor.get(f"/api/beheer/kaart/{A}/export", params={"format": "excel-csv"})
    assert excel.content.startswith("\ufeff".encode()) and b";" in excel.content.splitlines()[0]
    assert parse_upload(excel.content, "export.csv", namespace=A).kaart == original


@pytest.mark.parametrize("kaart", ["GM0014", "GM0518", "landelijk"])
def test_hsds_and_datapackage_exports_round_trip(admin: TestClient, kaart: str) -> None:
    data = EXAMPLES[kaart].read_bytes()
    vid = upload_and_publish(admin, kaart, data, EXAMPLES[kaart].name)
    original = parse_upload(data, EXAMPLES[kaart].name, namespace=kaart).kaart
    hsds_json = admin.get(f"/api/beheer/kaart/{kaart}/export", params={"format": "hsds"})
    assert hsds_json.headers["content-type"] == "application/json"
    assert parse_upload(hsds_json.content, "kaart.json", namespace=kaart).kaart == original
    package = admin.get(f"/api/beheer/kaart/{kaart}/export", params={"format": "datapackage", "version_id": vid})
    assert package.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(package.content)) as zf:
        assert "datapackage.json" in zf.namelist()
    assert parse_upload(package.content, "kaart.zip", namespace=kaart).kaart == original


def test_export_validates_against_the_hsds_schemas(admin: TestClient, service_validator: Any) -> None:
    upload_and_publish(admin, A, EXAMPLES[A].read_bytes())
    records = json.loads(admin.get(f"/api/beheer/kaart/{A}/export", params={"format": "hsds"}).content)
    assert len(records) == 14
    errors = [f"{r['name']}: {e.message}" for r in records for e in service_validator.iter_errors(r)]
    assert errors == []


def test_export_of_an_unpublished_kaart_is_404(admin: TestClient) -> None:
    r = admin.get(f"/api/beheer/kaart/{A}/export")
    assert r.status_code == 404 and "nog niet gepubliceerd" in r.json()["detail"]


def test_xlsx_upload(admin: TestClient, client: TestClient) -> None:
    import openpyxl

    from backend.kaart.validation import COLUMNS

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(list(COLUMNS))
    r = row("Uit Excel")
    ws.append([r.get(c, "") for c in COLUMNS])
    buf = io.BytesIO()
    wb.save(buf)
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    res = upload(admin, A, buf.getvalue(), filename="kaart.xlsx", ctype=xlsx)
    assert res.status_code == 201, res.text
    assert res.json()["version"]["source_format"] == "xlsx"


def test_cookie_writes_need_the_csrf_header(admin: TestClient) -> None:
    editor = make_editor(admin, A)
    vid = upload(editor, A, csv_bytes([row("Concept")])).json()["version"]["id"]
    token = editor.headers.pop("X-CSRF-Token")
    r = editor.post(f"/api/beheer/kaart/{A}/versions/{vid}/publish")
    assert r.status_code == 403 and "sessie" in r.json()["detail"]
    assert upload(editor, A, csv_bytes([row("Ander")])).status_code == 403
    editor.headers["X-CSRF-Token"] = token
    assert editor.post(f"/api/beheer/kaart/{A}/versions/{vid}/publish").status_code == 200


def test_another_process_sees_a_publish_within_the_pointer_ttl(
    admin: TestClient, client: TestClient, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each API process keeps the current-version pointers for POINTER_TTL seconds; a publish by another
    process (here: another engine) shows up after that, as a whole version."""
    import time

    from backend.db import make_engine

    monkeypatch.setattr(service, "POINTER_TTL", 0.3)
    upload_and_publish(admin, A, csv_bytes([row("Oud")]))
    assert search(client) == ["Oud"]
    other = make_engine(db_url)
    try:
        with Session(other) as s:
            actor = service.Actor("ander proces")
            result = service.parse_file(csv_bytes([row("Nieuw")]), "k.csv", None, A, date(2026, 3, 1))
            version, _ = service.store_version(s, A, result, "k.csv", actor)
            service.publish(s, A, version.id, actor)  # type: ignore[arg-type]
            s.commit()
    finally:
        other.dispose()
    assert search(client) in (["Oud"], ["Nieuw"])  # never a mix
    time.sleep(0.35)
    assert search(client) == ["Nieuw"]

"""Upload limits through the HTTP API, as an editor (and as a gemeente system): size limits before and
while reading, zip limits for .xlsx before openpyxl opens it (zip bombs by ratio, by total size, by number
of members; XML entity tricks), sheets that declare a huge size, and content sniffing (name and bytes must
agree). Every refusal is a Dutch message, and nothing is stored.

The checks themselves are unit-tested in test_safety.py; this proves the API applies them."""

from __future__ import annotations

import functools
import io
import time
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient

from backend.kaart import service
from backend.kaart.safety import DEFAULT_LIMITS
from backend.kaart.validation import COLUMNS
from tests.kaart.kaart_api import A, bearer, csv_bytes, get_token, make_api_client, make_editor, row

pytestmark = pytest.mark.usefixtures("set_now")

MB = 1024 * 1024
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEET = "xl/worksheets/sheet1.xml"
NOISE = bytes(range(256)) * 16  # binary: every byte value, NUL included


@pytest.fixture
def editor(admin: TestClient) -> TestClient:
    return make_editor(admin, A)


def _upload(c: TestClient, data: bytes, filename: str, ctype: str = "application/octet-stream") -> Any:
    return c.post(f"/api/beheer/kaart/{A}/uploads", files={"file": (filename, data, ctype)})


def _refused(r: Any, status: int, fragment: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    detail = r.json()["detail"]
    assert isinstance(detail, str) and fragment in detail, detail
    assert "Traceback" not in r.text and "Error" not in detail


def _nothing_stored(c: TestClient) -> None:
    r = c.get(f"/api/beheer/kaart/{A}/versions")
    assert r.status_code == 200 and r.json() == [], r.text


@pytest.fixture
def openpyxl_opens(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts how often openpyxl is asked to open a workbook."""
    calls: list[int] = []
    real = openpyxl.load_workbook

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(openpyxl, "load_workbook", counting)
    return calls


# --- files --------------------------------------------------------------------------------------------


@functools.cache
def kaart_xlsx() -> bytes:
    """A real, valid sociale kaart as Excel (the template's columns, two services)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(list(COLUMNS))
    for r in (row("Schuldhulp"), row("Jongerenloket")):
        ws.append([r.get(col, "") for col in COLUMNS])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def rezip(
    data: bytes,
    change: Callable[[str, bytes], bytes] = lambda _n, c: c,
    extra: Iterator[tuple[str, bytes]] = iter(()),
    level: int = 6,
) -> bytes:
    """The same zip with members changed and/or added."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, change(info.filename, src.read(info)), compresslevel=level)
        for name, content in extra:
            dst.writestr(name, content, compresslevel=level)
    return out.getvalue()


@functools.cache
def ratio_bomb() -> bytes:
    """A valid workbook whose sheet is padded with 40 MB of white space (allowed in XML): packs ~1000:1."""

    def pad(name: str, content: bytes) -> bytes:
        return content.replace(b"<sheetData>", b"<sheetData>" + b" " * (40 * MB)) if name == SHEET else content

    return rezip(kaart_xlsx(), pad)


@functools.cache
def size_bomb() -> bytes:
    """110 members of just under 1 MB each (each too small for the ratio rule): 110 MB unpacked in total."""
    block = b"\0" * (MB - 1)
    return rezip(kaart_xlsx(), extra=((f"xl/media/leeg{i}.bin", block) for i in range(110)), level=1)


def many_members() -> bytes:
    return rezip(kaart_xlsx(), extra=((f"xl/media/plaatje{i}.png", b"\x89PNG") for i in range(250)))


def with_dtd(encoding: str, codec: str = "") -> bytes:
    """Entities declared in a DOCTYPE (entity expansion), hidden behind a long comment."""
    dtd = '<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'

    def change(name: str, content: bytes) -> bytes:
        if name != SHEET:
            return content
        text = content.decode().replace("<t>Schuldhulp</t>", "<t>&b;</t>")
        decl = f'<?xml version="1.0" encoding="{encoding}"?>'
        return (decl + "<!--" + "x" * 100_000 + "-->" + dtd + text).encode(codec or encoding)

    return rezip(kaart_xlsx(), change)


def huge_dimension() -> bytes:
    """A sheet that declares A1:XFD1048576 and has a cell in its very last row and column (a few kB)."""

    def change(name: str, content: bytes) -> bytes:
        if name != SHEET:
            return content
        far = b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
        text = content.replace(b"</sheetData>", far + b"</sheetData>")
        start = text.index(b'<dimension ref="')
        end = text.index(b'"', start + 16)
        return text[:start] + b'<dimension ref="A1:XFD1048576' + text[end:]

    return rezip(kaart_xlsx(), change)


# --- a real Excel file goes through ------------------------------------------------------------------


def test_a_real_excel_kaart_is_accepted(editor: TestClient, openpyxl_opens: list[int]) -> None:
    r = _upload(editor, kaart_xlsx(), "kaart.xlsx", XLSX)
    assert r.status_code == 201, r.text
    assert r.json()["version"]["service_count"] == 2 and r.json()["version"]["source_format"] == "xlsx"
    assert openpyxl_opens == [1]


# --- size ---------------------------------------------------------------------------------------------


def test_a_file_over_the_size_limit_is_refused(editor: TestClient) -> None:
    data = csv_bytes([row("Schuldhulp")]) + b"\r\n" * ((DEFAULT_LIMITS.max_bytes - 1000) // 2) + b"x" * 2000
    assert len(data) > DEFAULT_LIMITS.max_bytes
    _refused(_upload(editor, data, "kaart.csv", "text/csv"), 413, "dat is te groot. Een bestand mag hoogstens 10,0 MB")
    _nothing_stored(editor)


def test_a_too_large_declared_length_is_refused_before_reading(
    editor: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "parse_file", lambda *a, **k: pytest.fail("the body was parsed"))

    def body() -> Iterator[bytes]:
        for _ in range(30):
            yield b"x" * MB

    headers = {"Content-Type": "text/csv", "Content-Length": str(30 * MB)}
    r = editor.post(f"/api/beheer/kaart/{A}/uploads?filename=kaart.csv", content=body(), headers=headers)
    _refused(r, 413, "30,0 MB; dat is te groot")
    _nothing_stored(editor)


def test_a_chunked_upload_without_length_is_cut_off_while_streaming(
    editor: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "parse_file", lambda *a, **k: pytest.fail("the body was parsed"))

    def endless() -> Iterator[bytes]:
        for _ in range(20):  # 20 MB if nobody stops reading
            yield b"organisatie,dienst\n" * (MB // 19)

    r = editor.post(f"/api/beheer/kaart/{A}/uploads?filename=kaart.csv", content=endless())
    _refused(r, 413, "te groot")
    _nothing_stored(editor)


# --- zip limits for .xlsx, before openpyxl opens the file -------------------------------------------


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (ratio_bomb, "verdacht sterk ingepakt (een 'zip-bom')"),
        (size_bomb, "uitgepakt meer dan 100,0 MB"),
        (many_members, "bevat 259 bestanden; er mogen er hoogstens 200 in"),
        (functools.partial(with_dtd, "utf-8"), "onveilige XML-constructie"),
        (functools.partial(with_dtd, "UTF-8", "utf-8-sig"), "onveilige XML-constructie"),
        (functools.partial(with_dtd, "UTF-16"), "onveilige XML-constructie"),
        (functools.partial(with_dtd, "UTF-16", "utf-16-be"), "onveilige XML-constructie"),
    ],
    ids=["ratio", "total-size", "members", "doctype", "doctype-bom", "doctype-utf16", "doctype-utf16be"],
)
def test_zip_limits_refuse_an_xlsx_before_it_is_opened(
    editor: TestClient, openpyxl_opens: list[int], make: Callable[[], bytes], fragment: str
) -> None:
    data = make()
    assert len(data) < DEFAULT_LIMITS.max_bytes  # small enough to pass the size limit
    _refused(_upload(editor, data, "kaart.xlsx", XLSX), 422, fragment)
    assert openpyxl_opens == []
    r = editor.post(f"/api/beheer/kaart/{A}/validate", files={"file": ("kaart.xlsx", data, XLSX)})
    _refused(r, 422, fragment)
    _nothing_stored(editor)


def test_a_gemeente_system_gets_the_same_zip_limits(admin: TestClient, client: TestClient) -> None:
    token = get_token(client, *make_api_client(admin, A))
    headers = {**bearer(token), "Content-Type": XLSX}
    r = client.post(f"/api/gemeente-api/{A}/uploads", content=ratio_bomb(), headers=headers)
    _refused(r, 422, "zip-bom")
    r = client.post(f"/api/gemeente-api/{A}/uploads", content=kaart_xlsx(), headers=headers)
    assert r.status_code == 201, r.text


def test_a_sheet_that_declares_a_million_rows_and_16384_columns_is_read_quickly(editor: TestClient) -> None:
    """A few kB that make openpyxl pad every row to 16,384 cells and fill a million rows: read in seconds,
    not hours (the extra far-away cell is outside any column we read)."""
    data = huge_dimension()
    assert len(data) < 20_000
    started = time.monotonic()
    r = _upload(editor, data, "kaart.xlsx", XLSX)
    assert time.monotonic() - started < 30
    assert r.status_code == 201, r.text
    assert r.json()["version"]["service_count"] == 2


# --- content sniffing: the name (or Content-Type) and the bytes must agree ----------------------------


@pytest.mark.parametrize(
    ("data", "filename", "ctype", "status", "fragment"),
    [
        (csv_bytes([row("Schuldhulp")]), "kaart.xlsx", XLSX, 415, "de inhoud is een CSV-bestand"),
        (NOISE, "kaart.xlsx", XLSX, 415, "geen tekst, Excel-bestand of zip"),
        (b"PK\x03\x04" + b"\x00" * 200, "kaart.xlsx", XLSX, 415, "een kapot zip-bestand"),
        (kaart_xlsx(), "kaart.csv", "text/csv", 415, "de inhoud is een Excel-bestand (.xlsx)"),
        (b"\x89PNG\r\n\x1a\n" + NOISE, "kaart.csv", "text/csv", 415, "een afbeelding (PNG)"),
        (b"%PDF-1.7\n" + NOISE, "kaart.csv", "text/csv", 415, "een PDF"),
        (b"\x00\x01\x02\x03" * 1000, "kaart.csv", "text/csv", 415, "geen tekst, Excel-bestand of zip"),
        (bytes(range(1, 32)) * 300, "kaart.csv", "text/csv", 422, "geen leesbare tekst"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500, "kaart.xls", "", 415, "oude Excel-formaat"),
        (csv_bytes([row("Schuldhulp")]), "kaart.exe", "", 415, "Bestanden met '.exe' lezen we niet"),
    ],
    ids=[
        "csv-named-xlsx",
        "binary-named-xlsx",
        "broken-zip-named-xlsx",
        "xlsx-named-csv",
        "png-named-csv",
        "pdf-named-csv",
        "binary-named-csv",
        "control-characters-named-csv",
        "old-xls",
        "unknown-extension",
    ],
)
def test_name_and_content_must_agree(
    editor: TestClient, data: bytes, filename: str, ctype: str, status: int, fragment: str
) -> None:
    _refused(_upload(editor, data, filename, ctype or "application/octet-stream"), status, fragment)
    _nothing_stored(editor)


def test_a_raw_body_is_sniffed_against_its_content_type(editor: TestClient) -> None:
    r = editor.post(f"/api/beheer/kaart/{A}/uploads", content=kaart_xlsx(), headers={"Content-Type": "text/csv"})
    _refused(r, 415, "zou een CSV-bestand moeten zijn, maar de inhoud is een Excel-bestand (.xlsx)")
    r = editor.post(
        f"/api/beheer/kaart/{A}/uploads?filename=kaart.xlsx", content=b"organisatie,dienst\nA,B\n", headers={}
    )
    _refused(r, 415, "'kaart.xlsx' zou een Excel-bestand (.xlsx) moeten zijn, maar de inhoud is een CSV-bestand")
    _nothing_stored(editor)


def test_uploads_are_rate_limited_per_account_and_refusals_count(
    editor: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from backend.accounts.service import Limit
    from backend.kaart import routes

    monkeypatch.setattr(routes, "UPLOADS_PER_ACTOR", Limit(3, routes.UPLOADS_PER_ACTOR.window))
    for _ in range(3):  # refused files count as much as good ones: parsing is the cost
        assert _upload(editor, NOISE, "kaart.csv", "text/csv").status_code in (415, 422)
    r = editor.post(
        f"/api/beheer/kaart/{A}/validate", files={"file": ("kaart.csv", csv_bytes([row("Inloop")]), "text/csv")}
    )
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert "Te veel" in r.json()["detail"]
    _nothing_stored(editor)

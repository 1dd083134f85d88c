"""File limits, zip bombs, content sniffing and spreadsheet formula injection."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.kaart import hsds
from backend.kaart.parsing import parse_upload, read_xlsx
from backend.kaart.safety import (
    DEFAULT_LIMITS,
    Limits,
    UploadError,
    check_size,
    check_zip,
    detect_kind,
    escape_formula,
    format_size,
    read_limited,
    read_member,
    sniff,
    unescape_formula,
)

MB = 1024 * 1024
CSV = b"organisatie,dienst\nGemeente,Loket\n"


# ---------------------------------------------------------------------------------------------- size


def test_50_mb_file_is_refused_with_a_clear_dutch_message(tmp_path: Path) -> None:
    big = tmp_path / "groot.csv"
    with big.open("wb") as f:
        f.write(CSV)
        f.write(b"Gemeente,Loket\n" * (50 * MB // 15))
    with pytest.raises(UploadError) as info:
        with big.open("rb") as f:
            read_limited(f)
    assert info.value.status == 413
    assert "te groot" in info.value.message and "10,0 MB" in info.value.message
    data = big.read_bytes()
    with pytest.raises(UploadError) as info:
        parse_upload(data, "groot.csv")
    assert "Het bestand is 50,0 MB; dat is te groot." in info.value.message
    assert info.value.status == 413


def test_read_limited_stops_reading_early() -> None:
    class Endless(io.RawIOBase):
        reads = 0

        def readinto(self, b) -> int:  # type: ignore[no-untyped-def,override]
            Endless.reads += 1
            b[: len(b)] = b"x" * len(b)
            return len(b)

    with pytest.raises(UploadError):
        read_limited(Endless(), Limits(max_bytes=MB))  # type: ignore[arg-type]
    assert Endless.reads <= MB // (64 * 1024) + 3


def test_size_helpers() -> None:
    assert format_size(50 * MB) == "50,0 MB"
    assert format_size(2048) == "2 kB"
    check_size(DEFAULT_LIMITS.max_bytes)
    with pytest.raises(UploadError, match="leeg"):
        check_size(0)


# -------------------------------------------------------------------------------------------- sniffing


def _zip(files: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _xlsx() -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["organisatie", "dienst"])
    ws.append(["Gemeente", "Loket"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_sniff() -> None:
    assert sniff(CSV) == "csv"
    assert sniff(b"\xef\xbb\xbf" + CSV) == "csv"
    assert sniff(b'[{"name": "x"}]') == "json"
    assert sniff(b'\xef\xbb\xbf {"contents": []}') == "json"
    assert sniff(_xlsx()) == "xlsx"
    assert sniff(_zip({"services.csv": b"id,name\n"})) == "zip"
    assert sniff(b"%PDF-1.7 ...") is None
    assert sniff(b"\x89PNG\r\n\x1a\n") is None
    assert sniff(b"abc\x00def") is None
    assert sniff(b"PK\x03\x04 kapot") is None


@pytest.mark.parametrize(
    ("data", "name", "content_type", "kind"),
    [
        (CSV, "kaart.csv", None, "csv"),
        (CSV, "KAART.TXT", None, "csv"),
        (CSV, "", "text/csv", "csv"),
        (CSV, "", None, "csv"),
        (b"[]", "kaart.json", None, "json"),
        (b"[]", "", "application/json; charset=utf-8", "json"),
    ],
)
def test_detect_kind_accepts_matching_types(data: bytes, name: str, content_type: str | None, kind: str) -> None:
    assert detect_kind(data, name, content_type) == kind


@pytest.mark.parametrize(
    ("data", "name", "fragment"),
    [
        (b"[]", "kaart.csv", "zou een CSV-bestand moeten zijn, maar de inhoud is een JSON-bestand"),
        (CSV, "kaart.json", "zou een JSON-bestand (HSDS) moeten zijn, maar de inhoud is een CSV-bestand"),
        (CSV, "kaart.xlsx", "zou een Excel-bestand (.xlsx) moeten zijn"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "kaart.xls", "oude Excel-formaat"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "kaart.csv", "oud Excel-bestand (.xls)"),
        (b"%PDF-1.7", "kaart.csv", "Dit bestand is een PDF"),
        (b"\x89PNG\r\n", "", "een afbeelding (PNG)"),
        (CSV, "kaart.docx", "Bestanden met '.docx' lezen we niet"),
        (CSV, "kaart.ods", "OpenDocument"),
    ],
)
def test_detect_kind_refuses_mismatches(data: bytes, name: str, fragment: str) -> None:
    with pytest.raises(UploadError) as info:
        detect_kind(data, name)
    assert fragment in info.value.message
    assert info.value.status == 415


def test_xlsx_uploaded_as_zip_is_refused() -> None:
    with pytest.raises(UploadError, match="de inhoud is een Excel-bestand"):
        detect_kind(_xlsx(), "kaart.zip")


# ------------------------------------------------------------------------------------------------ zips


def test_zip_bomb_by_ratio_is_refused() -> None:
    bomb = _zip({"services.csv": b"\x00" * (20 * MB)})
    assert len(bomb) < 100_000
    with pytest.raises(UploadError, match="zip-bom"):
        check_zip(bomb)
    with pytest.raises(UploadError, match="zip-bom"):
        parse_upload(bomb, "kaart.zip")


def test_zip_bomb_by_total_size_is_refused() -> None:
    files = {f"deel{i}.csv": bytes(range(256)) * 4000 for i in range(8)}  # ~1 MB each, barely compressible
    with pytest.raises(UploadError, match="uitgepakt meer dan"):
        check_zip(_zip(files), Limits(max_unzipped_bytes=4 * MB))


def test_too_many_members() -> None:
    with pytest.raises(UploadError, match="bevat 300 bestanden"):
        check_zip(_zip({f"f{i}.csv": b"" for i in range(300)}))


def test_member_larger_than_limit() -> None:
    data = _zip({"services.csv": b"a,b\n" * 300_000}, zipfile.ZIP_STORED)
    with pytest.raises(UploadError, match="de grens is"):
        check_zip(data, Limits(max_member_bytes=MB))


@pytest.mark.parametrize("name", ["../evil.csv", "/etc/passwd", "a/../../b.csv", "C:\\x.csv", "..\\x.csv"])
def test_path_traversal_is_refused(name: str) -> None:
    with pytest.raises(UploadError, match="onveilige bestandsnaam"):
        check_zip(_zip({name: b"x"}))


@pytest.mark.parametrize("name", ["inner.zip", "data/export.xlsx", "x.tar.gz"])
def test_nested_archives_are_refused_by_name(name: str) -> None:
    with pytest.raises(UploadError, match="zelf weer een archief"):
        check_zip(_zip({name: b"x"}))


def test_nested_zip_disguised_as_csv_is_refused_when_read() -> None:
    inner = _zip({"services.csv": b"id,name\n"})
    outer = _zip({"services.csv": inner})
    zf = check_zip(outer)
    with pytest.raises(UploadError, match="zelf weer een archief"):
        read_member(zf, zf.getinfo("services.csv"))
    with pytest.raises(UploadError, match="zelf weer een archief"):
        hsds.import_datapackage(outer)


def test_encrypted_member_is_refused() -> None:
    data = bytearray(_zip({"services.csv": b"id,name\n"}))
    central = data.index(b"PK\x01\x02")
    data[central + 8] |= 0x1  # general purpose flag: encrypted
    data[6] |= 0x1
    with pytest.raises(UploadError, match="versleuteld"):
        check_zip(bytes(data))


def test_xlsx_with_doctype_is_refused() -> None:
    data = _xlsx()
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(buf, "w") as dst:
        for item in src.infolist():
            content = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                doctype = b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
                if content.startswith(b"<?xml"):
                    end = content.index(b"?>") + 2
                    content = content[:end] + doctype + content[end:]
                else:
                    content = doctype + content
            dst.writestr(item, content)
    with pytest.raises(UploadError, match="DOCTYPE"):
        read_xlsx(buf.getvalue())


def test_broken_zip() -> None:
    with pytest.raises(UploadError, match="kapot"):
        check_zip(b"PK\x03\x04" + b"\x00" * 50)


def test_hsds_zip_with_huge_json_descriptor_is_bounded() -> None:
    data = _zip({"datapackage.json": json.dumps({"resources": "x" * 10}).encode(), "services.csv": b"id,name\n"})
    result = hsds.import_datapackage(data)
    assert "Er staan geen diensten in het bestand." in [str(i) for i in result.report.errors]


# ------------------------------------------------------------------------------------ formula injection


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("=1+1", "'=1+1"),
        ("+31 6 12345678", "'+31 6 12345678"),
        ("-5", "'-5"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("'=already", "''=already"),
        ("''+x", "'''+x"),
        ("'s-Gravenhage", "'s-Gravenhage"),
        ("Hallo", "Hallo"),
        ("0800-0113", "0800-0113"),
        ("", ""),
        ("'", "'"),
        ("a=b", "a=b"),
    ],
)
def test_escape_formula(value: str, escaped: str) -> None:
    assert escape_formula(value) == escaped
    assert unescape_formula(escaped) == value


@given(st.text(alphabet=st.sampled_from(list("'=+-@\t\rab ")), max_size=8))
def test_escape_is_exactly_undone(value: str) -> None:
    escaped = escape_formula(value)
    assert escaped[:1] not in ("=", "+", "-", "@", "\t", "\r")
    assert unescape_formula(escaped) == value

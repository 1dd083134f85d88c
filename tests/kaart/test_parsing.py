"""Reading uploads: CSV variants and encodings, XLSX, the example kaarten, and the template export."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from backend.kaart.parsing import decode_text, kaart_to_csv, parse_upload, read_csv, read_xlsx
from backend.kaart.records import Kaart, kaart_rows
from backend.kaart.safety import UploadError
from backend.kaart.validation import COLUMNS, Report

ROOT = Path(__file__).resolve().parents[2]
KAART_DIR = ROOT / "sociale_kaart"
TODAY = date(2026, 12, 2)
EXAMPLES = [
    ("voorbeelden/GM0014-groningen.csv", "GM0014"),
    ("voorbeelden/GM0363-amsterdam.csv", "GM0363"),
    ("voorbeelden/GM0518-s-gravenhage.csv", "GM0518"),
]

HEADER = "organisatie,dienst,postcode,telefoon,omschrijving,leefgebieden"
ROW = "Gemeente Test,Jongerenloket,1234ab,020-1234567,Hulp bij één ding,papieren"


def parse(data: bytes, name: str = "kaart.csv") -> tuple[Kaart, Report]:
    result = parse_upload(data, name, namespace="GM0363", today=TODAY)
    return result.kaart, result.report


# --------------------------------------------------------------------------------- example kaarten


@pytest.mark.parametrize(("path", "code"), EXAMPLES)
def test_example_kaarten_are_clean(path: str, code: str) -> None:
    result = parse_upload((KAART_DIR / path).read_bytes(), path, namespace=code, today=TODAY)
    assert result.report.ok, [str(i) for i in result.report.issues]
    assert [i for i in result.report.warnings if "Windows-1252" not in i.message] == []
    kaart = result.kaart
    assert 10 <= len(kaart.services) <= 20
    assert any(len(kaart.at_locations(s.id)) > 1 for s in kaart.services)  # a service at several locations
    assert any(not kaart.at_locations(s.id) for s in kaart.services)  # a phone/online-only service
    assert all(s.assured_date is not None and s.leefgebieden for s in kaart.services)
    gemeenten = (KAART_DIR / "gemeenten.csv").read_text(encoding="utf-8")
    assert code in gemeenten


def test_den_haag_example_is_the_excel_variant() -> None:
    data = (KAART_DIR / "voorbeelden/GM0518-s-gravenhage.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert data.split(b"\r\n", 1)[0].count(b";") == len(COLUMNS) - 1
    kaart, report = parse(data)
    assert any("Windows-1252" in w.message for w in report.warnings)
    assert any("–" in s.description for s in kaart.services)  # en dash read correctly from cp1252
    assert any("€" in s.fees for s in kaart.services)


def test_landelijk_and_template_are_clean() -> None:
    for name, code in (("landelijk.csv", "landelijk"), ("sjabloon.csv", "")):
        result = parse_upload((KAART_DIR / name).read_bytes(), name, namespace=code, today=TODAY)
        assert result.report.ok and not result.report.warnings, [str(i) for i in result.report.issues]
    landelijk = parse_upload((KAART_DIR / "landelijk.csv").read_bytes(), "landelijk.csv", today=TODAY).kaart
    numbers = {p.number for s in landelijk.services for p in s.phones}
    # Only numbers confirmed on the organisation's own site or an official page (gecontroleerd_op 2026-12-01).
    assert {"113", "0800-0113", "0800-8115", "0800-6464644", "0800-2000", "0800-0188"} <= numbers
    for service in landelijk.services:
        assert service.assured_date is not None or not service.phones, service.name
    assert len(landelijk.services) >= 12


def test_template_header_is_the_column_list() -> None:
    text = (KAART_DIR / "sjabloon.csv").read_bytes().decode("utf-8-sig")
    assert next(csv.reader(io.StringIO(text), delimiter=";")) == list(COLUMNS)


# ------------------------------------------------------------------------------------- CSV variants


@pytest.mark.parametrize(
    "data",
    [
        f"{HEADER}\n{ROW}\n".encode(),
        f"{HEADER}\r\n{ROW}\r\n".encode("utf-8-sig"),
        f"{HEADER}\n{ROW}\n".replace(",", ";").encode("cp1252"),
        f"{HEADER}\n{ROW}\n".replace(",", "\t").encode("utf-16"),
        f"sep=;\n{HEADER}\n{ROW}\n".replace(",", ";").encode("utf-8"),
    ],
    ids=["utf8-comma", "utf8-bom-crlf", "cp1252-semicolon", "utf16-tab", "excel-sep-line"],
)
def test_csv_variants_give_the_same_kaart(data: bytes) -> None:
    reference, _ = parse(f"{HEADER}\n{ROW}\n".encode())
    kaart, report = parse(data)
    assert report.ok, [str(i) for i in report.issues]
    assert kaart == reference
    assert kaart.services[0].description == "Hulp bij één ding"
    assert kaart.service_at_locations[0].phones[0].number == "020 123 45 67"


def test_semicolon_file_with_commas_in_cells() -> None:
    data = b'organisatie;dienst;leefgebieden\n"Gemeente, afdeling Jeugd";Loket;"wonen, inkomen"\n'
    kaart, report = parse(data)
    assert report.ok
    assert kaart.organizations[0].name == "Gemeente, afdeling Jeugd"
    assert kaart.services[0].leefgebieden == ("wonen", "inkomen")


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (f"{HEADER}\n{ROW}\n".encode("utf-16-le"), "geen leesbare tekst"),  # UTF-16 without BOM
        (f"{HEADER}\n".encode() + b"Gemeente \x81\x8d,x\n", "UTF-8 en geen Windows-1252"),
        (b"\xef\xbb\xbf" + "organisatie,dienst\né".encode("latin-1"), "de tekens kloppen niet"),
        (b"\xff\xfe" + b"\x00\xd8", "de tekens kloppen niet"),
        (b"organisatie,dienst\n" + bytes(range(1, 32)) * 20, "geen leesbare tekst"),
    ],
)
def test_wrong_encoding_is_refused_in_dutch(data: bytes, fragment: str) -> None:
    with pytest.raises(UploadError) as info:
        decode_text(data)
    assert fragment in info.value.message


def test_cp1252_is_read_with_a_warning() -> None:
    report = Report()
    assert decode_text("Café € – ë".encode("cp1252"), report) == "Café € – ë"
    assert "Windows-1252" in report.issues[0].message


def test_row_numbers_are_spreadsheet_rows() -> None:
    data = (
        b"\n"  # blank line above the header: header is row 2
        b"organisatie,dienst,postcode,omschrijving\n"
        b'A,B,1234,"twee\nregels"\n'  # row 3, one record over two lines
        b",,,\n"  # row 4, empty
        b"A,C,99999,x\n"  # row 5
    )
    _, report = parse(data)
    errors = [str(i) for i in report.errors]
    assert "Rij 3, kolom postcode: '1234' is geen postcode. Schrijf 4 cijfers en 2 letters, zoals 1234 AB." in errors
    assert any(e.startswith("Rij 5, kolom postcode: '99999'") for e in errors)


def test_column_label_is_the_users_header() -> None:
    _, report = parse(b"Organisatie,Naam dienst,Post code\nA,B,12\n")
    assert "Rij 2, kolom Post code: '12' is geen postcode." in str(report.errors[0])


def test_empty_and_headerless_files() -> None:
    with pytest.raises(UploadError, match="geen kopregel"):
        read_csv(b"\n\n,,\n")
    with pytest.raises(UploadError, match="leeg"):
        parse(b"")
    _, report = parse(b"organisatie,dienst\n")
    assert "Er staan geen diensten in het bestand." in [str(i) for i in report.errors]


def test_too_many_rows_and_broken_csv() -> None:
    from backend.kaart.safety import Limits

    data = ("organisatie,dienst\n" + "a,b\n" * 11).encode()
    with pytest.raises(UploadError, match="meer dan 10 rijen"):
        read_csv(data, limits=Limits(max_rows=10))
    with pytest.raises(UploadError, match="kapot"):
        read_csv(b'organisatie,dienst\n"a,b\n' + b"x" * 200_000)


# --------------------------------------------------------------------------------------------- XLSX


def make_xlsx(rows: list[list[object]], *, title_row: bool = False, second_sheet: bool = False) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    if title_row:
        ws.append(["Sociale kaart gemeente Test"])
        ws.append([])
    for row in rows:
        ws.append(row)
    if second_sheet:
        other = wb.create_sheet("Toelichting")
        other.append(["organisatie", "dienst"])
        other.append(["Niet", "Lezen"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_xlsx_first_sheet_with_excel_types() -> None:
    data = make_xlsx(
        [
            ["Organisatie", "Dienst", "Postcode", "Telefoon", "Gecontroleerd op", "Minimum_leeftijd", "Plaats"],
            ["Gemeente Test", "Jongerenloket", "1234 AB", 201234567, datetime(2026, 1, 15), 16.0, "Amsterdam"],
            [None, None, None, None, None, None, None],
            ["Gemeente Test", "Schuldhulp", 1234, "0800-8115", "15-01-2026", 18, None],
        ],
        title_row=True,
        second_sheet=True,
    )
    table = read_xlsx(data)
    assert table.header_row == 3
    result = parse_upload(data, "kaart.xlsx", namespace="GM0363", today=TODAY)
    kaart, report = result.kaart, result.report
    assert result.format == "xlsx"
    assert [s.name for s in kaart.services] == ["Jongerenloket", "Schuldhulp"]
    assert kaart.services[0].assured_date == date(2026, 1, 15)
    assert kaart.services[0].minimum_age == 16
    assert kaart.service_at_locations[0].phones[0].number == "020 123 45 67"
    messages = [str(i) for i in report.issues]
    assert any(m.startswith("Rij 4, kolom Telefoon: bij '201234567' ontbrak de 0") for m in messages)
    assert any(m.startswith("Rij 6, kolom Postcode: '1234' is geen postcode") for m in messages)


def test_xlsx_formula_cells_without_cached_values_are_empty() -> None:
    data = make_xlsx([["organisatie", "dienst", "omschrijving"], ["A", "B", '=HYPERLINK("http://x")']])
    kaart, _ = parse(data, "kaart.xlsx")
    assert kaart.services[0].description == ""  # openpyxl-written files have no cached value


def test_xlsx_named_csv_is_refused() -> None:
    data = make_xlsx([["organisatie", "dienst"], ["A", "B"]])
    with pytest.raises(UploadError, match="zou een CSV-bestand moeten zijn"):
        parse(data, "kaart.csv")


def test_broken_xlsx() -> None:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("xl/workbook.xml", "<niet-af")
        zf.writestr("[Content_Types].xml", "<x/>")
    with pytest.raises(UploadError, match="Excel-bestand kan niet worden geopend"):
        parse(buf.getvalue(), "kaart.xlsx")


# ------------------------------------------------------------------------------------------- export


@pytest.mark.parametrize(("path", "code"), EXAMPLES)
@pytest.mark.parametrize("excel", [False, True])
def test_template_export_round_trip(path: str, code: str, excel: bool) -> None:
    original = parse_upload((KAART_DIR / path).read_bytes(), path, namespace=code, today=TODAY).kaart
    exported = kaart_to_csv(original, excel=excel)
    assert exported.startswith(b"\xef\xbb\xbf") is excel
    again = parse_upload(exported, "export.csv", namespace=code, today=TODAY)
    assert again.report.ok
    assert again.kaart == original
    assert [r.row for r in kaart_rows(again.kaart)] == list(range(2, len(kaart_rows(original)) + 2))


def test_export_escapes_formulas_and_import_restores_them() -> None:
    evil = [
        ('=HYPERLINK("http://evil","klik")', "dienst"),
        ("+31 6 do not dial", "omschrijving"),
        ("-2+3", "aanmelden"),
        ("@SUM(A1:A2)", "melding"),
        ("'=al ge-escaped", "voor_wie"),
    ]
    row = {"organisatie": "=cmd|' /C calc'!A0", "dienst": "Loket", "telefoon": "113"}
    for value, column in evil:
        row[column] = value
    header = list(row)
    buf = io.StringIO()
    csv.writer(buf).writerows([header, [row[c] for c in header]])
    kaart, _ = parse(buf.getvalue().encode())
    assert kaart.organizations[0].name == "=cmd|' /C calc'!A0"
    exported = kaart_to_csv(kaart).decode("utf-8")
    cells = [c for r in csv.reader(io.StringIO(exported)) for c in r]
    assert all(c[:1] not in "=+-@\t\r" or c == "" for c in cells), cells
    assert "'=cmd|' /C calc'!A0" in cells
    assert kaart.services[0].eligibility == "=al ge-escaped"  # a leading ' before = is read as our escape
    assert "'=al ge-escaped" in cells
    assert parse(exported.encode())[0] == kaart


def test_normalized_rows_match_schema_json() -> None:
    import json

    from jsonschema import Draft202012Validator

    schema = json.loads((KAART_DIR / "schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for path, code in [*EXAMPLES, ("landelijk.csv", "landelijk")]:
        kaart = parse_upload((KAART_DIR / path).read_bytes(), path, namespace=code, today=TODAY).kaart
        for row in kaart_rows(kaart):
            record = json.loads(json.dumps(row.to_dict()))
            assert [e.message for e in validator.iter_errors(record)] == []
    bad = {**kaart_rows(kaart)[0].to_dict(), "postcode": "1234ab", "leefgebieden": ["geld"]}
    assert len(list(validator.iter_errors(bad))) == 2


def test_schema_json_lists_every_topic_of_the_taxonomy() -> None:
    """The published upload format names the same onderwerpen as the checklists: a topic added to
    taxonomy.toml (issue 12 added eight) must be usable by a gemeente, and the schema must say so."""
    import json

    from backend.checklists.content import load_content

    schema = json.loads((KAART_DIR / "schema.json").read_text(encoding="utf-8"))
    assert schema["properties"]["onderwerpen"]["items"]["enum"] == list(load_content().topics)
    assert schema["properties"]["leefgebieden"]["items"]["enum"] == list(load_content().leefgebieden)

"""Read an uploaded sociale kaart: CSV (comma, semicolon or tab; UTF-8, UTF-8 with BOM, UTF-16 with BOM or
Windows-1252), Excel (.xlsx, first sheet), HSDS 3.0 JSON or an HSDS tabular datapackage (.zip).

``parse_upload`` is the one entry point: it checks size and type (``safety``), picks the reader, and
returns the normalized kaart with a validation report (``validation``). A file that cannot be read at all
raises ``UploadError`` (Dutch message, HTTP status hint). ``kaart_to_csv`` writes a kaart back in the
template format, safe to open in Excel.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from backend.kaart import hsds
from backend.kaart.records import Kaart, Taxonomy, kaart_rows
from backend.kaart.safety import (
    DEFAULT_LIMITS,
    Limits,
    UploadError,
    check_size,
    check_zip,
    detect_kind,
    escape_formula,
    unescape_formula,
)
from backend.kaart.validation import (
    COLUMNS,
    ParseResult,
    Report,
    SourceRow,
    build_kaart,
    column_for_header,
    map_header,
)

__all__ = [
    "Table",
    "decode_text",
    "kaart_to_csv",
    "parse_table",
    "parse_upload",
    "read_csv",
    "read_xlsx",
]


@dataclass
class Table:
    """Cells as text; ``rows`` holds (spreadsheet row number, cells) for the rows below the header."""

    header: list[str]
    header_row: int = 1
    rows: list[tuple[int, list[str]]] = field(default_factory=list)


HEADER_SEARCH_ROWS = 10


def _is_header(cells: list[str]) -> bool:
    known = {column_for_header(c) for c in cells if c.strip()} - {None}
    return len(known) >= 2


class _TableBuilder:
    """Collects non-empty rows; the header is the first of the first few rows that has known column names
    (so a title above the table is skipped), else simply the first row."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.pending: list[tuple[int, list[str]]] = []
        self.table: Table | None = None

    def add(self, number: int, cells: list[str]) -> None:
        if not any(c.strip() for c in cells):
            return
        if self.table is None:
            if len(cells) > self.limits.max_columns:
                raise UploadError(f"Rij {number} heeft {len(cells)} kolommen; dat zijn er te veel.")
            self.pending.append((number, cells))
            if _is_header(cells):
                self._start(len(self.pending) - 1)
            elif len(self.pending) >= HEADER_SEARCH_ROWS:
                self._start(0)
            return
        if len(self.table.rows) >= self.limits.max_rows:
            raise UploadError(
                f"Het bestand heeft meer dan {self.limits.max_rows} rijen. Splits het op, of neem contact op."
            )
        self.table.rows.append((number, [unescape_formula(c) for c in cells]))

    def _start(self, index: int) -> None:
        number, cells = self.pending[index]
        rest = self.pending[index + 1 :]
        self.table = Table(header=[c.strip() for c in cells], header_row=number)
        self.pending = []
        for n, c in rest:
            self.add(n, c)

    def finish(self, empty_message: str) -> Table:
        if self.table is None and self.pending:
            self._start(0)
        if self.table is None:
            raise UploadError(empty_message)
        return self.table


def parse_upload(
    data: bytes,
    filename: str = "",
    *,
    content_type: str | None = None,
    namespace: str = "",
    taxonomy: Taxonomy | None = None,
    today: date | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> ParseResult:
    """Parse an uploaded file into a kaart plus report. Raises UploadError when the file itself is refused
    (too large, wrong type, unreadable, zip bomb). ``namespace`` is normally the gemeente code."""
    check_size(len(data), limits)
    kind = detect_kind(data, filename, content_type)
    opts: dict[str, Any] = {"namespace": namespace, "taxonomy": taxonomy, "today": today}
    if kind == "json":
        return hsds.import_json(data, **opts)
    if kind == "zip":
        return hsds.import_datapackage(data, limits=limits, **opts)
    report = Report()
    table = read_csv(data, report, limits) if kind == "csv" else read_xlsx(data, limits)
    return parse_table(table, report, fmt=kind, **opts)


def parse_table(
    table: Table,
    report: Report | None = None,
    *,
    namespace: str = "",
    taxonomy: Taxonomy | None = None,
    today: date | None = None,
    fmt: str = "",
) -> ParseResult:
    """Map the header, then validate the rows (see ``validation.build_kaart``)."""
    report = report if report is not None else Report()
    mapped = map_header(table.header, report, table.header_row)
    labels = {col: raw.strip() for col, raw in zip(mapped, table.header, strict=False) if col}
    if not report.ok:
        return ParseResult(kaart=Kaart(), report=report, format=fmt)
    rows = []
    for number, cells in table.rows:
        values = {col: cells[i] for i, col in enumerate(mapped) if col and i < len(cells) and cells[i]}
        if values:
            rows.append(SourceRow(number, values))
    return build_kaart(
        rows, namespace=namespace, taxonomy=taxonomy, today=today, report=report, column_labels=labels, fmt=fmt
    )


# ---------------------------------------------------------------------------------------------- CSV

_RE_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def decode_text(data: bytes, report: Report | None = None) -> str:
    """Bytes to text: UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252 (with a warning).
    Binary data and unknown encodings raise UploadError."""
    text: str | None = None
    try:
        if data.startswith(b"\xef\xbb\xbf"):
            text = data[3:].decode("utf-8")
        elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
            text = data.decode("utf-16")
    except UnicodeDecodeError as exc:
        raise UploadError(
            "Het bestand zegt dat het Unicode is, maar de tekens kloppen niet. Sla het opnieuw op als "
            "'CSV UTF-8 (door komma's gescheiden)'."
        ) from exc
    if text is None:
        if b"\x00" in data[:65536]:
            raise UploadError(
                "Dit bestand is geen leesbare tekst (het lijkt UTF-16 zonder kenmerk, of een ander soort "
                "bestand). Sla het op als 'CSV UTF-8 (door komma's gescheiden)'."
            )
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError as exc:
                raise UploadError(
                    "De tekens in dit bestand kunnen we niet lezen: het is geen UTF-8 en geen Windows-1252. "
                    "Sla het op als 'CSV UTF-8 (door komma's gescheiden)'."
                ) from exc
            if report is not None:
                report.warning(
                    "Het bestand is niet in UTF-8 opgeslagen; we hebben het gelezen als Windows-1252 (ANSI). "
                    "Kijk of letters als é en ë goed staan. Sla het bij twijfel op als 'CSV UTF-8'."
                )
    controls = len(_RE_CONTROL.findall(text[:65536]))
    if controls and controls > len(text[:65536]) / 100:
        raise UploadError("Dit bestand is geen leesbare tekst. Upload een CSV- of Excel-bestand.")
    return text


def _delimiter(line: str) -> str:
    counts = {d: 0 for d in (",", ";", "\t")}
    quoted = False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def read_csv(data: bytes, report: Report | None = None, limits: Limits = DEFAULT_LIMITS) -> Table:
    """CSV bytes to a Table. The delimiter is taken from the header line (or an Excel ``sep=;`` line)."""
    text = decode_text(data, report)
    lines = text.splitlines()
    delimiter = None
    if lines and (m := re.fullmatch(r'"?sep=(.)"?', lines[0].strip())):
        delimiter = m[1]  # Excel hides this line: the header is still row 1
        text = text.split("\n", 1)[1] if "\n" in text else ""
    first = next((ln for ln in text.splitlines() if ln.strip().strip(",;\t")), "")
    delimiter = delimiter or _delimiter(first)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    builder = _TableBuilder(limits)
    try:
        for number, cells in enumerate(reader, start=1):
            builder.add(number, cells)
    except csv.Error as exc:
        raise UploadError(f"Het CSV-bestand is kapot rond rij {reader.line_num}: {exc}.") from exc
    return builder.finish("Het bestand is leeg: er staat geen kopregel met kolomnamen in.")


# --------------------------------------------------------------------------------------------- XLSX


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "ja" if value else "nee"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(" ", "minutes")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return str(value)


def read_xlsx(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Table:
    """The first sheet of an .xlsx file to a Table (values, not formulas)."""
    import openpyxl  # local: only needed for Excel uploads

    check_zip(data, limits, xlsx=True).close()
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for broken files
        raise UploadError(
            "Het Excel-bestand kan niet worden geopend. Sla het opnieuw op als Excel-werkmap (.xlsx)."
        ) from exc
    try:
        if not wb.worksheets:
            raise UploadError("Het Excel-bestand heeft geen werkblad.")
        ws = wb.worksheets[0]
        builder = _TableBuilder(limits)
        # openpyxl pads every row to the sheet's declared width and fills gaps between rows: a few kB that
        # declare A1:XFD1048576 would mean 17 billion empty cells. One column more than we accept is enough
        # to notice a too-wide table; empty rows are skipped before any work is done on them.
        rows = ws.iter_rows(values_only=True, max_col=limits.max_columns + 1)
        for number, values in enumerate(rows, start=1):
            if values.count(None) == len(values):
                continue
            end = len(values)
            while values[end - 1] is None:
                end -= 1
            cells = [_cell_text(v) for v in values[:end]]
            while cells and not cells[-1].strip():
                cells.pop()
            builder.add(number, cells)
    finally:
        wb.close()
    return builder.finish("Het eerste werkblad is leeg: er staat geen kopregel met kolomnamen in.")


# ------------------------------------------------------------------------------------------- export


def kaart_to_csv(kaart: Kaart, *, excel: bool = False) -> bytes:
    """The kaart in the template format. ``excel=True`` gives what Dutch Excel opens directly (semicolons,
    UTF-8 with BOM). Cells that a spreadsheet would run as a formula are escaped."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";" if excel else ",", lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in kaart_rows(kaart):
        writer.writerow([escape_formula(v) for v in row.csv_values(COLUMNS)])
    return ("\ufeff" if excel else "").encode("utf-8") + buf.getvalue().encode("utf-8")

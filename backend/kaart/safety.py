"""Limits and checks for uploaded files, and escaping for spreadsheet exports.

Everything a gemeente uploads goes through here before any parser sees it:

- ``check_size``/``read_limited``: the file is at most ``Limits.max_bytes`` (10 MB);
- ``detect_kind``: the declared type (file name, else Content-Type) must match the bytes;
- ``check_zip``/``read_member``: zip and xlsx files are opened without trusting them — a limited number of
  members, a limited total and per-member unpacked size and packing ratio, no nested archives, no absolute
  or ``..`` paths, no encryption, and for xlsx no XML DOCTYPE (entity expansion) in any member;
- ``escape_formula``/``unescape_formula``: cells that a spreadsheet would run as a formula get a leading
  apostrophe in exports (CSV injection), and lose it again on import.

Errors are ``UploadError`` with a Dutch message for the gemeente and an HTTP status hint.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO, Literal

__all__ = [
    "DEFAULT_LIMITS",
    "FileKind",
    "Limits",
    "UploadError",
    "check_size",
    "check_zip",
    "detect_kind",
    "escape_formula",
    "format_size",
    "read_limited",
    "read_member",
    "sniff",
    "unescape_formula",
]

FileKind = Literal["csv", "xlsx", "json", "zip"]

MB = 1024 * 1024


class UploadError(ValueError):
    """The whole file is refused. ``message`` is Dutch; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, *, status: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int = 10 * MB  # the uploaded file
    max_rows: int = 20_000  # data rows in a table
    max_columns: int = 100
    max_cell_chars: int = 20_000
    max_zip_members: int = 200
    max_unzipped_bytes: int = 100 * MB  # all members together
    max_member_bytes: int = 50 * MB  # one member
    max_ratio: int = 100  # unpacked / packed, for members larger than ratio_floor
    ratio_floor: int = 1 * MB


DEFAULT_LIMITS = Limits()


def format_size(n: int) -> str:
    """Dutch size text: "50,0 MB", "812 kB"."""
    if n >= MB:
        return f"{n / MB:.1f} MB".replace(".", ",")
    return f"{max(1, round(n / 1024))} kB"


def check_size(size: int, limits: Limits = DEFAULT_LIMITS) -> None:
    if size > limits.max_bytes:
        raise UploadError(
            f"Het bestand is {format_size(size)}; dat is te groot. Een bestand mag hoogstens "
            f"{format_size(limits.max_bytes)} zijn. Haal lege rijen en plaatjes weg, of sla het op als CSV.",
            status=413,
        )
    if size == 0:
        raise UploadError("Het bestand is leeg.", status=422)


def read_limited(stream: BinaryIO, limits: Limits = DEFAULT_LIMITS, chunk: int = 64 * 1024) -> bytes:
    """Read a stream, but stop (and refuse) as soon as it is larger than the limit."""
    buf = bytearray()
    while True:
        part = stream.read(chunk)
        if not part:
            break
        buf += part
        if len(buf) > limits.max_bytes:
            check_size(len(buf) + len(stream.read(chunk)), limits)
    check_size(len(buf), limits)
    return bytes(buf)


# ------------------------------------------------------------------------------------ content sniffing

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_OTHER_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xd0\xcf\x11\xe0", "een oud Excel-bestand (.xls) of Word-bestand"),
    (b"%PDF", "een PDF"),
    (b"\x89PNG", "een afbeelding (PNG)"),
    (b"\xff\xd8\xff", "een afbeelding (JPEG)"),
    (b"GIF8", "een afbeelding (GIF)"),
    (b"\x1f\x8b", "een gz-archief"),
    (b"Rar!", "een RAR-archief"),
    (b"7z\xbc\xaf", "een 7z-archief"),
)
_EXT_KIND: dict[str, FileKind] = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".json": "json",
    ".zip": "zip",
}
_OLD_FORMATS = {
    ".xls": "Dit is het oude Excel-formaat (.xls). Sla het bestand op als Excel-werkmap (.xlsx) of als CSV.",
    ".ods": "Dit is een OpenDocument-spreadsheet (.ods). Sla het bestand op als .xlsx of als CSV.",
    ".numbers": "Dit is een Numbers-bestand. Exporteer het als .xlsx of als CSV.",
}
_MIME_KIND: dict[str, FileKind] = {
    "text/csv": "csv",
    "text/plain": "csv",
    "application/csv": "csv",
    "text/tab-separated-values": "csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/json": "json",
    "application/zip": "zip",
    "application/x-zip-compressed": "zip",
}
_KIND_TEXT = {
    "csv": "een CSV-bestand",
    "xlsx": "een Excel-bestand (.xlsx)",
    "json": "een JSON-bestand (HSDS)",
    "zip": "een zip-bestand (HSDS-datapakket)",
}


def _is_zip(data: bytes) -> bool:
    return data[:4] in _ZIP_MAGIC


def sniff(data: bytes) -> FileKind | None:
    """What the bytes look like, or None for something we do not read."""
    if _is_zip(data):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                names = set(zf.namelist())
        except zipfile.BadZipFile:
            return None
        return "xlsx" if "xl/workbook.xml" in names else "zip"
    if any(data.startswith(m) for m, _ in _OTHER_MAGIC):
        return None
    head = data[:4096]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "csv"  # UTF-16 with byte order mark ("Unicode-tekst" from Excel)
    if b"\x00" in head:
        return None
    stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped[:1] in (b"{", b"["):
        try:
            json.loads(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError):
            return "csv" if stripped[:1] == b"[" else None
        return "json"
    return "csv"


def _declared(filename: str, content_type: str | None) -> FileKind | None:
    suffix = PurePosixPath(filename.replace("\\", "/")).suffix.lower() if filename else ""
    if suffix in _OLD_FORMATS:
        raise UploadError(_OLD_FORMATS[suffix], status=415)
    if suffix in _EXT_KIND:
        return _EXT_KIND[suffix]
    if suffix:
        raise UploadError(
            f"Bestanden met '{suffix}' lezen we niet. Gebruik CSV, Excel (.xlsx), HSDS-JSON of een "
            "HSDS-datapakket (.zip).",
            status=415,
        )
    if content_type:
        return _MIME_KIND.get(content_type.split(";")[0].strip().lower())
    return None


def detect_kind(data: bytes, filename: str = "", content_type: str | None = None) -> FileKind:
    """The file's kind; the name (or else the Content-Type) and the bytes must agree."""
    declared = _declared(filename, content_type)
    actual = sniff(data)
    if actual is None:
        what = next((text for m, text in _OTHER_MAGIC if data.startswith(m)), None)
        if what is None:
            what = "geen tekst, Excel-bestand of zip" if not _is_zip(data) else "een kapot zip-bestand"
        raise UploadError(
            f"Dit bestand is {what}. Upload een CSV-bestand, een Excel-bestand (.xlsx), HSDS-JSON of een "
            "HSDS-datapakket (.zip).",
            status=415,
        )
    if declared is None or declared == actual:
        return actual
    name = f"'{filename}'" if filename else "Het bestand"
    raise UploadError(
        f"{name} zou {_KIND_TEXT[declared]} moeten zijn, maar de inhoud is {_KIND_TEXT[actual]}. "
        "Sla het opnieuw op in de juiste vorm, of geef het de juiste naam.",
        status=415,
    )


# ----------------------------------------------------------------------------------------------- zips

_NESTED = (
    ".zip",
    ".xlsx",
    ".xlsm",
    ".xlsb",
    ".docx",
    ".pptx",
    ".jar",
    ".gz",
    ".tgz",
    ".7z",
    ".rar",
    ".tar",
    ".bz2",
    ".xz",
)


def _unsafe_name(name: str) -> bool:
    n = name.replace("\\", "/")
    if n.startswith("/") or "\x00" in n or (len(n) > 1 and n[1] == ":"):
        return True
    return any(part == ".." for part in n.split("/"))


def check_zip(data: bytes, limits: Limits = DEFAULT_LIMITS, *, xlsx: bool = False) -> zipfile.ZipFile:
    """Open a zip (or xlsx) after checking its directory against the limits; raises UploadError."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError) as exc:
        raise UploadError("Het zip-bestand is kapot en kan niet worden geopend.") from exc
    infos = zf.infolist()
    if len(infos) > limits.max_zip_members:
        raise UploadError(
            f"Het zip-bestand bevat {len(infos)} bestanden; er mogen er hoogstens {limits.max_zip_members} in."
        )
    total = 0
    for info in infos:
        if _unsafe_name(info.filename):
            raise UploadError(f"Het zip-bestand bevat een onveilige bestandsnaam: '{info.filename}'.")
        if info.flag_bits & 0x1:
            raise UploadError("Het zip-bestand is versleuteld (met wachtwoord). Upload het zonder wachtwoord.")
        if info.filename.lower().endswith(_NESTED):
            raise UploadError(f"Het zip-bestand bevat zelf weer een archief ('{info.filename}'). Dat lezen we niet.")
        if info.file_size > limits.max_member_bytes:
            raise UploadError(
                f"'{info.filename}' in het zip-bestand is uitgepakt {format_size(info.file_size)}; "
                f"de grens is {format_size(limits.max_member_bytes)}."
            )
        if info.file_size > limits.ratio_floor and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise UploadError(
                f"'{info.filename}' in het zip-bestand is verdacht sterk ingepakt (een 'zip-bom'). We openen het niet."
            )
        total += info.file_size
        if total > limits.max_unzipped_bytes:
            raise UploadError(
                f"Het zip-bestand is uitgepakt meer dan {format_size(limits.max_unzipped_bytes)}. Dat is te groot."
            )
    if xlsx:
        for info in infos:
            # Every member, whatever its name: the workbook's relationships may point a sheet at any name.
            if not info.is_dir() and not _xml_prolog_is_safe(read_member(zf, info, limits, head=XML_PROLOG_MAX)):
                raise UploadError("Het Excel-bestand bevat een onveilige XML-constructie (DOCTYPE).")
    return zf


XML_PROLOG_MAX = 64 * 1024  # an XML member's root element must start within this many bytes


def _xml_text(head: bytes) -> str:
    """The start of an XML member as text, enough to read its prolog (UTF-8 or UTF-16, with or without BOM)."""
    if head.startswith(b"\xef\xbb\xbf"):
        return head[3:].decode("latin-1")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head.decode("utf-16", errors="ignore")
    if head.startswith(b"<\x00"):
        return head.decode("utf-16-le", errors="ignore")
    if head.startswith(b"\x00<"):
        return head.decode("utf-16-be", errors="ignore")
    return head.decode("latin-1")


def _xml_prolog_is_safe(head: bytes) -> bool:
    """True when the member is not XML, or is XML whose root element starts (within the head) with only
    an XML declaration, processing instructions, comments and white space before it: no DOCTYPE, so no
    entities to expand or fetch, however long a comment tries to hide one."""
    text = _xml_text(head).lstrip(" \t\r\n")
    if not text.startswith("<"):
        return True  # not XML (an image, a binary part): openpyxl does not parse it as XML
    i = 0
    while True:
        j = text.find("<", i)
        if j < 0:
            return False  # no root element within the head: refuse rather than read on
        if text.startswith("<?", j):
            end = text.find("?>", j + 2)
        elif text.startswith("<!--", j):
            end = text.find("-->", j + 4)
        elif text.startswith("<!", j):
            return False  # <!DOCTYPE ...> (or another declaration) before the root element
        else:
            return True  # the root element
        if end < 0:
            return False
        i = end + 2


def read_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits = DEFAULT_LIMITS, *, head: int | None = None
) -> bytes:
    """Read one member, refusing more than ``max_member_bytes`` whatever the directory claims, and
    refusing a member that is itself a zip. With ``head``, read only that many bytes."""
    cap = limits.max_member_bytes
    buf = bytearray()
    try:
        with zf.open(info) as f:
            while True:
                want = 64 * 1024 if head is None else head - len(buf)
                if want <= 0:
                    break
                part = f.read(want)
                if not part:
                    break
                if not buf and part[:4] in _ZIP_MAGIC:
                    raise UploadError(
                        f"Het zip-bestand bevat zelf weer een archief ('{info.filename}'). Dat lezen we niet."
                    )
                buf += part
                if len(buf) > cap:
                    raise UploadError(f"'{info.filename}' in het zip-bestand is uitgepakt te groot.")
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise UploadError(f"'{info.filename}' in het zip-bestand is kapot.") from exc
    return bytes(buf)


# ------------------------------------------------------------------------------- formula injection

_TRIGGERS = frozenset("=+-@\t\r")


def escape_formula(value: str) -> str:
    """Make a cell safe for spreadsheets: a value starting with = + - @ tab or CR gets a leading ``'``.

    Values that already look escaped (``'=...``) get one more, so ``unescape_formula`` is its exact
    inverse; other values (``'s-Gravenhage``) are left alone.
    """
    stripped = value.lstrip("'")
    if stripped[:1] in _TRIGGERS and stripped:
        return "'" + value
    return value


def unescape_formula(value: str) -> str:
    """Undo ``escape_formula`` (used when reading back our own exports)."""
    if value[:1] == "'":
        stripped = value.lstrip("'")
        if stripped and stripped[0] in _TRIGGERS:
            return value[1:]
    return value

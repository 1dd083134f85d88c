"""Turn table rows into a normalized Kaart plus a report of errors and warnings, in Dutch.

Input is a sequence of ``SourceRow`` (canonical column name -> cell text) with the row number a
spreadsheet user sees (the header is row 1). CSV, XLSX and HSDS all come through here, so the checks and
messages are the same for every format.

What is checked (errors block publishing; warnings do not):

- required columns present (``map_header``), unknown columns (warning);
- required values (organisatie, dienst); duplicate rows and conflicting ids;
- postcode (normalized to "1234 AB"), phone numbers (normalized to Dutch display form), URLs (http/https
  only), e-mail addresses, dates, ages (0-120, minimum <= maximum), leefgebied/topic ids (with a
  suggestion), opening hours and exceptions (see ``schedule``), province names, lengths;
- HTML in any text is removed (tags dropped, text kept) with a warning.

A value with an error is left out of the record; a row without organisation or service name is skipped.
Everything is linear in the number of rows, with precompiled patterns.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import lru_cache
from html.parser import HTMLParser
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from backend.kaart.records import (
    Address,
    Kaart,
    Location,
    Organization,
    Phone,
    PhoneKind,
    Service,
    ServiceAtLocation,
    Taxonomy,
    is_uuid,
    load_taxonomy,
    stable_id,
)
from backend.kaart.schedule import Schedule, ScheduleError, parse_exceptions, parse_week

__all__ = [
    "COLUMNS",
    "HIDDEN_ID_KEYS",
    "PROVINCES",
    "REQUIRED_COLUMNS",
    "Issue",
    "ParseResult",
    "Report",
    "SourceRow",
    "build_kaart",
    "clean_text",
    "column_for_header",
    "map_header",
    "normalize_email",
    "normalize_fees",
    "normalize_phone",
    "normalize_postcode",
    "normalize_url",
    "parse_age",
    "parse_date",
    "strip_html",
]

# The template's columns, in template order.
COLUMNS: tuple[str, ...] = (
    "organisatie_id",
    "organisatie",
    "dienst_id",
    "dienst",
    "omschrijving",
    "voor_wie",
    "leefgebieden",
    "onderwerpen",
    "minimum_leeftijd",
    "maximum_leeftijd",
    "kosten",
    "aanmelden",
    "locatie_id",
    "locatienaam",
    "straat",
    "huisnummer",
    "postcode",
    "plaats",
    "provincie",
    "telefoon",
    "whatsapp",
    "email",
    "website",
    "openingstijden",
    "uitzonderingen",
    "melding",
    "gecontroleerd_op",
    "gecontroleerd_door",
)
REQUIRED_COLUMNS: tuple[str, ...] = ("organisatie", "dienst")
# Set by HSDS import: the UUIDs from the source file (the visible *_id columns then hold the gemeente's
# own ids when there are any).
HIDDEN_ID_KEYS = ("_organization_uuid", "_service_uuid", "_location_uuid")

_ALIASES: dict[str, tuple[str, ...]] = {
    "organisatie_id": ("organisatieid", "organization_id", "org_id", "aanbieder_id"),
    "organisatie": (
        "organisatienaam",
        "organisatie_naam",
        "naam_organisatie",
        "aanbieder",
        "organization",
        "organization_name",
        "organisation",
    ),
    "dienst_id": ("dienstid", "service_id"),
    "dienst": ("dienstnaam", "naam_dienst", "dienst_naam", "naam", "service", "service_name", "name"),
    "omschrijving": ("beschrijving", "description", "toelichting"),
    "voor_wie": ("doelgroep", "voorwie", "eligibility", "eligibility_description"),
    "leefgebieden": ("leefgebied",),
    "onderwerpen": ("onderwerp", "topics", "topic", "thema", "themas", "categorie", "categorieen"),
    "minimum_leeftijd": (
        "min_leeftijd",
        "minimumleeftijd",
        "leeftijd_vanaf",
        "vanaf_leeftijd",
        "minimum_age",
        "leeftijd_min",
    ),
    "maximum_leeftijd": (
        "max_leeftijd",
        "maximumleeftijd",
        "leeftijd_tot",
        "tot_leeftijd",
        "maximum_age",
        "leeftijd_max",
    ),
    "kosten": ("prijs", "fees", "fees_description", "eigen_bijdrage"),
    "aanmelden": ("aanmelding", "hoe_aanmelden", "application_process", "aanmeldprocedure"),
    "locatie_id": ("locatieid", "location_id"),
    "locatienaam": ("locatie", "locatie_naam", "naam_locatie", "location", "location_name", "vestiging"),
    "straat": ("straatnaam", "adres", "address", "address_1"),
    "huisnummer": ("huisnr", "nummer", "huis_nummer"),
    "postcode": ("postal_code", "post_code"),
    "plaats": ("woonplaats", "stad", "city", "plaatsnaam"),
    "provincie": ("state_province", "province"),
    "telefoon": ("telefoonnummer", "tel", "telnr", "phone", "phones", "telefoonnummers"),
    "whatsapp": ("whatsapp_nummer", "whatsappnummer", "app"),
    "email": ("e_mail", "e_mailadres", "emailadres", "mail", "mailadres"),
    "website": ("url", "internet", "webadres", "site", "webpagina"),
    "openingstijden": ("openingsuren", "tijden", "opening_hours", "open"),
    "uitzonderingen": ("afwijkende_openingstijden", "sluitingsdagen", "feestdagen", "uitzondering"),
    "melding": ("let_op", "alert", "mededeling", "tijdelijke_melding"),
    "gecontroleerd_op": ("gecontroleerd", "laatst_gecontroleerd", "assured_date", "controledatum", "datum_controle"),
    "gecontroleerd_door": ("assurer_email", "controleur", "gecontroleerd_door_email"),
}
_HEADER_LOOKUP: dict[str, str] = {}
for _col in COLUMNS:
    _HEADER_LOOKUP[_col] = _col
    _HEADER_LOOKUP[_col.replace("_", "")] = _col
    for _alias in _ALIASES.get(_col, ()):
        _HEADER_LOOKUP[_alias] = _col
        _HEADER_LOOKUP[_alias.replace("_", "")] = _col

PROVINCES: tuple[str, ...] = (
    "Groningen",
    "Fryslân",
    "Drenthe",
    "Overijssel",
    "Flevoland",
    "Gelderland",
    "Utrecht",
    "Noord-Holland",
    "Zuid-Holland",
    "Zeeland",
    "Noord-Brabant",
    "Limburg",
)

MAX_LEN = {
    "organisatie": 200,
    "dienst": 200,
    "locatienaam": 200,
    "omschrijving": 5000,
    "straat": 200,
    "plaats": 100,
    "_default": 2000,
}


# --------------------------------------------------------------------------------------------- report

Level = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Issue:
    level: Level
    message: str
    row: int | None = None
    column: str | None = None
    where: str | None = None  # replaces "Rij N" for sources without rows (HSDS JSON)

    @property
    def text(self) -> str:
        place = self.where or (f"Rij {self.row}" if self.row else "")
        if self.column:
            place = f"{place}, kolom {self.column}" if place else f"Kolom {self.column}"
        return f"{place}: {self.message}" if place else self.message

    def __str__(self) -> str:
        return self.text

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "row": self.row, "column": self.column, "message": self.message, "text": self.text}


@dataclass
class Report:
    """Errors and warnings; at most ``max_issues`` are kept (the counts are always complete)."""

    issues: list[Issue] = field(default_factory=list)
    rows_read: int = 0
    error_count: int = 0
    warning_count: int = 0
    max_issues: int = 2000

    def add(self, issue: Issue) -> None:
        if issue.level == "error":
            self.error_count += 1
        else:
            self.warning_count += 1
        if len(self.issues) < self.max_issues:
            self.issues.append(issue)

    def error(self, message: str, row: int | None = None, column: str | None = None, where: str | None = None) -> None:
        self.add(Issue("error", message, row, column, where))

    def warning(
        self, message: str, row: int | None = None, column: str | None = None, where: str | None = None
    ) -> None:
        self.add(Issue("warning", message, row, column, where))

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.level == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.level == "warning"]

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def summary(self) -> str:
        def n(count: int, one: str, more: str) -> str:
            return f"{count} {one if count == 1 else more}"

        return (
            f"{n(self.rows_read, 'rij', 'rijen')} gelezen: {n(self.error_count, 'fout', 'fouten')}, "
            f"{n(self.warning_count, 'waarschuwing', 'waarschuwingen')}."
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "rows_read": self.rows_read,
            "errors": self.error_count,
            "warnings": self.warning_count,
            "summary": self.summary(),
            "issues": [i.to_dict() for i in self.issues],
            "truncated": self.error_count + self.warning_count > len(self.issues),
        }


@dataclass
class ParseResult:
    kaart: Kaart
    report: Report
    format: str = ""  # "csv", "xlsx", "hsds-json", "hsds-zip"


@dataclass(frozen=True, slots=True)
class SourceRow:
    row: int
    values: Mapping[str, str]
    label: str | None = None


# ------------------------------------------------------------------------------------------ header


def _header_key(text: str) -> str:
    s = text.strip().lstrip("\ufeff").casefold()
    s = s.replace("é", "e").replace("ë", "e").replace("ï", "i")
    s = re.sub(r"\(.*?\)|\*", "", s)
    return re.sub(r"[^a-z0-9]+", "_", s).strip("_")


def column_for_header(text: str) -> str | None:
    """The canonical column for a header text ("E-mail" -> "email"), or None."""
    key = _header_key(text)
    return _HEADER_LOOKUP.get(key) or _HEADER_LOOKUP.get(key.replace("_", ""))


def map_header(cells: list[str], report: Report, header_row: int = 1) -> list[str | None]:
    """Canonical column per header cell (None = ignored). Reports missing required columns (error),
    unknown and duplicate columns."""
    mapped: list[str | None] = []
    seen: dict[str, str] = {}
    for raw in cells:
        text = (raw or "").strip()
        if not text:
            mapped.append(None)
            continue
        col = column_for_header(text)
        if col is None:
            hint = difflib.get_close_matches(_header_key(text), COLUMNS, n=1, cutoff=0.75)
            extra = f" Bedoel je '{hint[0]}'?" if hint else ""
            report.warning(f"deze kolom kennen we niet; we slaan hem over.{extra}", header_row, f"'{text}'")
            mapped.append(None)
            continue
        if col in seen:
            report.error(f"de kolom '{col}' staat er twee keer in ('{seen[col]}' en '{text}').", header_row)
            mapped.append(None)
            continue
        seen[col] = text
        mapped.append(col)
    for col in REQUIRED_COLUMNS:
        if col not in seen:
            report.error(f"de kolom '{col}' ontbreekt. Verplichte kolommen: {', '.join(REQUIRED_COLUMNS)}.", header_row)
    return mapped


# -------------------------------------------------------------------------------------------- text


class _TextExtractor(HTMLParser):
    _BLOCK = frozenset(
        {
            "p",
            "div",
            "br",
            "li",
            "ul",
            "ol",
            "tr",
            "table",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "section",
            "article",
            "header",
            "footer",
            "blockquote",
            "hr",
            "dd",
            "dt",
        }
    )
    _SKIP = frozenset({"script", "style", "head", "title", "template", "noscript", "iframe", "object", "svg", "math"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.tags = 0
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags += 1
        if tag in self._SKIP:
            self.skip += 1
        elif tag in self._BLOCK:
            self.parts.append("\n- " if tag == "li" else "\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags += 1
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        self.tags += 1
        if tag in self._SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in self._BLOCK and tag != "li":
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)

    def handle_comment(self, data: str) -> None:
        self.tags += 1

    def handle_decl(self, decl: str) -> None:
        self.tags += 1

    def handle_pi(self, data: str) -> None:
        self.tags += 1

    def unknown_decl(self, data: str) -> None:
        self.tags += 1


_RE_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")


def strip_html(text: str) -> tuple[str, bool]:
    """Plain text from text that may hold HTML: tags and comments dropped, script/style content dropped,
    entities decoded, block tags become line breaks. Returns (text, whether HTML was found). Anything that
    could still open a tag ("<b") gets a space ("< b"), so no HTML ever passes through."""
    if "<" not in text:
        return text, False
    p = _TextExtractor()
    try:
        p.feed(text)
        p.close()
    except Exception:  # noqa: BLE001 - a broken document is reduced to its letters below
        p.tags += 1
        p.parts = [re.sub(r"<[^>]*>?", " ", text)]
    if not p.tags:
        return _RE_TAG_START.sub("< ", text), False
    return _RE_TAG_START.sub("< ", "".join(p.parts)), True


_RE_CTRL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\ufeff]")
_RE_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_RE_MANY_NL = re.compile(r"\n{3,}")
_RE_MOJIBAKE = re.compile(r"Ã[\u0080-\u00bf]|â€")


_RE_NEEDS_CLEANING = re.compile(r"[<\r\n\t\x00-\x1f\x7f\u00a0\u2000-\u200b\u202f\u205f\u3000\ufeff]|  |^\s|\s$")


def clean_text(value: str, *, multiline: bool = False) -> tuple[str, bool]:
    """Plain, trimmed text; returns (text, html_was_removed)."""
    if not _RE_NEEDS_CLEANING.search(value):
        return value, False
    s, had_html = strip_html(value)
    s = _RE_CTRL.sub("", s.replace("\r\n", "\n").replace("\r", "\n"))
    if multiline:
        lines = [_RE_SPACES.sub(" ", line).strip() for line in s.split("\n")]
        s = _RE_MANY_NL.sub("\n\n", "\n".join(lines)).strip()
    else:
        s = _RE_SPACES.sub(" ", s.replace("\n", " ")).strip()
    return s, had_html


# ------------------------------------------------------------------------------------- normalizers

_RE_POSTCODE = re.compile(r"^([1-9][0-9]{3})\s*([a-zA-Z]{2})$")


def normalize_postcode(value: str) -> str:
    """Normalize a postcode ("1234ab" -> "1234 AB"); raises ValueError (Dutch message)."""
    m = _RE_POSTCODE.match(value.strip())
    if not m:
        raise ValueError(f"'{value}' is geen postcode. Schrijf 4 cijfers en 2 letters, zoals 1234 AB.")
    letters = m[2].upper()
    if letters in ("SA", "SD", "SS"):
        raise ValueError(f"'{value}' is geen postcode: de letters {letters} worden niet gebruikt.")
    return f"{m[1]} {letters}"


_TWO_DIGIT_AREAS = frozenset(
    "10 13 15 20 23 24 26 30 33 35 36 38 40 43 45 46 50 53 55 58 70 71 72 73 74 75 76 77 78 79 "
    "82 84 85 87 88 91 97".split()
)
_RE_PHONE_PREFIX = re.compile(r"^(?:tel(?:efoon)?(?:nummer)?|telnr|t|whatsapp|wa|bel)\s*[:.]?\s*", re.I)
_RE_PHONE_JUNK = re.compile(r"[\s\-./()\u00a0\u2010-\u2015]")
_RE_SERVICE_NR = re.compile(r"^(0800|090[069])(\d{4}|\d{7})$")
_RE_REGULAR_NR = re.compile(r"^0[1-9]\d{8}$")
_RE_GEMEENTE_NR = re.compile(r"^140(\d{2,3})$")
_SHORT_NRS = frozenset({"112", "113", "144"})


@lru_cache(maxsize=8192)
def normalize_phone(value: str) -> tuple[str, str | None]:
    """Dutch display form of a phone number, plus an optional warning. Raises ValueError.

    "0201234567" -> "020 123 45 67", "+31 6 12345678" -> "06 12 34 56 78", "0800-0113" -> "0800-0113",
    "113", "112", "14 020", "116 111"; foreign numbers stay "+<digits>".
    """
    raw = value.strip()
    s = _RE_PHONE_PREFIX.sub("", raw).replace("(0)", "")
    s = _RE_PHONE_JUNK.sub("", s)
    bad = ValueError(f"'{raw}' is geen geldig telefoonnummer.")
    warning = None
    if s.startswith("00"):
        s = "+" + s[2:]
    if s.startswith("+"):
        rest = s[1:]
        if not rest.isdigit():
            raise bad
        if rest.startswith("31"):
            s = "0" + rest[2:]
        elif 8 <= len(rest) <= 15:
            return "+" + rest, None
        else:
            raise bad
    if not s.isdigit():
        raise bad
    if len(s) == 9 and s[0] != "0" and not s.startswith(("800", "90")):
        s = "0" + s
        warning = f"bij '{raw}' ontbrak de 0 aan het begin (Excel haalt die weg); we hebben hem toegevoegd."
    if s in _SHORT_NRS or re.fullmatch(r"116\d{3}", s):
        return (s if len(s) == 3 else f"{s[:3]} {s[3:]}"), warning
    if m := _RE_GEMEENTE_NR.match(s):
        return f"14 0{m[1]}", warning
    if m := _RE_SERVICE_NR.match(s):
        return f"{m[1]}-{m[2]}", warning
    if s.startswith(("0800", "090")):
        raise ValueError(f"'{raw}' is geen geldig 0800- of 0900-nummer (4 of 7 cijfers na 0800/0900).")
    if not _RE_REGULAR_NR.match(s):
        raise ValueError(f"'{raw}' is geen geldig Nederlands telefoonnummer (10 cijfers, zoals 020 123 45 67).")
    if s[1] == "6":
        return f"06 {s[2:4]} {s[4:6]} {s[6:8]} {s[8:]}", warning
    if s[1:3] in _TWO_DIGIT_AREAS:
        return f"{s[:3]} {s[3:6]} {s[6:8]} {s[8:]}", warning
    return f"{s[:4]} {s[4:6]} {s[6:8]} {s[8:]}", warning


_RE_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_RE_HOST = re.compile(
    r"^(?:[a-z0-9\u00a1-\uffff](?:[a-z0-9\u00a1-\uffff-]{0,61}[a-z0-9\u00a1-\uffff])?\.)+"
    r"[a-z\u00a1-\uffff]{2,63}$"
)
_RE_BAD_URL_CHARS = re.compile(r"[\s<>\"{}|\\^`\x00-\x1f\x7f]")


@lru_cache(maxsize=8192)
def normalize_url(value: str) -> str:
    """A web address (http/https only); "www.x.nl" becomes "https://www.x.nl". Raises ValueError."""
    s = value.strip()
    m = _RE_SCHEME.match(s)
    if m and m[1].lower() not in ("http", "https"):
        if m[1].lower() == "mailto":
            raise ValueError(f"'{value}' is een e-mailadres; zet het in de kolom email.")
        raise ValueError(f"'{value}' is geen webadres: alleen adressen met http:// of https:// mogen.")
    if not m:
        if "@" in s and "/" not in s:
            raise ValueError(f"'{value}' is een e-mailadres; zet het in de kolom email.")
        s = "https://" + s
    if _RE_BAD_URL_CHARS.search(s):
        raise ValueError(f"'{value}' is geen webadres (er staan spaties of vreemde tekens in).")
    parts = urlsplit(s)
    try:
        host = parts.hostname or ""
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"'{value}' is geen webadres.") from exc
    if parts.username or parts.password or "@" in parts.netloc:
        raise ValueError(f"'{value}' is geen webadres (er staat een gebruikersnaam of wachtwoord in).")
    if not _RE_HOST.match(host):
        raise ValueError(f"'{value}' is geen webadres.")
    netloc = host + (f":{port}" if port else "")
    return urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query, parts.fragment))


_RE_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@(?:[A-Za-z0-9\u00a1-\uffff](?:[A-Za-z0-9\u00a1-\uffff-]{0,61}"
    r"[A-Za-z0-9\u00a1-\uffff])?\.)+[A-Za-z\u00a1-\uffff]{2,63}$"
)


def normalize_email(value: str) -> str:
    s = value.strip()
    if s.lower().startswith("mailto:"):
        s = s[7:].split("?")[0]
    s = s.strip().lower()
    if len(s) > 254 or not _RE_EMAIL.match(s) or ".." in s or s.startswith(".") or ".@" in s:
        raise ValueError(f"'{value}' is geen e-mailadres.")
    return s


_RE_DATE_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_RE_DATE_NL = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$")


def parse_date(value: str) -> date:
    """2026-01-31, 31-01-2026, 31/1/2026 or 31.01.2026 -> date; raises ValueError."""
    s = value.strip()
    try:
        if m := _RE_DATE_ISO.match(s):
            d = date(int(m[1]), int(m[2]), int(m[3]))
        elif m := _RE_DATE_NL.match(s):
            d = date(int(m[3]), int(m[2]), int(m[1]))
        else:
            raise ValueError
    except ValueError:
        raise ValueError(f"'{value}' is geen datum. Schrijf een datum als 2026-01-31 of 31-01-2026.") from None
    if not 2000 <= d.year <= 2100:
        raise ValueError(f"'{value}' is geen geldige datum (jaartal {d.year}).")
    return d


_RE_AGE = re.compile(r"^(-?\d+)(?:[.,]0+)?\s*(?:jaar|jr\.?)?$", re.I)


def parse_age(value: str) -> int:
    m = _RE_AGE.match(value.strip())
    if not m:
        raise ValueError(f"'{value}' is geen leeftijd. Schrijf een heel getal, zoals 16.")
    age = int(m[1])
    if not 0 <= age <= 120:
        raise ValueError(f"'{value}' is geen leeftijd: kies een getal van 0 tot en met 120.")
    return age


_FREE = frozenset({"gratis", "kosteloos", "geenkosten", "0", "€0", "0euro", "free", "nvtgratis"})


def normalize_fees(value: str) -> str:
    """Normalize fees: "Gratis", "€ 0,00", "geen kosten" -> "gratis"; other text stays as it is."""
    key = re.sub(r"[\s.\-]+", "", value.casefold()).replace(",00", "").replace(",-", "")
    return "gratis" if key in _FREE else value


_RE_HOUSE = re.compile(r"^(\d{1,5})\s*(?:([-/])\s*)?([A-Za-z0-9]{1,8})?$")
_RE_STREET_NUMBER = re.compile(r"^(.*\S)\s+(\d{1,5}(?:\s*[-/]?\s*[A-Za-z0-9]{1,8})?)$")


def _normalize_house_number(value: str) -> str:
    m = _RE_HOUSE.match(value.strip())
    if not m:
        raise ValueError(
            f"'{value}' is geen huisnummer. Schrijf het nummer met een eventuele toevoeging, zoals 12 of 12a."
        )
    return f"{m[1]}{m[2] or ''}{m[3] or ''}"


_PROVINCE_LOOKUP = {re.sub(r"[^a-z]", "", p.casefold().replace("â", "a")): p for p in PROVINCES}
_PROVINCE_LOOKUP["friesland"] = "Fryslân"


def _normalize_province(value: str) -> str:
    key = re.sub(r"[^a-z]", "", value.casefold().replace("â", "a"))
    if key in _PROVINCE_LOOKUP:
        return _PROVINCE_LOOKUP[key]
    hint = difflib.get_close_matches(key, _PROVINCE_LOOKUP, n=1, cutoff=0.6)
    extra = f" Bedoel je '{_PROVINCE_LOOKUP[hint[0]]}'?" if hint else ""
    raise ValueError(f"'{value}' is geen provincie.{extra}")


class _Terms:
    """Lookup of leefgebied and topic ids (also by label, ignoring case, spaces and dashes)."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self.lookup: dict[str, tuple[str, str]] = {}
        for lid, label in taxonomy.leefgebieden.items():
            for k in (lid, label):
                self.lookup.setdefault(self.key(k), ("leefgebied", lid))
        for tid, (label, _lg) in taxonomy.topics.items():
            for k in (tid, label):
                self.lookup.setdefault(self.key(k), ("topic", tid))
        self.order = {k: i for i, k in enumerate([*taxonomy.leefgebieden, *taxonomy.topics])}

    @staticmethod
    def key(text: str) -> str:
        return re.sub(r"[\s_\-&/]+|\ben\b", "", text.casefold())

    def suggest(self, text: str) -> str | None:
        hit = difflib.get_close_matches(self.key(text), list(self.lookup), n=1, cutoff=0.6)
        return self.lookup[hit[0]][1] if hit else None


_RE_TERM_SPLIT = re.compile(r"[,;|\n]+")
_RE_PHONE_SPLIT = re.compile(r"\s*(?:[;,|\n]|\s+of\s+|\s+en\s+)\s*")


# ----------------------------------------------------------------------------------------- building


@dataclass(slots=True)
class _Ctx:
    report: Report
    row: int
    where: str | None
    labels: Mapping[str, str]

    def col(self, c: str) -> str:
        return self.labels.get(c, c)

    def error(self, column: str | None, message: str) -> None:
        self.report.error(message, self.row, self.col(column) if column else None, self.where)

    def warning(self, column: str | None, message: str) -> None:
        self.report.warning(message, self.row, self.col(column) if column else None, self.where)


_SERVICE_FIELDS: tuple[tuple[str, str], ...] = (
    ("name", "dienst"),
    ("description", "omschrijving"),
    ("eligibility", "voor_wie"),
    ("leefgebieden", "leefgebieden"),
    ("topics", "onderwerpen"),
    ("minimum_age", "minimum_leeftijd"),
    ("maximum_age", "maximum_leeftijd"),
    ("fees", "kosten"),
    ("application_process", "aanmelden"),
    ("url", "website"),
    ("email", "email"),
    ("alert", "melding"),
    ("assured_date", "gecontroleerd_op"),
    ("assurer_email", "gecontroleerd_door"),
)
_MULTILINE = frozenset({"omschrijving", "voor_wie", "aanmelden", "melding", "kosten"})
# A row is at a location when one of these is filled in (provincie alone is not a location).
_LOCATION_COLS = ("locatie_id", "locatienaam", "straat", "huisnummer", "postcode", "plaats")


def build_kaart(
    rows: Iterable[SourceRow],
    *,
    namespace: str = "",
    taxonomy: Taxonomy | None = None,
    today: date | None = None,
    report: Report | None = None,
    column_labels: Mapping[str, str] | None = None,
    fmt: str = "",
) -> ParseResult:
    """Validate and normalize rows into a Kaart.

    ``namespace`` (usually the gemeente code) makes derived ids unique per gemeente; ``today`` is used for
    the "gecontroleerd op" checks; ``column_labels`` maps canonical columns to the names the user sees.
    """
    report = report if report is not None else Report()
    terms = _Terms(taxonomy or load_taxonomy())
    today = today or date.today()
    labels = column_labels or {}
    orgs: dict[str, Organization] = {}
    services: dict[str, Service] = {}
    service_rows: dict[str, int] = {}
    locations: dict[str, Location] = {}
    location_rows: dict[str, int] = {}
    sals: dict[tuple[str, str], ServiceAtLocation] = {}
    contact: dict[str, tuple[tuple[Phone, ...], Schedule | None, int]] = {}
    org_rows: dict[str, int] = {}

    for src in rows:
        report.rows_read += 1
        ctx = _Ctx(report, src.row, src.label, labels)
        v = _normalize_row(src.values, ctx, terms, today)
        if v is None:
            continue
        # organisation
        org_ref, org_name = v["organisatie_id"], v["organisatie"]
        org_id, org_ref = _identify(
            v.get("_organization_uuid", ""), org_ref, "organization", namespace, ("name", org_name.casefold())
        )
        known = orgs.get(org_id)
        if known is None:
            orgs[org_id] = Organization(id=org_id, name=org_name, ref=org_ref, row=src.row)
            org_rows[org_id] = src.row
        elif known.name != org_name:
            ctx.error(
                "organisatie",
                f"organisatie_id '{org_ref or org_id}' heeft op rij {org_rows[org_id]} de "
                f"naam '{known.name}' en hier '{org_name}'. Eén id hoort bij één naam.",
            )
        # service
        svc_id, svc_ref = _identify(
            v.get("_service_uuid", ""), v["dienst_id"], "service", namespace, ("name", org_id, v["dienst"].casefold())
        )
        svc = Service(
            id=svc_id,
            organization_id=org_id,
            name=v["dienst"],
            description=v["omschrijving"],
            eligibility=v["voor_wie"],
            leefgebieden=v["leefgebieden"],
            topics=v["onderwerpen"],
            minimum_age=v["minimum_leeftijd"],
            maximum_age=v["maximum_leeftijd"],
            fees=v["kosten"],
            application_process=v["aanmelden"],
            url=v["website"],
            email=v["email"],
            alert=v["melding"],
            assured_date=v["gecontroleerd_op"],
            assurer_email=v["gecontroleerd_door"],
            ref=svc_ref,
            row=src.row,
        )
        first = services.get(svc_id)
        if first is None:
            services[svc_id] = svc
            service_rows[svc_id] = src.row
        elif first.organization_id != org_id:
            ctx.error(
                "dienst_id",
                f"dienst '{svc_ref or svc.name}' hoort op rij {service_rows[svc_id]} bij een "
                "andere organisatie. Geef elke dienst een eigen dienst_id.",
            )
            continue
        else:
            diff = [col for attr, col in _SERVICE_FIELDS if getattr(first, attr) != getattr(svc, attr)]
            if diff:
                ctx.warning(
                    None,
                    f"dienst '{svc.name}' staat ook op rij {service_rows[svc_id]}, maar met een "
                    f"andere {', '.join(diff)}. We gebruiken wat op rij {service_rows[svc_id]} staat.",
                )
        phones: tuple[Phone, ...] = v["_phones"]
        schedule: Schedule | None = v["_schedule"]
        # location
        if not any(v[c] for c in _LOCATION_COLS):
            if svc_id in contact:
                ctx.error(
                    None,
                    f"deze rij staat er dubbel in: dienst '{svc.name}' zonder locatie staat ook op "
                    f"rij {contact[svc_id][2]}.",
                )
                continue
            contact[svc_id] = (phones, schedule, src.row)
            continue
        address = None
        if any(v[c] for c in ("straat", "huisnummer", "postcode", "plaats", "provincie")):
            address = Address(
                street=v["straat"],
                house_number=v["huisnummer"],
                postal_code=v["postcode"],
                city=v["plaats"],
                province=v["provincie"],
            )
        loc_id, loc_ref = _identify(
            v.get("_location_uuid", ""),
            v["locatie_id"],
            "location",
            namespace,
            (
                "content",
                v["locatienaam"].casefold(),
                v["straat"].casefold(),
                v["huisnummer"].casefold(),
                v["postcode"],
                v["plaats"].casefold(),
                v["provincie"],
            ),
        )
        loc = Location(id=loc_id, name=v["locatienaam"], address=address, ref=loc_ref, row=src.row)
        seen_loc = locations.get(loc_id)
        if seen_loc is None:
            locations[loc_id] = loc
            location_rows[loc_id] = src.row
        elif seen_loc != loc:
            ctx.error(
                "locatie_id",
                f"locatie '{loc_ref or loc.name}' heeft op rij {location_rows[loc_id]} een "
                "andere naam of ander adres. Eén locatie_id hoort bij één adres.",
            )
        key = (svc_id, loc_id)
        if key in sals:
            ctx.error(
                None,
                f"deze rij staat er dubbel in: dienst '{svc.name}' op deze locatie staat ook op rij {sals[key].row}.",
            )
            continue
        sals[key] = ServiceAtLocation(
            id=stable_id("service_at_location", svc_id, loc_id),
            service_id=svc_id,
            location_id=loc_id,
            phones=phones,
            schedule=schedule,
            row=src.row,
        )

    final_services = []
    for sid, s in services.items():
        if sid in contact:
            phones, schedule, _row = contact[sid]
            s = replace(s, phones=phones, schedule=schedule)
        final_services.append(s)
    if report.rows_read == 0 and report.ok:
        report.error("Er staan geen diensten in het bestand.")
    kaart = Kaart.build(orgs.values(), final_services, locations.values(), sals.values())
    return ParseResult(kaart=kaart, report=report, format=fmt)


def _identify(hidden: str, ref: str, kind: str, namespace: str, content: tuple[str, ...]) -> tuple[str, str]:
    """(id, ref) for a record: a source UUID wins; a UUID in the id column is used as is; another id is
    hashed with the namespace; no id at all gives an id derived from the content."""
    if hidden and is_uuid(hidden):
        uid = hidden.lower()
        return uid, ("" if ref.lower() == uid else ref)
    if ref:
        if is_uuid(ref):
            return ref.lower(), ""
        return stable_id(kind, ref, namespace=namespace), ref
    if hidden:
        return stable_id(kind, hidden, namespace=namespace), ""
    return stable_id(kind, *content, namespace=namespace), ""


def _normalize_row(values: Mapping[str, str], ctx: _Ctx, terms: _Terms, today: date) -> dict[str, Any] | None:
    v: dict[str, Any] = {}
    html_cols: list[str] = []
    for col in COLUMNS:
        raw = values.get(col) or ""
        if not raw:
            v[col] = ""
            continue
        text, had_html = clean_text(raw, multiline=col in _MULTILINE)
        if had_html:
            html_cols.append(col)
        if not text.isascii() and _RE_MOJIBAKE.search(text):
            ctx.warning(
                col,
                f"'{text[:40]}' bevat vreemde tekens (zoals Ã©). Is het bestand in de goede "
                "tekenset opgeslagen? Kies bij opslaan 'CSV UTF-8'.",
            )
        limit = MAX_LEN.get(col, MAX_LEN["_default"])
        if len(text) > limit:
            ctx.error(col, f"de tekst is te lang ({len(text)} tekens; hoogstens {limit}).")
            text = ""
        v[col] = text
    for key in HIDDEN_ID_KEYS:
        v[key] = (values.get(key) or "").strip()
    for col in html_cols:
        ctx.warning(col, "hier stond HTML-opmaak in. Die is weggehaald; alleen de tekst is bewaard.")

    skip = False
    for col, what in (("organisatie", "de naam van de organisatie"), ("dienst", "de naam van de dienst")):
        if not v[col]:
            ctx.error(col, f"is leeg; vul {what} in. Deze rij is overgeslagen.")
            skip = True
    if skip:
        return None

    def check(col: str, fn: Any) -> Any:
        if not v[col]:
            return None
        try:
            return fn(v[col])
        except ValueError as exc:
            ctx.error(col, str(exc))
            return None

    v["postcode"] = check("postcode", normalize_postcode) or ""
    v["provincie"] = check("provincie", _normalize_province) or "" if any(v[c] for c in _LOCATION_COLS) else ""
    if not v["huisnummer"] and (m := _RE_STREET_NUMBER.match(v["straat"])):
        v["straat"], v["huisnummer"] = m[1], m[2]
    v["huisnummer"] = check("huisnummer", _normalize_house_number) or ""
    if (v["straat"] or v["huisnummer"]) and not (v["postcode"] or v["plaats"]):
        ctx.warning(
            "plaats", "er staat een adres zonder postcode en plaats. Vul die in, dan kunnen jongeren het vinden."
        )
    v["website"] = check("website", normalize_url) or ""
    v["email"] = check("email", normalize_email) or ""
    v["gecontroleerd_door"] = check("gecontroleerd_door", normalize_email) or ""
    v["kosten"] = normalize_fees(v["kosten"]) if v["kosten"] else ""
    v["minimum_leeftijd"] = check("minimum_leeftijd", parse_age)
    v["maximum_leeftijd"] = check("maximum_leeftijd", parse_age)
    lo, hi = v["minimum_leeftijd"], v["maximum_leeftijd"]
    if lo is not None and hi is not None and lo > hi:
        ctx.error("maximum_leeftijd", f"de minimum_leeftijd ({lo}) is hoger dan de maximum_leeftijd ({hi}).")
        v["minimum_leeftijd"] = v["maximum_leeftijd"] = None
    elif hi is not None and hi < 16:
        ctx.warning(
            "maximum_leeftijd", f"deze dienst is tot {hi} jaar; Startklaar is voor jongeren van 16 tot 27. Klopt dat?"
        )
    assured = check("gecontroleerd_op", parse_date)
    if assured is not None:
        if assured > today + timedelta(days=1):
            ctx.error("gecontroleerd_op", f"'{v['gecontroleerd_op']}' ligt in de toekomst.")
            assured = None
        elif assured < today - timedelta(days=365):
            ctx.warning(
                "gecontroleerd_op",
                f"de gegevens zijn voor het laatst gecontroleerd op "
                f"{assured:%d-%m-%Y}, meer dan een jaar geleden. Kloppen ze nog?",
            )
    v["gecontroleerd_op"] = assured
    _terms(v, ctx, terms)
    phones: list[Phone] = []
    for col, kind in (("telefoon", "voice"), ("whatsapp", "whatsapp")):
        for part in _RE_PHONE_SPLIT.split(v[col]) if v[col] else ():
            if not part:
                continue
            try:
                number, warn = normalize_phone(part)
            except ValueError as exc:
                ctx.error(col, str(exc))
                continue
            if warn:
                ctx.warning(col, warn)
            phone = Phone(number=number, kind=_phone_kind(kind))
            if phone not in phones:
                phones.append(phone)
    v["_phones"] = tuple(phones)
    v["_schedule"] = _schedule(v, ctx)
    if not v["leefgebieden"] and not v["onderwerpen"]:
        ctx.warning(
            "leefgebieden", "vul minstens één leefgebied of onderwerp in, anders is de dienst moeilijk te vinden."
        )
    if not (v["_phones"] or v["website"] or v["email"] or any(v[c] for c in _LOCATION_COLS)):
        ctx.warning("telefoon", "er staat geen telefoon, website, e-mail of adres bij. Hoe komen jongeren in contact?")
    return v


def _phone_kind(kind: str) -> PhoneKind:
    return "whatsapp" if kind == "whatsapp" else "voice"


def _terms(v: dict[str, Any], ctx: _Ctx, terms: _Terms) -> None:
    leefgebieden: set[str] = set()
    topics: set[str] = set()
    for col in ("leefgebieden", "onderwerpen"):
        for part in _RE_TERM_SPLIT.split(v[col]) if v[col] else ():
            part = part.strip()
            if not part:
                continue
            hit = terms.lookup.get(terms.key(part))
            if hit is None:
                what = "leefgebied" if col == "leefgebieden" else "onderwerp"
                hint = terms.suggest(part)
                extra = f" Bedoel je '{hint}'?" if hint else ""
                ctx.error(col, f"'{part}' is geen bekend {what}.{extra} Zie de lijst in de handleiding.")
                continue
            (leefgebieden if hit[0] == "leefgebied" else topics).add(hit[1])
    for t in topics:
        lg = terms.taxonomy.topics[t][1]
        if lg:
            leefgebieden.add(lg)
    v["leefgebieden"] = tuple(sorted(leefgebieden, key=terms.order.__getitem__))
    v["onderwerpen"] = tuple(sorted(topics, key=terms.order.__getitem__))


def _schedule(v: dict[str, Any], ctx: _Ctx) -> Schedule | None:
    if not v["openingstijden"] and not v["uitzonderingen"]:
        return None
    week: tuple[tuple[Any, ...], ...] = ((),) * 7
    appointment = False
    exceptions: tuple[Any, ...] = ()
    holidays = False
    try:
        week, appointment = parse_week(v["openingstijden"])
    except ScheduleError as exc:
        ctx.error("openingstijden", str(exc))
    try:
        exceptions, holidays = parse_exceptions(v["uitzonderingen"])
    except ScheduleError as exc:
        ctx.error("uitzonderingen", str(exc))
    sched = Schedule(week=week, exceptions=exceptions, closed_on_holidays=holidays, by_appointment=appointment)
    if sched.is_empty:
        return None
    if exceptions and not any(week) and not appointment:
        ctx.warning("uitzonderingen", "er staan uitzonderingen, maar geen gewone openingstijden.")
    return sched

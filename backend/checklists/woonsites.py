"""Which woonsite (woonruimteverdeling system) a gemeente uses.

The table is ``backend/content/woonsites/woonsites.toml``: one ``[[system]]`` per woonsite::

    [[system]]
    id = "woonnet-haaglanden"            # kebab-case, stable
    name = "Woonnet Haaglanden"
    url = "https://www.woonnet-haaglanden.nl"   # https, where a jongere registers
    min_age = 18
    fee = "€ 7,50 per jaar"              # optional Dutch text; leave it out when no page states it
    fee_year = 2026                      # optional, the year the fee is for (only with ``fee``)
    renewal = "Verleng je inschrijving elk jaar."   # optional B1 text, at most 15 words a sentence
    gemeenten = ["GM0518", "GM0603"]     # CBS codes; a gemeente belongs to at most one system
    sources = ["https://... (note)"]     # at least one; each starts with an https URL
    peildatum = 2026-12-01               # the day the sources were checked

A gemeente that is in no system is unknown on purpose (no page said which system it uses): callers then
send the jongere to the site of the gemeente. The file lives in a subfolder because the checklist loader
reads every ``backend/content/*.toml`` as a leefgebied.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from backend.checklists.content import CONTENT_DIR, internal_marker

__all__ = [
    "WOONSITES_FILE",
    "Woonsite",
    "WoonsiteError",
    "clear_woonsites_cache",
    "load_woonsites",
    "public",
    "woonsite_for",
]

WOONSITES_FILE = CONTENT_DIR / "woonsites" / "woonsites.toml"

REQUIRED = ("id", "name", "url", "min_age", "gemeenten", "sources", "peildatum")
OPTIONAL = ("fee", "fee_year", "renewal")

ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
CODE_RE = re.compile(r"^GM\d{4}$")
SOURCE_RE = re.compile(r"^(https://\S+)(?: \((?P<note>[^()]*(?:\([^()]*\)[^()]*)*)\))?$")
# Internal markers must never reach a jongere (issue 12, part 5).
MAX_WORDS = 15


class WoonsiteError(ValueError):
    """The woonsites table does not validate. ``errors`` lists every problem as "file, system 'id': message"."""

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        super().__init__("invalid woonsites table:\n  - " + "\n  - ".join(self.errors))


@dataclass(frozen=True)
class Woonsite:
    id: str
    name: str
    url: str
    min_age: int
    gemeenten: tuple[str, ...]
    sources: tuple[str, ...]
    peildatum: date
    fee: str | None = None
    fee_year: int | None = None
    renewal: str | None = None


def public(w: Woonsite) -> dict[str, Any]:
    """The woonsite as JSON for the API (the gemeente list stays server-side)."""
    return {
        "id": w.id,
        "name": w.name,
        "url": w.url,
        "min_age": w.min_age,
        "fee": w.fee,
        "fee_year": w.fee_year,
        "renewal": w.renewal,
        "sources": list(w.sources),
        "peildatum": w.peildatum.isoformat(),
    }


def load_woonsites(
    path: str | Path | None = None, gemeente_codes: Collection[str] | None = None
) -> Mapping[str, Woonsite]:
    """Load and validate the table (default ``backend/content/woonsites/woonsites.toml``), by id in file order.

    With ``gemeente_codes`` (e.g. the CBS list of this year) every code must be in it; without, a code only
    has to look like ``GM0363``. Cached per (file, code list). Raises WoonsiteError listing every problem.
    """
    file = Path(path).resolve() if path is not None else WOONSITES_FILE
    codes = frozenset(gemeente_codes) if gemeente_codes is not None else None
    return _load_cached(file, codes)


def woonsite_for(gemeente_code: str, path: str | Path | None = None) -> Woonsite | None:
    """The woonsite of a gemeente ("GM0363"), or None when the table does not know it."""
    return _index(Path(path).resolve() if path is not None else WOONSITES_FILE).get(gemeente_code.strip().upper())


def clear_woonsites_cache() -> None:
    _load_cached.cache_clear()
    _index.cache_clear()


@functools.lru_cache(maxsize=8)
def _index(file: Path) -> Mapping[str, Woonsite]:
    return MappingProxyType({code: w for w in load_woonsites(file).values() for code in w.gemeenten})


@functools.lru_cache(maxsize=8)
def _load_cached(file: Path, codes: frozenset[str] | None) -> Mapping[str, Woonsite]:
    return _Loader(file, codes).load()


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


class _Loader:
    def __init__(self, file: Path, codes: frozenset[str] | None):
        self.file = file
        self.codes = codes
        self.errors: list[str] = []

    def error(self, message: str, system: str | None = None) -> None:
        where = self.file.name if system is None else f"{self.file.name}, system {system!r}"
        self.errors.append(f"{where}: {message}")

    def load(self) -> Mapping[str, Woonsite]:
        try:
            with self.file.open("rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise WoonsiteError([f"{self.file}: file not found"]) from None
        except tomllib.TOMLDecodeError as exc:
            raise WoonsiteError([f"{self.file.name}: not valid TOML: {exc}"]) from None

        for key in sorted(set(data) - {"system"}):
            self.error(f"unknown top-level key {key!r} (only [[system]] tables are allowed)")
        systems = data.get("system")
        if not isinstance(systems, list) or not systems:
            self.error("no [[system]] tables")
            systems = []

        result: dict[str, Woonsite] = {}
        owner: dict[str, str] = {}  # gemeente code -> system id
        for n, raw in enumerate(systems, start=1):
            if not isinstance(raw, dict):
                self.error(f"system #{n} is not a table")
                continue
            label = raw.get("id") if isinstance(raw.get("id"), str) and raw.get("id") else f"#{n}"
            site = self.system(raw, label)
            if site is None:
                continue
            if site.id in result:
                self.error("duplicate id", label)
                continue
            for code in site.gemeenten:
                if code in owner:
                    self.error(f"gemeente {code} is also in system {owner[code]!r} (a gemeente has one system)", label)
                else:
                    owner[code] = site.id
            result[site.id] = site
        if self.errors:
            raise WoonsiteError(self.errors)
        return MappingProxyType(result)

    def system(self, raw: dict[str, Any], label: str) -> Woonsite | None:
        before = len(self.errors)
        for key in REQUIRED:
            if key not in raw:
                self.error(f"missing {key!r}", label)
        for key in sorted(set(raw) - set(REQUIRED) - set(OPTIONAL)):
            self.error(f"unknown key {key!r}", label)

        site_id = raw.get("id")
        if "id" in raw and not (isinstance(site_id, str) and ID_RE.fullmatch(site_id)):
            self.error(f"id must be kebab-case (a-z, 0-9, '-'), got {site_id!r}", label)
        name = self.text(raw, "name", label)
        url = raw.get("url")
        if "url" in raw and not self.is_https(url):
            self.error(f"url must be an https:// address, got {url!r}", label)
        min_age = raw.get("min_age")
        if "min_age" in raw and (isinstance(min_age, bool) or not isinstance(min_age, int) or not 0 <= min_age <= 30):
            self.error(f"min_age must be a whole number of years (0-30), got {min_age!r}", label)
        fee = self.text(raw, "fee", label)
        fee_year = raw.get("fee_year")
        if "fee_year" in raw:
            if isinstance(fee_year, bool) or not isinstance(fee_year, int) or not 2000 <= fee_year <= 2100:
                self.error(f"fee_year must be a year, got {fee_year!r}", label)
            if "fee" not in raw:
                self.error("fee_year without fee", label)
        renewal = self.text(raw, "renewal", label)
        if isinstance(renewal, str):
            for sentence in _sentences(renewal):
                if len(sentence.split()) > MAX_WORDS:
                    self.error(f"renewal: sentence longer than {MAX_WORDS} words: {sentence!r}", label)
        gemeenten = self.gemeenten(raw.get("gemeenten"), label) if "gemeenten" in raw else ()
        sources = self.sources(raw.get("sources"), label) if "sources" in raw else ()
        peildatum = raw.get("peildatum")
        if "peildatum" in raw and (isinstance(peildatum, datetime) or not isinstance(peildatum, date)):
            self.error(f"peildatum must be a TOML date (2026-12-01), got {peildatum!r}", label)

        if len(self.errors) > before:
            return None
        assert isinstance(site_id, str) and isinstance(name, str) and isinstance(url, str)
        assert isinstance(min_age, int) and isinstance(peildatum, date)
        return Woonsite(
            id=site_id,
            name=name,
            url=url,
            min_age=min_age,
            gemeenten=gemeenten,
            sources=sources,
            peildatum=peildatum,
            fee=fee,
            fee_year=fee_year,
            renewal=renewal,
        )

    def text(self, raw: dict[str, Any], key: str, label: str) -> str | None:
        if key not in raw:
            return None
        value = raw[key]
        if not isinstance(value, str) or not value.strip():
            self.error(f"{key} must be a non-empty text, got {value!r}", label)
            return None
        if internal_marker(value):
            self.error(f"{key} holds an internal marker (FACTS, [U], seed, ...): {value!r}", label)
        return value.strip()

    @staticmethod
    def is_https(value: object) -> bool:
        if not isinstance(value, str) or not value.startswith("https://"):
            return False
        parts = urlsplit(value)
        return bool(parts.hostname) and "." in (parts.hostname or "") and not any(c.isspace() for c in value)

    def gemeenten(self, value: object, label: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            self.error('gemeenten must be a non-empty list of CBS codes ("GM0363")', label)
            return ()
        seen: set[str] = set()
        for code in value:
            if not isinstance(code, str) or not CODE_RE.fullmatch(code):
                self.error(f"gemeente code must look like 'GM0363', got {code!r}", label)
                continue
            if self.codes is not None and code not in self.codes:
                self.error(f"gemeente {code} is not in the gemeente list", label)
            if code in seen:
                self.error(f"gemeente {code} is listed twice", label)
            seen.add(code)
        return tuple(c for c in value if isinstance(c, str))

    def sources(self, value: object, label: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            self.error('sources must be a non-empty list (each "https://... (note)")', label)
            return ()
        for source in value:
            match = SOURCE_RE.fullmatch(source) if isinstance(source, str) else None
            if match is None or not self.is_https(match.group(1)):
                self.error(f"source must start with an https:// address, optionally ' (note)', got {source!r}", label)
            elif internal_marker(source):
                self.error(f"source holds an internal marker (FACTS, [U], seed, ...): {source!r}", label)
        return tuple(s for s in value if isinstance(s, str))

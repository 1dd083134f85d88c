"""Search over a published kaart, in process: Dutch stemming, accent folding, ranking and filters.

A version's services are immutable, so each version is loaded once into a compact ``VersionIndex`` and kept
in an LRU keyed by version id: no invalidation is ever needed, and publishing (a new pointer) simply makes
searchers ask for another key. Text matching works on prepared strings (" word stem word stem ... "), so a
match is a substring test in C rather than a loop over tokens in Python.
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

import snowballstemmer

from backend.kaart.schedule import Schedule, closes_at, is_open, next_open, parse_schedule
from backend.textsearch import fold

# The classic (Porter-style) Dutch stemmer: "schulden" -> "schuld". Snowball 3's new "dutch" algorithm
# strips infixes ("gemeente" -> "meen"), which hurts short queries.
_ALGORITHM = "dutch_porter" if "dutch_porter" in snowballstemmer.algorithms() else "dutch"
_stemmer = snowballstemmer.stemmer(_ALGORITHM)
_stem_lock = threading.Lock()  # snowball stemmers keep state between calls

STOPWORDS = frozenset(
    "de het een en van voor met in op te aan bij of om tot je jij jou jouw ik mijn mij me is zijn wat hoe "
    "waar wie ook als naar dat die dit er niet geen over uit door wordt worden kan kun kunt".split()
)
WEIGHT_NAME, WEIGHT_META, WEIGHT_BODY = 3.0, 2.0, 1.0
EXACT, PREFIX, INFIX = 1.0, 0.7, 0.4


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    with _stem_lock:
        return str(_stemmer.stemWord(word))


_NON_WORD = re.compile(r"[^a-z0-9]+")


def _fold(text: str) -> str:
    # Same result as textsearch.fold, without the per-character Unicode work for plain ASCII text.
    return _NON_WORD.sub(" ", text.lower()) if text.isascii() else fold(text)


def words(text: str) -> list[str]:
    """Folded words of two or more characters (digits count: "113", "18")."""
    return [w for w in _fold(text).split() if len(w) > 1 or w.isdigit()]


def index_text(*texts: str) -> str:
    """' w1 s1 w2 ... ': each folded word and its stem once, padded with spaces for whole-word tests."""
    seen: dict[str, None] = {}
    for text in texts:
        for w in words(text):
            seen.setdefault(w, None)
            seen.setdefault(stem(w), None)
    return " " + " ".join(seen) + " " if seen else " "


@dataclass(frozen=True, slots=True)
class QueryTerm:
    word: str
    stem: str
    # The whole-word and prefix patterns, made once per query rather than once per service.
    exact_word: str = ""
    exact_stem: str = ""
    prefix: str = ""
    infix: bool = False

    @classmethod
    def of(cls, word: str) -> QueryTerm:
        s = stem(word)
        return cls(word, s, f" {word} ", f" {s} ", f" {s}", len(s) >= 4)


def query_terms(q: str) -> list[QueryTerm]:
    ws = words(q)[:12]
    kept = [w for w in ws if w not in STOPWORDS] or ws
    return [QueryTerm.of(w) for w in dict.fromkeys(kept)]


def _level(term: QueryTerm, text: str) -> float:
    # Every match contains the stem or the word, so most services are rejected after one or two scans.
    if term.stem not in text and term.word not in text:
        return 0.0
    if term.exact_word in text or term.exact_stem in text:
        return EXACT
    if term.prefix in text:
        return PREFIX
    if term.infix and term.stem in text:
        return INFIX  # part of a compound: "verzekering" in "zorgverzekering"
    return 0.0


# ------------------------------------------------------------------------------------------ the index


@dataclass(frozen=True, slots=True)
class Entry:
    """What search needs of one service (the full record stays in the database)."""

    id: str
    kaart: str
    national: bool
    position: int
    name: str
    what: str
    organization: str
    leefgebieden: tuple[str, ...]
    topics: tuple[str, ...]
    minimum_age: int | None
    maximum_age: int | None
    free: bool
    pc4s: tuple[str, ...]
    plaats: str
    name_text: str
    meta_text: str
    body_text: str
    schedules: tuple[Schedule, ...]
    modified_at: datetime
    points: tuple[tuple[float, float], ...] = ()

    def text_score(self, terms: Sequence[QueryTerm]) -> float:
        """Weighted matches summed over terms and fields (a word in the name and in the topics counts
        twice); 0 when any term matches nowhere, so every word of the query must be found."""
        total = 0.0
        for t in terms:
            score = (
                WEIGHT_NAME * _level(t, self.name_text)
                + WEIGHT_META * _level(t, self.meta_text)
                + WEIGHT_BODY * _level(t, self.body_text)
            )
            if score == 0.0:
                return 0.0
            total += score
        return total

    def fits_age(self, age: int) -> bool:
        return (self.minimum_age is None or self.minimum_age <= age) and (
            self.maximum_age is None or age <= self.maximum_age
        )


@dataclass
class VersionIndex:
    version_id: int
    kaart: str
    entries: tuple[Entry, ...]
    by_id: dict[str, Entry] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_id = {e.id: e for e in self.entries}


@lru_cache(maxsize=4096)
def schedule_from_text(hours: str, exceptions: str) -> Schedule:
    """Schedules are stored as canonical text; equal texts share one parsed object."""
    return parse_schedule(hours, exceptions)


class VersionCache:
    """A thread-safe LRU of VersionIndex by version id, per API process."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[int, VersionIndex] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, version_id: int) -> VersionIndex | None:
        with self._lock:
            value = self._data.get(version_id)
            if value is not None:
                self._data.move_to_end(version_id)
            return value

    def put(self, index: VersionIndex) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._data[index.version_id] = index
            self._data.move_to_end(index.version_id)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


# ------------------------------------------------------------------------------------------- ranking


@dataclass(frozen=True, slots=True)
class Filters:
    q: str = ""
    leefgebieden: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    open_now: bool = False
    age: int | None = None
    free: bool = False
    origin: tuple[float, float] | None = None  # centre of the postcode the jongere gave


@dataclass(frozen=True, slots=True)
class Hit:
    entry: Entry
    score: float
    topic_hits: int
    distance_km: float | None


def distance_to(entry: Entry, origin: tuple[float, float] | None) -> float | None:
    if origin is None or not entry.points:
        return None
    from backend.kaart.postcodes import distance_km

    return min(distance_km(origin, p) for p in entry.points)


def rank(entries: Iterable[Entry], filters: Filters, now: datetime) -> list[Hit]:
    """Filter, then order by text relevance, topic matches, distance, local before national, file order."""
    terms = query_terms(filters.q) if filters.q else []
    minute = now.replace(second=0, microsecond=0)
    wanted_topics = set(filters.topics)
    wanted_areas = set(filters.leefgebieden)
    hits: list[Hit] = []
    for e in entries:
        if wanted_areas and wanted_areas.isdisjoint(e.leefgebieden):
            continue
        topic_hits = len(wanted_topics.intersection(e.topics)) if wanted_topics else 0
        if wanted_topics and not topic_hits:
            continue
        if filters.free and not e.free:
            continue
        if filters.age is not None and not e.fits_age(filters.age):
            continue
        score = e.text_score(terms) if terms else 0.0
        if terms and score == 0.0:
            continue
        if filters.open_now and not any(schedule_status(s, minute)[0] for s in e.schedules):
            continue
        hits.append(Hit(e, score, topic_hits, distance_to(e, filters.origin)))
    hits.sort(
        key=lambda h: (
            -h.score,
            -h.topic_hits,
            h.distance_km if h.distance_km is not None else math.inf,
            h.entry.national,
            h.entry.position,
        )
    )
    return hits


Status = tuple[bool, datetime | None, datetime | None]
# (id of a shared Schedule, the minute) -> (that schedule, its status). Services share few distinct opening
# hours (schedule_from_text interns them), and a list of results asks the same minute for all of them.
_status_memo: dict[tuple[int, int], tuple[Schedule, Status]] = {}
_STATUS_MEMO_MAX = 50_000


def schedule_status(schedule: Schedule, now: datetime) -> Status:
    """(open now, closes at, next opening) of one schedule, memoized per minute."""
    minute = int(now.timestamp()) // 60
    key = (id(schedule), minute)
    hit = _status_memo.get(key)
    if hit is not None and hit[0] is schedule:
        return hit[1]
    if is_open(schedule, now):
        status: Status = (True, closes_at(schedule, now), None)
    else:
        status = (False, None, next_open(schedule, now))
    if len(_status_memo) >= _STATUS_MEMO_MAX:
        _status_memo.clear()
    _status_memo[key] = (schedule, status)
    return status


def open_status(schedules: Sequence[Schedule], now: datetime) -> Status:
    """(open now, closes at, next opening) over all of a service's schedules (its locations and its own)."""
    now = now.replace(second=0, microsecond=0)  # "nu open" is per minute, which lets statuses be shared
    statuses = [schedule_status(s, now) for s in schedules]
    open_ones = [st for st in statuses if st[0]]
    if open_ones:
        # A closing time of None means open for the next two weeks: then there is none to show.
        ends = [st[1] for st in open_ones]
        closing = None if any(x is None for x in ends) else max(x for x in ends if x is not None)
        return True, closing, None
    upcoming = [st[2] for st in statuses if st[2] is not None]
    return False, None, min(upcoming) if upcoming else None


def one_line(description: str, limit: int = 140) -> str:
    """The first sentence of a description, at most ``limit`` characters."""
    text = " ".join(description.split())
    for end in (". ", "! ", "? "):
        cut = text.find(end)
        if 0 < cut < limit:
            return text[: cut + 1]
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit - 1)
    return text[: cut if cut > 40 else limit - 1].rstrip(" ,;:") + "…"

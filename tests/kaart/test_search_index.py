"""Pure parts of search: stemming, folding, scoring, one-line summaries, open status; the PC4 table."""

from __future__ import annotations

from datetime import datetime

import pytest

from backend.kaart import postcodes
from backend.kaart.schedule import TZ, parse_schedule
from backend.kaart.search import VersionCache, VersionIndex, index_text, one_line, open_status, query_terms, stem


def test_dutch_stemming_and_folding() -> None:
    assert stem("schulden") == stem("schuld") == "schuld"
    assert " sudwest " in index_text("Wijkteam Súdwest-Fryslân")
    assert " fryslan " in index_text("Wijkteam Súdwest-Fryslân")
    assert [t.word for t in query_terms("Hulp bij de schulden")] == ["hulp", "schulden"]
    assert [t.word for t in query_terms("de")] == ["de"]  # only stop words: keep them


def test_one_line() -> None:
    assert one_line("Eerste zin. Tweede zin.") == "Eerste zin."
    long = "woord " * 60
    assert len(one_line(long)) <= 140 and one_line(long).endswith("…")
    assert one_line("") == ""


def test_open_status_over_several_schedules() -> None:
    morning = parse_schedule("ma-vr 09:00-12:00")
    evening = parse_schedule("ma-vr 18:00-22:00")
    at = datetime(2026, 3, 2, 10, 0, tzinfo=TZ)
    assert open_status([morning, evening], at) == (True, datetime(2026, 3, 2, 12, 0, tzinfo=TZ), None)
    later = datetime(2026, 3, 2, 13, 0, tzinfo=TZ)
    assert open_status([morning, evening], later) == (False, None, datetime(2026, 3, 2, 18, 0, tzinfo=TZ))
    assert open_status([parse_schedule("24/7")], at) == (True, None, None)
    assert open_status([], at) == (False, None, None)


def test_version_cache_is_an_lru() -> None:
    cache = VersionCache(2)
    for vid in (1, 2, 3):
        cache.put(VersionIndex(vid, "GM0014", ()))
    assert cache.get(1) is None and cache.get(2) is not None and len(cache) == 2


@pytest.mark.parametrize(
    ("value", "pc4", "normalized"),
    [("1234ab", "1234", "1234 AB"), (" 9712 HN ", "9712", "9712 HN"), ("9712", "9712", "9712")],
)
def test_parse_postcode(value: str, pc4: str, normalized: str) -> None:
    assert postcodes.parse_postcode(value) == (pc4, normalized)


@pytest.mark.parametrize("value", ["0123", "123", "12345", "1234 A", "abcd", ""])
def test_bad_postcodes(value: str) -> None:
    with pytest.raises(postcodes.PostcodeError):
        postcodes.parse_postcode(value)


def test_pc4_table() -> None:
    groningen = postcodes.lookup("9712")
    assert groningen is not None and groningen.gemeenten == ("GM0014",) and groningen.precision == "wijk"
    city = postcodes.lookup("9735")  # only in the city-wide range
    assert city is not None and city.precision == "plaats"
    assert postcodes.lookup("7351").gemeenten == ("GM0200", "GM0228")  # type: ignore[union-attr]
    assert postcodes.lookup("8888") is None
    # Amsterdam Centraal to Groningen is about 145 km.
    ams, gro = postcodes.lookup("1012"), postcodes.lookup("9712")
    assert ams and gro and 140 < postcodes.distance_km((ams.lat, ams.lon), (gro.lat, gro.lon)) < 150
    # Every gemeente code in the table exists.
    from backend.gemeenten.service import read_gemeenten_csv

    known = {g.code for g in read_gemeenten_csv()}
    table = postcodes.table()
    assert {c for r in table._ranges for c in r.gemeenten} <= known

"""The woonsites table: it loads, the big cities get the right system, broken tables give clear errors."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest

from backend.checklists.content import CONTENT_DIR
from backend.checklists.woonsites import (
    WOONSITES_FILE,
    Woonsite,
    WoonsiteError,
    load_woonsites,
    public,
    woonsite_for,
)
from backend.clock import today_nl
from backend.gemeenten.service import read_gemeenten_csv

CODES = frozenset(g.code for g in read_gemeenten_csv())

GOOD = """
[[system]]
id = "woonnet-test"
name = "Woonnet Test"
url = "https://www.woonnet-test.nl"
min_age = 18
fee = "€ 10 per jaar"
fee_year = 2026
renewal = "Verleng je inschrijving elk jaar."
gemeenten = ["GM0363", "GM0599"]
sources = ["https://www.woonnet-test.nl/spelregels (vanaf 18)", "https://www.gemeente.nl"]
peildatum = 2026-12-01
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "woonsites.toml"
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(WoonsiteError) as info:
        load_woonsites(write(tmp_path, text), gemeente_codes=CODES)
    return str(info.value)


# --------------------------------------------------------------------------------------------- the real table


def test_the_real_table_loads_against_the_cbs_list():
    sites = load_woonsites(gemeente_codes=CODES)
    assert len(sites) >= 8
    assert all(isinstance(w, Woonsite) for w in sites.values())
    assert all(w.gemeenten for w in sites.values())


def test_the_table_sits_in_a_subfolder_the_leefgebied_loader_does_not_read():
    assert WOONSITES_FILE.parent.parent == CONTENT_DIR
    assert WOONSITES_FILE.parent != CONTENT_DIR
    assert WOONSITES_FILE not in set(CONTENT_DIR.glob("*.toml"))


@pytest.mark.parametrize(
    ("code", "system"),
    [
        ("GM0363", "woningnet-amsterdam"),  # Amsterdam
        ("GM0599", "woonnet-rijnmond"),  # Rotterdam
        ("GM0518", "woonnet-haaglanden"),  # Den Haag ('s-Gravenhage)
        ("GM0344", "woningnet-utrecht"),  # Utrecht
        ("GM0546", "huren-in-holland-rijnland"),  # Leiden
        ("GM0268", "entree"),  # Nijmegen
        ("GM0307", "woningnet-eemvallei"),  # Amersfoort
    ],
)
def test_big_cities_get_their_system(code: str, system: str):
    site = woonsite_for(code)
    assert site is not None
    assert site.id == system


def test_lookup_ignores_case_and_spaces():
    assert woonsite_for(" gm0363 ") == woonsite_for("GM0363")


@pytest.mark.parametrize(
    "code",
    [
        "GM0014",  # Groningen: not in the table
        "GM0597",  # Ridderkerk: left the Rotterdam agreement, unmapped on purpose
        "GM0439",  # Purmerend: two systems side by side, unmapped on purpose
        "GM9999",  # no such gemeente
        "",
    ],
)
def test_an_unknown_gemeente_gives_none(code: str):
    assert woonsite_for(code) is None


def test_every_system_is_fresh_sourced_and_plain():
    for site in load_woonsites().values():
        # A peildatum older than 13 months fails, so stale facts cannot ship unnoticed.
        assert (today_nl() - site.peildatum).days <= 396, site.id
        assert site.peildatum <= today_nl(), site.id
        assert site.url.startswith("https://"), site.id
        assert site.min_age == 18, site.id  # 18 in every system checked (FACTS §6, §12b)
        assert all(s.startswith("https://") for s in site.sources), site.id
        for text in (site.name, site.fee or "", site.renewal or "", *site.sources):
            assert not re.search(r"FACTS|\[[UYOS]\]|\bseed\b", text, re.IGNORECASE), (site.id, text)
        if site.fee_year is not None:
            assert site.fee is not None, site.id


def test_public_is_json_without_the_gemeente_list():
    site = woonsite_for("GM0546")
    assert site is not None
    data = public(site)
    assert set(data) == {"id", "name", "url", "min_age", "fee", "fee_year", "renewal", "sources", "peildatum"}
    assert data["peildatum"] == site.peildatum.isoformat()
    assert data["sources"] == list(site.sources)
    json.dumps(data)


def test_load_is_cached_and_read_only():
    assert load_woonsites() is load_woonsites()
    sites = load_woonsites()
    with pytest.raises(TypeError):
        sites["x"] = next(iter(sites.values()))  # type: ignore[index]


# --------------------------------------------------------------------------------------------- broken tables


def test_a_good_small_table_loads(tmp_path: Path):
    sites = load_woonsites(write(tmp_path, GOOD), gemeente_codes=CODES)
    site = sites["woonnet-test"]
    assert site.gemeenten == ("GM0363", "GM0599")
    assert site.peildatum == date(2026, 12, 1)
    assert site.fee == "€ 10 per jaar" and site.fee_year == 2026
    assert woonsite_for("GM0599", write(tmp_path, GOOD)) == site


def test_a_gemeente_in_two_systems_is_refused(tmp_path: Path):
    second = GOOD.replace('"woonnet-test"', '"woonnet-twee"').replace('"GM0363", "GM0599"', '"GM0599"')
    message = errors_of(tmp_path, GOOD + second)
    assert "system 'woonnet-twee'" in message
    assert "GM0599 is also in system 'woonnet-test'" in message


def test_a_gemeente_twice_in_one_system_is_refused(tmp_path: Path):
    message = errors_of(tmp_path, GOOD.replace('"GM0363", "GM0599"', '"GM0363", "GM0363"'))
    assert "GM0363 is listed twice" in message


def test_an_http_url_is_refused(tmp_path: Path):
    message = errors_of(tmp_path, GOOD.replace('url = "https://www', 'url = "http://www'))
    assert "system 'woonnet-test': url must be an https:// address" in message


def test_an_http_source_is_refused(tmp_path: Path):
    message = errors_of(tmp_path, GOOD.replace('"https://www.gemeente.nl"', '"http://www.gemeente.nl"'))
    assert "source must start with an https:// address" in message


def test_a_missing_or_empty_source_list_is_refused(tmp_path: Path):
    missing = "\n".join(line for line in GOOD.splitlines() if not line.startswith("sources"))
    assert "system 'woonnet-test': missing 'sources'" in errors_of(tmp_path, missing)
    empty = re.sub(r"^sources = .*$", "sources = []", GOOD, flags=re.MULTILINE)
    assert "sources must be a non-empty list" in errors_of(tmp_path, empty)


def test_a_source_without_url_is_refused(tmp_path: Path):
    message = errors_of(tmp_path, GOOD.replace('"https://www.gemeente.nl"', '"gemeente.nl (zonder adres)"'))
    assert "'gemeente.nl (zonder adres)'" in message


def test_unknown_and_malformed_codes_are_refused(tmp_path: Path):
    message = errors_of(tmp_path, GOOD.replace('"GM0363", "GM0599"', '"GM9999", "0363", "gm0599"'))
    assert "GM9999 is not in the gemeente list" in message
    assert "must look like 'GM0363', got '0363'" in message
    assert "got 'gm0599'" in message
    # Without a gemeente list a well-formed code is enough.
    assert load_woonsites(write(tmp_path, GOOD.replace('"GM0363"', '"GM9999"')))["woonnet-test"]


def test_bad_fields_are_all_reported_at_once(tmp_path: Path):
    bad = (
        GOOD.replace('"woonnet-test"', '"Woonnet_Test"')
        .replace("min_age = 18", 'min_age = "18"')
        .replace("peildatum = 2026-12-01", 'peildatum = "2026-12-01"')
        .replace('fee = "€ 10 per jaar"\n', "")
        + 'colour = "blue"\n'
    )
    message = errors_of(tmp_path, bad)
    assert "id must be kebab-case" in message
    assert "min_age must be a whole number" in message
    assert "peildatum must be a TOML date" in message
    assert "fee_year without fee" in message
    assert "unknown key 'colour'" in message
    assert message.count("\n  - ") >= 5


def test_a_missing_required_key_is_named(tmp_path: Path):
    no_url = "\n".join(line for line in GOOD.splitlines() if not line.startswith("url"))
    assert "missing 'url'" in errors_of(tmp_path, no_url)


def test_a_duplicate_id_is_refused(tmp_path: Path):
    second = GOOD.replace('"GM0363", "GM0599"', '"GM0014"')
    assert "system 'woonnet-test': duplicate id" in errors_of(tmp_path, GOOD + second)


def test_long_sentences_and_internal_markers_are_refused(tmp_path: Path):
    long = "Verleng je inschrijving elk jaar op tijd want anders ben je al je opgebouwde inschrijftijd helemaal kwijt."
    message = errors_of(tmp_path, GOOD.replace("Verleng je inschrijving elk jaar.", long))
    assert "longer than 15 words" in message
    marker = GOOD.replace('(vanaf 18)"', '(vanaf 18, FACTS §6 [U])"')
    assert "internal marker" in errors_of(tmp_path, marker)


def test_no_systems_or_bad_toml_is_a_clear_error(tmp_path: Path):
    assert "no [[system]] tables" in errors_of(tmp_path, "")
    assert "not valid TOML" in errors_of(tmp_path, "[[system]\nid = 1")
    with pytest.raises(WoonsiteError, match="file not found"):
        load_woonsites(tmp_path / "missing.toml")


def test_the_error_is_a_value_error_listing_every_problem(tmp_path: Path):
    with pytest.raises(ValueError) as info:
        load_woonsites(write(tmp_path, GOOD.replace("https://www.woonnet", "http://www.woonnet")), CODES)
    assert isinstance(info.value, WoonsiteError)
    assert len(info.value.errors) == 2  # the url and the first source

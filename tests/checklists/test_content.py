"""Checklist content: it loads, it is complete, and broken content gives a clear error."""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from datetime import date
from pathlib import Path

import pytest

from backend.checklists.content import (
    CONTENT_DIR,
    ContentError,
    RuleContext,
    add_months,
    anniversary,
    load_content,
    parse_rule,
)
from backend.clock import today_nl

PLACEHOLDER = re.compile(r"\{([a-z0-9_]+)\}")
NOT_A_VERB = {"de", "het", "een", "je", "jouw", "jij", "uw", "wat", "hoe", "waarom", "wanneer"}

# Brief: these subjects must be covered (a topic id each, or a word in a title).
REQUIRED_STEPS = {
    "inschrijving-controleren",
    "verhuizing-doorgeven",
    "adres-na-vertrek-regelen",  # briefadres
    "id-bewijs-aanvragen",
    "digid-aanvragen",
    "zorgverzekering-kiezen",
    "zorgverzekering-controleren",
    "tandartsverzekering-kiezen",
    "eigen-risico-sparen",
    "zorgtoeslag-aanvragen",
    "bankrekening-regelen",
    "woningzoekende-inschrijven",
    "woningzoekende-verlengen",
    "werk-nl-melden",
    "uitkering-papieren-verzamelen",
    "bijstand-aanvragen",
    "studiefinanciering-aanvragen",
    "huurtoeslag-aanvragen",
    "belastingaangifte-doen",
    "aansprakelijkheidsverzekering-regelen",
    "huisarts-inschrijven",
    "verlengde-jeugdhulp-regelen",
    "toekomstplan-maken",
    "mentorschap-bewind-bespreken",
    "stemmen",
}


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.?!])\s+", text.strip()) if s]


def copy_content(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, target)
    return target


# --------------------------------------------------------------------------------------------- the real content


def test_content_loads_and_is_cached(content):
    assert len(content.steps) >= 30
    assert load_content() is content
    assert REQUIRED_STEPS <= set(content.steps)


def test_step_ids_are_kebab_case_and_unique_across_files():
    ids: list[str] = []
    for path in sorted(CONTENT_DIR.glob("*.toml")):
        if path.name in ("taxonomy.toml", "bedragen.toml", "glossary.toml", "kalender.toml"):
            continue
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        assert data["leefgebied"] == path.stem
        ids += [s["id"] for s in data.get("step", [])]
    assert len(ids) == len(set(ids))
    for sid in ids:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", sid), sid


def test_every_step_has_all_required_fields(catalogue):
    for step in catalogue["steps"]:
        sid = step["id"]
        for key in ("title", "why", "who_can_help", "checklist", "leefgebied", "peildatum"):
            assert isinstance(step[key], str) and step[key].strip(), (sid, key)
        for key in ("how", "links", "topics", "sources"):
            assert isinstance(step[key], list) and step[key], (sid, key)
        assert isinstance(step["need"], list), sid
        assert all(isinstance(t, str) and t.strip() for t in step["how"] + step["need"]), sid
        assert step["timing"]["due"], sid
        assert date.fromisoformat(step["peildatum"]) <= today_nl(), sid  # freshness: test_content_2027.py
        assert {"min_age", "max_age", "situations", "requires_vertrekdatum"} <= set(step["conditions"])


def test_every_link_is_https(catalogue):
    for step in catalogue["steps"]:
        for link in step["links"]:
            assert link["title"].strip(), step["id"]
            assert re.match(r"^https://[a-z0-9.-]+\.[a-z]{2,}(/\S*)?$", link["url"]), (step["id"], link)


def test_topics_leefgebieden_and_checklists_exist(content):
    for step in content.steps.values():
        assert step.leefgebied in content.leefgebieden
        assert step.checklist in content.checklists
        assert content.checklists[step.checklist].leefgebied == step.leefgebied
        for topic in step.topics:
            assert topic in content.topics, (step.id, topic)
    for topic in content.topics.values():
        assert topic.leefgebied in content.leefgebieden
    # every checklist has at least one step
    assert {s.checklist for s in content.steps.values()} == set(content.checklists)


def test_taxonomy_ids_were_not_renamed(content):
    assert list(content.leefgebieden) == ["wonen", "gezondheid", "school-werk", "inkomen", "relaties", "papieren"]
    for original in ("brp-inschrijving", "briefadres", "zorgverzekering", "uitkering", "stemmen", "vrije-tijd"):
        assert original in content.topics


def test_every_referenced_bedrag_exists_and_shows_its_year(content, catalogue):
    raw_keys: set[str] = set()
    for step in content.steps.values():
        for text in step.texts():
            raw_keys |= set(PLACEHOLDER.findall(text))
    assert raw_keys, "steps should use bedragen.toml for yearly amounts"
    assert raw_keys <= set(content.bedragen)
    for step in catalogue["steps"]:
        rendered = " ".join([step["title"], step["why"], *step["how"], *step["need"], step["cost"] or ""])
        assert "{" not in rendered and "}" not in rendered, step["id"]
        for key in step["bedragen"]:
            bedrag = content.bedragen[key]
            assert bedrag.period_on(today_nl()).label in rendered, (step["id"], key)
            assert bedrag.render(today_nl()) in rendered


def test_every_bedrag_has_year_source_peildatum_and_is_used(content):
    used = {key for step in content.steps.values() for key in content.bedrag_keys(step)}
    for key, bedrag in content.bedragen.items():
        for period in bedrag.periods:
            assert 2020 <= period.start.year <= 2030, key
            assert period.source.startswith("https://"), key
            assert period.peildatum <= today_nl(), key
        assert bedrag.render(today_nl()).startswith(("€", "ongeveer €")), key
        assert key in used, f"bedrag {key} is not used by any step"


def test_known_amounts_render_dutch(content):
    on = date(2026, 6, 1)
    assert content.bedragen["eigen_risico"].render(on) == "€ 385 per jaar (2026)"
    assert content.bedragen["bestuursrechtelijke_premie"].render(on) == "€ 172,70 per maand (2026)"
    assert content.bedragen["zorgtoeslag_inkomensgrens"].render(on) == "€ 40.857 per jaar (2026)"
    assert content.bedragen["id_bewijs_prijs"].render(on) == "ongeveer € 80 tot € 90 (2026)"
    assert content.bedragen["minimumloon_21"].render(on) == "€ 14,71 per uur (1 januari tot en met 30 juni 2026)"


def test_titles_are_short_imperatives(catalogue):
    for step in catalogue["steps"]:
        title = step["title"]
        assert title.strip() and len(title) <= 60, title
        assert title[0].isupper(), title
        assert title.split()[0].lower() not in NOT_A_VERB, title
        assert not title.endswith("."), title


def test_why_sentences_are_short(catalogue):
    for public in catalogue["steps"]:
        # An amount counts as one word, however its period reads ("€ 385 per jaar (2026)").
        step = public | public.get("template", {})
        step = json.loads(re.sub(r"\{[a-z0-9_]+\}", "€", json.dumps(step)))
        why = sentences(step["why"])
        assert 1 <= len(why) <= 3, step["id"]
        for sentence in why:
            assert len(sentence.split()) <= 15, (step["id"], sentence)
        assert len(step["how"]) <= 7, step["id"]
        for item in step["how"]:
            for sentence in sentences(item):
                assert len(sentence.split()) <= 15, (step["id"], sentence)


def test_reminder_ids_are_unique_per_step(content):
    for step in content.steps.values():
        ids = [r.id for r in step.reminders]
        assert len(ids) == len(set(ids)), step.id


def test_timing_follows_facts_table(content):
    """FACTS.md §9: the main triggers."""
    steps = content.steps
    assert [r.text for r in steps["zorgverzekering-kiezen"].due] == ["B-3m"]
    assert {r.rule.text for r in steps["zorgverzekering-controleren"].reminders} >= {"B+3m"}
    assert [r.text for r in steps["werk-nl-melden"].due] == ["V-6w"]
    verhuizing = steps["verhuizing-doorgeven"]
    assert [r.text for r in verhuizing.due] == ["V+3d"]
    assert verhuizing.window_earliest is not None and verhuizing.window_earliest.text == "V-4w"
    assert verhuizing.window_latest is not None and verhuizing.window_latest.text == "V+5d"
    assert [r.text for r in steps["woningzoekende-inschrijven"].due] == ["B"]
    assert steps["woningzoekende-verlengen"].recurring
    assert steps["belastingaangifte-doen"].due[0].month_day == (3, 1)
    assert steps["werk-nl-melden"].conditions.requires_vertrekdatum


def test_public_dict_is_json_and_versioned(content, catalogue):
    text = json.dumps(catalogue)
    assert json.loads(text) == catalogue
    assert re.fullmatch(r"[0-9a-f]{16}", catalogue["version"])
    assert content.public_dict()["version"] == catalogue["version"] == content.version
    # no internal objects leak out
    assert "Rule(" not in text
    assert {s["id"] for s in catalogue["steps"]} == set(content.steps)
    assert [s["id"] for s in catalogue["steps"]] == list(content.steps)
    for cl in catalogue["checklists"]:
        assert cl["steps"]


def test_version_changes_when_content_changes(tmp_path):
    directory = copy_content(tmp_path)
    before = load_content(directory).version
    path = directory / "bedragen.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("value = 385", "value = 386"), encoding="utf-8")
    from backend.checklists.content import clear_content_cache

    clear_content_cache()
    after = load_content(directory)
    assert after.version_on(date(2026, 6, 1)) != load_content().version_on(date(2026, 6, 1))
    assert after.bedragen["eigen_risico"].render(date(2026, 6, 1)) == "€ 386 per jaar (2026)"
    assert before != after.version
    clear_content_cache()


# --------------------------------------------------------------------------------------------- rules


@pytest.mark.parametrize(
    ("d", "months", "expected"),
    [
        (date(2026, 5, 31), -3, date(2026, 2, 28)),
        (date(2028, 5, 31), -3, date(2028, 2, 29)),
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),
        (date(2026, 1, 15), -24, date(2024, 1, 15)),
    ],
)
def test_add_months_clamps_to_month_end(d, months, expected):
    assert add_months(d, months) == expected


def test_leap_day_birthday_is_first_of_march():
    assert anniversary(date(2008, 2, 29), 18) == date(2026, 3, 1)
    assert anniversary(date(2008, 2, 29), 16) == date(2024, 2, 29)
    assert anniversary(date(2008, 5, 31), 18) == date(2026, 5, 31)


def test_parse_rule_examples():
    ctx = RuleContext(birthday_18=date(2026, 5, 31), birthday_16=date(2024, 5, 31), vertrekdatum=date(2026, 9, 1))
    assert parse_rule("B-3m").evaluate(ctx) == date(2026, 2, 28)
    assert parse_rule("V-6w").evaluate(ctx) == date(2026, 7, 21)
    assert parse_rule("V+3d").evaluate(ctx) == date(2026, 9, 4)
    assert parse_rule("A16").evaluate(ctx) == date(2024, 5, 31)
    assert parse_rule("B+1m-2d").evaluate(ctx) == date(2026, 6, 28)
    no_v = RuleContext(birthday_18=date(2026, 5, 31), birthday_16=date(2024, 5, 31))
    assert parse_rule("V-6w").evaluate(no_v) is None
    after = parse_rule("after:digid-aanvragen+3w")
    assert after.base == "after" and after.ref == "digid-aanvragen"
    assert after.evaluate(
        RuleContext(date(2026, 5, 31), date(2024, 5, 31), step_dates={"digid-aanvragen": date(2026, 1, 1)})
    ) == date(2026, 1, 22)
    yearly = parse_rule("yearly 03-01 from B")
    assert yearly.yearly and yearly.month_day == (3, 1)
    assert list(_take(yearly.occurrences(ctx), 2)) == [date(2027, 3, 1), date(2028, 3, 1)]
    assert yearly.next_occurrence(ctx, date(2027, 3, 2)) == date(2028, 3, 1)
    assert parse_rule("yearly 03-01").next_occurrence(ctx) == date(2025, 3, 1)  # default: from 16th birthday
    anniversaries = parse_rule("yearly B-6w")
    assert list(_take(anniversaries.occurrences(ctx), 2)) == [date(2027, 4, 19), date(2028, 4, 19)]


@pytest.mark.parametrize(
    "bad",
    ["B-3", "X+1m", "B+1y", "B -3m", "yearly 02-30", "yearly 13-01", "yearly 03-01 from yearly 01-01", "", "after:"],
)
def test_parse_rule_rejects_bad_syntax(bad):
    with pytest.raises(ValueError):
        parse_rule(bad)


def _take(iterator, n):
    for _ in range(n):
        yield next(iterator)


# --------------------------------------------------------------------------------------------- broken content

GOOD_STEP = """
[[step]]
id = "nieuwe-stap"
checklist = "toekomstplan"
title = "Doe iets nieuws"
why = "Dit is belangrijk."
how = ["Doe het."]
need = []
links = [{ title = "Voorbeeld", url = "https://www.rijksoverheid.nl" }]
who_can_help = "Je mentor."
topics = ["toekomstplan"]
due = ["B-1m"]
sources = ["https://www.rijksoverheid.nl/onderwerpen/jeugdhulp (voorbeeld)"]
peildatum = 2026-01-31
"""


def load_with_extra_step(tmp_path: Path, step_text: str):
    directory = copy_content(tmp_path)
    path = directory / "relaties.toml"
    path.write_text(path.read_text(encoding="utf-8") + step_text, encoding="utf-8")
    return load_content(directory)


def test_good_extra_step_loads(tmp_path):
    content = load_with_extra_step(tmp_path, GOOD_STEP)
    assert "nieuwe-stap" in content.steps


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('topics = ["toekomstplan"]', 'topics = ["bestaat-niet"]'), "unknown topic 'bestaat-niet'"),
        (('why = "Dit is belangrijk."', 'why = "Kost {geen_bedrag}."'), "unknown bedrag {geen_bedrag}"),
        (('due = ["B-1m"]', 'due = ["B-1 maand"]'), "cannot read rule"),
        (('due = ["B-1m"]', 'due = ["after:bestaat-niet+1w"]'), "unknown step 'bestaat-niet'"),
        (('due = ["B-1m"]', 'due = ["due+1w"]'), "cannot refer to 'due'"),
        (('id = "nieuwe-stap"', 'id = "stemmen"'), "duplicate step id"),
        (('id = "nieuwe-stap"', 'id = "Nieuwe Stap"'), "bad step id"),
        (('who_can_help = "Je mentor."\n', ""), "missing required fields ['who_can_help']"),
        (("https://www.rijksoverheid.nl", "http://www.rijksoverheid.nl"), "must be an https:// address"),
        (('checklist = "toekomstplan"', 'checklist = "bestaat-niet"'), "checklist 'bestaat-niet'"),
        (('title = "Doe iets nieuws"', 'title = "' + "Doe " * 20 + '"'), "longer than 60"),
        (("peildatum = 2026-01-31", 'peildatum = "gisteren"'), "peildatum must be a TOML date"),
        (("need = []", 'need = []\nconditions = { situations = ["ergens"] }'), "conditions.situations"),
        (("need = []", "need = []\nextra = 1"), "unknown fields ['extra']"),
        (
            ("need = []", 'need = []\nreminders = [{ id = "a", rule = "B" }, { id = "a", rule = "V" }]'),
            "duplicate reminder id 'a'",
        ),
        (('due = ["B-1m"]', 'due = ["yearly 03-01", "B"]'), "exactly one due rule"),
        (("need = []", 'need = []\ndepends_on = ["nieuwe-stap"]'), "depends_on has unknown step"),
        (('sources = ["https', 'sources = ["FACTS.md §8", "https'), "must be an https:// page"),
        (('why = "Dit is belangrijk."', 'why = "Dit is belangrijk [U]."'), "internal note '[U]'"),
        (('how = ["Doe het."]', 'how = ["Zie FACTS.md."]'), "internal note 'FACTS'"),
        (("need = []", 'need = []\nconditions = { requires_done = ["bestaat-niet"] }'), "requires_done has unknown"),
        (("need = []", 'need = []\noverdue = { every_days = 0, times = 4 }'), "overdue must be"),
        (("need = []", 'need = []\ngemeente = "ergens"'), "gemeente must be 'current' or 'future'"),
        (
            ("need = []", 'need = []\nconditions = { also_without_vertrekdatum = ["zelfstandig"] }'),
            "only means something with requires_vertrekdatum",
        ),
    ],
)
def test_broken_step_gives_clear_error(tmp_path, change, message):
    old, new = change
    assert old in GOOD_STEP
    with pytest.raises(ContentError) as info:
        load_with_extra_step(tmp_path, GOOD_STEP.replace(old, new, 1))
    text = str(info.value)
    assert message in text, text
    assert "relaties.toml" in text
    assert "nieuwe-stap" in text or "stemmen" in text or "Nieuwe Stap" in text


def test_cycle_in_after_rules_is_reported(tmp_path):
    a = GOOD_STEP.replace('due = ["B-1m"]', 'due = ["after:stap-b+1w"]')
    b = GOOD_STEP.replace('id = "nieuwe-stap"', 'id = "stap-b"').replace(
        'due = ["B-1m"]', 'due = ["after:nieuwe-stap"]'
    )
    with pytest.raises(ContentError, match="cycle"):
        load_with_extra_step(tmp_path, a + b)


def test_invalid_toml_names_the_file(tmp_path):
    directory = copy_content(tmp_path)
    (directory / "wonen.toml").write_text("leefgebied = \n", encoding="utf-8")
    with pytest.raises(ContentError, match=r"wonen\.toml: not valid TOML"):
        load_content(directory)


def test_unknown_leefgebied_and_bad_bedrag(tmp_path):
    directory = copy_content(tmp_path)
    (directory / "sport.toml").write_text('leefgebied = "sport"\n', encoding="utf-8")
    path = directory / "bedragen.toml"
    path.write_text(path.read_text(encoding="utf-8") + '\n[zonder_jaar]\nlabel = "x"\nvalue = 1\n', encoding="utf-8")
    with pytest.raises(ContentError) as info:
        load_content(directory)
    text = str(info.value)
    assert "sport.toml: unknown or missing leefgebied 'sport'" in text
    assert "bedragen.toml: bedrag 'zonder_jaar': unknown fields ['value']" in text
    assert "bedragen.toml: bedrag 'zonder_jaar': needs at least one [[zonder_jaar.period]]" in text


def test_missing_directory(tmp_path):
    with pytest.raises(ContentError, match="not found"):
        load_content(tmp_path / "nergens")

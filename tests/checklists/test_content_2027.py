"""Issue 12: content for 2027 and for every jongere leaving care.

Amounts by date (with periods, refused when they overlap, leave a gap or lack a source), freshness relative to
today (so next year's content does not break the suite, but stale content cannot ship), no internal notes in
what people read, the B1 figures, enough steps per leefgebied, and plans that know who you are.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest
import textstat

from backend.checklists.bedragen import period_label
from backend.checklists.content import CONTENT_DIR, ContentError, add_months, clear_content_cache, load_content
from backend.checklists.plan import Profile, compute_plan, reminder_moments
from backend.clock import today_nl

# The persona of the issue: born 11 March 2009, leaves an instelling on 30 April 2027.
PERSONA = Profile(date(2009, 3, 11), "GM0363", date(2027, 4, 30), "instelling")
ON = date(2026, 12, 1)
FRESH_MONTHS = 13
SENTENCE_MAX = 15
FLESCH_DOUMA_MIN = 80
NEW_STEPS = {
    "steunfiguur-kiezen",
    "nazorg-afspreken",
    "zorg-na-18-overdracht",
    "schulden-checken",
    "geen-woonplek-plan-b",
    "vaste-lasten-eerste-huis",
    "inboedelverzekering-regelen",
    "wmo-clientondersteuning",
    "werk-met-ondersteuning",
    "jongerenloket-bezoeken",
    "mbo-aanmelden",
    "werk-zoeken",
    "toeslagen-wijzigen",
    "papieren-bewaren",
    "verblijfsvergunning-checken",
    "veilig-blijven",
    "talenten-en-vrije-tijd",
    "hulp-als-het-vastloopt",
    "huurcontract-tekenen",
    "big-5-checken",
}


def copy_content(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, target)
    clear_content_cache()
    return target


def prose(catalogue) -> list[str]:
    """Every text a jongere reads as sentences: step texts, checklist intros, glossary."""
    texts: list[str] = []
    for public in catalogue["steps"]:
        # An amount counts as one word, however its period reads ("€ 385 per jaar (2026)").
        step = {k: v for k, v in public.items()} | public.get("template", {})
        step = json.loads(re.sub(r"\{[a-z0-9_]+\}", "€", json.dumps(step)))
        texts += [step["why"], *step["how"], *step["need"], step["who_can_help"]]
        if step["cost"]:
            texts.append(step["cost"])
    texts += [cl["intro"] for cl in catalogue["checklists"] if cl["intro"]]
    texts += [g["text"] for g in catalogue["glossary"]]
    return texts


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.?!:])\s+", text.strip()) if s]


def words(sentence: str) -> list[str]:
    return sentence.split()


# --------------------------------------------------------------------------------------------- counts


def test_at_least_55_steps_and_5_per_leefgebied(content, catalogue):
    counts = {lg: sum(1 for s in content.steps.values() if s.leefgebied == lg) for lg in content.leefgebieden}
    assert len(catalogue["steps"]) >= 55, counts
    assert all(n >= 5 for n in counts.values()), counts
    assert NEW_STEPS <= set(content.steps), NEW_STEPS - set(content.steps)


def test_no_step_has_more_than_seven_how_lines(content):
    assert [s.id for s in content.steps.values() if len(s.how) > 7] == []


# --------------------------------------------------------------------------------------------- words


INTERNAL = re.compile(r"FACTS|\[[UYOS]\]|§|\bseeds?\b|\(kennis|niet apart gecontroleerd|TODO", re.IGNORECASE)


def test_no_internal_marker_in_anything_people_read(catalogue):
    """The whole catalogue (texts, links, sources, bedragen, glossary) is what the app shows."""

    def walk(value, path="") -> list[str]:
        if isinstance(value, str):
            return [f"{path}: {value}"] if INTERNAL.search(value) else []
        if isinstance(value, dict):
            return [hit for k, v in value.items() for hit in walk(v, f"{path}.{k}")]
        if isinstance(value, list):
            return [hit for i, v in enumerate(value) for hit in walk(v, f"{path}[{i}]")]
        return []

    assert walk(catalogue) == []


def test_every_source_is_a_page_a_person_can_open(catalogue):
    for step in catalogue["steps"]:
        assert step["sources"], step["id"]
        for source in step["sources"]:
            assert re.match(r"^https://[^\s/]+\.[a-z]{2,}(/\S*)?( \([^()]+\))?$", source), (step["id"], source)
    for bedrag in catalogue["bedragen"]:
        for period in bedrag["periods"]:
            assert period["source"].startswith("https://"), bedrag["key"]


def test_every_sentence_has_at_most_15_words(catalogue):
    long = [s for text in prose(catalogue) for s in sentences(text) if len(words(s)) > SENTENCE_MAX]
    assert long == [], "\n".join(long)


def test_flesch_douma_of_all_prose_is_at_least_80(catalogue):
    textstat.set_lang("nl")
    score = textstat.flesch_reading_ease(" ".join(prose(catalogue)))
    print(f"Flesch-Douma over all prose: {score:.1f}")
    assert score >= FLESCH_DOUMA_MIN


def test_texts_say_je_not_u(catalogue):
    for text in prose(catalogue):
        assert not re.search(r"\b(u|uw)\b", text), text


def test_glossary_explains_the_jargon_that_stays(content, catalogue):
    terms = {g.term for g in content.glossary}
    required = {"Wmo", "eigen risico", "kale huur", "indicatie", "BKR", "verzekeringnemer"}
    required |= {"loonheffingskorting", "CAK", "polis", "premie"}
    assert required <= terms
    for entry in catalogue["glossary"]:
        assert entry["forms"] and all(len(words(s)) <= SENTENCE_MAX for s in sentences(entry["text"])), entry
    # The jargon is explained where it is used: every term appears in some step text.
    everything = " ".join(prose(catalogue)).lower()
    unused = [g.term for g in content.glossary if not any(f.lower() in everything for f in g.forms)]
    assert unused == []


# --------------------------------------------------------------------------------------------- freshness


def test_no_fact_is_older_than_13_months():
    """Content must be checked again within 13 months: stale facts fail CI instead of shipping unnoticed.
    Relative to today, so adding next year's content never breaks this test."""
    content = load_content()
    oldest = add_months(today_nl(), -FRESH_MONTHS)
    stale = [s.id for s in content.steps.values() if s.peildatum < oldest]
    stale += [k for k, b in content.bedragen.items() if b.period_on(today_nl()).peildatum < oldest]
    assert stale == [], f"check these again and update their peildatum: {stale}"
    future = [s.id for s in content.steps.values() if s.peildatum > today_nl()]
    assert future == []


# --------------------------------------------------------------------------------------------- amounts


def test_amount_is_the_one_valid_on_the_date_and_says_when_unknown(content):
    eigen = content.bedragen["eigen_risico"]
    assert eigen.render(date(2026, 3, 1)) == "€ 385 per jaar (2026)"
    later = eigen.render(date(2027, 3, 1))
    assert later.startswith("€ 385 per jaar (bedrag van 2026; kijk op ")
    assert "voor het nieuwe bedrag" in later
    # The minimumloon changes twice a year: its period is shown, not just a year.
    assert content.bedragen["minimumloon_18"].render(date(2025, 9, 1)) == (
        "€ 7,20 per uur (1 juli tot en met 31 december 2025)"
    )
    assert period_label(date(2026, 1, 1), date(2026, 12, 31)) == "2026"


def test_catalogue_amounts_carry_their_validity(catalogue):
    for bedrag in catalogue["bedragen"]:
        assert bedrag["periods"], bedrag["key"]
        for period in bedrag["periods"]:
            assert date.fromisoformat(period["from"]) <= date.fromisoformat(period["until"])
            assert period["peildatum"] and period["text"].startswith(("€", "ongeveer €"))
    steps = {s["id"]: s for s in catalogue["steps"]}
    assert "{eigen_risico}" in json.dumps(steps["eigen-risico-sparen"]["template"])


def add_period(directory: Path, key: str, block: str) -> None:
    path = directory / "bedragen.toml"
    text = path.read_text(encoding="utf-8")
    anchor = f"[{key}]\n"
    assert anchor in text
    path.write_text(text + f"\n[[{key}.period]]\n{block}\n", encoding="utf-8")


EIGEN_RISICO_2027 = """from = 2027-01-01
until = 2027-12-31
value = 460
source = "https://www.rijksoverheid.nl/onderwerpen/zorgverzekering (voorbeeld)"
peildatum = 2026-12-01"""


def test_adding_the_2027_amount_changes_the_plan_and_breaks_nothing(tmp_path):
    directory = copy_content(tmp_path)
    add_period(directory, "eigen_risico", EIGEN_RISICO_2027)
    content = load_content(directory)
    try:
        plan = compute_plan(PERSONA, content, ON)
        item = plan.item("eigen-risico-sparen")
        assert item is not None and item.due_date.year == 2027
        assert item.amounts["eigen_risico"] == "€ 460 per jaar (2027)"
        # A step due in 2026 still shows the 2026 amount.
        assert content.bedragen["eigen_risico"].render(date(2026, 12, 31)) == "€ 385 per jaar (2026)"
        # From 1 January the catalogue shows the 2027 amount and its version changes.
        assert content.public_dict(date(2027, 1, 2))["bedragen"][0]["text"] == "€ 460 per jaar (2027)"
        assert content.version_on(date(2027, 1, 2)) != content.version_on(date(2026, 12, 31))
    finally:
        clear_content_cache()


@pytest.mark.parametrize(
    ("block", "message"),
    [
        (EIGEN_RISICO_2027.replace("2027-01-01", "2026-12-01"), "periods overlap"),
        (EIGEN_RISICO_2027.replace("2027-01-01", "2027-02-01"), "a period is missing between 2026-12-31 and 2027-02"),
        ("\n".join(x for x in EIGEN_RISICO_2027.split("\n") if not x.startswith("source")), "needs a source"),
        (EIGEN_RISICO_2027.replace("https://", "http://"), "must be an https:// address"),
        (EIGEN_RISICO_2027.replace("until = 2027-12-31", "until = 2026-12-31"), "until is before from"),
        (EIGEN_RISICO_2027.replace("value = 460", ""), "needs either value, or both min and max"),
    ],
)
def test_loader_refuses_bad_periods(tmp_path, block, message):
    directory = copy_content(tmp_path)
    add_period(directory, "eigen_risico", block)
    with pytest.raises(ContentError) as info:
        load_content(directory)
    clear_content_cache()
    assert message in str(info.value)
    assert "bedragen.toml: bedrag 'eigen_risico'" in str(info.value)


# --------------------------------------------------------------------------------------------- the persona


@pytest.fixture(scope="module")
def persona_plan(content):
    return compute_plan(PERSONA, content, ON)


def test_persona_gets_the_new_steps_with_sensible_dates(persona_plan):
    due = {i.step_id: i.due_date for i in persona_plan.items}
    v, b = PERSONA.vertrekdatum, PERSONA.birthday_18
    assert v is not None
    for step_id in ("steunfiguur-kiezen", "nazorg-afspreken", "geen-woonplek-plan-b", "zorg-na-18-overdracht"):
        assert step_id in due, step_id
        assert due[step_id] < v, (step_id, due[step_id])
    assert due["huisarts-inschrijven"] < v  # about 4 weeks before leaving, not after moving
    assert due["gemeentepolis-checken"] <= b  # the own policy at 18 is the one mid-year chance
    assert due["big-5-checken"] == v - timedelta(weeks=4)
    assert due["verlengde-jeugdhulp-regelen"] < b  # staying on after 18 must be decided before the 18th
    assert "verblijfsvergunning-checken" not in due  # only for ex-AMV


def test_no_huurtoeslag_without_a_contract(content, persona_plan):
    assert persona_plan.item("huurtoeslag-aanvragen") is None
    assert persona_plan.item("huurcontract-tekenen") is not None
    contract = "huurcontract-tekenen"
    signed = compute_plan(PERSONA, content, ON, {contract: "done"}, completed_on={contract: ON})
    item = signed.item("huurtoeslag-aanvragen")
    assert item is not None and item.due_date >= ON


def test_someone_living_on_their_own_sees_the_steps_of_a_home(content):
    on_own = Profile(date(2006, 5, 1), "GM0363", None, "zelfstandig")
    plan = compute_plan(on_own, content, ON)
    ids = {i.step_id for i in plan.items}
    assert {"huurtoeslag-aanvragen", "gemeentepolis-checken", "huisarts-inschrijven", "bijstand-aanvragen"} <= ids
    at_home = compute_plan(Profile(date(2006, 5, 1), "GM0363", None, "thuis"), content, ON)
    assert "huurtoeslag-aanvragen" not in {i.step_id for i in at_home.items}


def test_ex_amv_gets_the_verblijfsvergunning_step(content):
    plan = compute_plan(Profile(date(2009, 3, 11), "GM0363", date(2027, 4, 30), "amv"), content, ON)
    assert plan.item("verblijfsvergunning-checken") is not None


def test_gezinshuis_is_treated_as_foster_care(content):
    plan = compute_plan(Profile(date(2009, 3, 11), "GM0363", date(2030, 3, 11), "gezinshuis"), content, ON)
    assert plan.item("pleegzorg-na-18-bespreken") is not None


def test_stemmen_is_timed_to_the_first_election_you_may_vote_in(content):
    # 18 before 17 March 2027: the Provinciale Staten election; born later: no known election, the birthday.
    plan = compute_plan(PERSONA, content, ON)
    item = plan.item("stemmen")
    assert item is not None and PERSONA.birthday_18 - timedelta(weeks=8) <= item.due_date < date(2027, 3, 17)
    younger = Profile(date(2010, 1, 1), "GM0363", None, "thuis")
    later = compute_plan(younger, content, ON).item("stemmen")
    assert later is not None and later.due_date.year >= 2027


def test_overdue_steps_keep_reminders(content):
    """A critical step whose date passed gets a reminder every 14 days, at most four times."""
    critical = [s for s in content.steps.values() if s.overdue is not None]
    assert critical, "the critical steps (zorgverzekering, ID, bijstand, ...) carry an overdue rule"
    step = critical[0]
    plan = compute_plan(PERSONA, content, ON)
    item = plan.item(step.id)
    assert item is not None
    assert step.overdue is not None
    every = step.overdue.every_days

    def late(on: date, progress: dict[str, str] | None = None) -> list:
        moments = reminder_moments(PERSONA, content, progress or {}, on)
        return [m for m in moments if m.step_id == step.id and m.rule_id.startswith("te-laat-")]

    # The day after the due date: the first one, `every` days after it.
    first = late(item.due_date + timedelta(days=1))
    assert [(m.rule_id, m.due) for m in first] == [("te-laat-1", item.due_date + timedelta(days=every))]
    # Starting a year late still gives the next day on the grid (the service caps how many are sent).
    year_late = late(item.due_date + timedelta(days=365))
    assert len(year_late) == 1 and 0 < (year_late[0].due - (item.due_date + timedelta(days=365))).days <= every
    assert late(item.due_date + timedelta(days=1), {step.id: "done"}) == []


def test_future_gemeente_steps_are_marked(content):
    future = {s.id for s in content.steps.values() if s.gemeente == "future"}
    assert {"bijstand-aanvragen", "adres-na-vertrek-regelen", "huurtoeslag-aanvragen", "verhuizing-doorgeven"} <= future
    moved = Profile(date(2009, 3, 11), "GM0363", date(2027, 4, 30), "instelling", "GM0599")
    assert moved.woon_gemeente_code == "GM0599"
    assert PERSONA.woon_gemeente_code == "GM0363"


def test_readiness_shows_the_big_5_and_the_next_step(content):
    plan = compute_plan(PERSONA, content, ON)
    assert plan.readiness is not None and not plan.readiness.ready
    areas = {a.id: a for a in plan.readiness.areas}
    assert set(areas) == {"wonen", "inkomen", "gezondheid", "school-werk", "steun"}
    assert all(a.next is not None for a in areas.values())
    done = {i.step_id: "done" for i in plan.items}
    ready = compute_plan(PERSONA, content, ON, done)
    assert ready.readiness is not None and ready.readiness.ready
    assert all(a.next is None for a in ready.readiness.areas)


def test_staying_after_18_must_be_decided_before_the_18th(content):
    """V after B: staying on is verlengde jeugdhulp, decided before the 18th birthday."""
    item = compute_plan(PERSONA, content, ON).item("verblijf-na-18-vastleggen")
    assert item is not None and item.due_date < PERSONA.birthday_18
    early = Profile(date(2009, 3, 11), "GM0363", date(2027, 1, 31), "instelling")
    assert compute_plan(early, content, ON).item("verblijf-na-18-vastleggen") is None


def test_plan_names_the_woonsite_of_the_gemeente_where_you_will_live():
    from backend.checklists.service import with_woonsite

    content = load_content()
    amsterdam = with_woonsite(compute_plan(PERSONA, content, ON), PERSONA)
    assert amsterdam.woonsite is not None and amsterdam.woonsite["url"].startswith("https://")
    assert amsterdam.to_dict()["woonsite"]["name"] == amsterdam.woonsite["name"]
    # Moving to a gemeente whose woonsite no page names: the plan says it is not known (the app then sends
    # the jongere to the site of her gemeente).
    moving = Profile(date(2009, 3, 11), "GM0363", date(2027, 4, 30), "instelling", "GM0014")
    assert with_woonsite(compute_plan(moving, content, ON), moving).woonsite is None


def test_no_overdue_nagging_for_leaving_care_steps_without_a_vertrekdatum(content):
    """Someone on her own sees bijstand and huurtoeslag from her 18th birthday, without te-laat reminders."""
    on_own = Profile(date(2006, 5, 1), "GM0363", None, "zelfstandig")
    moments = reminder_moments(on_own, content, {}, ON)
    late = {m.step_id for m in moments if m.rule_id.startswith("te-laat-")}
    assert not late & {s.id for s in content.steps.values() if s.conditions.requires_vertrekdatum}

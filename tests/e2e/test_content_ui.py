"""The new content on the screens, in a real browser against the real API: a step's sources as links, glossary
words that open their explanation (by keyboard too), the amount that applies on the step's date, the situations
from the server, 'Waar ga je wonen na je vertrek?' in onboarding and on Ik, and the local help of a step about
the gemeente where you will live.

Every changed screen is checked with axe-core at 390 and 320 px (some at 200 % text) and must not scroll
sideways. Set STARTKLAAR_SCREENSHOTS=/some/dir to keep a screenshot of each checked state.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from playwright.sync_api import Page, Route, expect

from tests.e2e.test_kaart_screens import load_examples
from tests.e2e.test_plan_flow import READ_DEVICE, check, h1
from tests.e2e.test_readiness import PUT_PROFILE, shot

TODAY = dt.datetime.now(ZoneInfo("Europe/Amsterdam")).date()  # the app's day (browser and server)
# The persona of issue 12: born 11 March 2009, leaving an instelling on 30 April 2027.
PERSONA = {
    "birth_date": "2009-03-11",
    "gemeente_code": "GM0518",
    "vertrekdatum": "2027-04-30",
    "situation": "instelling",
}
TEXTS = ("why", "how", "need", "cost", "who_can_help")
INTERNAL = re.compile(r"FACTS|\[[UY]\]|\bseed\b|§")


def content(page: Page) -> dict[str, Any]:
    res = page.request.get("/api/content")
    assert res.ok
    return dict(res.json())


def plan(page: Page, profile: dict[str, Any]) -> dict[str, Any]:
    res = page.request.post("/api/plan", data={"profile": profile, "progress": {}})
    assert res.ok, res.text()
    return dict(res.json())


def device_profile(page: Page, profile: dict[str, Any], **names: str) -> None:
    """Answers given on this phone (as onboarding leaves them in the device store)."""
    page.goto("/")
    expect(h1(page)).to_have_text("Welkom bij Startklaar")
    page.evaluate(
        PUT_PROFILE,
        {**profile, "gemeente_naam": "Den Haag", **names, "updated_at": dt.datetime.now(dt.UTC).isoformat()},
    )


def shown_texts(step: dict[str, Any], amount: dict[str, str]) -> list[str]:
    """The step's texts as the step page shows them: the template filled with the item's amounts, if any."""
    source = step.get("template") or step
    out: list[str] = []
    for key in TEXTS:
        value = source.get(key)
        for text in value if isinstance(value, list) else [value] if value else []:
            out.append(re.sub(r"\{(\w+)\}", lambda m: amount[m.group(1)], text))
    return out


def first_term(texts: list[str], glossary: list[dict[str, Any]]) -> tuple[str, dict[str, Any]] | None:
    """The first glossary word in these texts (whole word, any case, the longest form at a place)."""
    forms = sorted(((f, g) for g in glossary for f in {g["term"], *g.get("forms", [])}), key=lambda fg: -len(fg[0]))
    for text in texts:
        best = None
        for form, g in forms:
            m = re.search(rf"(?<![^\W_]){re.escape(form)}(?![^\W_])", text, re.IGNORECASE)
            if m and (best is None or m.start() < best[0]):
                best = (m.start(), m.group(0), g)
        if best:
            return best[1], best[2]
    return None


def test_step_page_sources_glossary_and_the_amount_on_its_date(page: Page) -> None:
    data = content(page)
    today_text = {b["key"]: b["text"] for b in data["bedragen"]}
    assert all(b.get("periods") for b in data["bedragen"]), "every amount carries its periods"
    steps = {s["id"]: s for s in data["steps"]}
    items = plan(page, PERSONA)["items"]

    # A step whose amount on its due date is not today's (next year's amount, or the hedged "kijk op" text).
    dated = [
        i
        for i in items
        if steps[i["step_id"]].get("template") and any(today_text[k] != v for k, v in i.get("amounts", {}).items())
    ]
    assert dated, "a step of this persona falls in a year with another amount"
    item = dated[0]
    step = steps[item["step_id"]]
    amount = {**today_text, **item["amounts"]}
    key = next(k for k, v in item["amounts"].items() if v != today_text[k])
    label = next(b["label"] for b in data["bedragen"] if b["key"] == key)

    device_profile(page, PERSONA)
    page.goto("/stappen/" + step["id"])
    expect(h1(page)).to_have_text(re.sub(r"\{(\w+)\}", lambda m: amount[m.group(1)], step["template"]["title"]))
    cost = page.locator("section[aria-labelledby=s-cost]")
    # The amount of the due date, once: in the cost text when that names it, else in the list under it.
    in_text = "{" + key + "}" in (step["template"].get("cost") or "")
    expect(cost).to_contain_text(item["amounts"][key] if in_text else f"{label}: {item['amounts'][key]}")
    expect(cost).not_to_contain_text(f"{label}: {today_text[key]}")
    if in_text:
        expect(cost).not_to_contain_text(f"{label}: {item['amounts'][key]}")
    main_text = page.locator("main").inner_text()
    for text in shown_texts(step, amount):  # every template text, filled with the amounts on the due date
        assert text in main_text, text
    assert "{" not in main_text and not INTERNAL.search(main_text)
    check(page, "stap met bedrag op de datum")
    shot(page, "stap met bedrag op de datum")

    # Bron: every source as a link you can open (host and path, shortened), in a new tab.
    sourced = next(s for s in data["steps"] if len(s["sources"]) >= 2 and any(i["step_id"] == s["id"] for i in items))
    page.goto("/stappen/" + sourced["id"])
    links = page.locator("footer.source ul a")
    expect(links).to_have_count(len(sourced["sources"]))
    for n, src in enumerate(sourced["sources"]):
        url, _, note = src.partition(" ")
        parts = urlsplit(url)
        host = parts.netloc.removeprefix("www.")
        link = links.nth(n)
        expect(link).to_have_attribute("href", url)
        expect(link).to_have_attribute("target", "_blank")
        expect(link).to_have_attribute("rel", re.compile("noopener"))
        expect(link).to_have_accessible_name(re.compile("^" + re.escape(host)))
        expect(link).to_contain_text("opent in een nieuw tabblad")
        segments = [p for p in parts.path.split("/") if p]
        if len(segments) > 1:
            expect(link).to_contain_text(f"{host}/{segments[0]}/…")
        if note:
            expect(link).to_contain_text(note.strip())
    expect(page.locator("footer.source")).not_to_contain_text("FACTS")
    check(page, "stap met bronnen")


def test_glossary_word_opens_its_explanation_by_keyboard(page: Page) -> None:
    data = content(page)
    assert data["glossary"], "the content has a glossary"
    items = plan(page, PERSONA)["items"]
    in_plan = {i["step_id"]: i for i in items}
    today_text = {b["key"]: b["text"] for b in data["bedragen"]}
    found = None
    for step in data["steps"]:
        if step["id"] in in_plan:
            amount = {**today_text, **in_plan[step["id"]].get("amounts", {})}
            hit = first_term(shown_texts(step, amount), data["glossary"])
            if hit:
                found = step, hit
                break
    assert found, "a step of this persona uses a glossary word"
    step, (word, entry) = found

    device_profile(page, PERSONA)
    page.goto("/stappen/" + step["id"])
    expect(h1(page)).to_be_visible()
    term = page.locator("main button.term").first
    expect(term).to_have_text(word)
    expect(term).to_have_attribute("aria-expanded", "false")
    explanation = page.locator("#" + term.get_attribute("aria-controls"))
    expect(explanation).to_be_hidden()
    expect(page.get_by_text("Tik erop voor uitleg.")).to_be_visible()
    # Once per page: the first use of a word is tappable, later ones are plain text.
    entry_of = {f.lower(): g["term"] for g in data["glossary"] for f in {g["term"], *g["forms"]}}
    shown = [entry_of[t.lower()] for t in page.locator("main button.term").all_inner_texts()]
    assert len(shown) == len(set(shown)), shown

    # By keyboard: Tab to the word, Enter opens, Space closes; focus stays on the word.
    h1(page).focus()
    for _ in range(40):
        page.keyboard.press("Tab")
        if term.evaluate("el => el === document.activeElement"):
            break
    expect(term).to_be_focused()
    page.keyboard.press("Enter")
    expect(term).to_have_attribute("aria-expanded", "true")
    expect(explanation).to_be_visible()
    expect(explanation).to_have_text(f"{word}: {entry['text']}")
    expect(term).to_be_focused()
    # The sentence stays whole: its explanation comes after it, not inside it.
    sentence = term.locator("xpath=ancestor::*[self::p or self::li][1]")
    own_text = "el => [...el.childNodes].filter(n => !n.classList?.contains('gloss')).map(n => n.textContent)"
    assert entry["text"] not in "".join(sentence.evaluate(own_text))
    check(page, "stap met uitleg open", large_text=True)
    shot(page, "stap met uitleg open")
    page.keyboard.press("Space")
    expect(term).to_have_attribute("aria-expanded", "false")
    expect(explanation).to_be_hidden()
    check(page, "stap met uitleg dicht")


def onboard_until_wonen(page: Page) -> None:
    page.goto("/")
    page.get_by_role("link", name="Begin").click()
    page.get_by_label("Je geboortedatum").fill(PERSONA["birth_date"])
    page.get_by_role("button", name="Volgende").click()
    search = page.get_by_label("Zoek je gemeente")
    search.fill("haag")
    search.press("Enter")
    page.get_by_role("radio", name="Den Haag").check()
    page.get_by_role("button", name="Volgende").click()
    expect(h1(page)).to_have_text("Waar woon je nu?")


def test_onboarding_asks_where_you_will_live(page: Page) -> None:
    situations = content(page)["situations"]
    assert [s["id"] for s in situations] == [
        "instelling",
        "pleeggezin",
        "gezinshuis",
        "begeleid-wonen",
        "amv",
        "thuis",
        "zelfstandig",
    ]
    onboard_until_wonen(page)
    radios = page.get_by_role("group", name="Kies wat het beste past").get_by_role("radio")
    expect(radios).to_have_count(len(situations))
    for n, s in enumerate(situations):  # the server's words, in its order
        expect(radios.nth(n)).to_have_accessible_name(s["label"])
    label = {s["id"]: s["label"] for s in situations}

    # Only with a vertrekdatum (or living on your own) a 4th question comes.
    page.get_by_role("radio", name=label["thuis"], exact=True).check()
    page.get_by_label("Ik weet het nog niet").check()
    expect(page.get_by_role("button", name="Maak mijn plan")).to_be_visible()
    page.get_by_role("radio", name=label["zelfstandig"], exact=True).check()
    expect(page.get_by_role("button", name="Volgende")).to_be_visible()
    page.get_by_role("radio", name=label["instelling"], exact=True).check()
    page.get_by_label("Ik weet het nog niet").uncheck()
    page.get_by_label("Wanneer ga je daar weg?").fill(PERSONA["vertrekdatum"])
    check(page, "onboarding wonen met situaties van de server")
    page.get_by_role("button", name="Volgende").click()

    expect(h1(page)).to_have_text("Waar ga je wonen na je vertrek?")
    expect(h1(page)).to_be_focused()
    expect(page.locator(".step-count")).to_have_text("Nog één vraag")
    expect(page.get_by_role("radio", name="Weet ik nog niet")).to_be_checked()
    expect(page.get_by_role("radio", name="In dezelfde gemeente (Den Haag)")).not_to_be_checked()
    check(page, "onboarding na vertrek", large_text=True)
    shot(page, "onboarding na vertrek")
    search = page.get_by_label("Zoek de gemeente")
    search.fill("amsterdam")
    search.press("Enter")
    expect(page.get_by_role("status").filter(has_text="1 gemeente gevonden")).to_be_visible()
    page.keyboard.press("Tab")  # the Zoek button
    page.keyboard.press("Tab")  # the gemeente found
    expect(page.get_by_role("radio", name="Amsterdam")).to_be_focused()
    page.keyboard.press("Space")
    expect(page.get_by_role("radio", name="Amsterdam")).to_be_checked()
    expect(page.get_by_role("radio", name="Weet ik nog niet")).not_to_be_checked()
    check(page, "onboarding na vertrek gekozen")
    shot(page, "onboarding na vertrek gekozen")
    with page.expect_request(lambda r: r.url.endswith("/api/plan") and r.method == "POST") as sent:
        page.get_by_role("button", name="Maak mijn plan").click()
    assert sent.value.post_data_json["profile"]["future_gemeente_code"] == "GM0363"
    expect(h1(page)).to_have_text("Vandaag")
    me = page.evaluate(READ_DEVICE)["profile"]["me"]
    assert (me["future_gemeente_code"], me["future_gemeente_naam"]) == ("GM0363", "Amsterdam")

    # Ik shows it and changes it with the same question.
    page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Ik").click()
    row = page.locator(".fact").filter(has_text="Waar je gaat wonen")
    expect(row).to_contain_text("Amsterdam")
    expect(page.locator(".fact").filter(has_text="Waar je woont")).to_contain_text(label["instelling"])
    check(page, "ik met toekomstige gemeente")
    shot(page, "ik met toekomstige gemeente")
    page.get_by_role("link", name="Wijzig waar je gaat wonen").click()
    expect(h1(page)).to_have_text("Waar ga je wonen na je vertrek?")
    expect(page.get_by_role("radio", name="Amsterdam")).to_be_checked()
    page.get_by_role("radio", name="In dezelfde gemeente (Den Haag)").check()
    check(page, "ik na vertrek wijzigen")
    page.get_by_role("button", name="Opslaan").click()
    expect(page.get_by_role("status").filter(has_text="Je gegevens zijn opgeslagen.")).to_be_visible()
    expect(row).to_contain_text("In dezelfde gemeente")
    assert page.evaluate(READ_DEVICE)["profile"]["me"]["future_gemeente_code"] is None

    # No vertrekdatum and not on your own: the question (and the row) goes.
    page.get_by_role("link", name="Wijzig waar je woont").click()
    page.get_by_role("radio", name=label["pleeggezin"], exact=True).check()
    page.get_by_label("Ik weet het nog niet").check()
    page.get_by_role("button", name="Opslaan").click()
    expect(page.locator(".fact").filter(has_text="Waar je woont")).to_contain_text(label["pleeggezin"])
    expect(page.locator(".fact").filter(has_text="Waar je gaat wonen")).to_have_count(0)


def test_future_gemeente_error_from_the_server_shows_at_the_field(page: Page) -> None:
    """A gemeente the server does not know (an old list on the phone): its Dutch message, at the question."""

    def old_list(route: Route) -> None:
        route.fulfill(json=[{"code": "GM9999", "naam": "Nergensdorp", "weergavenaam": "Nergensdorp"}])

    onboard_until_wonen(page)
    page.get_by_role("radio").first.check()
    page.get_by_label("Wanneer ga je daar weg?").fill(PERSONA["vertrekdatum"])
    page.get_by_role("button", name="Volgende").click()
    page.context.route("**/api/gemeenten?*", old_list)
    search = page.get_by_label("Zoek de gemeente")
    search.fill("nergens")
    search.press("Enter")
    page.get_by_role("radio", name="Nergensdorp").check()
    page.get_by_role("button", name="Maak mijn plan").click()
    error = page.locator('[data-field="future_gemeente_code"] .field-error')
    expect(error).not_to_be_empty()
    expect(search).to_have_attribute("aria-invalid", "true")
    expect(search).to_have_accessible_description(re.compile(re.escape(error.inner_text())))
    expect(h1(page)).to_have_text("Waar ga je wonen na je vertrek?")
    check(page, "onboarding na vertrek fout")


def test_step_about_your_new_home_shows_help_in_the_future_gemeente(page: Page, live_server_app: FastAPI) -> None:
    load_examples(live_server_app, "landelijk", "GM0518", "GM0363")
    data = content(page)
    profile = {**PERSONA, "future_gemeente_code": "GM0363"}
    in_plan = {i["step_id"] for i in plan(page, profile)["items"]}
    future = [s for s in data["steps"] if s.get("gemeente") == "future" and s["id"] in in_plan and s["topics"]]
    assert future, "the plan has steps about the gemeente where you will live"
    step = next(
        s
        for s in future
        if page.request.get("/api/kaart/GM0363/services", params={"topic": s["topics"][0], "per_page": 3}).json()[
            "results"
        ]
    )

    device_profile(page, profile, future_gemeente_naam="Amsterdam")
    page.goto("/stappen/" + step["id"])
    section = page.locator("#hulp-hierbij")
    expect(section.get_by_role("heading", name="Hulp hierbij in je nieuwe gemeente")).to_be_visible()
    expect(section).to_contain_text("Dit is hulp in Amsterdam. Daar ga je wonen.")
    expect(section.locator(".svc").first).to_be_visible()
    for href in section.locator(".svc h3 a").evaluate_all("els => els.map(a => a.getAttribute('href'))"):
        assert href.startswith("/hulp/GM0363/"), href
    check(page, "stap met hulp in de nieuwe gemeente")
    shot(page, "stap met hulp in de nieuwe gemeente")

    # The whole list opens in that gemeente too.
    section.get_by_role("link", name="Bekijk alle hulp hierbij").click()
    expect(h1(page)).to_have_text("Hulp in de buurt")
    expect(page.locator("main .lead strong")).to_have_text("Amsterdam")

    # A step about where you live now keeps your current gemeente.
    current = next(
        s
        for s in data["steps"]
        if s.get("gemeente", "current") == "current"
        and s["id"] in in_plan
        and s["topics"]
        and page.request.get("/api/kaart/GM0518/services", params={"topic": s["topics"][0], "per_page": 3}).json()[
            "results"
        ]
    )
    page.goto("/stappen/" + current["id"])
    expect(section.get_by_role("heading", name="Hulp hierbij in jouw gemeente")).to_be_visible()
    for href in section.locator(".svc h3 a").evaluate_all("els => els.map(a => a.getAttribute('href'))"):
        assert href.startswith("/hulp/GM0518/"), href


def test_woningzoeken_steps_name_the_woonsite_of_your_region(page: Page) -> None:
    """The woonsite of the gemeente where you will live (woonsites.toml), or honestly: not known, ask."""
    known = plan(page, {**PERSONA, "gemeente_code": "GM0363"})["woonsite"]
    assert known is not None and known["url"].startswith("https://")
    device_profile(page, {**PERSONA, "gemeente_code": "GM0363"}, gemeente_naam="Amsterdam")
    page.goto("/stappen/woningzoekende-inschrijven")
    section = page.get_by_role("region", name="Jouw woonsite")
    link = section.get_by_role("link", name=re.compile(re.escape(known["name"])))
    expect(link).to_have_attribute("href", known["url"])
    expect(section).to_contain_text(f"vanaf {known['min_age']} jaar")
    check(page, "woonsite bekend")

    # Leaving for a gemeente whose woonsite no page names: the step says so and sends her to the gemeente.
    assert plan(page, {**PERSONA, "gemeente_code": "GM0363", "future_gemeente_code": "GM0014"})["woonsite"] is None
    moving = {**PERSONA, "gemeente_code": "GM0363", "future_gemeente_code": "GM0014", "gemeente_naam": "Amsterdam"}
    page.evaluate(PUT_PROFILE, {**moving, "updated_at": dt.datetime.now(dt.UTC).isoformat()})
    page.goto("/stappen/woningzoekende-inschrijven")
    section = page.get_by_role("region", name="Jouw woonsite")
    expect(section).to_contain_text("We weten niet welke woonsite jouw gemeente gebruikt")
    expect(section.get_by_role("link")).to_have_count(0)

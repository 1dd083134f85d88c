"""The sociale kaart in a real browser: Hulp in de buurt (search, filters, offline list), a service page with
"Klopt dit niet?", "Hulp hierbij in jouw gemeente" on a step, and the beheer pages for gemeente editors.

The example kaarten are loaded into the live server's own database through the service layer (as
`startklaar kaart load-examples` does). Every screen and state is checked with axe-core at 390 and 320 px.
Set STARTKLAAR_SCREENSHOTS=/some/dir to keep a screenshot of each checked state.
"""

from __future__ import annotations

import datetime as dt
import re

from fastapi import FastAPI
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlmodel import Session

from backend.kaart import service
from tests.e2e.conftest import new_phone_context
from tests.e2e.test_plan_flow import check, h1, wait_for_service_worker
from tests.kaart.kaart_api import EXAMPLES, csv_bytes, row

TODAY = dt.date.today()
BIRTH = TODAY - dt.timedelta(days=18 * 365 + 120)
EDITOR_PASSWORD = "redacteur-wachtwoord-1"


def load_examples(app: FastAPI, *kaarten: str) -> None:
    """Import and publish example kaarten into the live server's database (what `kaart load-examples` does)."""
    actor = service.Actor("test")
    with Session(app.state.engine) as session:
        for kaart in kaarten:
            path = EXAMPLES[kaart]
            result = service.parse_file(path.read_bytes(), path.name, None, kaart, TODAY)
            version, _ = service.store_version(session, kaart, result, path.name, actor)
            service.publish(session, kaart, version.id, actor)  # type: ignore[arg-type]
        session.commit()


def make_editor(app: FastAPI, username: str, gemeente: str) -> None:
    with Session(app.state.engine) as session:
        service.create_editor(session, username, EDITOR_PASSWORD, gemeente)
        session.commit()


def set_profile(page: Page, gemeente_code: str, gemeente_naam: str) -> None:
    """A jongere who answered the 3 questions on this phone (the device store, as onboarding leaves it)."""
    page.goto("/")
    expect(h1(page)).to_have_text("Welkom bij Startklaar")
    page.evaluate(
        """async (profile) => {
          const db = await new Promise((ok, fail) => {
            const r = indexedDB.open('startklaar', 1);
            r.onsuccess = () => ok(r.result);
            r.onerror = fail;
          });
          const t = db.transaction('profile', 'readwrite');
          t.objectStore('profile').put(profile, 'me');
          await new Promise((ok) => { t.oncomplete = ok; });
          db.close();
        }""",
        {
            "birth_date": BIRTH.isoformat(),
            "gemeente_code": gemeente_code,
            "gemeente_naam": gemeente_naam,
            "situation": "instelling",
            "vertrekdatum": None,
            "updated_at": dt.datetime.now(dt.UTC).isoformat(),
        },
    )


def editor_login(page: Page, username: str) -> None:
    page.get_by_label("Gebruikersnaam").fill(username)
    page.get_by_label("Wachtwoord").fill(EDITOR_PASSWORD)
    page.get_by_role("button", name="Inloggen").click()


def cards(page: Page):  # noqa: ANN201
    return page.locator("main .svc")


def results_status(page: Page):  # noqa: ANN201
    return page.locator("main p.status[role=status]")


# --- Hulp in de buurt, a service page and "Klopt dit niet?" ------------------------------------------------


def test_hulp_search_service_page_and_correction(page: Page, live_server_app: FastAPI) -> None:
    load_examples(live_server_app, "landelijk", "GM0014")
    page.goto("/hulp")
    expect(h1(page)).to_have_text("Hulp in de buurt")
    check(page, "hulp kies gemeente", large_text=True)

    # No gemeente on this phone: a postcode finds it (and gives distances).
    page.get_by_role("button", name="Zoek met postcode").click()
    expect(page.get_by_role("alert").filter(has_text="Schrijf je postcode zo")).to_be_visible()
    postcode = page.get_by_label("Of vul je postcode in")
    postcode.fill("4301 AB")  # not in the (partial) postcode table: pick the gemeente by name
    page.get_by_role("button", name="Zoek met postcode").click()
    expect(page.get_by_role("status")).to_have_text(
        "Deze postcode kennen we nog niet. Zoek je gemeente hierboven op naam."
    )
    expect(page.get_by_label("In welke gemeente woon je?")).to_be_focused()
    postcode.fill("7351")  # Hoenderloo lies in two gemeenten: which one?
    page.get_by_role("button", name="Zoek met postcode").click()
    expect(page.get_by_role("status")).to_have_text("Je postcode hoort bij 2 gemeenten. Tik op jouw gemeente.")
    expect(page.locator("main .pick")).to_have_text(["Apeldoorn", "Ede"])
    check(page, "hulp postcode in twee gemeenten")
    postcode.fill("9712 HN")
    page.get_by_role("button", name="Zoek met postcode").click()
    expect(page.locator("main .lead")).to_contain_text("Hulp in Groningen")
    expect(results_status(page)).to_have_text(re.compile(r"^\d+ resultaten$"))
    crisis = cards(page).filter(has_text="113 Zelfmoordpreventie")
    expect(crisis.locator(".open-line")).to_have_text("Dag en nacht open")
    expect(crisis.locator(".badge", has_text="Landelijk")).to_be_visible()
    loket = cards(page).filter(has_text="Jongerenloket")
    expect(loket.locator(".badge", has_text="km")).to_be_visible()
    expect(loket.locator(".badge", has_text="Gratis")).to_be_visible()
    check(page, "hulp lijst", large_text=True)
    expect(cards(page)).to_have_count(20)
    total = int(results_status(page).inner_text().split()[0])  # Groningen's services and the national ones
    assert total > 20
    page.get_by_role("button", name="Laat meer zien").click()
    expect(cards(page)).to_have_count(min(total, 40))
    expect(cards(page).nth(20).get_by_role("link")).to_be_focused()
    shown = min(total, 40)
    while shown < total:
        page.get_by_role("button", name="Laat meer zien").click()
        shown = min(total, shown + 20)
        expect(cards(page)).to_have_count(shown)
    expect(page.get_by_role("button", name="Laat meer zien")).to_be_hidden()

    # A stemmed word: "psychologen" finds "Praten met een psycholoog".
    search = page.get_by_label("Waar zoek je hulp bij?")
    search.fill("psychologen")
    search.press("Enter")
    expect(results_status(page)).to_have_text("1 resultaat")
    expect(cards(page)).to_have_count(1)
    expect(cards(page).first.get_by_role("link")).to_have_text("Praten met een psycholoog")

    # A leefgebied: "wonen" as a word also finds the Jongerenloket; the Wonen filter leaves it out.
    search.fill("wonen")
    search.press("Enter")
    expect(cards(page).filter(has_text="Jongerenloket")).to_have_count(1)
    filters = page.locator("main summary", has_text="Filters")
    expect(filters).to_have_text("Filters: onderwerp, nu open, gratis")
    filters.click()
    wonen = page.get_by_role("group", name="Onderwerp").get_by_role("button", name="Wonen")
    wonen.click()
    expect(filters).to_have_text("Filters (1 aan)")
    expect(wonen).to_have_attribute("aria-pressed", "true")
    expect(cards(page).filter(has_text="Jongerenloket")).to_have_count(0)
    expect(cards(page).filter(has_text="Begeleid wonen 18+")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"/hulp\?q=wonen&leefgebied=wonen$"))
    check(page, "hulp gefilterd")

    # The service page: big buttons, opening hours, "gecontroleerd op".
    search.fill("jongerenloket")
    wonen.click()
    expect(cards(page).filter(has_text="Begeleid wonen 18+")).to_have_count(0)
    cards(page).filter(has_text="Jongerenloket").get_by_role("link", name="Jongerenloket").click()
    expect(h1(page)).to_have_text("Jongerenloket")
    expect(h1(page)).to_be_focused()
    expect(page).to_have_title("Jongerenloket · Startklaar")
    expect(page.get_by_role("link", name="Bel 050 000 10 00")).to_have_attribute("href", "tel:+31500001000")
    route = page.get_by_role("link", name="Route (opent in een nieuw tabblad)")
    expect(route).to_have_attribute("target", "_blank")
    expect(route).to_have_attribute("href", re.compile(r"^https://www\.openstreetmap\.org/search\?query=Grote%20Markt"))
    expect(page.get_by_role("link", name=re.compile("^WhatsApp 06"))).to_be_visible()
    expect(page.locator("table.hours tr.today")).to_contain_text("Vandaag")
    expect(page.locator("main")).to_contain_text("Gecontroleerd op 12 januari 2026.")
    expect(page.locator(".tabs a[href='/hulp']")).to_have_attribute("aria-current", "true")
    check(page, "dienst", large_text=True)

    # "Klopt dit niet?": an empty message first, then a real one.
    page.get_by_text("Klopt dit niet?").click()
    page.get_by_role("button", name="Verstuur").click()
    message = page.get_by_label("Wat klopt er niet?")
    expect(message).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("alert").filter(has_text="Schrijf kort wat er niet klopt.")).to_be_visible()
    check(page, "klopt dit niet fout")
    message.fill("Op donderdag is het loket maar tot 17:00 open.")
    page.get_by_role("button", name="Verstuur").click()
    expect(page.get_by_role("status").filter(has_text="Bedankt!")).to_be_visible()
    check(page, "klopt dit niet verstuurd")

    # The editor of Groningen sees the report in beheer and handles it.
    make_editor(live_server_app, "redactie-groningen", "GM0014")
    page.goto("/beheer")
    expect(h1(page)).to_have_text("Inloggen voor beheer")
    check(page, "beheer inloggen")
    editor_login(page, "redactie-groningen")
    expect(h1(page)).to_have_text("Sociale kaart Groningen")
    expect(page).to_have_url(re.compile(r"/beheer/GM0014$"))
    report = page.locator("section[aria-labelledby=b-meldingen] li")
    expect(report).to_have_count(1)
    expect(report).to_contain_text("Jongerenloket")
    expect(report).to_contain_text("Op donderdag is het loket maar tot 17:00 open.")
    check(page, "beheer melding")
    report.get_by_label("Wat heb je gedaan? (mag leeg blijven)").fill("Tijden nagevraagd en aangepast.")
    report.get_by_role("button", name="Afgehandeld").click()
    expect(page.get_by_role("status").filter(has_text="De melding over Jongerenloket is afgehandeld.")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Geen open meldingen.")
    with Session(live_server_app.state.engine) as session:
        [done] = service.list_corrections(session, "GM0014", "resolved")
        assert (done.message, done.resolution) == (
            "Op donderdag is het loket maar tot 17:00 open.",
            "Tijden nagevraagd en aangepast.",
        )


# --- "Hulp hierbij in jouw gemeente" on a step, and the lists offline ---------------------------------------


def test_step_shows_help_in_your_gemeente_also_offline(
    page: Page, context: BrowserContext, live_server_app: FastAPI
) -> None:
    load_examples(live_server_app, "landelijk", "GM0518")
    set_profile(page, "GM0518", "Den Haag")
    wait_for_service_worker(page)

    page.goto("/stappen/woningzoekende-inschrijven")
    section = page.locator("#hulp-hierbij")
    expect(section.get_by_role("heading", name="Hulp hierbij in jouw gemeente")).to_be_visible()
    expect(section.locator(".svc")).to_have_count(3)
    expect(section.locator(".svc").first).to_contain_text("Jongerenpunt")
    check(page, "stap met hulp hierbij")

    # A step without help in this gemeente: no empty section.
    page.goto("/stappen/donorregister-keuze")
    expect(h1(page)).not_to_have_text("Stap")
    expect(page.locator("main footer.source")).to_be_visible()
    expect(section).to_be_hidden()

    # The link to the whole list keeps the step's topics as a filter you can switch off.
    page.goto("/stappen/woningzoekende-inschrijven")
    section.get_by_role("link", name="Bekijk alle hulp hierbij").click()
    expect(h1(page)).to_have_text("Hulp in de buurt")
    expect(page).to_have_url(re.compile(r"/hulp\?topic=woningzoeken$"))
    stap = page.get_by_role("button", name="Past bij je stap")
    expect(stap).to_have_attribute("aria-pressed", "true")
    expect(results_status(page)).to_have_text("3 resultaten")
    check(page, "hulp bij een stap")
    stap.click()
    expect(page).to_have_url(re.compile(r"/hulp$"))
    expect(results_status(page)).to_have_text(re.compile(r"^\d\d resultaten$"))
    expect(page.get_by_label("Waar zoek je hulp bij?")).to_be_focused()

    context.set_offline(True)
    try:
        page.reload()
        expect(h1(page)).to_have_text("Hulp in de buurt")
        expect(page.locator("main .notice")).to_have_text(f"Je bent offline. Dit is de lijst van {dutch(TODAY)}.")
        expect(cards(page).filter(has_text="Jongerenpunt")).to_have_count(1)
        search = page.get_by_label("Waar zoek je hulp bij?")
        search.fill("huurcommissie")
        search.press("Enter")
        expect(results_status(page)).to_have_text("1 resultaat")
        check(page, "hulp offline")

        page.goto("/stappen/woningzoekende-inschrijven")
        expect(section.locator(".svc")).to_have_count(3)
    finally:
        context.set_offline(False)


# --- beheer: upload with an error, a good upload, preview, publish; the jongere sees it ---------------------


def test_editor_uploads_previews_and_publishes_and_jongeren_see_it(
    page: Page, browser: Browser, live_server: str, live_server_app: FastAPI
) -> None:
    load_examples(live_server_app, "landelijk")
    make_editor(live_server_app, "redactie-utrecht", "GM0344")

    # A jongere in Utrecht, before the gemeente published anything: national help, and a gentle word.
    phone = new_phone_context(browser, live_server)
    jongere = phone.new_page()
    try:
        jongere.goto("/hulp")
        jongere.get_by_label("In welke gemeente woon je?").fill("utrecht")
        jongere.get_by_role("button", name="Utrecht", exact=True).click()
        expect(jongere.locator("main .notice")).to_have_text(
            "Utrecht heeft nog geen hulp online gezet. Je ziet nu hulp die overal in Nederland werkt."
        )
        expect(jongere.locator("main .svc").first).to_be_visible()
        check(jongere, "hulp zonder kaart")

        # The editor: one kaart, so beheer opens it at once.
        page.goto("/beheer")
        editor_login(page, "redactie-utrecht")
        expect(h1(page)).to_have_text("Sociale kaart Utrecht")
        expect(page.locator("main")).to_contain_text("Nog niets online.")
        expect(page.locator("main")).to_contain_text("Nog geen versies.")
        check(page, "beheer lege kaart")

        # A file with an error: the row, column and message; nothing is stored.
        upload = page.get_by_label("Bestand", exact=True)
        upload.set_input_files(csv_file(postcode="99999"))
        page.get_by_role("button", name="Uploaden en controleren").click()
        expect(page.get_by_role("heading", name="Het bestand heeft fouten")).to_be_visible()
        issue = page.get_by_role("region", name="Wat er in het bestand moet veranderen").locator("tbody tr")
        expect(issue).to_have_count(1)
        expect(issue.locator("td")).to_have_text(
            ["Fout", "2", "postcode", "'99999' is geen postcode. Schrijf 4 cijfers en 2 letters, zoals 1234 AB."]
        )
        expect(page.locator("main")).to_contain_text("Nog geen versies.")
        check(page, "beheer upload met fout", large_text=True)

        # A good file: a draft version, previewed as jongeren will see it, then published.
        upload.set_input_files(csv_file(postcode="3511 AB"))
        page.get_by_role("button", name="Uploaden en controleren").click()
        expect(page.get_by_role("heading", name="Het bestand is goed")).to_be_visible()
        versions = page.get_by_role("region", name="Tabel met versies")
        expect(versions.locator("tbody tr")).to_have_count(1)
        expect(versions.locator("tbody tr td").nth(1)).to_have_text("Concept")
        check(page, "beheer upload goed")
        page.get_by_role("link", name=re.compile(r"^Bekijk en publiceer versie \d+$")).click()
        expect(h1(page)).to_have_text(re.compile(r"^Voorbeeld van versie \d+$"))
        expect(page.locator("main .svc")).to_have_count(1)
        check(page, "beheer voorbeeld")
        page.locator("main .svc").get_by_role("link", name="Jongerenhuis Utrecht").click()
        expect(h1(page)).to_have_text("Jongerenhuis Utrecht")
        expect(page.locator("main .kicker")).to_have_text(re.compile(r"^Voorbeeld van versie \d+$"))
        expect(page.get_by_text("Klopt dit niet?")).to_have_count(0)
        check(page, "beheer voorbeeld dienst")
        page.go_back()
        page.get_by_role("button", name="Publiceer deze versie").click()
        expect(page.get_by_role("status").filter(has_text="staat nu online")).to_be_visible()
        check(page, "beheer gepubliceerd")

        # The jongere searches again and finds the new service.
        jongere.reload()
        search = jongere.get_by_label("Waar zoek je hulp bij?")
        search.fill("kamers")
        search.press("Enter")
        expect(jongere.locator("main .svc").first.get_by_role("link")).to_have_text("Jongerenhuis Utrecht")
        expect(jongere.locator("main .notice")).to_have_count(0)
    finally:
        phone.close()

    # Back in beheer: the version is online, with download links.
    page.goto("/beheer/GM0344")
    expect(page.get_by_role("region", name="Tabel met versies").locator("tbody tr td").nth(1)).to_have_text("Online")
    expect(page.get_by_role("link", name="CSV (met komma's)")).to_have_attribute(
        "href", "/api/beheer/kaart/GM0344/export?format=csv"
    )


def csv_file(postcode: str) -> dict[str, object]:
    data = csv_bytes(
        [
            row(
                "Jongerenhuis Utrecht",
                omschrijving="Zoek je een kamer? In het Jongerenhuis helpen we je met zoeken en inschrijven.",
                leefgebieden="wonen",
                onderwerpen="woningzoeken",
                straat="Oudegracht",
                huisnummer="1",
                postcode=postcode,
                plaats="Utrecht",
            )
        ]
    )
    return {"name": "utrecht.csv", "mimeType": "text/csv", "buffer": data}


MONTHS = "januari februari maart april mei juni juli augustus september oktober november december".split()


def dutch(day: dt.date) -> str:
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"

"""The plan screens in a real browser: onboarding, Vandaag, Mijn stappen, a step page, Ik and the account,
ticks while offline and their sync, and logging out on a shared phone.

Every screen and state is checked with axe-core at 390 px and 320 px and must not scroll sideways.
Set STARTKLAAR_SCREENSHOTS=/some/dir to keep a screenshot of each checked state.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.helpers import axe_violations

TODAY = dt.date.today()
BIRTH = TODAY - dt.timedelta(days=18 * 365 + 120)  # just 18: several steps to do now
LEAVING = TODAY + dt.timedelta(days=60)
PASSWORD = "mijn-lange-zin-1"
SHOTS = os.environ.get("STARTKLAAR_SCREENSHOTS")
SIZES = [(390, 844), (320, 640)]

NO_SIDEWAYS_SCROLL = """() => {
  const m = document.querySelector('main');
  return document.documentElement.scrollWidth <= window.innerWidth && m.scrollWidth <= m.clientWidth;
}"""


def h1(page: Page):  # noqa: ANN201
    return page.locator("main h1")


def check(page: Page, state: str, *, large_text: bool = False) -> None:
    """axe-core clean and no sideways scrolling at 390 and 320 px (and at 200 % text when asked)."""
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        violations = axe_violations(page)
        assert violations == [], f"{state} at {width}px: {violations}"
        assert page.evaluate(NO_SIDEWAYS_SCROLL), f"{state} scrolls sideways at {width}px"
        if SHOTS:
            Path(SHOTS).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=f"{SHOTS}/{re.sub(r'[^a-z0-9]+', '-', state.lower())}-{width}.png")
    if large_text:
        page.evaluate("document.documentElement.style.fontSize = '200%'")
        try:
            assert page.evaluate(NO_SIDEWAYS_SCROLL), f"{state} scrolls sideways at 200 % text"
            assert axe_violations(page) == [], f"{state} at 200 % text"
            if SHOTS:
                page.screenshot(path=f"{SHOTS}/{re.sub(r'[^a-z0-9]+', '-', state.lower())}-320-200pct.png")
        finally:
            page.evaluate("document.documentElement.style.fontSize = ''")
    page.set_viewport_size({"width": 390, "height": 844})


def wait_until(page: Page, probe: Callable[[], Any], what: str, timeout: float = 15) -> Any:
    """Poll a condition outside the page (the server's data), without fixed sleeps."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        page.wait_for_timeout(100)


def server_progress(page: Page) -> dict[str, str]:
    res = page.request.get("/api/me/progress")
    assert res.ok, res.status
    return {row["step_id"]: row["state"] for row in res.json()}


def wait_for_service_worker(page: Page) -> None:
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")


# Read the app's IndexedDB from the test: {store: {key: value}}.
READ_DEVICE = """async () => {
  const db = await new Promise((ok, fail) => {
    const r = indexedDB.open('startklaar');
    r.onsuccess = () => ok(r.result);
    r.onerror = fail;
  });
  const done = (r) => new Promise((ok) => { r.onsuccess = () => ok(r.result); });
  const out = {};
  for (const name of db.objectStoreNames) {
    const s = db.transaction(name).objectStore(name);
    const [keys, values] = await Promise.all([done(s.getAllKeys()), done(s.getAll())]);
    out[name] = Object.fromEntries(keys.map((k, i) => [k, values[i]]));
  }
  db.close();
  return out;
}"""


def device_counts(page: Page) -> dict[str, int]:
    return {name: len(rows) for name, rows in page.evaluate(READ_DEVICE).items()}


def device_progress(page: Page) -> dict[str, str]:
    return {key: row["state"] for key, row in page.evaluate(READ_DEVICE)["progress"].items()}


def onboard(page: Page, *, audit: bool) -> None:
    """The welcome screen and the 3 questions, with the error states; ends on Vandaag."""
    page.goto("/")
    expect(h1(page)).to_have_text("Welkom bij Startklaar")
    expect(page).to_have_title("Welkom · Startklaar")
    expect(page.locator("main")).to_contain_text("Je hebt geen account nodig")
    if audit:
        check(page, "onboarding welkom")
    page.get_by_role("link", name="Begin").click()

    expect(h1(page)).to_have_text("Wat is je geboortedatum?")
    expect(h1(page)).to_be_focused()
    birth = page.get_by_label("Je geboortedatum")
    if audit:
        check(page, "onboarding geboortedatum")
        page.get_by_role("button", name="Volgende").click()
        expect(birth).to_have_attribute("aria-invalid", "true")
        expect(birth).to_have_accessible_description(re.compile("Vul je geboortedatum in."))
        expect(page.get_by_role("alert").filter(has_text="Vul je geboortedatum in.")).to_be_visible()
        expect(birth).to_be_focused()
        check(page, "onboarding geboortedatum leeg")
        birth.fill((TODAY - dt.timedelta(days=40 * 365)).isoformat())  # the server's rule and message
        page.get_by_role("button", name="Volgende").click()
        expect(page.get_by_role("alert").filter(has_text="tussen 12 en 30 jaar")).to_be_visible()
        check(page, "onboarding geboortedatum te oud")
    birth.fill(BIRTH.isoformat())
    birth.press("Enter")  # by keyboard: Enter sends the form

    expect(h1(page)).to_have_text("In welke gemeente woon je?")
    expect(h1(page)).to_be_focused()
    search = page.get_by_label("Zoek je gemeente")
    if audit:
        page.get_by_role("button", name="Volgende").click()
        expect(page.get_by_role("alert").filter(has_text="Zoek je gemeente")).to_be_visible()
        expect(search).to_have_attribute("aria-invalid", "true")
        expect(search).to_be_focused()
    search.fill("haag")
    search.press("Enter")  # searches, does not send the form
    expect(page.get_by_role("status").filter(has_text="1 gemeente gevonden")).to_be_visible()
    page.keyboard.press("Tab")  # the Zoek button
    page.keyboard.press("Tab")  # the first gemeente
    expect(page.get_by_role("radio", name="Den Haag")).to_be_focused()
    page.keyboard.press("Space")
    expect(page.get_by_role("radio", name="Den Haag")).to_be_checked()
    if audit:
        check(page, "onboarding gemeente")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Volgende")).to_be_focused()
    page.keyboard.press("Enter")

    expect(h1(page)).to_have_text("Waar woon je nu?")
    expect(h1(page)).to_be_focused()
    page.get_by_role("radio", name=re.compile("^In een instelling")).check()
    date = page.get_by_label("Wanneer ga je daar weg?")
    page.get_by_label("Ik weet het nog niet").check()
    expect(date).to_be_disabled()
    page.get_by_label("Ik weet het nog niet").uncheck()
    date.fill(LEAVING.isoformat())
    if audit:
        check(page, "onboarding wonen")
    page.get_by_role("button", name="Volgende").click()

    # With a vertrekdatum one more question: where you will live after leaving (optional).
    expect(h1(page)).to_have_text("Waar ga je wonen na je vertrek?")
    expect(page.get_by_role("radio", name="Weet ik nog niet")).to_be_checked()
    if audit:
        check(page, "onboarding na vertrek")
    page.get_by_role("button", name="Maak mijn plan").click()

    expect(h1(page)).to_have_text("Vandaag")
    expect(page.locator(".todos a")).to_have_count(3)


def tick_first_todo(page: Page) -> tuple[str, str]:
    """Open the first thing to do on Vandaag and tick it as done; returns (step id, title)."""
    page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Vandaag").click()
    expect(h1(page)).to_have_text("Vandaag")
    first = page.locator(".todos a").first
    title = first.locator(".todo-title").inner_text()
    first.click()
    expect(h1(page)).to_have_text(title)
    step_id = page.url.rsplit("/", 1)[1]
    page.get_by_role("button", name="Gedaan", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="Goed gedaan!")).to_be_visible()
    expect(page.get_by_role("button", name="Toch nog niet gedaan")).to_be_focused()
    return step_id, title


# --- the required flow ---------------------------------------------------------------------------------


def test_onboarding_account_and_offline_ticks_reach_the_server(page: Page, context: BrowserContext) -> None:
    onboard(page, audit=True)
    expect(page.get_by_role("link", name=re.compile(r"Bekijk nog \d+ stap"))).to_be_visible()
    expect(page.locator(".meters li").first).to_contain_text("klaar")
    expect(page.locator(".todos").get_by_text("Nog niet gedaan?").first).to_be_visible()
    check(page, "vandaag met stappen")
    wait_for_service_worker(page)

    # Ik without an account, then make one (a form error first).
    page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Ik").click()
    expect(h1(page)).to_have_text("Ik")
    expect(page.locator("main")).to_contain_text(BIRTH.strftime("%Y"))
    expect(page.locator("main")).to_contain_text("Den Haag")
    check(page, "ik uitgelogd")
    page.get_by_role("link", name="Maak een account").click()
    expect(h1(page)).to_have_text("Maak een account")
    page.get_by_label("Gebruikersnaam").fill("jamie")
    page.get_by_label("Wachtwoord", exact=True).fill("kort")
    page.get_by_role("button", name="Maak mijn account").click()
    expect(page.get_by_label("Wachtwoord", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("alert").filter(has_text="te kort")).to_be_visible()
    check(page, "account maken met fout")
    page.get_by_label("Wachtwoord", exact=True).fill(PASSWORD)
    page.get_by_label("Je voornaam of bijnaam").fill("Jamie")
    page.get_by_role("button", name="Maak mijn account").click()

    # The recovery code, once, with a confirm step.
    expect(h1(page)).to_have_text("Je herstelcode")
    expect(h1(page)).to_be_focused()
    expect(page.locator(".code")).to_have_text(re.compile(r"[A-Z0-9]{4}(-[A-Z0-9]{4}){3}"))
    expect(page.locator("main")).to_contain_text("Schrijf deze code op.")
    check(page, "herstelcode")
    page.get_by_role("button", name="Verder").click()
    expect(page.get_by_role("alert").filter(has_text="Zet daarna een vinkje")).to_be_visible()
    page.get_by_label("Ik heb de code opgeschreven").check()
    page.get_by_role("button", name="Verder").click()
    expect(h1(page)).to_have_text("Ik")
    expect(page.locator("main")).to_contain_text("Je bent ingelogd als Jamie (jamie)")
    expect(page.get_by_role("status").filter(has_text="Alles is bewaard")).to_be_visible()
    check(page, "ik ingelogd")
    profile = page.request.get("/api/me/profile").json()  # the device's profile went with the new account
    assert (profile["birth_date"], profile["gemeente_code"], profile["situation"]) == (
        BIRTH.isoformat(),
        "GM0518",
        "instelling",
    )

    # Tick one step online: it reaches the server.
    first_id, first_title = tick_first_todo(page)
    check(page, "stap gedaan")
    expect(page.locator("#hulp-hierbij")).to_be_attached()
    expect(page.locator("main")).to_contain_text("Gecontroleerd op")
    wait_until(page, lambda: server_progress(page).get(first_id) == "done", "the first tick on the server")

    # Offline: tick another one, reload, and both are still there.
    context.set_offline(True)
    try:
        second_id, second_title = tick_first_todo(page)
        assert second_id != first_id
        page.reload()
        expect(h1(page)).to_have_text(second_title)
        expect(page.locator(".state")).to_contain_text("Klaar! Goed gedaan.")
        page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Mijn stappen").click()
        expect(h1(page)).to_have_text("Mijn stappen")
        page.get_by_role("button", name=re.compile(r"^Klaar \(2\)")).click()
        lijst = page.locator("#stappen-lijst")
        expect(lijst.get_by_role("link", name=first_title)).to_be_visible()
        expect(lijst.get_by_role("link", name=second_title)).to_be_visible()
        check(page, "mijn stappen klaar offline")
        page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Vandaag").click()
        expect(page.locator("main")).to_contain_text("Je hebt nu geen internet.")
        expect(page.locator(".todos a")).to_have_count(3)
        check(page, "vandaag offline")
        page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Ik").click()
        expect(page.get_by_role("status").filter(has_text="1 vinkje wacht nog op internet.")).to_be_visible()
    finally:
        context.set_offline(False)

    # Back online: the waiting tick goes to the server by itself.
    expect(page.get_by_role("status").filter(has_text="Alles is bewaard")).to_be_visible()
    progress = server_progress(page)
    assert progress.get(first_id) == "done" and progress.get(second_id) == "done", progress


# --- without an account ----------------------------------------------------------------------------------


def test_without_account_the_plan_survives_an_offline_reload(page: Page, context: BrowserContext) -> None:
    onboard(page, audit=False)
    check(page, "vandaag", large_text=True)
    step_id, title = tick_first_todo(page)

    # Undo and redo, and "Niet voor mij" on the next step.
    page.get_by_role("button", name="Toch nog niet gedaan").click()
    expect(page.get_by_role("button", name="Gedaan", exact=True)).to_be_focused()
    page.get_by_role("button", name="Gedaan", exact=True).click()
    check(page, "stap", large_text=True)
    page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Vandaag").click()
    page.locator(".todos a").first.click()
    page.get_by_role("button", name="Niet voor mij").click()
    expect(page.get_by_role("button", name="Toch wel voor mij")).to_be_focused()
    not_mine = h1(page).inner_text()

    # A yearly step keeps its progress per year ("<step>@<year>").
    page.goto("/stappen/toeslagen-jaarlijks-checken")
    expect(page.locator("main")).to_contain_text("Dit komt elk jaar terug.")
    page.get_by_role("button", name="Gedaan", exact=True).click()
    expect(page.get_by_role("button", name="Toch nog niet gedaan")).to_be_visible()
    assert [k for k in device_progress(page) if re.fullmatch(r"toeslagen-jaarlijks-checken@\d{4}", k)]

    page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Mijn stappen").click()
    expect(page.locator("#stappen-lijst h2").first).to_be_visible()
    expect(page.locator("#stappen-lijst")).to_contain_text("vóór")
    check(page, "mijn stappen open", large_text=True)
    wait_for_service_worker(page)

    context.set_offline(True)
    try:
        page.goto("/")
        expect(h1(page)).to_have_text("Vandaag")
        expect(page.locator(".todos a")).to_have_count(3)
        expect(page.locator(".todos")).not_to_contain_text(title)
        page.goto("/stappen")
        page.get_by_role("button", name=re.compile(r"^Klaar \(3\)")).click()
        expect(page.locator("#stappen-lijst").get_by_role("link", name=title)).to_be_visible()
        expect(page.locator("#stappen-lijst").get_by_role("link", name=not_mine)).to_be_visible()
        page.goto("/stappen/" + step_id)
        expect(page.locator(".state")).to_contain_text("Klaar! Goed gedaan.")
        expect(page.locator("#s-how")).to_be_visible()  # the explanation is kept on the phone too
    finally:
        context.set_offline(False)
    assert page.request.get("/api/me").status == 401  # nothing went to an account

    # Change an answer from Ik (the same question screen): 13 years old, so nothing to do yet.
    page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Ik").click()
    page.get_by_role("link", name="Wijzig geboortedatum").click()
    expect(h1(page)).to_have_text("Wat is je geboortedatum?")
    expect(page.get_by_label("Je geboortedatum")).to_have_value(BIRTH.isoformat())
    young = TODAY - dt.timedelta(days=13 * 365 + 100)
    page.get_by_label("Je geboortedatum").fill(young.isoformat())
    page.get_by_role("button", name="Opslaan").click()
    expect(page.get_by_role("status").filter(has_text="Je gegevens zijn opgeslagen.")).to_be_visible()
    expect(page.locator("main")).to_contain_text(str(young.year))
    page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Vandaag").click()
    expect(page.locator("main")).to_contain_text("Je hoeft nu niets te doen.")
    expect(page.locator(".todos a")).to_have_count(1)  # what comes next
    check(page, "vandaag zonder stappen")


# --- logging in, recovery code, password, logging out ----------------------------------------------------


def make_account_elsewhere(base_url: str) -> str:
    """An account with a profile and one tick, made on another device. Returns the recovery code."""
    with httpx.Client(base_url=base_url) as c:
        res = c.post("/api/accounts", json={"username": "sam", "password": PASSWORD})
        assert res.status_code == 201, res.text
        headers = {"X-CSRF-Token": c.cookies["sk_csrf"]}
        profile = {"birth_date": BIRTH.isoformat(), "gemeente_code": "GM0344", "situation": "pleeggezin"}
        assert c.put("/api/me/profile", json=profile, headers=headers).status_code == 200
        tick = {
            "step_id": "digid-aanvragen",
            "state": "done",
            "client_id": "other-phone-1",
            "client_updated_at": dt.datetime.now(dt.UTC).isoformat(),
        }
        assert c.post("/api/me/progress", json=[tick], headers=headers).json()[0]["applied"]
        return str(res.json()["recovery_code"])


def test_login_recovery_password_and_logout_clears_the_phone(page: Page, live_server: str) -> None:
    old_code = make_account_elsewhere(live_server)

    page.goto("/ik/inloggen")
    expect(h1(page)).to_have_text("Inloggen")
    page.get_by_label("Gebruikersnaam").fill("sam")
    page.get_by_label("Wachtwoord", exact=True).fill("dit-is-fout-123")
    page.get_by_role("button", name="Inloggen").click()
    expect(page.get_by_role("alert").filter(has_text="Je gebruikersnaam of wachtwoord klopt niet.")).to_be_visible()
    check(page, "inloggen fout")

    # Forgot the password: the recovery code gives a new one and a new code, shown once.
    page.get_by_role("link", name="Wachtwoord vergeten? Gebruik je herstelcode").click()
    expect(h1(page)).to_have_text("Wachtwoord vergeten")
    page.get_by_label("Gebruikersnaam").fill("sam")
    page.get_by_label("Herstelcode").fill(old_code.lower())
    page.get_by_label("Je nieuwe wachtwoord").fill("nieuwe-zin-voor-sam")
    check(page, "herstel")
    page.get_by_role("button", name="Kies mijn nieuwe wachtwoord").click()
    expect(h1(page)).to_have_text("Je herstelcode")
    new_code = page.locator(".code").inner_text().split()[-1]
    assert re.fullmatch(r"[A-Z0-9]{4}(-[A-Z0-9]{4}){3}", new_code) and new_code != old_code
    page.get_by_label("Ik heb de code opgeschreven").check()
    page.get_by_role("button", name="Verder").click()

    # The profile and the tick from the other phone are here now.
    expect(page.locator("main")).to_contain_text("Je bent ingelogd als sam")
    expect(page.locator("main")).to_contain_text("Utrecht")
    expect(page.locator("main")).to_contain_text("In een pleeggezin")
    page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Mijn stappen").click()
    page.get_by_role("button", name=re.compile(r"^Klaar \(1\)")).click()
    expect(page.locator("#stappen-lijst").get_by_role("link", name="Vraag je DigiD aan")).to_be_visible()

    # Change the password (a wrong current password first).
    page.goto("/ik/wachtwoord")
    expect(h1(page)).to_have_text("Wachtwoord wijzigen")
    page.get_by_label("Je huidige wachtwoord").fill("niet-het-goede")
    page.get_by_label("Je nieuwe wachtwoord").fill("nog-een-nieuwe-zin")
    page.get_by_role("button", name="Wijzig mijn wachtwoord").click()
    expect(page.get_by_role("alert").filter(has_text="Je huidige wachtwoord klopt niet.")).to_be_visible()
    check(page, "wachtwoord wijzigen fout")
    page.get_by_label("Je huidige wachtwoord").fill("nieuwe-zin-voor-sam")
    page.get_by_role("button", name="Wijzig mijn wachtwoord").click()
    expect(page.get_by_role("status").filter(has_text="Je wachtwoord is gewijzigd.")).to_be_visible()

    # Log out: the next person on this phone sees nothing.
    assert device_counts(page)["profile"] == 1
    page.get_by_role("button", name="Uitloggen", exact=True).click()
    expect(h1(page)).to_have_text("Welkom bij Startklaar")
    expect(page.locator("main")).to_contain_text("Je bent uitgelogd.")
    assert device_counts(page) == {"cache": 0, "outbox": 0, "profile": 0, "progress": 0}
    assert not [n for n in page.evaluate("caches.keys()") if n.startswith("startklaar-api-")]
    assert page.request.get("/api/me").status == 401
    page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Ik").click()
    expect(page.get_by_role("link", name="Maak een account")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Je hebt je gegevens nog niet ingevuld.")
    page.goto("/stappen")
    expect(page.locator("main")).to_contain_text("Je hebt nog geen plan.")

"""Sharing in two real browsers: a jongere invites, a mentor accepts with the code and sees exactly the shared
leefgebieden, the jongere ticks a step and the mentor sees it, the mentor encourages, the jongere sees who
looked, then revokes, and the mentor's next load shows that access is gone. axe-core on every new screen."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.conftest import new_phone_context
from tests.e2e.test_plan_flow import PASSWORD, check, h1, onboard, wait_until


def make_account(page: Page, username: str, name: str) -> None:
    page.goto("/ik/account")
    page.get_by_label("Gebruikersnaam").fill(username)
    page.get_by_label("Wachtwoord", exact=True).fill(PASSWORD)
    page.get_by_label(re.compile("voornaam of bijnaam")).fill(name)
    page.get_by_role("button", name="Maak mijn account").click()
    expect(h1(page)).to_have_text("Je herstelcode")
    page.get_by_label("Ik heb de code opgeschreven").check()
    page.get_by_role("button", name="Verder").click()
    expect(h1(page)).to_have_text("Ik")


def test_invite_accept_tick_encourage_and_revoke(
    page: Page, context: BrowserContext, browser: Browser, live_server: str
) -> None:
    # The jongere: a plan and an account, then "Wie kijkt mee?" on Ik.
    onboard(page, audit=False)
    make_account(page, "sam2009", "Sam")
    page.get_by_role("link", name="Wie kijkt mee?").click()
    expect(h1(page)).to_have_text("Wie kijkt mee?")
    expect(page.locator("main")).to_contain_text("Er kijkt nog niemand mee.")
    check(page, "wie kijkt mee leeg", large_text=True)
    page.get_by_role("link", name="Nodig iemand uit").click()
    expect(h1(page)).to_have_text("Nodig iemand uit")
    # Nothing is shared unless the jongere ticks it.
    for box in page.locator("input[name=leefgebieden]").all():
        expect(box).not_to_be_checked()
    page.get_by_role("button", name="Maak een code").click()
    expect(page.get_by_role("alert").filter(has_text="Kies wie je uitnodigt.")).to_be_visible()
    check(page, "uitnodigen met fout")
    page.get_by_role("radio", name=re.compile("Mijn JIM")).check()
    page.get_by_role("checkbox", name="Wonen").check()
    page.get_by_role("checkbox", name="Inkomen & schulden").check()
    page.get_by_role("button", name="Maak een code").click()
    expect(h1(page)).to_have_text("Je code is klaar")
    code = page.locator(".code").inner_text().replace("De code:", "").strip()
    assert re.fullmatch(r"[A-Z2-9]{8}", code), code
    check(page, "code klaar", large_text=True)

    # The mentor, in another browser: a meekijk-account, then the invite.
    mentor_ctx = new_phone_context(browser, live_server)
    try:
        mentor = mentor_ctx.new_page()
        mentor.goto("/meekijken")
        expect(h1(mentor)).to_have_text("Meekijken")
        check(mentor, "meekijken niet ingelogd")
        mentor.get_by_label("Gebruikersnaam").fill("anja.mentor")
        mentor.get_by_label("Wachtwoord").fill(PASSWORD)
        mentor.get_by_label("Je naam zoals de jongere je kent").fill("Anja")
        mentor.get_by_role("button", name="Maak mijn meekijk-account").click()
        expect(mentor.locator("main")).to_contain_text("Je kijkt nog met niemand mee.")
        check(mentor, "meekijken dashboard leeg")
        mentor.get_by_label("Heb je een code gekregen?").fill(code.lower())
        mentor.get_by_role("button", name="Gebruik de code").click()
        expect(h1(mentor)).to_have_text("Meekijken met Sam")
        expect(mentor.locator("main")).to_contain_text("Wonen, Inkomen & schulden")
        check(mentor, "uitnodiging aannemen")
        mentor.get_by_role("button", name="Ja, ik kijk mee").click()
        expect(h1(mentor)).to_have_text("Sam")
        expect(mentor.get_by_role("status").filter(has_text="Je kijkt nu mee met Sam.")).to_be_visible()
        # Exactly the shared leefgebieden, nothing else.
        expect(mentor.locator(".meter-label")).to_have_text(["Wonen", "Inkomen & schulden"])
        labels = set(mentor.locator(".todo .lg").all_inner_texts())
        assert labels and labels <= {"Wonen", "Inkomen & schulden"}, labels
        check(mentor, "jongere bekijken", large_text=True)

        # The jongere ticks a shared step; the mentor's next load shows it done.
        link_id = mentor.url.rsplit("/", 1)[1]
        shared = mentor.request.get(f"/api/mentor/jongeren/{link_id}/plan").json()["steps"]
        step = next(s for s in shared if s["state"] == "todo")
        page.goto(f"/stappen/{step['step_id']}")
        page.get_by_role("button", name="Gedaan", exact=True).click()
        expect(page.get_by_role("status").filter(has_text="Goed gedaan!")).to_be_visible()

        def done_on_server() -> bool:
            steps = mentor.request.get(f"/api/mentor/jongeren/{link_id}/plan").json()["steps"]
            return any(s["step_id"] == step["step_id"] and s["state"] == "done" for s in steps)

        wait_until(page, done_on_server, "the tick to reach the server")
        mentor.reload()
        klaar = mentor.locator("h3", has_text="Klaar").locator("xpath=following-sibling::ul[1]")
        expect(klaar).to_contain_text(step["title"])

        # An encouragement.
        mentor.get_by_role("button", name='Stuur "Goed bezig!"').click()
        expect(mentor.get_by_role("status").filter(has_text="Verstuurd.")).to_be_visible()
        mentor.get_by_label("Je eigen bericht").fill("x" * 300)
        expect(mentor.get_by_label("Je eigen bericht")).to_have_value("x" * 280)  # maxlength
        check(mentor, "aanmoedigen")

        # The jongere finds the encouragement in her inbox.
        page.goto("/ik/berichten")
        expect(page.locator(".todos")).to_contain_text("Anja: Goed bezig!")
        expect(page.get_by_role("status").filter(has_text="1 nieuw bericht")).to_be_visible()
        check(page, "berichten met aanmoediging")

        # The jongere sees who follows, what they see, and who looked.
        page.goto("/ik/meekijken")
        card = page.locator(".card", has_text="Anja")
        expect(card).to_contain_text("Ziet: Wonen, Inkomen & schulden")
        expect(card).to_contain_text("Keek voor het laatst op")
        check(page, "wie kijkt mee met mentor")
        page.get_by_role("link", name="Wie heeft wat bekeken?").click()
        expect(page.locator(".card").first).to_contain_text("Anja")
        expect(page.locator("main")).to_contain_text("bekeek je stappen: Wonen, Inkomen & schulden")
        check(page, "logboek")

        # Narrow what is shared: the mentor's next load shows only Wonen.
        page.goto("/ik/meekijken")
        page.get_by_role("link", name=re.compile("Wijzig of stop")).click()
        expect(h1(page)).to_have_text("Wat ziet Anja?")
        check(page, "wijzig delen")
        page.get_by_role("checkbox", name="Inkomen & schulden").uncheck()
        page.get_by_role("button", name="Bewaar").click()
        expect(page.get_by_role("status").filter(has_text="Bewaard.")).to_be_visible()
        mentor.reload()
        expect(mentor.locator(".meter-label")).to_have_text(["Wonen"])

        # Revoke: the mentor's next load shows that access is gone.
        page.get_by_role("link", name=re.compile("Wijzig of stop")).click()
        page.get_by_role("button", name="Stop het meekijken van Anja").click()
        expect(page.get_by_role("status").filter(has_text="Anja kijkt niet meer mee.")).to_be_visible()
        mentor.reload()
        expect(mentor.get_by_role("alert")).to_have_text("Je kijkt niet (meer) mee met deze jongere.")
        check(mentor, "toegang weg")
        mentor.goto("/meekijken")
        expect(mentor.locator("main")).to_contain_text("Je kijkt nog met niemand mee.")
        expect(mentor.locator("main")).not_to_contain_text("Sam")
    finally:
        mentor_ctx.close()

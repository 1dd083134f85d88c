"""Privacy in a real browser: the privacy page, seeing all your data, and deleting your account (wrong password
first), after which nothing is left on the phone or the server. axe-core on every screen."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.helpers import axe_violations
from tests.e2e.test_plan_flow import PASSWORD, READ_DEVICE, check, device_counts, h1, onboard
from tests.e2e.test_sharing_flow import make_account


def test_privacy_page_export_and_delete(page: Page) -> None:
    page.goto("/privacy")
    expect(h1(page)).to_have_text("Privacy")
    expect(page.locator("main")).to_contain_text("We vragen nooit je BSN")
    check(page, "privacy", large_text=True)

    onboard(page, audit=False)
    make_account(page, "lisa2008", "Lisa")
    expect(page.get_by_role("heading", name="Je gegevens")).to_be_visible()
    check(page, "ik met je gegevens")

    page.get_by_role("link", name="Bekijk al je gegevens").click()
    expect(page.locator("body")).to_contain_text("lisa2008")
    expect(page.locator("body")).to_contain_text("Lisa")
    assert axe_violations(page) == [], "export page"
    download = page.request.get("/api/me/export")
    assert download.ok and "attachment" in download.headers["content-disposition"]
    assert download.json()["account"]["username"] == "lisa2008"

    page.goto("/ik/verwijderen")
    expect(h1(page)).to_have_text("Verwijder je account")
    check(page, "verwijderen")
    page.get_by_label("Je wachtwoord").fill("niet-mijn-wachtwoord")
    page.get_by_role("button", name="Verwijder mijn account").click()
    expect(page.get_by_role("alert").filter(has_text="wachtwoord")).to_be_visible()
    assert page.request.get("/api/me").ok  # nothing happened
    check(page, "verwijderen fout wachtwoord")
    page.get_by_label("Je wachtwoord").fill(PASSWORD)
    page.get_by_role("button", name="Verwijder mijn account").click()
    expect(page.get_by_role("status").filter(has_text="Je account en al je gegevens zijn verwijderd.")).to_be_visible()
    expect(h1(page)).to_have_text("Welkom bij Startklaar")
    assert all(n == 0 for n in device_counts(page).values()), page.evaluate(READ_DEVICE)
    assert page.request.get("/api/me").status == 401
    login = page.request.post("/api/session", data={"username": "lisa2008", "password": PASSWORD})
    assert login.status == 401

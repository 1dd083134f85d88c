"""Personal API answers never stay on the phone: the service worker keeps no answer that depends on the login
(profile, progress, plan, reminders ...), not while logged in, not after "Uitloggen op al je apparaten" and not
after the login was ended on another device. What the jongere entered lives in the app's IndexedDB store, so
an offline reload still shows her plan; work that never reached the server is not thrown away without a word.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.helpers import assert_accessible, cache_storage
from tests.e2e.test_plan_flow import (
    PASSWORD,
    READ_DEVICE,
    device_counts,
    device_progress,
    h1,
    make_account_elsewhere,
    server_progress,
    tick_first_todo,
    wait_until,
)

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
# Answers that are the same for everyone; the service worker may keep these for offline use.
PUBLIC_API = re.compile(r"^/api/(gemeenten|content|kaart/[^/?]+/services(/[^/?]+)?)(\?|$)")
# Each personal answer says no-store (the plan sets "private, no-cache" itself: revalidated on every read).
PERSONAL_GETS = [
    "/api/me",
    "/api/me/profile",
    "/api/me/progress",
    "/api/me/reminders",
    "/api/me/reminder-preferences",
    "/api/me/messages",
]
ENDED = "Je bent niet meer ingelogd."


def personal_entries(page: Page) -> list[tuple[str, str]]:
    """Cache Storage entries for an API answer that is not public (so: depends on who is logged in)."""
    return [(name, url) for name, url in cache_storage(page) if url.startswith("/api/") and not PUBLIC_API.match(url)]


def offline_answer(page: Page, path: str) -> int | None:
    """The status the page gets for path (with the network off: None unless something answers from a cache)."""
    return page.evaluate("(p) => fetch(p).then((r) => r.status, () => null)", path)


def controlled(page: Page) -> None:
    """The service worker is active and handles this page's requests."""
    page.goto("/")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.wait_for_function("navigator.serviceWorker.controller !== null")


def log_in(page: Page, username: str = "sam") -> None:
    page.goto("/ik/inloggen")
    page.get_by_label("Gebruikersnaam").fill(username)
    page.get_by_label("Wachtwoord", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Inloggen").click()
    expect(page.get_by_role("status").filter(has_text="Je bent ingelogd.")).to_be_visible()
    expect(h1(page)).to_have_text("Vandaag")


def visit_personal_screens(page: Page) -> None:
    """The screens that fetch the plan, progress, reminders and messages (logging in fetched the profile)."""
    nav = page.get_by_role("navigation", name="Hoofdmenu")
    nav.get_by_role("link", name="Mijn stappen").click()
    page.get_by_role("button", name=re.compile(r"^Klaar \(1\)")).click()
    expect(page.locator("#stappen-lijst").get_by_role("link", name="Vraag je DigiD aan")).to_be_visible()
    page.goto("/ik/herinneringen")
    expect(page.get_by_role("link", name=re.compile("Je berichten"))).to_be_visible()
    page.goto("/ik/berichten")
    expect(h1(page)).to_have_text("Je berichten")
    page.goto("/hulp")  # a public answer (the sociale kaart) for comparison
    expect(h1(page)).to_have_text("Hulp in de buurt")
    expect(page.locator("main").get_by_role("status")).to_have_text(re.compile("Geen hulp gevonden|resultaten?$"))
    page.goto("/ik")
    expect(page.locator("main")).to_contain_text("Je bent ingelogd als sam")
    expect(page.locator("main")).to_contain_text("Utrecht")


def end_sessions_elsewhere(base_url: str) -> None:
    """Another phone logs in and taps "Uitloggen op al je apparaten"."""
    with httpx.Client(base_url=base_url) as other:
        assert other.post("/api/session", json={"username": "sam", "password": PASSWORD}).status_code == 200
        csrf = {"X-CSRF-Token": other.cookies["sk_csrf"]}
        res = other.delete("/api/session", params={"overal": "true"}, headers=csrf)
        assert res.status_code == 204, res.text


def test_no_personal_answer_in_cache_storage_and_log_out_everywhere_clears_it(
    page: Page, context: BrowserContext, live_server: str
) -> None:
    make_account_elsewhere(live_server)
    controlled(page)
    log_in(page)
    visit_personal_screens(page)

    # The service worker kept none of the personal answers, and the server marks each of them no-store.
    assert not (kept := personal_entries(page)), kept
    for path in PERSONAL_GETS:
        res = page.request.get(path)
        assert res.ok, (path, res.status)
        assert res.headers.get("cache-control") == "no-store", (path, res.headers.get("cache-control"))
    assert "private" in page.request.get("/api/me/plan").headers["cache-control"]
    # Public answers (the sociale kaart) are still kept for offline use.
    wait_until(page, lambda: any(u.startswith("/api/kaart/") for _, u in cache_storage(page)), "a kept kaart answer")

    # Offline the plan still shows: it comes from what is kept in the app's own store (IndexedDB).
    context.set_offline(True)
    try:
        page.reload()
        expect(page.locator("main")).to_contain_text("Utrecht")
        page.goto("/")
        expect(h1(page)).to_have_text("Vandaag")
        expect(page.locator("main")).to_contain_text("Je hebt nu geen internet.")
        expect(page.locator(".todos a")).to_have_count(3)
        page.goto("/stappen")
        page.get_by_role("button", name=re.compile(r"^Klaar \(1\)")).click()
        expect(page.locator("#stappen-lijst").get_by_role("link", name="Vraag je DigiD aan")).to_be_visible()
        # A personal answer is not served from a cache while offline.
        assert offline_answer(page, "/api/me/profile") is None
    finally:
        context.set_offline(False)

    # (a) Uitloggen op al je apparaten: nothing personal is left on the phone.
    page.goto("/ik")
    page.get_by_role("button", name="Uitloggen op al je apparaten").click()
    expect(h1(page)).to_have_text("Welkom bij Startklaar")
    expect(page.locator("main")).to_contain_text("Je bent uitgelogd op al je apparaten.")
    assert not (kept := personal_entries(page)), kept
    assert device_counts(page) == {"cache": 0, "outbox": 0, "profile": 0, "progress": 0}, page.evaluate(READ_DEVICE)
    assert page.request.get("/api/me").status == 401
    page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Ik").click()
    expect(page.locator("main")).to_contain_text("Je hebt je gegevens nog niet ingevuld.")
    expect(page.locator("main")).not_to_contain_text("Utrecht")


def test_login_ended_on_another_device_leaves_nothing_personal(
    page: Page, context: BrowserContext, live_server: str
) -> None:
    make_account_elsewhere(live_server)
    controlled(page)
    log_in(page)
    visit_personal_screens(page)

    # (b) Another phone ends every login; this phone finds out with its next request.
    end_sessions_elsewhere(live_server)
    page.reload()
    expect(h1(page)).to_have_text("Welkom bij Startklaar")
    expect(page.get_by_role("status").filter(has_text=ENDED)).to_be_visible()
    for width in (390, 320):  # the notice on the start screen passes axe-core on a phone and a small phone
        page.set_viewport_size({"width": width, "height": 844})
        assert_accessible(page)
    assert not (kept := personal_entries(page)), kept
    # Everything on the phone was also in the account (nothing waited): it is gone, logging in brings it back.
    assert device_counts(page) == {"cache": 0, "outbox": 0, "profile": 0, "progress": 0}, page.evaluate(READ_DEVICE)

    context.set_offline(True)
    try:
        page.goto("/ik")
        expect(page.locator("main")).to_contain_text("Je hebt je gegevens nog niet ingevuld.")
        expect(page.locator("main")).not_to_contain_text("Utrecht")
        assert offline_answer(page, "/api/me/profile") is None
        assert offline_answer(page, "/api/me/plan") is None
    finally:
        context.set_offline(False)

    log_in(page)  # logging in again brings the plan back
    page.goto("/ik")
    expect(page.locator("main")).to_contain_text("Utrecht")


def test_ticks_that_never_reached_the_server_stay_when_the_login_ends_elsewhere(
    page: Page, context: BrowserContext, live_server: str
) -> None:
    make_account_elsewhere(live_server)
    controlled(page)
    log_in(page)
    page.goto("/ik/herinneringen")
    expect(page.get_by_role("link", name=re.compile("Je berichten"))).to_be_visible()

    # Offline, a tick waits in the outbox; meanwhile the login is ended on another phone.
    context.set_offline(True)
    try:
        step_id, title = tick_first_todo(page)
        assert device_counts(page)["outbox"] == 1
    finally:
        end_sessions_elsewhere(live_server)
        context.set_offline(False)

    # Back online the tick cannot be saved: the phone forgets the login and says so, but keeps the tick.
    expect(page.get_by_role("status").filter(has_text=ENDED)).to_be_visible()
    expect(page.locator("main")).to_contain_text("Je vinkjes staan nog op deze telefoon.")
    device = page.evaluate(READ_DEVICE)
    assert "account" not in device["cache"], device["cache"]
    assert device_progress(page).get(step_id) == "done"
    assert not (kept := personal_entries(page)), kept

    # Offline reload: the plan the jongere made, with her tick, from IndexedDB.
    context.set_offline(True)
    try:
        page.goto("/stappen/" + step_id)
        expect(h1(page)).to_have_text(title)
        expect(page.locator(".state")).to_contain_text("Klaar! Goed gedaan.")
    finally:
        context.set_offline(False)

    # Logging in again sends the tick to the account.
    log_in(page)
    wait_until(page, lambda: server_progress(page).get(step_id) == "done", "the kept tick on the server")


def test_an_update_deletes_personal_answers_an_older_worker_kept(page: Page, context: BrowserContext) -> None:
    # A phone with an older worker, and the personal answers that v7 and older kept in Cache Storage.
    current = (FRONTEND / "sw.js").read_text(encoding="utf-8")
    old, n = re.subn(r"const VERSION = '[^']+';", "const VERSION = 'v-old';", current)
    assert n == 1, "sw.js changed shape: update this test"
    context.route("**/sw.js", lambda route: route.fulfill(body=old, content_type="text/javascript"))
    controlled(page)
    page.evaluate(
        """async () => {
          for (const name of ['startklaar-api-v7', 'startklaar-api-v-old']) {
            const cache = await caches.open(name);
            await cache.put('/api/me/profile', new Response('{"birth_date": "2008-05-01"}'));
            await cache.put('/api/me/reminders', new Response('{"items": [], "unread": 0}'));
          }
        }"""
    )
    assert len(personal_entries(page)) == 4

    # The new worker arrives: activating it deletes the old caches, personal answers and all.
    context.unroute("**/sw.js")
    page.evaluate("navigator.serviceWorker.getRegistration().then((r) => r.update())")
    # Wait on the cache names alone: reading the entries opens each cache, and caches.open() of a cache the
    # worker is deleting at that moment makes it again (empty) — the test itself would keep it alive.
    def old_names() -> list[str]:
        return [n for n in page.evaluate("caches.keys()") if n.endswith(("-v7", "-v-old"))]

    wait_until(page, lambda: not old_names(), "the old caches to be deleted")
    assert not personal_entries(page)
    names = {name for name, _ in cache_storage(page)} | set(page.evaluate("caches.keys()"))
    assert not any(name.endswith(("-v7", "-v-old")) for name in names), names
    assert any(name.startswith("startklaar-shell-") for name in names), names


def test_a_taken_username_is_told_at_the_field(page: Page, live_server: str) -> None:
    make_account_elsewhere(live_server)
    page.goto("/ik/account")
    page.fill("input[name=username]", "sam")
    page.fill("input[name=password]", "nog-een-lang-wachtwoord")
    page.click("button[type=submit]")
    expect(page.locator("[data-field=username], .field").filter(has_text="al in gebruik").first).to_be_visible()
    for width in (390, 320):
        page.set_viewport_size({"width": width, "height": 844})
        assert_accessible(page)

"""'Klaar voor vertrek?' (/klaar) in a real browser: per area a check and 'Geregeld' or the next step, from the
plan the server made; linked from Vandaag (six weeks before the vertrekdatum or after it), from Ik and from the
step big-5-checken; it works offline from the cached plan, with the ticks made on the phone.

Every screen is checked with axe-core at 390 and 320 px (and at 200 % text) and must not scroll sideways.
Set STARTKLAAR_SCREENSHOTS=/some/dir to keep a screenshot of each checked state (and the whole screen).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.test_plan_flow import READ_DEVICE, SHOTS, check, h1, wait_for_service_worker

TODAY = dt.datetime.now(ZoneInfo("Europe/Amsterdam")).date()  # the app's day (browser and server)
BIRTH = TODAY - dt.timedelta(days=18 * 365 + 200)  # 18 for a while: the big-5 steps are in the plan
PASSWORD = "mijn-lange-zin-1"

PUT_PROFILE = """async (profile) => {
  const db = await new Promise((ok, fail) => {
    const r = indexedDB.open('startklaar', 1);
    r.onsuccess = () => ok(r.result);
    r.onerror = fail;
  });
  const t = db.transaction(['profile', 'cache'], 'readwrite');
  t.objectStore('profile').put(profile, 'me');
  t.objectStore('cache').delete('plan'); // a plan for other answers
  await new Promise((ok) => { t.oncomplete = ok; });
  db.close();
}"""


def api_profile(leaving: dt.date | None, situation: str = "instelling") -> dict[str, Any]:
    return {
        "birth_date": BIRTH.isoformat(),
        "gemeente_code": "GM0518",
        "vertrekdatum": leaving.isoformat() if leaving else None,
        "situation": situation,
    }


def answered(page: Page, profile: dict[str, Any]) -> None:
    """A jongere who answered the questions on this phone (the device store, as onboarding leaves it)."""
    page.goto("/")
    expect(h1(page)).to_have_text(re.compile("^(Welkom bij Startklaar|Vandaag)$"))
    device = {**profile, "gemeente_naam": "Den Haag", "updated_at": dt.datetime.now(dt.UTC).isoformat()}
    page.evaluate(PUT_PROFILE, device)
    page.goto("/")
    expect(h1(page)).to_have_text("Vandaag")


def server_plan(page: Page, profile: dict[str, Any], progress: dict[str, str] | None = None) -> dict[str, Any]:
    res = page.request.post("/api/plan", data={"profile": profile, "progress": progress or {}})
    assert res.ok, res.text()
    return dict(res.json())


def shot(page: Page, name: str) -> None:
    """The whole screen at 390 px (main scrolls inside the page, so a tall viewport instead of full_page)."""
    if not SHOTS:
        return
    tall = page.evaluate(
        "() => ['main', '.top', '.tabs'].reduce((n, s) => n + document.querySelector(s).scrollHeight, 0)"
    )
    page.set_viewport_size({"width": 390, "height": max(844, tall)})
    Path(SHOTS).mkdir(parents=True, exist_ok=True)
    page.screenshot(path=f"{SHOTS}/{re.sub(r'[^a-z0-9]+', '-', name.lower())}-390-full.png")
    page.set_viewport_size({"width": 390, "height": 844})


def areas(page: Page):  # noqa: ANN201
    return page.locator("main .areas > li")


def test_klaar_shows_each_area_and_works_offline_with_ticks(page: Page, context: BrowserContext) -> None:
    leaving = TODAY + dt.timedelta(days=30)
    profile = api_profile(leaving)
    readiness = server_plan(page, profile)["readiness"]
    assert readiness and readiness["areas"], readiness
    assert readiness["vertrekdatum"] == leaving.isoformat()
    assert not readiness["ready"]

    # Vandaag links to it: the vertrekdatum is within six weeks.
    answered(page, profile)
    klaar = page.get_by_role("link", name=re.compile("Bekijk wat geregeld is"))
    expect(klaar).to_be_visible()
    check(page, "vandaag met klaar voor vertrek", large_text=True)
    shot(page, "vandaag met klaar voor vertrek")
    klaar.click()

    expect(h1(page)).to_have_text("Klaar voor vertrek?")
    expect(h1(page)).to_be_focused()
    expect(page).to_have_title("Klaar voor vertrek? · Startklaar")
    expect(page.locator("main")).to_contain_text(f"Dat is over {(leaving - TODAY).days} dagen.")
    expect(areas(page)).to_have_count(len(readiness["areas"]))
    done = sum(a["ready"] for a in readiness["areas"])
    expect(page.locator("main")).to_contain_text(f"{done} van {len(readiness['areas'])} geregeld.")
    for n, area in enumerate(readiness["areas"]):
        box = areas(page).nth(n)
        expect(box.get_by_role("heading", level=2)).to_have_text(area["label"])
        if area["ready"]:  # not colour alone: a check mark and the word
            expect(box).to_contain_text("Geregeld")
            expect(box.locator("svg.icon")).to_have_count(1)
        else:
            expect(box).to_contain_text("Nog niet geregeld.")
            nxt = area["next"]
            link = box.get_by_role("link", name=re.compile(re.escape(nxt["title"])))
            expect(link).to_have_attribute("href", f"/stappen/{nxt['step_id']}")
    check(page, "klaar voor vertrek", large_text=True)
    shot(page, "klaar voor vertrek")

    # The next step of an area opens its step page.
    first_open = next(a for a in readiness["areas"] if not a["ready"])
    areas(page).nth(readiness["areas"].index(first_open)).get_by_role("link").click()
    expect(h1(page)).to_have_text(first_open["next"]["title"])
    wait_for_service_worker(page)

    # Offline: tick every step of one area as done; /klaar shows it as arranged from the cached plan.
    def steps(area: dict[str, Any]) -> set[str]:
        return {i["step_id"] for i in area["items"]}

    alone = [
        a
        for a in readiness["areas"]
        if not a["ready"] and not any(steps(a) & steps(b) for b in readiness["areas"] if b is not a)
    ]
    target = min(alone, key=lambda a: len(a["items"]))  # an area that shares no step with another one
    index = readiness["areas"].index(target)
    expected = server_plan(page, profile, {i: "done" for i in steps(target)})["readiness"]
    assert [a["ready"] for a in expected["areas"]] == [a["ready"] or a is target for a in readiness["areas"]]
    context.set_offline(True)
    try:
        page.goto("/klaar")
        expect(h1(page)).to_have_text("Klaar voor vertrek?")
        expect(page.locator("main")).to_contain_text("Je hebt nu geen internet.")
        expect(areas(page)).to_have_count(len(readiness["areas"]))
        expect(areas(page).nth(index)).to_contain_text("Nog niet geregeld.")
        for item in target["items"]:
            page.goto("/stappen/" + item["step_id"])
            expect(h1(page)).to_have_text(item["title"])
            page.get_by_role("button", name="Gedaan", exact=True).click()
            expect(page.get_by_role("button", name="Toch nog niet gedaan")).to_be_focused()
        page.goto("/klaar")
        expect(areas(page).nth(index)).to_contain_text("Geregeld")
        expect(areas(page).nth(index)).not_to_contain_text("Nog niet geregeld.")
        expect(page.locator("main")).to_contain_text(f"{done + 1} van {len(readiness['areas'])} geregeld.")
        check(page, "klaar voor vertrek offline")
        shot(page, "klaar voor vertrek offline")
    finally:
        context.set_offline(False)

    # The phone sent what the server counted.
    ticks = {k: v["state"] for k, v in page.evaluate(READ_DEVICE)["progress"].items()}
    assert ticks == {i: "done" for i in steps(target)}
    assert server_plan(page, profile, ticks)["readiness"] == expected


def test_vandaag_links_to_klaar_only_near_the_vertrekdatum(page: Page) -> None:
    answered(page, api_profile(TODAY + dt.timedelta(days=60)))  # eight weeks before: not yet
    expect(page.get_by_role("heading", name="Dit kun je nu doen")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("Bekijk wat geregeld is"))).to_have_count(0)

    # Ik always links to it.
    page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Ik").click()
    expect(h1(page)).to_have_text("Ik")
    expect(page.get_by_role("heading", name="Klaar voor vertrek?")).to_be_visible()
    check(page, "ik met klaar voor vertrek", large_text=True)
    shot(page, "ik met klaar voor vertrek")
    page.get_by_role("link", name="Bekijk wat geregeld is").click()
    expect(h1(page)).to_have_text("Klaar voor vertrek?")
    expect(areas(page).first).to_be_visible()

    # The vertrekdatum has passed: Vandaag shows it again.
    answered(page, api_profile(TODAY - dt.timedelta(days=3)))
    expect(page.get_by_role("link", name=re.compile("Bekijk wat geregeld is"))).to_be_visible()
    page.get_by_role("link", name=re.compile("Bekijk wat geregeld is")).click()
    expect(page.locator("main")).to_contain_text("Je vertrekdatum was")


def test_big_5_step_links_to_klaar(page: Page) -> None:
    profile = api_profile(TODAY + dt.timedelta(days=20))
    items = {i["step_id"] for i in server_plan(page, profile)["items"]}
    assert "big-5-checken" in items, "the step big-5-checken (due at V-4w) is in the plan"
    answered(page, profile)
    page.goto("/stappen/big-5-checken")
    link = page.get_by_role("link", name="Bekijk wat al geregeld is")
    expect(link).to_have_attribute("href", "/klaar")
    check(page, "stap big 5 checken")
    shot(page, "stap big 5 checken")
    link.click()
    expect(h1(page)).to_have_text("Klaar voor vertrek?")


def test_readiness_api_for_a_logged_in_jongere(live_server: str) -> None:
    """GET /api/me/readiness is the readiness of GET /api/me/plan (what /klaar shows after logging in)."""
    with httpx.Client(base_url=live_server) as c:
        res = c.post("/api/accounts", json={"username": "noor", "password": PASSWORD})
        assert res.status_code == 201, res.text
        headers = {"X-CSRF-Token": c.cookies["sk_csrf"]}
        assert c.get("/api/me/readiness").status_code == 404  # no profile yet
        profile = api_profile(TODAY + dt.timedelta(days=30))
        assert c.put("/api/me/profile", json=profile, headers=headers).status_code == 200
        ready = c.get("/api/me/readiness")
        assert ready.status_code == 200, ready.text
        assert ready.json() == c.get("/api/me/plan").json()["readiness"]
        assert {"ready", "vertrekdatum", "areas"} <= set(ready.json())
        # An unknown future gemeente: a Dutch message for that field (the app shows it at the question).
        wrong = c.put("/api/me/profile", json={**profile, "future_gemeente_code": "GM9999"}, headers=headers)
        assert wrong.status_code == 422
        assert "gemeente" in wrong.json()["fields"]["future_gemeente_code"]

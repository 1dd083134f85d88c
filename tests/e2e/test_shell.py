"""The PWA shell: layout on a phone, accessibility, keyboard use, service worker and offline use."""

from __future__ import annotations

import gzip
import posixpath
import re
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.helpers import axe_violations

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"

NAV = [("/", "Vandaag"), ("/stappen", "Mijn stappen"), ("/hulp", "Hulp in de buurt"), ("/ik", "Ik")]
SCREENS = {
    "/": "Welkom bij Startklaar",  # Vandaag on a fresh device: the welcome screen (no profile yet)
    "/stappen": "Mijn stappen",
    "/hulp": "Hulp in de buurt",
    "/ik": "Ik",
    "/nu-praten": "Hulp nodig? Praat nu met iemand",
    "/bestaat-niet": "Deze pagina bestaat niet",
}
STATIC_IMPORT = re.compile(r"""^\s*(?:import|export)\s[^'"]*?from\s*['"](\.[^'"]+)['"]""", re.M)
CRISIS_LINKS = ["tel:08000113", "tel:08002000", "tel:112", "https://www.113.nl"]


def open_screen(page: Page, path: str) -> None:
    page.goto(path)
    expect(page.locator("main h1")).to_have_text(SCREENS.get(path, re.compile(".+")))


def violations(page: Page) -> list[dict]:
    return axe_violations(page)


def wait_for_service_worker(page: Page) -> None:
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")


def focused(page: Page) -> str:
    return page.evaluate("document.activeElement.getAttribute('href') || document.activeElement.id || ''")


# --- layout ---------------------------------------------------------------------------------------


def test_shell_shows_the_four_places_and_the_crisis_entry_on_a_phone(page: Page) -> None:
    open_screen(page, "/")
    assert page.viewport_size == {"width": 390, "height": 844}
    expect(page).to_have_title("Welkom · Startklaar")
    assert page.evaluate("document.documentElement.lang") == "nl"

    nav = page.get_by_role("navigation", name="Hoofdmenu")
    links = nav.get_by_role("link")
    expect(links).to_have_count(4)
    for i, (href, label) in enumerate(NAV):
        link = links.nth(i)
        expect(link).to_be_visible()
        expect(link).to_have_text(label)
        expect(link).to_have_attribute("href", href)
        box = link.bounding_box()
        assert box and box["width"] >= 48 and box["height"] >= 48, (label, box)
        assert box["y"] + box["height"] <= 844 + 0.5, "the menu sits in view at the bottom"
    expect(links.nth(0)).to_have_attribute("aria-current", "page")

    crisis = page.get_by_role("link", name="Hulp nodig? Nu praten")
    expect(crisis).to_be_visible()
    box = crisis.bounding_box()
    assert box and box["height"] >= 48 and box["y"] < 200


def test_navigating_updates_current_link_title_and_focus(page: Page) -> None:
    open_screen(page, "/")
    page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Mijn stappen").click()
    expect(page).to_have_url(re.compile(r"/stappen$"))
    expect(page).to_have_title("Mijn stappen · Startklaar")
    expect(page.locator("main h1")).to_be_focused()
    expect(page.locator('.tabs a[aria-current="page"]')).to_have_attribute("href", "/stappen")
    expect(page.locator('.tabs a[href="/"]')).not_to_have_attribute("aria-current", "page")

    page.get_by_role("link", name="Hulp nodig? Nu praten").click()
    expect(page).to_have_title("Nu praten · Startklaar")
    expect(page.locator(".tabs a[aria-current]")).to_have_count(0)

    page.go_back()
    expect(page.locator("main h1")).to_have_text("Mijn stappen")


def test_crisis_screen_has_the_numbers(page: Page) -> None:
    open_screen(page, "/nu-praten")
    for href in CRISIS_LINKS:
        expect(page.locator(f'main a[href="{href}"]')).to_be_visible()
    expect(page.locator("main")).to_contain_text("0800-0113")
    expect(page.locator("main")).to_contain_text("Gratis, dag en nacht")


@pytest.mark.parametrize("width,height", [(390, 844), (320, 640)])
def test_every_screen_has_no_axe_violations(page: Page, width: int, height: int) -> None:
    page.set_viewport_size({"width": width, "height": height})
    for path in SCREENS:
        open_screen(page, path)
        assert violations(page) == [], f"{path} at {width}px"
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
            f"{path} scrolls sideways at {width}px"
        )


def test_no_csp_violations_or_script_errors(page: Page) -> None:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    for path in SCREENS:
        open_screen(page, path)
    page.get_by_role("link", name="Ik").click()
    expect(page.locator("main h1")).to_have_text("Ik")
    assert problems == []


def test_gemeente_search_on_hulp(page: Page) -> None:
    open_screen(page, "/hulp")
    page.get_by_label("In welke gemeente woon je?").fill("haag")
    expect(page.locator(".results li", has_text="Den Haag")).to_be_visible()
    expect(page.locator("main [role=status]")).to_contain_text("gevonden")


# --- keyboard -------------------------------------------------------------------------------------


def test_keyboard_reaches_skip_link_first_and_then_the_menu(page: Page) -> None:
    open_screen(page, "/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Naar de inhoud")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box and box["y"] >= 0 and box["x"] >= 0, "the skip link shows when it has focus"

    reached = []
    for _ in range(8):
        page.keyboard.press("Tab")
        reached.append(focused(page))
    assert reached[0] == "/nu-praten"
    for href, _label in NAV:
        assert href in reached, (href, reached)

    # The skip link moves focus to the content.
    open_screen(page, "/stappen")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert focused(page) == "main"
    expect(page.locator("main h1")).to_have_text("Mijn stappen")


def test_skip_link_while_the_screen_still_loads_keeps_focus_on_the_content(page: Page) -> None:
    # On a slow phone the screen's module can still be loading when the skip link is used;
    # the #main anchor must not start that screen again and pull focus to its heading.
    held = []
    page.route("**/js/screens/stappen.js", lambda route: held.append(route))
    page.goto("/stappen")
    for _ in range(250):
        if held:
            break
        page.wait_for_timeout(20)
    assert held, "the screen module is requested"
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Naar de inhoud")).to_be_focused()
    page.keyboard.press("Enter")
    assert focused(page) == "main"
    for route in held:
        route.continue_()
    expect(page.locator("main h1")).to_have_text("Mijn stappen")
    expect(page.locator("main .lead, main p").first).to_be_visible()
    page.wait_for_timeout(200)
    assert focused(page) == "main"


# --- service worker and offline -------------------------------------------------------------------


def test_service_worker_takes_control(page: Page) -> None:
    open_screen(page, "/")
    wait_for_service_worker(page)
    page.reload()
    expect(page.locator("main h1")).to_have_text(SCREENS["/"])
    assert page.evaluate("navigator.serviceWorker.controller !== null")
    assert page.evaluate("navigator.serviceWorker.controller.scriptURL").endswith("/sw.js")
    names = page.evaluate("caches.keys()")
    assert any(n.startswith("startklaar-shell-") for n in names), names


def test_offline_reload_still_shows_shell_and_crisis_numbers(page: Page, context: BrowserContext) -> None:
    open_screen(page, "/")
    wait_for_service_worker(page)
    context.set_offline(True)
    try:
        page.reload()
        expect(page.locator("main h1")).to_have_text(SCREENS["/"])
        expect(page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link")).to_have_count(4)
        page.get_by_role("link", name="Hulp nodig? Nu praten").click()
        expect(page.locator("main h1")).to_have_text(SCREENS["/nu-praten"])
        for href in CRISIS_LINKS:
            expect(page.locator(f'main a[href="{href}"]')).to_be_visible()

        page.goto("/nu-praten")  # a fresh load of the crisis screen, offline
        expect(page.locator('main a[href="tel:08000113"]')).to_be_visible()
    finally:
        context.set_offline(False)


def test_app_route_loaded_directly_while_offline(page: Page, context: BrowserContext) -> None:
    open_screen(page, "/")
    wait_for_service_worker(page)
    context.set_offline(True)
    try:
        page.goto("/stappen")
        expect(page.locator("main h1")).to_have_text("Mijn stappen")
        expect(page.locator('.tabs a[aria-current="page"]')).to_have_attribute("href", "/stappen")
        page.goto("/hulp")
        expect(page.locator("main h1")).to_have_text("Hulp in de buurt")
    finally:
        context.set_offline(False)


# --- the files themselves -------------------------------------------------------------------------


def test_service_worker_precaches_every_shell_file() -> None:
    sw = (FRONTEND / "sw.js").read_text(encoding="utf-8")
    shell = set(re.findall(r"'(/[^']+)'", sw.split("const SHELL = [", 1)[1].split("];", 1)[0]))
    wanted = {"/index.html", "/manifest.webmanifest"}
    for folder in ("js", "css", "icons"):
        wanted |= {"/" + p.relative_to(FRONTEND).as_posix() for p in (FRONTEND / folder).rglob("*") if p.is_file()}
    assert wanted - shell == set(), "add these to SHELL in sw.js (and bump VERSION)"
    assert shell - wanted == set(), "SHELL lists files that do not exist"


def test_index_html_has_no_inline_script_style_or_handlers() -> None:
    html = (FRONTEND / "index.html").read_text(encoding="utf-8")
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert " style=" not in html and "<style" not in html
    assert re.search(r"\son[a-z]+=", html) is None
    assert 'lang="nl"' in html
    viewport = re.search(r'<meta name="viewport" content="([^"]+)"', html)
    assert viewport and "maximum-scale" not in viewport.group(1) and "user-scalable" not in viewport.group(1)


def gzipped(files: list[str] | set[str]) -> int:
    return sum(len(gzip.compress((FRONTEND / f).read_bytes(), 9)) for f in files)


def first_load_files() -> set[str]:
    """index.html, what it links (stylesheet, manifest, module script), every module imported statically, sw.js."""
    html = (FRONTEND / "index.html").read_text(encoding="utf-8")
    files = {"index.html", "sw.js"} | {
        r.lstrip("/") for r in re.findall(r'(?:href|src)="(/[^"]+\.(?:css|js|webmanifest))"', html)
    }
    todo = [f for f in files if f.endswith(".js") and f != "sw.js"]
    while todo:
        path = todo.pop()
        for ref in STATIC_IMPORT.findall((FRONTEND / path).read_text(encoding="utf-8")):
            dep = posixpath.normpath(posixpath.join(posixpath.dirname(path), ref))
            if dep not in files:
                files.add(dep)
                todo.append(dep)
    return files


def test_first_load_is_small() -> None:
    """What a phone downloads before the first screen shows. Screens come later, with import()."""
    files = first_load_files()
    assert "js/store.js" in files and "js/screens/vandaag.js" not in files
    total = gzipped(files)
    assert total < 50_000, f"the first load is {total} bytes gzipped"


def test_offline_shell_is_small() -> None:
    """Everything the service worker precaches (every screen too): a phone downloads it on the first visit.
    A budget of our own (issue 2 asks < 50 KB for the first load, tested above); raised from 70 to 72 KB with
    issue 12 (Klaar voor vertrek, woordenlijst, bedragen per datum, woonsite), content is not in it."""
    files = ["index.html", "manifest.webmanifest", "sw.js", "css/app.css"]
    files += [p.relative_to(FRONTEND).as_posix() for p in (FRONTEND / "js").rglob("*.js")]
    total = gzipped(files)
    assert total < 72_000, f"all shell files together are {total} bytes gzipped"

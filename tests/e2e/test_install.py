"""The manifest and service worker make the app installable (Chromium's own installability check)."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.sync_api import Playwright

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, PHONE


def test_manifest_has_what_an_installable_pwa_needs(live_server: str) -> None:
    m = httpx.get(live_server + "/manifest.webmanifest").json()
    assert m["lang"] == "nl" and m["display"] == "standalone"
    for key in ("id", "name", "short_name", "start_url", "scope", "theme_color", "background_color"):
        assert m.get(key), key
    sizes = {(i["sizes"], i.get("purpose", "any")) for i in m["icons"]}
    assert ("192x192", "any") in sizes and ("512x512", "any") in sizes and ("512x512", "maskable") in sizes
    for icon in m["icons"]:
        r = httpx.get(live_server + icon["src"])
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"


def test_chromium_finds_no_installability_errors(
    playwright_instance: Playwright, live_server: str, tmp_path: Path
) -> None:
    ctx = playwright_instance.chromium.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=CHROMIUM, args=CHROMIUM_ARGS, viewport=PHONE
    )
    try:
        page = ctx.new_page()
        page.goto(live_server + "/")
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        cdp = ctx.new_cdp_session(page)
        errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
        assert errors == [], errors
        manifest = cdp.send("Page.getAppManifest")
        assert manifest["errors"] == [], manifest["errors"]
    finally:
        ctx.close()

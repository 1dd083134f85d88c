"""Helpers for browser tests: axe-core checks and small waits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE_JS = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Run axe-core (WCAG 2.0/2.1/2.2 A and AA) on the page; returns the violations (empty = clean)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # evaluate(), not add_script_tag(): the app's CSP (script-src 'self') blocks injected inline scripts.
        page.evaluate(AXE_JS.read_text(encoding="utf-8"))
    result = page.evaluate(
        "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}})).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))}))",
        WCAG_TAGS,
    )
    return list(result)


def assert_accessible(page: Page) -> None:
    violations = axe_violations(page)
    assert violations == [], f"axe-core found WCAG problems on {page.url}: {violations}"


# Every entry in the page's Cache Storage as [cache name, path + query], read inside the page.
CACHE_STORAGE = """async () => {
  const out = [];
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    for (const req of await cache.keys()) {
      const url = new URL(req.url);
      out.push([name, url.pathname + url.search]);
    }
  }
  return out;
}"""


def cache_storage(page: Page) -> list[tuple[str, str]]:
    """What the service worker (or the page) keeps in Cache Storage: [(cache name, path + query)]."""
    return [(name, url) for name, url in page.evaluate(CACHE_STORAGE)]

"""First-load size of the PWA: what a phone downloads before the first screen shows (gzip, as served).

Run: .venv/bin/python -m bench.first_load
Follows index.html's stylesheet, manifest and module script and every *static* ES-module import: that is the
first paint. Screens loaded with dynamic import() come after; they are listed separately, and so is the
service worker's precache (downloaded in the background after the first visit).
"""

from __future__ import annotations

import gzip
import posixpath
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "frontend"
HTML_REFS = re.compile(r'(?:href|src)="(/[^"]+\.(?:css|js|webmanifest))"')
STATIC_IMPORT = re.compile(
    r"""(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]"""
)
DYNAMIC_IMPORT = re.compile(r"""import\s*\(\s*['"]([^'"]+)['"]\s*\)""")


def gz(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9))


def _resolve(base: str, ref: str) -> str | None:
    if ref.startswith("."):
        return posixpath.normpath(posixpath.join(posixpath.dirname(base), ref))
    return ref if ref.startswith("/") else None


def module_graph(entries: list[str]) -> tuple[list[str], list[str]]:
    """(static closure of the entries, modules only reachable through dynamic import())."""
    static: list[str] = []
    dynamic: list[str] = []
    todo = list(entries)
    while todo:
        path = todo.pop()
        if path in static:
            continue
        static.append(path)
        text = (ROOT / path.lstrip("/")).read_text(encoding="utf-8")
        for a, b in STATIC_IMPORT.findall(text):
            if (ref := _resolve(path, a or b)) is not None:
                todo.append(ref)
        for ref in DYNAMIC_IMPORT.findall(text):
            if (r := _resolve(path, ref)) is not None:
                dynamic.append(r)
    lazy: list[str] = []
    todo = [d for d in dynamic if d not in static]
    while todo:
        path = todo.pop()
        if path in static or path in lazy:
            continue
        lazy.append(path)
        text = (ROOT / path.lstrip("/")).read_text(encoding="utf-8")
        for a, b in STATIC_IMPORT.findall(text):
            if (ref := _resolve(path, a or b)) is not None:
                todo.append(ref)
        todo.extend(r for ref in DYNAMIC_IMPORT.findall(text) if (r := _resolve(path, ref)) is not None)
    return static, lazy


def sizes(paths: list[str]) -> list[tuple[str, int, int]]:
    out = []
    for p in paths:
        data = (ROOT / p.lstrip("/")).read_bytes()
        out.append((p, len(data), gz(data)))
    return out


def first_load() -> tuple[list[tuple[str, int, int]], list[tuple[str, int, int]]]:
    html = (ROOT / "index.html").read_text(encoding="utf-8")
    refs = HTML_REFS.findall(html)
    static, lazy = module_graph([r for r in refs if r.endswith(".js")])
    first = sizes(["/index.html", *[r for r in refs if not r.endswith(".js")], *static])
    return first, sizes(lazy)


def main() -> None:
    first, lazy = first_load()
    print(f"{'file':45} {'raw':>8} {'gzip':>8}")
    for name, raw, packed in first:
        print(f"{name:45} {raw:8} {packed:8}")
    print(f"{'FIRST PAINT total':45} {sum(f[1] for f in first):8} {sum(f[2] for f in first):8}  (target < 50 KB gzip)")
    print(f"{'screens loaded later (dynamic import)':45} {sum(f[1] for f in lazy):8} {sum(f[2] for f in lazy):8}")
    every = [p for p in ROOT.rglob("*") if p.is_file()]
    print(
        f"{'all frontend files (service worker precache)':45} "
        f"{sum(p.stat().st_size for p in every):8} {sum(gz(p.read_bytes()) for p in every):8}"
    )


if __name__ == "__main__":
    main()

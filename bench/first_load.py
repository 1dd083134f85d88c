"""First-load size of the PWA: what a phone downloads before the first screen shows (gzip, as served).

Run: .venv/bin/python -m bench.first_load
Follows index.html's stylesheet, manifest and module script, then every static and dynamic ES-module import,
and reports raw and gzip bytes; then the service worker's precache (downloaded in the background).
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "frontend"
HTML_REFS = re.compile(r'(?:href|src)="(/[^"]+\.(?:css|js|webmanifest))"')
JS_IMPORTS = re.compile(r"""(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)""")


def gz(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9))


def module_graph(entry: str) -> list[str]:
    seen: list[str] = []
    todo = [entry]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.append(path)
        text = (ROOT / path.lstrip("/")).read_text(encoding="utf-8")
        for static, dynamic in JS_IMPORTS.findall(text):
            ref = static or dynamic
            if ref.startswith("."):
                base = Path(path).parent
                todo.append(str((base / ref).resolve(strict=False)).replace(str(Path("/").resolve()), "/", 1))
            elif ref.startswith("/"):
                todo.append(ref)
    return seen


def first_load() -> list[tuple[str, int, int]]:
    html = (ROOT / "index.html").read_bytes()
    files = [("/index.html", len(html), gz(html))]
    for ref in HTML_REFS.findall(html.decode()):
        paths = module_graph(ref) if ref.endswith(".js") else [ref]
        for p in paths:
            data = (ROOT / p.lstrip("/")).read_bytes()
            files.append((p, len(data), gz(data)))
    return files


def main() -> None:
    files = first_load()
    print(f"{'file':45} {'raw':>8} {'gzip':>8}")
    for name, raw, packed in files:
        print(f"{name:45} {raw:8} {packed:8}")
    total_raw = sum(f[1] for f in files)
    total_gz = sum(f[2] for f in files)
    print(f"{'first load total':45} {total_raw:8} {total_gz:8}  (target < 50 KB gzip)")
    every = [p for p in ROOT.rglob("*") if p.is_file()]
    print(
        f"{'all frontend files (service worker precache)':45} "
        f"{sum(p.stat().st_size for p in every):8} {sum(gz(p.read_bytes()) for p in every):8}"
    )


if __name__ == "__main__":
    main()

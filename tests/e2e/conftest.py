"""Browser fixtures: the real app served by uvicorn on a free port, driven by Debian's Chromium.

Each test gets its own database (from tests/conftest.py), its own server and a fresh browser context.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from backend.app import create_app
from backend.config import Settings

CHROMIUM = os.environ.get("STARTKLAAR_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PHONE = {"width": 390, "height": 844}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    def __init__(self, app: FastAPI) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError("live server did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live_server_app(settings: Settings) -> FastAPI:
    settings.base_url = "http://127.0.0.1"
    return create_app(settings)


@pytest.fixture
def live_server(live_server_app: FastAPI) -> Iterator[str]:
    server = LiveServer(live_server_app)
    server.start()
    yield server.url
    server.stop()
    live_server_app.state.engine.dispose()


# Module scope, not session: Playwright's sync API keeps an asyncio loop running in the main thread while
# it lives, and later (non-browser) tests that call asyncio.run() must not find it there.
@pytest.fixture(scope="module")
def playwright_instance() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}: run `make test` (installs it) or apt-get install chromium")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    b = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield b
    b.close()


def new_phone_context(browser: Browser, base_url: str) -> BrowserContext:
    ctx = browser.new_context(
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        service_workers="allow",
        base_url=base_url,
        locale="nl-NL",
        timezone_id="Europe/Amsterdam",
    )
    ctx.set_default_timeout(10_000)
    return ctx


@pytest.fixture
def context(browser: Browser, live_server: str) -> Iterator[BrowserContext]:
    ctx = new_phone_context(browser, live_server)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()

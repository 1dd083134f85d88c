"""Herinneringen in a real browser: the screen under Ik, asking permission only after a tap, the subscription
reaching the server, a push delivered to the service worker over CDP shown as a notification, a tap on it
opening the step, the inbox, the settings with their Dutch errors, turning off, and logging out.

A real pushManager.subscribe() needs the browser vendor's push service, which these machines cannot reach: the
page's PushManager is stubbed with a subscription whose keys are a real P-256 key pair (so the server accepts
it). Everything after that is real: the service worker, CDP's ServiceWorker.deliverPushMessage, the payload
the worker would send (push.reminder_payload), the notification, and the API.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from typing import Any

import httpx
from fastapi import FastAPI
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlmodel import Session, select

from backend.accounts.models import UserAccount
from backend.clock import today_nl
from backend.reminders import push
from backend.reminders.models import PushSubscription, Reminder
from backend.reminders.service import content, send_moment
from tests.e2e.conftest import new_phone_context
from tests.e2e.test_plan_flow import check, h1, wait_for_service_worker, wait_until

PASSWORD = "mijn-lange-zin-1"
STEP = "zorgverzekering-kiezen"
OTHER_STEP = "huisarts-inschrijven"
ENDPOINT = "https://push.example.net/send/e2e-device-1"
IPHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1"
)

# Runs in every page before the app: counts permission requests and subscribe() calls, and stands in for
# the vendor's push service. localStorage 'test-deny' makes the phone answer "blocked".
STUB = """
(() => {
  const FAKE = %s;
  const calls = { permission: 0, subscribe: 0 };
  window.__push = calls;
  const deny = () => localStorage.getItem('test-deny') === '1';
  const real = Object.getOwnPropertyDescriptor(Notification, 'permission').get;
  Object.defineProperty(Notification, 'permission', { get() { return deny() ? 'denied' : real.call(this); } });
  const ask = Notification.requestPermission.bind(Notification);
  Notification.requestPermission = async () => { calls.permission++; return deny() ? 'denied' : ask(); };
  const sub = () => ({
    endpoint: FAKE.endpoint, expirationTime: null, options: { userVisibleOnly: true },
    toJSON: () => ({ endpoint: FAKE.endpoint, expirationTime: null, keys: FAKE.keys }),
    unsubscribe: async () => { localStorage.removeItem('test-sub'); return true; },
  });
  PushManager.prototype.subscribe = async function (opts) {
    calls.subscribe++;
    calls.keyBytes = opts.applicationServerKey.byteLength;
    if (Notification.permission !== 'granted') throw new DOMException('Registration failed', 'NotAllowedError');
    localStorage.setItem('test-sub', '1');
    return sub();
  };
  PushManager.prototype.getSubscription = async function () { return localStorage.getItem('test-sub') ? sub() : null; };
})();
"""

ACTIVATED = """() => navigator.serviceWorker.ready.then((r) => !!r.active && r.active.state === 'activated')"""
NOTIFICATIONS = """() => navigator.serviceWorker.ready.then((r) => r.getNotifications()).then((ns) =>
  ns.map((n) => ({ title: n.title, body: n.body, tag: n.tag, icon: n.icon, data: n.data })))"""


def device_keys() -> dict[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return {"p256dh": push.b64url(point), "auth": push.b64url(os.urandom(16))}


def stubbed_context(browser: Browser, base_url: str) -> BrowserContext:
    ctx = new_phone_context(browser, base_url)
    ctx.add_init_script(STUB % json.dumps({"endpoint": ENDPOINT, "keys": device_keys()}))
    return ctx


def push_calls(page: Page) -> dict[str, int]:
    return dict(page.evaluate("window.__push"))


def prefs(page: Page) -> dict[str, Any]:
    res = page.request.get("/api/me/reminder-preferences")
    assert res.ok, res.status
    return dict(res.json())


def sign_up(page: Page, username: str) -> None:
    page.goto("/ik/account")
    expect(h1(page)).to_have_text("Maak een account")
    page.get_by_label("Gebruikersnaam").fill(username)
    page.get_by_label("Wachtwoord", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Maak mijn account").click()
    expect(h1(page)).to_have_text("Je herstelcode")
    page.get_by_label("Ik heb de code opgeschreven").check()
    page.get_by_role("button", name="Verder").click()
    expect(h1(page)).to_have_text("Ik")


def due_reminder(app: FastAPI, username: str, step: str = STEP) -> int:
    """A reminder whose moment was yesterday (in the inbox), as the recompute would make it."""
    due = today_nl() - dt.timedelta(days=1)
    with Session(app.state.engine) as session:
        user = session.exec(select(UserAccount).where(UserAccount.username == username)).one()
        row = Reminder(user_id=user.id, step_id=step, rule_id="e2e", due_on=due, send_at=send_moment(due))  # type: ignore[arg-type]
        row.next_attempt_at, row.status = row.send_at, "sent"
        session.add(row)
        session.commit()
        assert row.id is not None
        return row.id


def subscriptions(app: FastAPI) -> list[str]:
    with Session(app.state.engine) as session:
        return list(session.exec(select(PushSubscription.endpoint)).all())


def deliver_push(page: Page, context: BrowserContext, origin: str, payload: bytes) -> None:
    """What the push service does: hand the encrypted message to the browser, which wakes the service worker."""
    cdp = context.new_cdp_session(page)
    registrations: list[str] = []
    # Only this server's registration: the browser may also report those of earlier tests (other ports).
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda e: registrations.extend(
            r["registrationId"]
            for r in e["registrations"]
            if not r["isDeleted"] and r["scopeURL"].startswith(origin.rstrip("/") + "/")
        ),
    )
    cdp.send("ServiceWorker.enable")
    wait_until(page, lambda: registrations, "the service worker registration over CDP")
    # Deliver only to an activated worker: a push to one still installing (a slow, busy machine) is lost.
    wait_until(page, lambda: page.evaluate(ACTIVATED), "the service worker to be activated")
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": origin, "registrationId": registrations[-1], "data": payload.decode()},
    )
    cdp.detach()


def reminders_screen(page: Page) -> None:
    page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Ik").click()
    expect(h1(page)).to_have_text("Ik")
    page.get_by_role("link", name="Herinneringen en berichten").click()
    expect(h1(page)).to_have_text("Herinneringen")
    expect(page).to_have_title("Herinneringen · Startklaar")


# --- the whole flow ------------------------------------------------------------------------------------


def test_turn_on_push_notification_click_inbox_settings_and_off(
    browser: Browser, live_server: str, live_server_app: FastAPI
) -> None:
    context = stubbed_context(browser, live_server)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    try:
        sign_up(page, "robin")
        wait_for_service_worker(page)
        reminders_screen(page)
        on = page.get_by_role("button", name="Zet herinneringen aan")
        expect(on).to_be_visible()
        expect(page.locator("main")).to_contain_text("Je naam en je geboortedatum staan er nooit in.")
        expect(page.locator("main")).to_contain_text("Geen berichten tussen 21:00 en 09:00.")

        # Opening the screen asks nothing: no permission prompt, no subscription.
        page.reload()
        expect(on).to_be_visible()
        assert push_calls(page) == {"permission": 0, "subscribe": 0}
        assert page.evaluate("Notification.permission") == "default"
        assert prefs(page)["devices"] == 0
        check(page, "herinneringen uit", large_text=True)

        # The phone blocks notifications: the screen says how to allow them again.
        page.evaluate("localStorage.setItem('test-deny', '1')")
        on.click()
        expect(page.get_by_role("status")).to_have_text("Je telefoon blokkeert meldingen van Startklaar.")
        expect(page.locator("main")).to_contain_text("Je hebt meldingen van Startklaar geblokkeerd.")
        expect(page.locator("main")).to_contain_text("Tik op App-info en dan op Meldingen.")
        expect(on).to_be_focused()
        assert push_calls(page) == {"permission": 1, "subscribe": 0}
        assert prefs(page)["devices"] == 0
        check(page, "herinneringen geblokkeerd")
        page.evaluate("localStorage.removeItem('test-deny')")

        # Allowed: the tap subscribes this phone and the server has it.
        context.grant_permissions(["notifications"], origin=live_server)
        page.reload()
        on.click()
        expect(page.get_by_role("status")).to_contain_text("Herinneringen staan aan.")
        off = page.get_by_role("button", name="Zet herinneringen uit")
        expect(off).to_be_focused()
        calls = push_calls(page)
        assert (calls["permission"], calls["subscribe"], calls["keyBytes"]) == (1, 1, 65)
        assert prefs(page)["devices"] == 1
        check(page, "herinneringen aan")

        # A reminder arrives: the service worker shows it, with the step's text and the app's icon.
        reminder_id = due_reminder(live_server_app, "robin")
        payload = push.reminder_payload(content(), reminder_id, STEP)
        shown = None
        for _attempt in range(3):  # like a push service, deliver again when the phone did not take it
            deliver_push(page, context, live_server, payload)
            try:
                shown = wait_until(page, lambda: page.evaluate(NOTIFICATIONS), "the notification", timeout=8)
                break
            except AssertionError:
                continue
        assert shown, "the service worker showed no notification after 3 deliveries"
        assert len(shown) == 1
        assert shown[0]["title"] == "Tijd voor een stap"
        assert shown[0]["body"] == "Kies je zorgverzekering. Tik om te zien hoe."
        assert shown[0]["tag"] == f"step-{STEP}"
        assert shown[0]["icon"].endswith("/icons/icon-192.png")
        assert shown[0]["data"]["url"] == f"/stappen/{STEP}"

        # A newer push for the same step replaces it (same tag) instead of piling up.
        deliver_push(page, context, live_server, payload)
        page.wait_for_timeout(300)
        assert len(page.evaluate(NOTIFICATIONS)) == 1

        # Tapping it opens that step in the open app and closes the notification.
        worker = context.service_workers[0]
        worker.evaluate(
            """async () => {
              const [n] = await self.registration.getNotifications();
              self.dispatchEvent(new NotificationEvent('notificationclick', { notification: n }));
            }"""
        )
        # (the app takes the read mark the service worker added out of the address)
        expect(page).to_have_url(re.compile(f"/stappen/{STEP}$"))
        expect(h1(page)).to_have_text("Kies je zorgverzekering")
        assert page.evaluate(NOTIFICATIONS) == []
        # ... and the reminder counts as read, as when it is opened from the inbox.
        wait_until(
            page, lambda: page.request.get("/api/me/reminders").json()["unread"] == 0, "the tapped reminder read"
        )

        # The inbox: a second reminder, new; tapping it marks it read and opens the step.
        due_reminder(live_server_app, "robin", OTHER_STEP)
        reminders_screen(page)
        page.get_by_role("link", name=re.compile("Je berichten")).click()
        expect(h1(page)).to_have_text("Je berichten")
        expect(page.get_by_role("status")).to_have_text("Je hebt 1 nieuw bericht.")
        expect(page.get_by_role("link", name=re.compile("Kies je zorgverzekering"))).not_to_contain_text("Nieuw")
        item = page.get_by_role("link", name=re.compile("Schrijf je (op tijd )?in bij een huisarts"))
        expect(item).to_contain_text("Nieuw ·")
        check(page, "berichten", large_text=True)
        item.click()
        expect(page).to_have_url(re.compile(f"/stappen/{OTHER_STEP}$"))
        expect(h1(page)).to_have_text(re.compile("^Schrijf je (op tijd )?in bij een huisarts$"))
        box = page.request.get("/api/me/reminders").json()
        assert box["unread"] == 0 and all(i["read"] for i in box["items"])
        page.go_back()
        expect(page.get_by_role("status")).to_have_text("Je hebt geen nieuwe berichten.")
        expect(item).not_to_contain_text("Nieuw")

        # Settings: quiet hours, a pause and the topics, with the server's Dutch errors.
        reminders_screen(page)
        page.get_by_role("link", name="Wijzig wanneer en waarover").click()
        expect(h1(page)).to_have_text("Wanneer en waarover")
        check(page, "herinneringen instellen", large_text=True)
        options = prefs(page)["options"]
        for option in options:
            page.get_by_role("checkbox", name=option["label"]).uncheck()
        page.get_by_role("button", name="Bewaar").click()
        expect(page.get_by_role("alert").filter(has_text="Kies minstens één onderwerp.")).to_be_visible()
        expect(page.get_by_role("checkbox", name=options[0]["label"])).to_be_focused()
        page.get_by_role("checkbox", name=options[0]["label"]).check()
        date = page.get_by_label("Pauze tot en met")
        expect(date).to_be_hidden()
        page.get_by_role("radio", name="Tot een datum die ik kies").check()
        expect(date).to_be_visible()
        date.fill((today_nl() + dt.timedelta(days=800)).isoformat())
        page.get_by_role("button", name="Bewaar").click()
        expect(page.get_by_role("alert").filter(has_text="hoogstens een jaar pauzeren")).to_be_visible()
        expect(date).to_have_attribute("aria-invalid", "true")
        expect(date).to_be_focused()
        check(page, "herinneringen instellen fout")
        page.get_by_role("radio", name=re.compile("^Een week")).check()
        page.get_by_label("Geen berichten vanaf").fill("22:30")
        page.get_by_label("Tot", exact=True).fill("08:00")
        page.get_by_role("button", name="Bewaar").click()
        expect(h1(page)).to_have_text("Herinneringen")
        expect(page.get_by_role("status").filter(has_text="Je keuzes zijn bewaard.")).to_be_visible()
        week = today_nl() + dt.timedelta(days=7)
        saved = prefs(page)
        assert (saved["quiet_start"], saved["quiet_end"], saved["paused_until"]) == ("22:30", "08:00", week.isoformat())
        assert saved["leefgebieden"] == [options[0]["id"]] and saved["push_enabled"] is True
        expect(page.locator("main")).to_contain_text("Geen berichten tussen 22:30 en 08:00.")
        expect(page.locator("main")).to_contain_text(f"Over: {options[0]['label']}.")

        # Off on this phone: the server forgets the device.
        page.get_by_role("button", name="Zet herinneringen uit").click()
        expect(
            page.get_by_role("status").filter(has_text="Herinneringen staan nu uit op deze telefoon.")
        ).to_be_visible()
        expect(page.get_by_role("button", name="Zet herinneringen aan")).to_be_focused()
        assert prefs(page)["devices"] == 0
        assert page.evaluate("navigator.serviceWorker.ready.then((r) => r.pushManager.getSubscription())") is None

        # Another phone of this person: "everywhere off" keeps the devices but stops all pushes.
        page.get_by_role("button", name="Zet herinneringen aan").click()
        expect(page.get_by_role("button", name="Zet herinneringen uit")).to_be_visible()
        other = {"endpoint": ENDPOINT + "-other-phone", "keys": device_keys()}
        csrf = next(c["value"] for c in context.cookies() if c["name"] == "sk_csrf")
        res = page.request.post("/api/me/push-subscriptions", data=other, headers={"X-CSRF-Token": csrf})
        assert res.status == 201, res.text()
        page.reload()
        expect(page.locator("main")).to_contain_text("Op 1 ander apparaat staan herinneringen aan.")
        page.get_by_role("button", name="Zet ze overal uit").click()
        expect(page.get_by_role("status").filter(has_text="Herinneringen staan nu overal uit.")).to_be_visible()
        saved = prefs(page)
        assert (saved["push_enabled"], saved["devices"]) == (False, 1)
        page.get_by_role("button", name="Zet herinneringen aan").click()
        expect(page.get_by_role("button", name="Zet herinneringen uit")).to_be_visible()
        saved = prefs(page)
        assert (saved["push_enabled"], saved["devices"]) == (True, 2)

        # Log out: a shared phone stops getting this person's reminders (the other phone keeps them).
        page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Ik").click()
        page.get_by_role("button", name="Uitloggen", exact=True).click()
        expect(h1(page)).to_have_text("Welkom bij Startklaar")
        assert subscriptions(live_server_app) == [other["endpoint"]]
        assert problems == []
    finally:
        context.close()


# --- without an account, and on an iPhone that has not installed the app -----------------------------------


def test_without_account_the_screen_asks_for_one_and_never_for_permission(page: Page) -> None:
    page.goto("/ik/herinneringen")
    expect(h1(page)).to_have_text("Herinneringen")
    expect(page.locator("main")).to_contain_text("Voor herinneringen heb je een account nodig.")
    expect(page.get_by_role("link", name="Maak een account")).to_be_visible()
    expect(page.get_by_role("button", name="Zet herinneringen aan")).to_have_count(0)
    check(page, "herinneringen zonder account")
    page.goto("/ik/berichten")
    expect(h1(page)).to_have_text("Je berichten")
    expect(page.locator("main")).to_contain_text("Voor herinneringen heb je een account nodig.")
    assert page.evaluate("Notification.permission") == "default"


def test_iphone_in_safari_is_told_to_add_the_app_to_the_home_screen(browser: Browser, live_server: str) -> None:
    with httpx.Client(base_url=live_server) as c:
        assert c.post("/api/accounts", json={"username": "kim", "password": PASSWORD}).status_code == 201
    context = browser.new_context(
        base_url=live_server,
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        user_agent=IPHONE_UA,
        locale="nl-NL",
        timezone_id="Europe/Amsterdam",
    )
    context.set_default_timeout(10_000)
    context.add_init_script("delete window.PushManager;")  # Safari outside the home screen has no push
    try:
        page = context.new_page()
        page.goto("/ik/inloggen")
        page.get_by_label("Gebruikersnaam").fill("kim")
        page.get_by_label("Wachtwoord", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Inloggen").click()
        expect(h1(page)).not_to_have_text("Inloggen")
        page.goto("/ik/herinneringen")
        expect(page.get_by_role("heading", name="Zet Startklaar eerst op je beginscherm")).to_be_visible()
        expect(page.locator("main ol li")).to_have_count(4)
        expect(page.locator("main")).to_contain_text("Kies Zet op beginscherm.")
        expect(page.get_by_role("button", name="Zet herinneringen aan")).to_have_count(0)
        check(page, "herinneringen iphone", large_text=True)
    finally:
        context.close()

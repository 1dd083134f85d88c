"""Nobody can lock an owner out (issue 11, item 5), and guessing still stops.

Before: 20 wrong passwords an hour from any address locked the account's owner out everywhere, and 50 typos at
one address (an instelling's NAT) locked out everyone there. Now a device that logged in as this person before
(its `sk_device` cookie) has a limit of its own, and the other limits count only attempts from other devices.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from backend.accounts import routes
from tests.accounts.helpers import PASSWORD, signup

WRONG = "fout-wachtwoord"


def _device(client: TestClient, ip: str) -> TestClient:
    """Another browser, at another address."""
    return TestClient(client.app, base_url="http://localhost", client=(ip, 40000))


def _login(c: TestClient, username: str, password: str) -> int:
    return c.post("/api/session", json={"username": username, "password": password}).status_code


def test_an_attacker_elsewhere_cannot_lock_the_owner_out_of_her_phone(client: TestClient) -> None:
    owner = signup(client)["username"]  # her phone now knows it logged in as her
    client.delete("/api/session")
    attempts = routes.LOGIN_PER_USER.attempts
    for n in range(attempts + 5):  # from ever new addresses: only the per-person limit can catch it
        assert _login(_device(client, f"203.0.113.{n + 1}"), owner, WRONG) in (401, 429)
    assert _login(_device(client, "198.51.100.7"), owner, WRONG) == 429  # a new device is slowed down
    assert _login(_device(client, "198.51.100.7"), owner, PASSWORD) == 429
    assert _login(client, owner, PASSWORD) == 200  # her own phone gets in
    assert client.get("/api/me").json()["username"] == owner


def test_typos_at_one_address_do_not_lock_out_people_who_logged_in_there_before(client: TestClient) -> None:
    regular = signup(client)["username"]
    client.delete("/api/session")
    nat = client  # same address ("testclient") as the crowd below
    for n in range(routes.LOGIN_PER_IP.attempts + 3):
        newcomer = TestClient(client.app, base_url="http://localhost")
        assert _login(newcomer, f"iemand{n % 40}", WRONG) in (401, 429)
    assert _login(TestClient(client.app, base_url="http://localhost"), "nog-iemand", WRONG) == 429
    assert _login(nat, regular, PASSWORD) == 200


def test_a_known_device_still_has_a_limit_of_its_own(client: TestClient) -> None:
    owner = signup(client)["username"]
    client.delete("/api/session")
    for _ in range(routes.LOGIN_PER_DEVICE.attempts):
        assert _login(client, owner, WRONG) == 401
    r = client.post("/api/session", json={"username": owner, "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0


def test_the_device_cookie_counts_only_for_the_person_it_was_given_for(client: TestClient) -> None:
    signup(client)
    other = signup(TestClient(client.app, base_url="http://localhost"))["username"]
    client.delete("/api/session")
    for _ in range(routes.LOGIN_PER_USER_IP.attempts):
        assert _login(client, other, WRONG) == 401
    assert _login(client, other, PASSWORD) == 429  # this phone never logged in as `other`


def test_a_forged_device_cookie_is_worthless(client: TestClient) -> None:
    owner = signup(client)["username"]
    attacker = _device(client, "203.0.113.99")
    attacker.cookies.set("sk_device", "abc.0123456789abcdef0123456789abcdef")
    for _ in range(routes.LOGIN_PER_USER_IP.attempts):
        assert _login(attacker, owner, WRONG) == 401
    assert _login(attacker, owner, WRONG) == 429


def test_guessing_the_current_password_when_changing_it_is_limited(client: TestClient) -> None:
    signup(client)
    limit = routes.PASSWORD_CHANGE_PER_USER.attempts
    for _ in range(limit):
        r = client.post("/api/me/password", json={"current_password": WRONG, "new_password": "nog-langer-99"})
        assert r.status_code == 422 and "klopt niet" in r.json()["fields"]["current_password"]
    r = client.post("/api/me/password", json={"current_password": PASSWORD, "new_password": "nog-langer-99"})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert client.get("/api/me").status_code == 200  # still logged in; nothing changed

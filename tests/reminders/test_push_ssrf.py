"""Push SSRF guard (security review, issue 11): IPv6 addresses that embed an IPv4 address, DNS rebinding and
DNS lookups that hang.

The resolver is simulated with a stub: either the module's resolve step (`push.lookup`) or, to prove that
nothing else in the HTTP stack looks the name up a second time, the system call itself (`socket.getaddrinfo`).
For the rebinding test 127.0.0.2 plays a public push service (the policy is told it is public) and 127.0.0.1
the internal service an attacker wants to reach; both speak HTTPS with a certificate for the push host.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from backend.config import Settings
from backend.errors import FieldErrors
from backend.reminders import push, service
from backend.reminders.models import PushKeys, PushSubscriptionIn
from tests.reminders.conftest import device_keys
from tests.reminders.sink import Sink

PUSH_HOST = "push.rebind.test"
PUBLIC = "127.0.0.2"  # stands in for a public push service (see public_for_this_test)
PRIVATE = "127.0.0.1"  # an internal service

# --- addresses ---------------------------------------------------------------------------------------------

REFUSED = [
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254 (cloud metadata)
    "2002:5db8:d822::1",  # 6to4 of a public address: 6to4 is deprecated (RFC 7526), no push service uses it
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "2001::1",  # Teredo
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "64:ff9b:1::a00:1",  # local-use NAT64 prefix
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:10.0.0.1",
    "::127.0.0.1",  # IPv4-compatible (deprecated)
    "::5db8:d822",  # IPv4-compatible of a public address
    "::ffff:0:7f00:1",  # IPv4-translated
    "fec0::1",  # site-local (deprecated)
    "fc00::1",
    "fe80::1%eth0",
    "3fff::1",  # documentation (RFC 9637)
    "2001:db8::1",  # documentation
    "192.88.99.1",  # the old 6to4 relay anycast
    "127.0.0.1",
    "0.0.0.0",
    "100.64.0.1",
]
ALLOWED = [
    "93.184.216.34",
    "142.250.185.74",
    "2606:4700::1111",
    "2a00:1450:4001:80b::200a",
    "64:ff9b::5db8:d822",  # NAT64 of a public address: what a DNS64 network gives for an IPv4-only push service
    "::ffff:93.184.216.34",
]


@pytest.mark.parametrize("address", REFUSED)
def test_addresses_that_reach_inside_are_refused(address: str) -> None:
    assert push.is_public_address(address) is False


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    assert push.is_public_address(address) is True


def subscription(endpoint: str) -> PushSubscriptionIn:
    k = device_keys()
    return PushSubscriptionIn(endpoint=endpoint, keys=PushKeys(p256dh=k.p256dh, auth=k.auth))


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://[2002:7f00:1::1]/x",
        "https://[2002:a9fe:a9fe::1]/latest",
        "https://[64:ff9b::7f00:1]/x",
        "https://[64:ff9b:1::a00:1]/x",
        "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/x",
        "https://[::127.0.0.1]/x",
    ],
)
def test_production_refuses_subscriptions_on_embedded_ipv4(endpoint: str) -> None:
    with pytest.raises(FieldErrors) as err:
        service.check_subscription(subscription(endpoint), production=True)
    assert err.value.fields["endpoint"] == "Dit webadres mag niet naar een intern of lokaal netwerk wijzen."


# --- a stub resolver ----------------------------------------------------------------------------------------

Answer = Callable[[str], list[str]]  # host -> addresses, called once per lookup


class FakeDns:
    """Answers names under .test from `answers` (one list per lookup, the last one repeated); counts lookups."""

    def __init__(self, answers: dict[str, list[list[str]]], hang: threading.Event | None = None) -> None:
        self.answers = answers
        self.hang = hang  # when set: lookups of slow.dns.test block until this is set
        self.calls: dict[str, int] = {}
        self._real = socket.getaddrinfo
        self._lock = threading.Lock()

    def addresses(self, host: str) -> list[str]:
        with self._lock:
            n = self.calls.get(host, 0)
            self.calls[host] = n + 1
        if host == "slow.dns.test":
            assert self.hang is not None
            self.hang.wait(20)
            raise socket.gaierror(socket.EAI_AGAIN, "timed out")
        answers = self.answers.get(host)
        if not answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return answers[min(n, len(answers) - 1)]

    def getaddrinfo(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if not name.endswith(".test"):
            return self._real(host, port, *args, **kwargs)
        out = []
        for address in self.addresses(name):
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr = (address, int(port or 0), 0, 0) if family == socket.AF_INET6 else (address, int(port or 0))
            out.append((family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr))
        return out

    def lookup(self, host: str, port: int) -> list[str]:
        return self.addresses(host)


@pytest.fixture(params=["module", "socket"])
def install_dns(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Callable[[FakeDns], None]:
    """Put a FakeDns in as the module's resolve step or as the system resolver itself."""

    def install(dns: FakeDns) -> None:
        if request.param == "module":
            monkeypatch.setattr(push, "lookup", dns.lookup)
        else:
            monkeypatch.setattr(socket, "getaddrinfo", dns.getaddrinfo)

    return install


@pytest.fixture
def public_for_this_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """127.0.0.2 counts as a public address here: it plays the real push service."""
    real = push.is_public_address
    monkeypatch.setattr(push, "is_public_address", lambda address: address == PUBLIC or real(address))


# --- TLS for the push host ------------------------------------------------------------------------------------


@pytest.fixture
def tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    """A server context with a self-signed certificate for PUSH_HOST, which the sender is made to trust
    (SSL_CERT_FILE, as an operator would for a private CA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, PUSH_HOST)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(PUSH_HOST)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    return server


@pytest.fixture
def two_services(tls: ssl.SSLContext) -> Iterator[tuple[Sink, Sink]]:
    """(public, private): HTTPS push-service stubs on 127.0.0.2 and 127.0.0.1, on the same port."""
    for _ in range(20):
        public = Sink(host=PUBLIC, tls=tls)
        try:
            private = Sink(host=PRIVATE, port=public.port, tls=tls)
        except OSError:
            continue
        with public, private:
            yield public, private
        return
    pytest.fail("no port free on both addresses")


def sender(tmp_path: Path, *, production: bool = True) -> push.PushSender:
    return push.PushSender(
        push.load_vapid(Settings(env="test", data_dir=tmp_path)), concurrency=4, check_origins=production
    )


def send_to(s: push.PushSender, endpoint: str) -> push.PushResult:
    keys = device_keys()
    result = asyncio.run(_send(s, push.Subscription(1, endpoint, keys.p256dh, keys.auth)))
    assert result is not None
    return result


async def _send(s: push.PushSender, sub: push.Subscription, times: int = 1) -> push.PushResult | None:
    async with s:
        result = None
        for _ in range(times):
            result = await s.send(sub, b'{"title":"t"}', ttl=60, topic="t")
        return result


# --- DNS rebinding -------------------------------------------------------------------------------------------


def test_the_checked_address_is_the_one_connected_to(
    tmp_path: Path,
    install_dns: Callable[[FakeDns], None],
    public_for_this_test: None,
    two_services: tuple[Sink, Sink],
) -> None:
    """First answer public, every later one private (a rebinding DNS server with TTL 0): the sender checks the
    first answer and connects to exactly that address, with the push host in SNI, certificate check and Host."""
    public, private = two_services
    dns = FakeDns({PUSH_HOST: [[PUBLIC], [PRIVATE]]})
    install_dns(dns)
    result = send_to(sender(tmp_path), f"https://{PUSH_HOST}:{public.port}/push/1")
    assert result.outcome == push.SENT, result
    assert private.connections == 0 and private.received() == []
    (got,) = public.received()
    assert got.path == "/push/1" and got.headers["host"] == f"{PUSH_HOST}:{public.port}"
    assert dns.calls[PUSH_HOST] == 1


def test_a_new_answer_is_checked_again_before_it_is_used(
    tmp_path: Path,
    install_dns: Callable[[FakeDns], None],
    public_for_this_test: None,
    two_services: tuple[Sink, Sink],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Once the kept answer is stale, the next lookup gives the private address: refused, never connected."""
    public, private = two_services
    monkeypatch.setattr(push, "DNS_TTL", 0.3)
    install_dns(FakeDns({PUSH_HOST: [[PUBLIC], [PRIVATE]]}))
    s = sender(tmp_path)
    keys = device_keys()
    sub = push.Subscription(1, f"https://{PUSH_HOST}:{public.port}/push/2", keys.p256dh, keys.auth)

    async def go() -> tuple[push.PushResult | None, push.PushResult | None]:
        async with s:
            first = await s.send(sub, b"{}", ttl=60, topic="t")
            await asyncio.sleep(0.4)
            second = await s.send(sub, b"{}", ttl=60, topic="t")
            return first, second

    first, second = asyncio.run(go())
    assert first is not None and first.outcome == push.SENT
    assert second is not None and second.outcome == push.FAILED
    assert private.connections == 0


def test_a_host_with_one_private_address_among_public_ones_is_refused(
    tmp_path: Path, install_dns: Callable[[FakeDns], None], two_services: tuple[Sink, Sink]
) -> None:
    public, private = two_services
    install_dns(FakeDns({PUSH_HOST: [["93.184.216.34", PRIVATE]]}))
    result = send_to(sender(tmp_path), f"https://{PUSH_HOST}:{public.port}/push/3")
    assert result.outcome == push.FAILED
    assert private.connections == 0 and public.connections == 0


@pytest.mark.parametrize("address", ["2002:7f00:1::1", "64:ff9b::7f00:1", "2001:0:4136:e378:8000:63bf:3fff:fdd2"])
def test_production_sender_refuses_a_host_on_an_embedded_ipv4_address(
    tmp_path: Path, install_dns: Callable[[FakeDns], None], address: str
) -> None:
    install_dns(FakeDns({PUSH_HOST: [[address]]}))
    result = send_to(sender(tmp_path), f"https://{PUSH_HOST}/push/4")
    assert result.outcome == push.FAILED and "non-public" in result.detail


def test_outside_production_the_connection_is_pinned_too(
    tmp_path: Path, install_dns: Callable[[FakeDns], None]
) -> None:
    """The test push service on 127.0.0.1 is allowed outside production, but still through one lookup."""
    with Sink() as sink:
        dns = FakeDns({"local.push.test": [[PRIVATE], ["127.0.0.3"]]})
        install_dns(dns)
        keys = device_keys()
        sub = push.Subscription(1, f"http://local.push.test:{sink.port}/p", keys.p256dh, keys.auth)
        result = asyncio.run(_send(sender(tmp_path, production=False), sub, times=3))
        assert result is not None and result.outcome == push.SENT, result
        assert len(sink.received()) == 3 and sink.connections == 1  # one connection, reused
        assert dns.calls["local.push.test"] == 1


# --- slow DNS -------------------------------------------------------------------------------------------------


@pytest.fixture
def hang() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()  # let the stuck lookup threads finish


@pytest.mark.parametrize("production", [True, False])
def test_a_lookup_that_hangs_is_cut_off(
    tmp_path: Path,
    install_dns: Callable[[FakeDns], None],
    hang: threading.Event,
    monkeypatch: pytest.MonkeyPatch,
    production: bool,
) -> None:
    monkeypatch.setattr(push, "DNS_TIMEOUT", 0.3, raising=False)
    dns = FakeDns({}, hang=hang)
    install_dns(dns)
    keys = device_keys()
    sub = push.Subscription(1, "https://slow.dns.test/p", keys.p256dh, keys.auth)
    s = sender(tmp_path, production=production)

    async def go() -> list[push.PushResult | None]:
        async with s:
            return await asyncio.gather(*(s.send(sub, b"{}", ttl=60, topic="t") for _ in range(4)))

    started = time.monotonic()
    results = asyncio.run(go())
    assert time.monotonic() - started < 2.0
    assert all(r is not None and r.outcome == push.RETRY for r in results), results
    assert dns.calls["slow.dns.test"] == 1  # the waiting pushes share the one lookup in flight


def test_subscribing_with_a_host_whose_lookup_hangs_is_cut_off(
    install_dns: Callable[[FakeDns], None], hang: threading.Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(push, "DNS_TIMEOUT", 0.3, raising=False)
    install_dns(FakeDns({}, hang=hang))
    started = time.monotonic()
    with pytest.raises(FieldErrors):
        service.check_subscription(subscription("https://slow.dns.test/p"), production=True)
    assert time.monotonic() - started < 2.0


def test_ip_literals_are_not_looked_up(install_dns: Callable[[FakeDns], None]) -> None:
    dns = FakeDns({})
    install_dns(dns)
    assert push.host_is_public("93.184.216.34") is True
    assert push.host_is_public("2002:7f00:1::1") is False
    assert ipaddress.ip_address("93.184.216.34") and dns.calls == {}

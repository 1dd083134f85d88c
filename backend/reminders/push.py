"""Web Push: VAPID keys, lock-screen-safe payloads, encryption (pywebpush) and HTTP delivery (httpx).

One `PushSender` per worker holds one shared `httpx.AsyncClient` (over `SlotTransport`), a semaphore as the
concurrency limit (`push_concurrency`) and the VAPID `Authorization` header per push-service origin (signed
with a fresh claims dict, reused until an hour before it expires). Encryption is pywebpush's
`WebPusher(sub).encode(payload, "aes128gcm")`; the headers are ours, so TTL is never pywebpush's default 0
(which drops messages for offline phones). Each push-service host is looked up once per DNS_TTL with a
timeout, and connections go to exactly the addresses looked up (and in production checked): see "addresses".

What a push-service answer means (`classify`):
  2xx          sent
  404, 410     gone: the subscription no longer exists; delete it
  429, 5xx     retry (Retry-After, or exponential backoff with jitter); also network errors and timeouts
  400/401/403  failed, logged as an error (our request or our VAPID key is wrong: alert, don't retry)
  413          failed, logged (the payload is far below the 4 KB limit, so this should never happen)
  other 4xx    failed
Before any answer: a host not on a public address (production) fails; a DNS lookup that fails or takes
longer than DNS_TIMEOUT is retried.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import functools
import hashlib
import importlib.util
import ipaddress
import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid
from pywebpush import WebPusher

from backend.checklists.content import Content
from backend.config import ConfigError, Settings

log = logging.getLogger("startklaar.push")

# httpcore asks for `sniffio` several times per request; when it is not installed each failed import
# searches sys.path again (about 1 ms), which made pushes ~10x slower. Record the absence once: an import
# then fails at once, exactly as before. (No effect when sniffio is installed.)
if importlib.util.find_spec("sniffio") is None:
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]

KEY_FILE = "vapid_private_key"
VAPID_LIFETIME = 12 * 3600  # seconds a signed VAPID token is valid (push services accept up to 24 h)
VAPID_RENEW_BEFORE = 3600  # sign a new one when less than this is left
PAYLOAD_LIMIT = 3000  # bytes of JSON; Web Push allows about 4 KB after encryption
HTTP_TIMEOUT = 10.0  # seconds for one push, all in (connect, send, answer)
HTTP2 = importlib.util.find_spec("h2") is not None

SENT, GONE, RETRY, FAILED = "sent", "gone", "retry", "failed"


# --- keys ---------------------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding; raises ValueError on anything else."""
    if not text or any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=" for c in text):
        raise ValueError("not base64url")
    stripped = text.rstrip("=")
    return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))


def generate_keys() -> tuple[str, str]:
    """A new VAPID pair: (private key, public key), both base64url (raw 32 bytes; uncompressed point)."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_numbers().private_value.to_bytes(32, "big")
    return b64url(private), _public_b64(key)


def _public_b64(key: ec.EllipticCurvePrivateKey) -> str:
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return b64url(point)


@dataclass(frozen=True)
class VapidKeys:
    vapid: Vapid
    public_key: str  # base64url uncompressed P-256 point: what browsers want as applicationServerKey
    subject: str  # mailto:... or https://...


def default_subject(settings: Settings) -> str:
    if settings.vapid_subject:
        return settings.vapid_subject
    parts = urlsplit(settings.base_url)
    # Push services contact this address when something is wrong; py_vapid accepts https://host only.
    if parts.scheme == "https" and parts.hostname:
        return f"https://{parts.hostname}"
    return "mailto:beheer@localhost"


def load_vapid(settings: Settings) -> VapidKeys:
    """The VAPID keys from the settings, or from (made on first run) the data directory."""
    return _load_vapid(
        settings.vapid_private_key.strip(),
        settings.vapid_public_key.strip(),
        default_subject(settings),
        str(settings.data_dir),
    )


@functools.lru_cache(maxsize=8)
def _load_vapid(private: str, public: str, subject: str, data_dir: str) -> VapidKeys:
    if not private:
        private = _key_from_data_dir(Path(data_dir))
    try:
        vapid = Vapid.from_string(private)
    except Exception as exc:  # py_vapid raises several types for a bad key
        raise ConfigError(
            "STARTKLAAR_VAPID_PRIVATE_KEY is geen geldige sleutel. Maak een nieuw paar met: startklaar vapid generate"
        ) from exc
    derived = _public_b64(vapid.private_key)
    if public and public.rstrip("=") != derived:
        raise ConfigError("STARTKLAAR_VAPID_PUBLIC_KEY hoort niet bij STARTKLAAR_VAPID_PRIVATE_KEY.")
    return VapidKeys(vapid=vapid, public_key=derived, subject=subject)


def _key_from_data_dir(data_dir: Path) -> str:
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        private, _public = generate_keys()
        tmp = data_dir / f".{KEY_FILE}.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(private + "\n")
        try:
            # link() fails if another process made the key first: then everyone uses that one.
            os.link(tmp, path)
            log.info("nieuwe VAPID-sleutel gemaakt in %s", path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text(encoding="utf-8").strip()


# --- addresses (SSRF) -----------------------------------------------------------------------------------
#
# A push endpoint is a URL a browser gave us, so in production its host must be on the public internet. The
# host is looked up once (with a timeout), every address it gives is checked, and the HTTP connection goes to
# exactly those addresses (`PinnedBackend`): a DNS server that answers a public address for the check and a
# private one for the connection (DNS rebinding) gets nowhere. TLS (SNI, certificate) and Host keep the name.

DNS_TIMEOUT = 3.0  # seconds one lookup may take; a lookup that hangs is cut off (the push is retried later)
DNS_TTL = 60.0  # seconds a checked answer serves new connections (pushes reuse their connections anyway)
DNS_MAX_LOOKUPS = 16  # lookups in flight at once, at most one per host: each that hangs holds a thread

# IPv6 addresses that carry an IPv4 address are judged by it (mapped, NAT64 of the well-known prefix) or
# refused: 6to4 and Teredo tunnel to the IPv4 host they embed (both deprecated, no push service uses them).
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the last 32 bits are the IPv4 address
_REFUSED_V6 = tuple(
    ipaddress.IPv6Network(net)
    for net in (
        "2002::/16",  # 6to4 (RFC 7526)
        "2001::/32",  # Teredo
        "64:ff9b:1::/48",  # NAT64 for local use (RFC 8215): a translator inside someone's network
        "::/96",  # IPv4-compatible (deprecated), and :: and ::1
        "::ffff:0:0:0/96",  # IPv4-translated (SIIT)
        "fec0::/10",  # site-local (deprecated)
        "3fff::/20",  # documentation (RFC 9637)
    )
)
_REFUSED_V4 = (ipaddress.IPv4Network("192.88.99.0/24"),)  # the former 6to4 relay anycast (RFC 7526)


def is_public_address(address: str) -> bool:
    """True for an address on the public internet (an IPv6 one that embeds IPv4: see _REFUSED_V6)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip in _NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
        elif any(ip in net for net in _REFUSED_V6):
            return False
    if isinstance(ip, ipaddress.IPv4Address) and any(ip in net for net in _REFUSED_V4):
        return False
    return ip.is_global and not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified
    )


class LookupFailed(Exception):
    """The host did not resolve (in time): worth trying again later."""


class AddressRefused(Exception):
    """The host resolves to an address that is not public (production only)."""


def lookup(host: str, port: int) -> list[str]:
    """The system resolver (blocking, so it runs in a thread): the host's addresses, in the order to try them.
    Tests replace this with a stub."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


class _Lookups:
    """Lookups in daemon threads, at most one per host at a time: later askers share the one in flight, so a
    lookup that hangs holds one thread (until the system resolver gives up) instead of one per push."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, concurrent.futures.Future[list[str]]] = {}

    def start(self, host: str, port: int) -> concurrent.futures.Future[list[str]]:
        with self._lock:
            future = self._running.get(host)
            if future is not None:
                return future
            future = concurrent.futures.Future()
            if len(self._running) >= DNS_MAX_LOOKUPS:
                future.set_exception(LookupFailed("too many DNS lookups in flight"))
                return future
            self._running[host] = future
        threading.Thread(target=self._run, args=(host, port, future), name="push-dns", daemon=True).start()
        return future

    def _run(self, host: str, port: int, future: concurrent.futures.Future[list[str]]) -> None:
        try:
            addresses = lookup(host, port)
        except Exception as exc:  # socket.gaierror, UnicodeError (a bad name), or whatever a resolver raises
            error: Exception | None = LookupFailed(f"{type(exc).__name__}: {exc}")
        else:
            error = None if addresses else LookupFailed("no addresses")
        with self._lock:
            self._running.pop(host, None)
        if error is None:
            future.set_result(addresses)
        else:
            future.set_exception(error)


_lookups = _Lookups()


def host_is_public(host: str, port: int | None = None) -> bool:
    """True when every address the host resolves to (within DNS_TIMEOUT) is a public one."""
    if _is_ip_literal(host):
        return is_public_address(host)
    try:
        addresses = _lookups.start(host, port or 443).result(timeout=DNS_TIMEOUT)
    except (LookupFailed, TimeoutError):
        return False
    return all(is_public_address(a) for a in addresses)


async def _resolved(host: str, port: int) -> list[str]:
    """The lookup's answer, waited for on the event loop (no thread of the loop's pool) at most DNS_TIMEOUT."""
    future = _lookups.start(host, port)
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def wake(_: object) -> None:
        try:
            loop.call_soon_threadsafe(lambda: done.done() or done.set_result(None))
        except RuntimeError:  # the loop was closed meanwhile: nobody waits any more
            pass

    future.add_done_callback(wake)
    try:
        async with asyncio.timeout(DNS_TIMEOUT):
            await done
    except TimeoutError:
        raise LookupFailed(f"DNS lookup took more than {DNS_TIMEOUT:g} s") from None
    return future.result()


class Resolver:
    """The addresses of push-service hosts, each looked up once per DNS_TTL and checked (with `check`: all
    public, else AddressRefused). The only way the sender's connections learn an address (PinnedBackend)."""

    def __init__(self, *, check: bool) -> None:
        self.check = check
        self._answers: dict[str, tuple[float, tuple[str, ...], bool]] = {}  # host -> (expires, addresses, ok)

    async def resolve(self, host: str, port: int) -> tuple[str, ...]:
        now = time.monotonic()
        kept = self._answers.get(host)
        if kept is None or kept[0] <= now:
            addresses = (host,) if _is_ip_literal(host) else tuple(await _resolved(host, port))
            ok = not self.check or all(is_public_address(a) for a in addresses)
            if len(self._answers) >= 4096:  # hosts come from subscriptions: forget the stale ones now and then
                self._answers = {h: a for h, a in self._answers.items() if a[0] > now}
            kept = self._answers[host] = (now + DNS_TTL, addresses, ok)
        if not kept[2]:
            raise AddressRefused(host)
        return kept[1]


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting to the addresses the Resolver checked (tried in order) instead
    of looking the host up again. httpcore still uses the host name for TLS (SNI and the certificate check)."""

    def __init__(self, resolver: Resolver, network: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.resolver = resolver
        self._network = network or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await self.resolver.resolve(host, port)
        except (LookupFailed, AddressRefused) as exc:
            raise httpcore.ConnectError(f"{type(exc).__name__}: {exc}") from exc
        error: Exception = httpcore.ConnectError("no addresses")
        for address in addresses:
            try:
                return await self._network.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("push services are reached over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._network.sleep(seconds)


# --- payloads --------------------------------------------------------------------------------------------

PUSH_TITLE = "Tijd voor een stap"


def reminder_text(content: Content, step_id: str) -> tuple[str, str, str]:
    """(title, body, url) for a reminder: the step's title only, nothing about the person."""
    step = content.steps.get(step_id)
    if step is None:  # the step was removed from the content since
        return PUSH_TITLE, "Er staat een stap voor je klaar. Tik om te zien welke.", "/stappen"
    return PUSH_TITLE, f"{content.render(step.title)}. Tik om te zien hoe.", f"/stappen/{step_id}"


def reminder_payload(content: Content, reminder_id: int, step_id: str) -> bytes:
    """What the service worker gets. It shows on the lock screen: no name, no birth date, no due date."""
    title, body, url = reminder_text(content, step_id)
    data: dict[str, Any] = {
        "title": title,
        "body": body,
        "url": url,
        "tag": f"step-{step_id}",
        "id": reminder_id,
        "kind": "reminder",  # with id: the app marks it read when the notification is tapped
    }
    raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    if len(raw) > PAYLOAD_LIMIT:  # cannot happen with titles of 60 characters; keep the promise anyway
        data["body"] = body[:200]
        raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return raw


def topic_for(step_id: str) -> str:
    """Topic header (at most 32 URL-safe characters): a newer push for the same step replaces an undelivered one."""
    return hashlib.sha256(step_id.encode()).hexdigest()[:32]


def origin_of(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}"


# --- sending ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subscription:
    id: int
    endpoint: str
    p256dh: str
    auth: str


@dataclass(frozen=True)
class PushResult:
    outcome: str  # SENT, GONE, RETRY or FAILED
    status_code: int | None = None
    retry_after: float | None = None  # seconds, from the Retry-After header
    detail: str = ""


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def classify(status: int) -> str:
    if 200 <= status < 300:
        return SENT
    if status in (404, 410):
        return GONE
    if status == 429 or status >= 500:
        return RETRY
    return FAILED


class SlotTransport(httpx.AsyncBaseTransport):
    """httpcore connection pools as `slots` one-connection pools; each request takes an idle one.

    httpcore's pool does work quadratic in its number of connections at every request start and end; with
    tens of connections that costs more CPU than the push itself, and even at 10 one-connection pools
    deliver about twice as many pushes per second (bench/push_throughput.py). The response body (a few
    bytes) is read here, so a slot is free again exactly when its request is done. With HTTP/2 (the `h2`
    package) one pool of two connections multiplexes instead.

    The pools are httpcore's own, with the `PinnedBackend` as their network backend (httpx's transport
    cannot take one): requests and answers are translated as httpx's AsyncHTTPTransport does.
    """

    def __init__(self, slots: int, *, http2: bool = False, resolver: Resolver | None = None) -> None:
        backend = PinnedBackend(resolver or Resolver(check=False))
        ssl_context = httpx.create_ssl_context()  # certifi, or SSL_CERT_FILE / SSL_CERT_DIR

        def pool(size: int) -> httpcore.AsyncConnectionPool:
            return httpcore.AsyncConnectionPool(
                ssl_context=ssl_context,
                max_connections=size,
                max_keepalive_connections=size,
                http1=True,
                http2=http2,
                retries=0,
                network_backend=backend,
            )

        self._pools = [pool(2)] if http2 else [pool(1) for _ in range(max(1, slots))]
        self._busy = [0] * len(self._pools)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        # The sender's semaphore keeps requests <= slots, so an idle slot exists (least busy for HTTP/2).
        i = min(range(len(self._pools)), key=self._busy.__getitem__)
        self._busy[i] += 1
        url = request.url
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
            headers=request.headers.raw,
            content=request.stream,  # type: ignore[arg-type]
            extensions=request.extensions,  # the timeouts
        )
        try:
            answer = await self._pools[i].handle_async_request(core)
            try:
                body = await answer.aread()
            finally:
                await answer.aclose()
        except _HTTPCORE_ERRORS as exc:  # as httpx's own transport does: its exception of the same name
            raise getattr(httpx, type(exc).__name__, httpx.TransportError)(str(exc) or type(exc).__name__) from exc
        finally:
            self._busy[i] -= 1
        return httpx.Response(answer.status, headers=answer.headers, content=body, extensions=answer.extensions)

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()


_HTTPCORE_ERRORS = (
    httpcore.TimeoutException,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
    httpcore.ProxyError,
)


class PushSender:
    """Encrypts and posts pushes: one shared HTTP client, at most `concurrency` requests at a time."""

    def __init__(
        self,
        keys: VapidKeys,
        *,
        concurrency: int = 32,
        check_origins: bool = False,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.keys = keys
        self.check_origins = check_origins  # production: refuse push services on private addresses
        self._semaphore = asyncio.Semaphore(max(1, concurrency))
        self._resolver = Resolver(check=check_origins)
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(HTTP_TIMEOUT, connect=5.0),
            follow_redirects=False,
            # With the `h2` package (httpx[http2]) pushes to one push service share HTTPS connections.
            transport=SlotTransport(max(1, concurrency), http2=HTTP2, resolver=self._resolver),
        )
        self._auth: dict[str, tuple[str, float]] = {}

    async def __aenter__(self) -> PushSender:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    def authorization(self, origin: str) -> str:
        """The VAPID header for one push-service origin, signed once and reused until near expiry."""
        now = time.time()
        cached = self._auth.get(origin)
        if cached is not None and cached[1] - now > VAPID_RENEW_BEFORE:
            return cached[0]
        exp = int(now) + VAPID_LIFETIME
        # A fresh dict per origin: py_vapid and pywebpush mutate claims dicts they are given.
        claims = {"sub": self.keys.subject, "aud": origin, "exp": exp}
        header = self.keys.vapid.sign(claims)["Authorization"]
        self._auth[origin] = (header, float(exp))
        return header

    async def _refusal(self, endpoint: str) -> PushResult | None:
        """Production: why this endpoint gets no push (not HTTPS, or not public), or None. The answer checked
        here is the one the connection uses (Resolver, PinnedBackend), so a later DNS answer cannot differ."""
        try:
            parts = urlsplit(endpoint)
            port = parts.port or 443
        except ValueError:
            return PushResult(FAILED, detail="not a valid push-service address")
        if parts.scheme != "https" or not parts.hostname:
            return PushResult(FAILED, detail="push service not on https")
        try:
            await self._resolver.resolve(parts.hostname, port)
        except AddressRefused:
            return PushResult(FAILED, detail="push service on a non-public address")
        except LookupFailed as exc:
            return PushResult(RETRY, detail=f"DNS: {exc}")
        return None

    async def send(
        self,
        sub: Subscription,
        payload: bytes,
        *,
        ttl: int,
        topic: str,
        urgency: str = "normal",
        may_start: Callable[[], bool] | None = None,
    ) -> PushResult | None:
        """Encrypt and post one push. None: not attempted, because `may_start` said no once it was its turn."""
        origin = origin_of(sub.endpoint)
        async with self._semaphore:
            if may_start is not None and not may_start():
                return None
            if self.check_origins and (refused := await self._refusal(sub.endpoint)) is not None:
                return refused
            try:
                info = {"endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": sub.auth}}
                body = WebPusher(info).encode(payload, "aes128gcm")["body"]
            except Exception as exc:  # bad keys stored despite validation: nothing to retry
                return PushResult(FAILED, detail=f"encryption failed: {type(exc).__name__}")
            headers = {
                "Authorization": self.authorization(origin),
                "Content-Encoding": "aes128gcm",
                "Content-Type": "application/octet-stream",
                "TTL": str(max(1, int(ttl))),
                "Urgency": urgency,
                "Topic": topic,
            }
            try:
                async with asyncio.timeout(HTTP_TIMEOUT):  # httpx's timeouts are per phase; this is the total
                    response = await self._client.post(sub.endpoint, content=body, headers=headers)
            except (httpx.HTTPError, TimeoutError) as exc:
                return PushResult(RETRY, detail=f"{type(exc).__name__}: {exc}"[:200])
            status = response.status_code
            outcome = classify(status)
            if outcome == FAILED:
                level = logging.ERROR if status in (400, 401, 403, 413) else logging.WARNING
                log.log(level, "push geweigerd door %s: %s %s", origin, status, response.text[:200])
            return PushResult(
                outcome,
                status_code=status,
                retry_after=parse_retry_after(response.headers.get("retry-after")) if outcome == RETRY else None,
            )

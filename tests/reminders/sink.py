"""A tiny HTTP/1.1 server in a thread: a scripted push-service stub and a counting sink for tests.

`responder(path, headers, body)` returns (status, extra headers); every request is kept in `requests`, and
every connection counts in `connections` (with TLS: once its handshake succeeded), also one that never sends
a request. `host`, `port` and `tls` (a server SSLContext) choose where and how it listens.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass

Responder = Callable[[str, dict[str, str], bytes], tuple[int, dict[str, str]]]

REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 404: "Not Found", 410: "Gone", 413: "Payload Too Large"}


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes


def _created(_path: str, _headers: dict[str, str], _body: bytes) -> tuple[int, dict[str, str]]:
    return 201, {}


class Sink:
    def __init__(
        self,
        responder: Responder = _created,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.responder = responder
        self.requests: list[Received] = []
        self.connections = 0
        self._tls = tls
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        sock = socket.socket()
        sock.bind((host, port))
        self.port = int(sock.getsockname()[1])
        self._sock = sock
        self._thread = threading.Thread(target=self._run, daemon=True)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def __enter__(self) -> Sink:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def received(self) -> list[Received]:
        with self._lock:
            return list(self.requests)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, sock=self._sock, backlog=512, ssl=self._tls)
        )
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            self._loop.run_until_complete(server.wait_closed())
            self._loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with self._lock:
            self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                _method, path, _version = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                with self._lock:
                    self.requests.append(Received(path, headers, body))
                    status, extra = self.responder(path, headers, body)
                extra_lines = "".join(f"{k}: {v}\r\n" for k, v in extra.items())
                writer.write(
                    f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}\r\n"
                    f"Content-Length: 0\r\n{extra_lines}\r\n".encode("latin-1")
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()


def scripted(script: dict[str, list[tuple[int, dict[str, str]]]]) -> Responder:
    """Answer each path with the next (status, headers) from its list; 201 once the list is used up."""
    counters: dict[str, int] = {}

    def respond(path: str, _headers: dict[str, str], _body: bytes) -> tuple[int, dict[str, str]]:
        n = counters.get(path, 0)
        counters[path] = n + 1
        answers = script.get(path, [])
        return answers[n] if n < len(answers) else (201, {})

    return respond

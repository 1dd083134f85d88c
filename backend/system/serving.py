"""Run several API processes, each with its own listening socket on the same port (SO_REUSEPORT).

uvicorn's `--workers` shares one listening socket between its processes: whichever process happens to wake
up first accepts the connections, so a burst of new connections can all land on one process while the other
idles (bench/plan_load.py saw 50/0 and 39/11 spreads of 50 connections; the busy process then sets the p95).
With a socket per process the kernel spreads new connections over the processes by a hash of the address.

We keep uvicorn's supervisor (health checks, restarting a process that dies, signal handling): the parent
hands each process a placeholder that becomes that process's own listening socket when it arrives there.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
from typing import Any

log = logging.getLogger("startklaar.serve")


# After SIGTERM: requests get this long to finish; then the process's last threads this long before it exits.
GRACEFUL_SECONDS = 20
EXIT_GRACE_SECONDS = 10


def exit_soon_unless_done(grace: float = EXIT_GRACE_SECONDS) -> None:
    """Called when the app shuts down: if the process has not exited `grace` seconds later (a worker thread
    stuck in a call keeps Python from exiting), end it, so a SIGTERM always stops the process. Only in a
    process started by `startklaar serve` (never inside tests or another program)."""
    if os.environ.get("STARTKLAAR_SERVE_PROCESS") != str(os.getppid()) and not _serving_here:
        return

    def _exit() -> None:
        log.error("Startklaar stopt nu: er wachten na %d seconden nog threads.", grace)
        os._exit(1)

    timer = threading.Timer(grace, _exit)
    timer.daemon = True
    timer.start()


_serving_here = False


def reuse_port_available() -> bool:
    return hasattr(socket, "SO_REUSEPORT")


def _reuse_port_socket(family: int, kind: type[socket.socket] = socket.socket) -> socket.socket:
    sock = kind(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    return sock


def _listen(family: int, address: tuple[Any, ...], backlog: int) -> socket.socket:
    """Runs in an API process: its own listening socket in the port's SO_REUSEPORT group."""
    sock = _reuse_port_socket(family)
    sock.bind(address)
    sock.listen(backlog)
    return sock


class PortReservation(socket.socket):
    """Bound in the parent, never listening (so it is never given connections): it claims the port and
    checks the address before any process starts. Pickled for a new API process (uvicorn's supervisor
    sends the sockets along), it arrives there as a fresh listening socket of its own."""

    backlog = 2048

    def __reduce__(self) -> tuple[Any, ...]:
        return (_listen, (self.family, self.getsockname(), self.backlog))


def reserve(host: str, port: int, backlog: int) -> PortReservation:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = _reuse_port_socket(family, PortReservation)
    assert isinstance(sock, PortReservation)
    sock.backlog = backlog
    sock.bind((host, port))
    return sock


def run(config: Any) -> None:
    """`uvicorn.run` for a ready uvicorn.Config, with a listening socket per process when workers > 1."""
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    global _serving_here
    config.timeout_graceful_shutdown = GRACEFUL_SECONDS
    os.environ["STARTKLAAR_SERVE_PROCESS"] = str(os.getpid())  # API processes started from here may exit hard
    if config.workers <= 1 or not reuse_port_available() or config.uds or config.fd is not None:
        _serving_here = True
        uvicorn.Server(config).run()
        return
    try:
        placeholder = reserve(config.host, config.port, config.backlog)
    except OSError as exc:
        log.error("Kan niet luisteren op %s:%s: %s", config.host, config.port, exc)
        sys.exit(STARTUP_FAILURE)
    host, port = placeholder.getsockname()[:2]
    log.info("Startklaar luistert op http://%s:%d met %d API-processen", host, port, config.workers)
    try:
        Multiprocess(config, sockets=[placeholder]).run()
    finally:
        placeholder.close()

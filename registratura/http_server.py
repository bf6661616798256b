"""The console's HTTP server settings: uvicorn with limits against starvation.

uvicorn bounds concurrent connections (``limit_concurrency``: more get ``503``) but never times
out a request whose head is still arriving, so a client that opens many connections and sends
half a request each holds them -- and their file descriptors -- indefinitely.
:class:`GuardedH11Protocol` adds what is missing:

* a deadline for the request head (``http_header_timeout``): a connection that has not sent a
  complete head within it, first request or next one on a kept-alive connection, is closed;
* at most half of ``limit_concurrency`` connections still waiting for a head (the other
  half stays for requests being served): when a new one arrives beyond that, the one waiting
  longest is closed first, so newcomers (a load balancer's ``/healthz``, an agent) always get
  through while a flood of half-sent requests gives way.

Plus :func:`raise_open_files_limit`: the common soft limit of 1024 descriptors is raised to the
hard limit at start, so the limits above, not the descriptor table, decide who is served.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections import OrderedDict
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from registratura.logging_setup import install_filters
from registratura.settings import Settings

logger = logging.getLogger(__name__)


def raise_open_files_limit() -> tuple[int, int]:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit; returns the (soft, hard) in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            logger.info("open files limit raised from %d to %d", soft, target)
            soft = target
        except (ValueError, OSError) as exc:
            logger.warning("could not raise the open files limit (%d): %s", soft, exc)
    return soft, hard


class _Waiting:
    """Connections of one server still waiting for a request head, oldest first."""

    def __init__(self) -> None:
        self.protocols: OrderedDict[GuardedH11Protocol, None] = OrderedDict()


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a request-head deadline and eviction of the oldest waiting
    connection (see the module docstring).  Configure with :func:`guarded_protocol`."""

    header_timeout: float = 10.0
    max_waiting: int = 500
    waiting: _Waiting = _Waiting()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer: asyncio.TimerHandle | None = None
        self._await_head()

    def _await_head(self) -> None:
        """Start the head deadline for the next request (the current cycle is done)."""
        self._stop_waiting()
        waiting = self.waiting.protocols
        while len(waiting) >= self.max_waiting:
            oldest, _ = waiting.popitem(last=False)
            oldest._give_up("too many connections waiting for a request")
        waiting[self] = None
        self._head_timer = self.loop.call_later(self.header_timeout, self._give_up,
                                                "request head not complete in time")

    def _stop_waiting(self) -> None:
        self.waiting.protocols.pop(self, None)
        timer = getattr(self, "_head_timer", None)
        if timer is not None:
            timer.cancel()
            self._head_timer = None

    def _give_up(self, why: str) -> None:
        self._stop_waiting()
        if self.transport is not None and not self.transport.is_closing():
            logger.warning("http: closed a connection from %s: %s",
                           self.client[0] if self.client else "?", why)
            self.transport.close()

    def handle_events(self) -> None:
        before = self.cycle
        super().handle_events()
        if self.cycle is not before:  # a complete head arrived: a request is running
            self._stop_waiting()

    def handle_websocket_upgrade(self, event: Any) -> None:
        self._stop_waiting()  # the websocket protocol owns the connection from here
        super().handle_websocket_upgrade(event)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.transport is not None and not self.transport.is_closing():
            self._await_head()  # a kept-alive connection must send its next head in time

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)


def guarded_protocol(header_timeout: float, max_waiting: int) -> type[GuardedH11Protocol]:
    """A :class:`GuardedH11Protocol` class with these limits and its own waiting list."""
    return type("GuardedH11", (GuardedH11Protocol,), {
        "header_timeout": header_timeout, "max_waiting": max_waiting, "waiting": _Waiting()})


def uvicorn_config(app: Any, settings: Settings, **overrides: Any) -> uvicorn.Config:
    """uvicorn's configuration for the console, with the limits from ``settings``.

    Forwarded addresses are handled by the app itself (``trusted_proxies``), so uvicorn's own
    proxy-header handling (which trusts 127.0.0.1 by default) is off.
    """
    options: dict[str, Any] = {
        "host": settings.http_host, "port": settings.http_port, "log_level": "info",
        "http": guarded_protocol(settings.http_header_timeout,
                                 max(1, settings.http_limit_concurrency // 2)),
        "limit_concurrency": settings.http_limit_concurrency,
        "timeout_keep_alive": 5, "proxy_headers": False,
        # asyncio accepts up to ``backlog`` connections in one go before the evicted ones are
        # closed: this bounds that burst (the kernel keeps the rest waiting, at no cost to us).
        "backlog": max(64, settings.http_limit_concurrency // 2),
    }
    options.update(overrides)
    config = uvicorn.Config(app, **options)
    install_filters()  # uvicorn has just installed its own handlers
    return config

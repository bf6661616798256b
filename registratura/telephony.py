"""Wiring of the Asterisk side of the console: the AMI client and the live board.

Called by the composition root (``registratura serve``) **before** the IVR runtime is built, so
the IVR's ``agents_available`` sees AMI presence::

    telephony = start_telephony(container)      # None without REGISTRATURA_AMI_HOST
    ...
    if telephony: telephony.stop()

It fills ``container.extras``:

* ``"live_board"`` — always a :class:`~agent_console.live.LiveBoard` (a board that says
  ``configured: false`` when AMI is off, so the console UI needs no special case);
* ``"agent_presence"`` — a callable returning True/False (is any agent logged in to
  ``registry-agents``, not paused, with a usable phone) or None (unknown: no AMI / not connected,
  the IVR then goes by opening hours);
* ``"ami"`` — the :class:`~agent_console.ami.AmiClient` (only when configured);
* ``"telephony"`` — the :class:`Telephony` handle (only when configured).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from agent_console.ami import AmiClient, AmiConfig
from agent_console.live import LiveBoard
from agent_console.reconcile import CallReconciler
from registratura.bootstrap import Container

logger = logging.getLogger(__name__)


@dataclass
class Telephony:
    """The running AMI link of the console."""

    board: LiveBoard
    ami: AmiClient
    agent_interfaces: dict[str, str]
    reconciler: CallReconciler | None = None

    def agent_interface(self, username: str) -> str | None:
        """The queue interface (``PJSIP/agent101``) of a console user, if configured."""
        return self.agent_interfaces.get(username)

    def agents_available(self) -> bool | None:
        return self.board.agents_available()

    def stop(self, timeout: float = 5.0) -> None:
        """Log off and stop reconnecting (call on shutdown)."""
        self.ami.stop(timeout)
        if self.reconciler is not None:
            self.reconciler.stop(timeout)


def _unknown_presence() -> bool | None:
    return None


def start_telephony(container: Container) -> Telephony | None:
    """Connect to AMI in the background when ``ami_host`` is set; ``None`` otherwise.

    Never blocks on Asterisk: the console must come up while Asterisk is down; the client keeps
    reconnecting with backoff and the board says ``connected: false`` meanwhile.
    """
    settings = container.settings
    if not settings.ami_enabled:
        container.extras["live_board"] = LiveBoard(configured=False)
        container.extras["agent_presence"] = _unknown_presence
        logger.info("AMI not configured: console runs without Asterisk")
        return None
    config = AmiConfig.from_settings(settings)
    board = LiveBoard(config.queue)
    client = AmiClient(config, board)
    presence: Callable[[], bool | None] = board.agents_available
    container.extras["live_board"] = board
    container.extras["agent_presence"] = presence
    container.extras["ami"] = client
    # Escalated-call records follow Asterisk: hung up, left the queue, answered.
    reconciler = CallReconciler(board, container.uow).start()
    telephony = Telephony(board, client, dict(settings.ami_agent_interfaces), reconciler)
    container.extras["telephony"] = telephony
    client.start()
    logger.info("AMI: connecting to %s:%s as %s (queue %s)", config.host, config.port,
                config.username, config.queue)
    return telephony

"""Drill: the IVR process dies (SIGKILL) in the middle of a call.

Asterisk then sees the FastAGI socket close: ``AGI()`` returns without ``REG_IVR_DONE`` and
without ``REG_ESCALATE``, so the dialplan queues the caller for an agent (dialplans/README.md).
Whatever the moment of death, the booking is either complete or absent: never a hold, never a
booking without its audit entry.  A new IVR process on the same database serves the next call.
"""

from __future__ import annotations

import threading

import pytest

from .helpers import (
    BOOK_NEAREST,
    ConfirmHook,
    assert_complete_or_absent,
    booked,
    dial,
)


def _queued_by_dialplan(transcript) -> bool:  # type: ignore[no-untyped-def]
    """What extensions.conf does after AGI(): no REG_IVR_DONE -> the agent queue."""
    return (transcript.variables.get("REG_IVR_DONE") != "1"
            and transcript.agistatus in ("SUCCESS", "FAILURE"))


def test_killed_inside_the_booking_transaction(db_url, container, adult_id, ivr_child,
                                               tmp_path):
    """The process dies after the appointment row was written, before COMMIT."""
    child = ivr_child(db_url, "--crash-before-commit")
    transcript = dial(child.host, child.port, tmp_path / "sounds",
                      ConfirmHook(BOOK_NEAREST, hook=lambda: None))
    assert child.wait() == -9
    assert _queued_by_dialplan(transcript)
    assert not any(s.startswith("Вы записаны") for s in transcript.said)
    assert assert_complete_or_absent(container, adult_id) == []  # rolled back: absent

    # The IVR comes back: the same caller books the same nearest slot.
    again = ivr_child(db_url)
    retry = dial(again.host, again.port, tmp_path / "sounds",
                 ConfirmHook(BOOK_NEAREST, hook=lambda: None))
    assert booked(retry)
    assert len(assert_complete_or_absent(container, adult_id)) == 1


@pytest.mark.parametrize("delay", [0.0, 0.004], ids=["at-answer", "just-after"])
def test_killed_around_the_booking(db_url, container, adult_id, ivr_child, tmp_path, delay):
    """SIGKILL from outside as the caller confirms: complete or absent, never half."""
    child = ivr_child(db_url)

    def kill_soon() -> None:
        threading.Timer(delay, child.kill).start()

    transcript = dial(child.host, child.port, tmp_path / "sounds",
                      ConfirmHook(BOOK_NEAREST, hook=kill_soon))
    assert child.wait() == -9
    assert _queued_by_dialplan(transcript)
    appts = assert_complete_or_absent(container, adult_id)
    if any(s.startswith("Вы записаны") for s in transcript.said):
        assert len(appts) == 1  # the caller heard it: it must be there

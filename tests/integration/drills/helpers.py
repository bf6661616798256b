"""Helpers of the fault drills: a fast fake TTS engine, the IVR in a child process
(``python -m bench.ivr_server``, so it can be killed with SIGKILL), callers that act at a
chosen moment, and look-ups of what the database holds afterwards."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlmodel import col, func, select

from ivr.dialogue.catalogue import load_catalogue
from ivr.transports.terminal import AsteriskCall, CallerAction, ScriptedCaller, Transcript
from models.tables import Appointment, AppointmentStatus, AuditLog
from registratura.bootstrap import Container
from support.world import demo

ROOT = Path(__file__).resolve().parents[3]
ADULT = demo("adult")
DOB = ADULT.birth_date.strftime("%d%m%Y")
#: Greeting (silence), book, policy, date of birth, confirm both, therapist, 1 = take (and
#: book) the first offer; the call ends after the code.
BOOK_NEAREST: list[str | None] = [None, "1", ADULT.policy_number, DOB, "1", "1", "1"]
#: The question whose answer books the slot: the offer (a key press on it books, no
#: separate confirmation); its last part is the offer menu.
BOOKING_QUESTION = load_catalogue("ru").templates["offer_menu"]
#: The last part of the identity read-back: "Верно — 1, нет — 2."
READBACK_QUESTION = load_catalogue("ru")("birth_date_readback", day_month=["x"],
                                         year=["y"]).parts[-1]


class QuestionHook(ScriptedCaller):
    """A scripted caller that runs ``hook()`` once, when asked the question ``asks`` picks,
    just before answering it (the IVR acts on that answer)."""

    def __init__(self, keys: Sequence[str | None], hook: Callable[[], None], **kw: Any) -> None:
        super().__init__(keys, **kw)
        self.hook = hook
        self.fired = False

    def asks(self, last_part: str) -> bool:
        raise NotImplementedError

    def on_get_data(self, files: Sequence[str], texts: Sequence[str], max_digits: int,
                    timeout_ms: int) -> CallerAction:
        action = super().on_get_data(files, texts, max_digits, timeout_ms)
        if not self.fired and texts and self.asks(texts[-1]):
            self.fired = True
            self.hook()
        return action


class ConfirmHook(QuestionHook):
    """Fires when the caller is asked to take the offered slot (the IVR books on the answer)."""

    def asks(self, last_part: str) -> bool:
        return last_part.startswith(BOOKING_QUESTION)


class BeforeIdentifyHook(QuestionHook):
    """Fires when the caller confirms the policy and date of birth read back to them
    (identification follows)."""

    def asks(self, last_part: str) -> bool:
        return last_part == READBACK_QUESTION


def dial(host: str, port: int, sounds: Path, caller: Any, **kw: Any) -> Transcript:
    """One simulated Asterisk call; the idle timeout only guards against a hung IVR."""
    kw.setdefault("idle_timeout", 20.0)
    return AsteriskCall(host, port, sounds_dir=sounds, caller=caller, **kw).run()


def booked(transcript: Transcript) -> bool:
    """The caller heard the confirmation and the IVR ended the call itself."""
    return (any(s.startswith("Вы записаны") for s in transcript.said)
            and transcript.variables.get("REG_IVR_DONE") == "1")


def appointments_of(container: Container, pid: int) -> list[Appointment]:
    with container.uow().reading() as uow:
        return list(uow.session.exec(select(Appointment).where(Appointment.patient_id == pid)))


def pending_count(container: Container) -> int:
    with container.uow().reading() as uow:
        return uow.session.exec(select(func.count()).select_from(Appointment).where(
            Appointment.status == AppointmentStatus.PENDING)).one()


def booking_audits(container: Container) -> list[AuditLog]:
    with container.uow().reading() as uow:
        return list(uow.session.exec(select(AuditLog).where(
            AuditLog.entity == "appointment", col(AuditLog.action).in_(("book", "hold")))))


def assert_complete_or_absent(container: Container, pid: int) -> list[Appointment]:
    """The caller's booking is whole (booked + its audit entry) or not there at all."""
    appts = appointments_of(container, pid)
    assert pending_count(container) == 0, "a hold was left behind"
    assert len(appts) <= 1
    audits = {a.entity_id for a in booking_audits(container)}
    for appt in appts:
        assert appt.status == AppointmentStatus.BOOKED
        assert str(appt.id) in audits, "booking without its audit entry"
    assert len(audits) == len(appts), "audit entry without its booking"
    return appts


class IvrChild:
    """The IVR in a child process (``python -m bench.ivr_server``), killable with SIGKILL."""

    def __init__(self, db_url: str, sounds: Path, log: Path, *extra: str) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.ivr_server", "--db-url", db_url, "--sounds",
             str(sounds), "--log-file", str(log), "--log-level", "INFO", *extra],
            cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("READY "):
            self.proc.kill()
            rest = self.proc.stdout.read()
            raise RuntimeError(f"IVR process did not start: {line}{rest}")
        _, self.host, port, _pid = line.split()
        self.port = int(port)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)

    def wait(self, timeout: float = 30.0) -> int:
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            with contextlib.suppress(OSError):
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

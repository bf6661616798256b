"""The registry's dialled numbers: which clinic answers a call, or the region's shared line.

A region may put all its polyclinics behind one number (a regional line, ``clinic_id=None``)
and keep each clinic's own number too.  The IVR asks :func:`resolve_line` which greeting a
dialled number gets; whatever the line, the caller is then served by the clinic they are
attached to (rule 4), which the booking rules enforce on their own.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from sqlalchemy import func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from booking_core import audit
from booking_core.actors import Actor
from booking_core.errors import Duplicate, InvalidInput, NotFound
from booking_core.uow import UnitOfWork, is_unique_violation
from models.tables import Clinic, ClinicLine, Patient

logger = logging.getLogger(__name__)

MAX_NUMBER = 32
_NUMBER_RE = re.compile(r"[0-9+()\-\s]{2,40}")


def normalize_number(raw: str) -> str:
    """A dialled number as lines are stored and looked up: digits only, and a Russian
    national number without its trunk prefix ("+7 (495) 123-00-03", "84951230003" and
    "4951230003" are one line).  Short numbers (an internal extension "122") stay as typed.
    """
    digits = "".join(ch for ch in raw if ch.isdigit())
    if len(digits) == 11 and digits[0] in "78":
        return digits[1:]
    return digits


@dataclass(frozen=True)
class LineView:
    """A line as the admin lists it."""

    id: int
    number: str
    clinic_id: int | None
    clinic_code: str
    clinic_name: str
    label: str

    @property
    def regional(self) -> bool:
        return self.clinic_id is None


@dataclass(frozen=True)
class LineAnswer:
    """How a call to a number is answered.

    ``clinic_id``/``clinic_name``: the clinic whose greeting plays (None on a regional line).
    ``regional``: the region's greeting plays.  ``clinic_names``: every clinic by id when the
    installation has more than one (what the offer names), empty otherwise.
    """

    clinic_id: int | None
    clinic_name: str
    regional: bool
    dialled_number: str
    clinic_names: dict[int, str]

    @property
    def several_clinics(self) -> bool:
        """The call may end up at more than one clinic, so offers must name theirs."""
        return self.regional or len(self.clinic_names) > 1


def resolve_line(number: str, uow: UnitOfWork) -> LineAnswer:
    """Which greeting a call to ``number`` gets, in two small reads.

    A clinic's own number: that clinic.  A regional number: the region.  An unknown (or
    missing) number: the region when a regional line is configured, else the one clinic of a
    one-clinic installation, as it has always answered.  With several clinics and no regional
    line an unknown number belongs to none of them (the configured greeting plays, and the
    call is nobody's until the caller is identified and their clinic known).
    """
    dialled = normalize_number(number)
    with uow.reading():
        clinics = {cid: name for cid, name in uow.session.exec(
            select(Clinic.id, Clinic.short_name).order_by(col(Clinic.id))).all()}
        lines = uow.session.exec(
            select(ClinicLine.number, ClinicLine.clinic_id).where(
                or_(ClinicLine.number == dialled, col(ClinicLine.clinic_id).is_(None)))).all()
    own = next((clinic for num, clinic in lines if num == dialled), -1)
    if own == -1:  # not one of ours: the regional line if any, else the only clinic
        own = next(iter(clinics)) if not lines and len(clinics) == 1 else None
    names = clinics if len(clinics) > 1 else {}
    if own is None and lines:
        return LineAnswer(None, "", True, dialled, names)
    return LineAnswer(own, clinics.get(own, "") if own is not None else "", False, dialled,
                      names)


def clinic_of_patient(patient_id: int, uow: UnitOfWork) -> tuple[int | None, str]:
    """The clinic a patient is attached to (id and short name), for the call's record."""
    with uow.reading():
        row = uow.session.exec(
            select(Clinic.id, Clinic.short_name).join(Patient, Patient.clinic_id == Clinic.id)
            .where(Patient.id == patient_id)).first()
    return (row[0], row[1]) if row else (None, "")


@dataclass(frozen=True)
class AddLine:
    number: str
    actor: Actor
    clinic_code: str | None = None  # None: a regional line
    label: str = ""


def add_line(cmd: AddLine, uow: UnitOfWork) -> LineView:
    """Add a dialled number; ``clinic_code`` names its clinic, none makes it regional."""
    if not _NUMBER_RE.fullmatch(cmd.number.strip()):
        raise InvalidInput("a line number is digits (with + ( ) - allowed)", field="number")
    number = normalize_number(cmd.number)
    if not 2 <= len(number) <= MAX_NUMBER:
        raise InvalidInput("a line number has 2-32 digits", field="number")
    with uow:
        clinic = _clinic(uow, cmd.clinic_code)
        line = ClinicLine(number=number, clinic_id=clinic.id if clinic else None,
                          label=cmd.label.strip()[:120])
        uow.session.add(line)
        try:
            uow.flush()
        except IntegrityError as exc:
            if is_unique_violation(exc):
                raise Duplicate("this number is already a line", field="number") from None
            raise
        audit.record(uow, cmd.actor, "line_add", "clinic_line", line.id, None,
                     audit.snapshot(line, ("number", "clinic_id", "label")))
        uow.commit()
        logger.info("line %s added (%s)", number, clinic.code if clinic else "regional")
        return _view(line, clinic)


def remove_line(number: str, actor: Actor, uow: UnitOfWork) -> None:
    """Remove a dialled number; calls to it then get the unknown-number greeting."""
    with uow:
        line = uow.session.exec(
            select(ClinicLine).where(ClinicLine.number == normalize_number(number))).first()
        if line is None:
            raise NotFound("no such line", field="number")
        audit.record(uow, actor, "line_remove", "clinic_line", line.id,
                     audit.snapshot(line, ("number", "clinic_id", "label")), None)
        uow.session.delete(line)
        uow.commit()


def list_lines(uow: UnitOfWork) -> list[LineView]:
    """Every line, by number."""
    with uow.reading():
        rows = uow.session.exec(
            select(ClinicLine, Clinic).outerjoin(Clinic, col(Clinic.id) == ClinicLine.clinic_id)
            .order_by(col(ClinicLine.number))).all()
        return [_view(line, clinic) for line, clinic in rows]


def count_lines(uow: UnitOfWork) -> int:
    with uow.reading():
        return int(uow.session.exec(select(func.count()).select_from(ClinicLine)).one())


def _clinic(uow: UnitOfWork, code: str | None) -> Clinic | None:
    if code is None or not code.strip():
        return None
    clinic = uow.session.exec(select(Clinic).where(Clinic.code == code.strip())).first()
    if clinic is None:
        raise NotFound("no clinic with this code", field="clinic")
    return clinic


def _view(line: ClinicLine, clinic: Clinic | None) -> LineView:
    assert line.id is not None
    return LineView(line.id, line.number, line.clinic_id, clinic.code if clinic else "",
                    clinic.short_name if clinic else "", line.label)

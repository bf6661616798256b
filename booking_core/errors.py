"""Domain errors with stable codes.

Every refusal of the booking core is a :class:`DomainError` whose ``code`` never changes: the IVR
maps codes to prompts, the console and the REST API return them as error ids.  Messages are for
developers and never contain personal data (no policy numbers, birth dates or phone numbers).
"""

from __future__ import annotations


class DomainError(Exception):
    """A booking rule said no."""

    code: str = "domain_error"

    def __init__(self, message: str = "", **details: object) -> None:
        super().__init__(message or self.code)
        self.message = message or self.code
        self.details = details


class InvalidPolicy(DomainError):
    code = "invalid_policy"


class InvalidInput(DomainError):
    code = "invalid_input"


class NotIdentified(DomainError):
    """Unknown policy and wrong date of birth deliberately look the same."""

    code = "not_identified"


class TooManyAttempts(DomainError):
    code = "too_many_attempts"


class ConsentCodeWrong(DomainError):
    """The caller's code is not the one sent to the patient (rule 20)."""

    code = "consent_code_wrong"


class ConsentCodeExpired(DomainError):
    """The code's lifetime is over, or it was used already (rule 20)."""

    code = "consent_code_expired"


class ConsentUnavailable(DomainError):
    """No code can be sent: the patient has no mobile number on file (rule 20)."""

    code = "consent_unavailable"


class NotFound(DomainError):
    code = "not_found"


class SlotTaken(DomainError):
    code = "slot_taken"


class SlotUnavailable(DomainError):
    """The slot is in the past, outside the booking window or its doctor is away."""

    code = "slot_unavailable"


class BookingBlocked(DomainError):
    code = "booking_blocked"


class LimitReached(DomainError):
    code = "limit_reached"


class ChannelClosed(DomainError):
    code = "channel_closed"


class ReferralRequired(DomainError):
    code = "referral_required"


class AgeMismatch(DomainError):
    code = "age_mismatch"


class WrongClinic(DomainError):
    code = "wrong_clinic"


class OtherClinic(DomainError):
    """A per-clinic console user reached for another clinic's patient, doctor, call or record."""

    code = "other_clinic"


class NotCancellable(DomainError):
    code = "not_cancellable"


class HoldExpired(DomainError):
    code = "hold_expired"


class AttachmentTooSoon(DomainError):
    code = "attachment_too_soon"


class InvalidTransition(DomainError):
    code = "invalid_transition"


class Duplicate(DomainError):
    """A record with the same stable key (code, number, policy, external id) already exists."""

    code = "duplicate"


class InvalidSnils(DomainError):
    code = "invalid_snils"


class InvalidBirthDate(DomainError):
    code = "invalid_birth_date"


class InvalidPhone(DomainError):
    code = "invalid_phone"


class ClinicNotSetUp(DomainError):
    """The installation has no clinic with a doctor yet: nothing can be booked."""

    code = "clinic_not_set_up"
class ArrivalOutsideWindow(DomainError):
    """«Пришёл» far from the visit time (a future visit, or one long past)."""

    code = "arrival_outside_window"


class AlreadyWaiting(DomainError):
    """The patient already has an active waiting-list entry for this specialty."""

    code = "already_waiting"

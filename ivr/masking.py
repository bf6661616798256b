"""Kept for imports written before masking moved to :mod:`booking_core.masking`."""

from booking_core.masking import SCRUB_MIN_RUN, mask_digits, mask_phone, scrub

__all__ = ["SCRUB_MIN_RUN", "mask_digits", "mask_phone", "scrub"]

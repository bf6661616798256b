"""Importing a clinic from its MIS's exports (XLSX, CSV): see :func:`run_import`.

File formats, headers and cell values are handled here; every domain rule and every write is
booking_core's (:mod:`booking_core.onboarding`, :mod:`booking_core.schedules`).
"""

from clinic_import.runner import DEFAULT_MAX_FILE_BYTES, ImportReport, RowProblem, run_import

__all__ = ["DEFAULT_MAX_FILE_BYTES", "ImportReport", "RowProblem", "run_import"]

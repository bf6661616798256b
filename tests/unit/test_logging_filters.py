"""The logging safety net: personal data masked in whatever gets logged (uvicorn's access log
included), and floods of one repeated error rate-limited."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from uvicorn.logging import AccessFormatter

from registratura.logging_setup import PersonalDataFilter, RepeatFilter, install_filters


@pytest.fixture
def stream_logger() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s',
                                         use_colors=False))
    log = logging.getLogger("uvicorn.access")
    saved = log.handlers[:], log.propagate, log.level
    log.handlers[:] = [handler]
    log.propagate = False
    log.setLevel(logging.INFO)
    install_filters(("uvicorn.access",))
    yield log, out
    log.handlers[:], log.propagate, log.level = saved


def test_the_access_log_masks_a_caller_number_in_a_url(stream_logger):
    log, out = stream_logger
    # Exactly what uvicorn's h11 protocol logs for a request.
    log.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:50000", "GET",
             "/phone/ws?caller=%2B79161234567&x=1", "1.1", 101)
    log.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:50000", "GET",
             "/api/patients/lookup/79161234567", "1.1", 404)
    text = out.getvalue()
    assert "79161234567" not in text and "1234567" not in text
    assert "caller=***" in text and "4567" in text  # the last digits stay, as everywhere


def test_asterisk_uniqueids_and_small_numbers_stay_readable():
    record = logging.LogRecord("ivr", logging.INFO, __file__, 1,
                               "agi %s: endpos=%s slot %s", ("1733456789.42", "48000", 12), None)
    PersonalDataFilter().filter(record)
    assert record.getMessage() == "agi 1733456789.42: endpos=48000 slot 12"


def test_a_flood_of_one_error_is_rate_limited():
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RepeatFilter(burst=5, interval=3600))
    log = logging.getLogger("test.flood")
    log.addHandler(handler)
    log.propagate = False
    try:
        for n in range(10_000):
            try:
                raise OSError(24, "Too many open files")
            except OSError:
                log.exception("accept failed on connection %d", n)
        log.warning("something else")
    finally:
        log.removeHandler(handler)
    text = out.getvalue()
    assert text.count("accept failed") == 5
    assert "something else" in text
    assert len(text) < 10_000  # 10,000 tracebacks would be over a megabyte

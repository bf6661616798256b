"""Logging format for every process: time, level, logger, message.

Personal data is masked by the code that logs it; two filters on every handler are the safety
net behind that:

* :class:`PersonalDataFilter` masks what slips through anyway -- long digit runs (phone, policy,
  date of birth) and the values of query parameters named like personal data, e.g. in the
  access log lines uvicorn writes for every request;
* :class:`RepeatFilter` rate-limits repeated messages (the same logger, level and message
  template): a flood of identical errors -- an accept loop out of file descriptors, thousands
  of peers failing the same way -- cannot fill the disk.  What it held back is counted and
  reported with the next message that gets through.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict

from booking_core.masking import mask_phone

#: Query parameters whose values are personal data wherever they appear in a logged URL.
_PERSONAL_PARAM = re.compile(
    r"([?&](?:caller|phone|from|to|policy|snils|birth_date|dob|birth)=)[^&\s\"]*", re.I)
#: Loggers whose handlers uvicorn installs itself (they get the filters too).
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


#: Phone, policy, SNILS or DDMMYYYY-like digit runs (7+ digits, optionally after "+" or its
#: URL encoding).  Runs next to a "." stay: Asterisk's uniqueids (``1733456789.42``) and
#: decimals are what an operator needs to read.
_DIGIT_RUN = re.compile(r"(?<![\d.])(?:\+|%2B)?\d{7,}(?![\d.])", re.I)


def mask_text(text: str) -> str:
    """``text`` with personal query values hidden and long digit runs masked."""
    if not any(ch.isdigit() for ch in text) and "=" not in text:
        return text
    text = _PERSONAL_PARAM.sub(r"\1***", text)
    return _DIGIT_RUN.sub(lambda m: mask_phone(m.group(0).replace("%2B", "+")
                                               .replace("%2b", "+")), text)


class PersonalDataFilter(logging.Filter):
    """Masks personal data in a record's message and arguments (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = mask_text(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(mask_text(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: mask_text(v) if isinstance(v, str) else v
                           for k, v in record.args.items()}
        return True


class RepeatFilter(logging.Filter):
    """At most ``burst`` records of one kind per ``interval`` seconds; the rest are counted.

    A kind is (logger, level, message template), so per-call lines that differ only in their
    arguments count as one kind.  INFO and below pass untouched unless ``min_level`` says
    otherwise.  Memory is bounded by ``max_kinds`` (oldest kinds forgotten first).
    """

    def __init__(self, burst: int = 20, interval: float = 60.0, *,
                 min_level: int = logging.WARNING, max_kinds: int = 1000) -> None:
        super().__init__()
        self.burst = burst
        self.interval = interval
        self.min_level = min_level
        self.max_kinds = max_kinds
        self._kinds: OrderedDict[tuple[str, int, str], list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_repeat_checked", False):  # several handlers share one record
            return not getattr(record, "_repeat_dropped", False)
        if record.levelno < self.min_level:
            return True
        record._repeat_checked = True
        key = (record.name, record.levelno, str(record.msg))
        now = time.monotonic()
        with self._lock:
            state = self._kinds.get(key)
            if state is None or now - state[0] >= self.interval:
                suppressed = int(state[2]) if state else 0
                self._kinds[key] = [now, 1, 0]
                self._kinds.move_to_end(key)
                while len(self._kinds) > self.max_kinds:
                    self._kinds.popitem(last=False)
            else:
                state[1] += 1
                if state[1] > self.burst:
                    state[2] += 1
                    record._repeat_dropped = True
                    return False
                suppressed = 0
        if suppressed:
            record.msg = f"{record.msg} [{suppressed} similar messages suppressed]"
        return True


def install_filters(logger_names: tuple[str, ...] = ("", *UVICORN_LOGGERS)) -> None:
    """Put one :class:`PersonalDataFilter` and the shared :class:`RepeatFilter` on every
    handler of these loggers (idempotent; call again after uvicorn configured its own)."""
    for name in logger_names:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, PersonalDataFilter) for f in handler.filters):
                handler.addFilter(_REPEATS)
                handler.addFilter(PersonalDataFilter())


_REPEATS = RepeatFilter()


def configure_logging(level: str = "INFO", *, process_tag: str = "") -> None:
    """Log to stderr at ``level``; ``process_tag`` (e.g. ``ivr-2``) puts the tag and the pid
    in every line, so the lines of several worker processes sharing one log tell apart."""
    tag = f"[{process_tag} pid %(process)d] " if process_tag else ""
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format=f"%(asctime)s %(levelname)-7s {tag}%(name)s: %(message)s",
    )
    # Alembic announces every plugin at INFO; only its migration lines are worth reading.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    install_filters()

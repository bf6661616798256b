"""The secret key: signs console session cookies and keys the hashes of the identification
attempt log and of SMS senders.  It never has a usable default.

Either the operator sets ``REGISTRATURA_SECRET_KEY`` (at least :data:`MIN_LENGTH` characters, not
a known placeholder), or the first start generates a random key and keeps it in
``REGISTRATURA_SECRET_KEY_FILE`` (default ``var/secret_key``), readable by the service user only,
so sessions survive restarts and every process of one install shares it.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

logger = logging.getLogger(__name__)

MIN_LENGTH = 16
# Placeholders seen in this project's history and in sample configurations: a key that anyone
# can read in public code signs cookies anyone can forge.
KNOWN_PLACEHOLDERS = frozenset({
    "dev-only-change-me", "change-me", "changeme", "secret", "secret-key", "your-secret-key",
})


class InsecureSecretKey(RuntimeError):
    """The configured secret key (or key file) cannot be used: the message says how to fix it."""


def check_key(key: str, origin: str) -> str:
    """``key`` if it is usable; else :class:`InsecureSecretKey` naming ``origin``."""
    key = key.strip()
    if key.lower() in KNOWN_PLACEHOLDERS:
        raise InsecureSecretKey(
            f"{origin} is a published placeholder: anyone could forge console sessions with it. "
            "Remove it to let Registratura generate a random key, or set a random one "
            "(python -c 'import secrets; print(secrets.token_urlsafe(48))')."
        )
    if len(key) < MIN_LENGTH:
        raise InsecureSecretKey(
            f"{origin} is shorter than {MIN_LENGTH} characters: too easy to guess. Remove it to "
            "let Registratura generate a random key, or set a longer random one."
        )
    return key


def resolve_secret_key(configured: str | None, key_file: Path) -> str:
    """The key to use: the configured one (checked), else the key file's, else a new one.

    A new key is written with mode 0600 and ``O_EXCL``, so two processes starting at once end
    up with the same key (the loser reads the winner's file).
    """
    if configured:
        return check_key(configured, "REGISTRATURA_SECRET_KEY")
    try:
        return _read_key_file(key_file)
    except FileNotFoundError:
        pass
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key_file(key_file)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key + "\n")
    logger.warning("generated a new secret key in %s (signs console sessions; keep the file "
                   "private and back it up with the database)", key_file)
    return key


def _read_key_file(key_file: Path) -> str:
    mode = key_file.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        # Readable by others: anyone on the machine could sign sessions.  Tighten, then say so.
        key_file.chmod(0o600)
        logger.warning("secret key file %s was readable by other users; its mode is now 0600",
                       key_file)
    return check_key(key_file.read_text(encoding="ascii"), f"the secret key file {key_file}")

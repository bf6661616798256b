"""Download and install a Vosk model (the one documented way to turn speech recognition on).

:func:`download_model` fetches a model archive with :mod:`urllib`, reports progress through a
callback, checks that the archive is a complete zip holding a Vosk model layout (see
:func:`speech.asr.model_layout_problem`) and extracts it atomically: everything is unpacked
into a temporary directory next to the destination and renamed into place only when complete,
so an interrupted download never leaves a half model where the IVR would load it.

Models: ``ru`` is alphacephei's ``vosk-model-small-ru-0.22`` (about 45 MB), ``en`` is
``vosk-model-small-en-us-0.15``.  Point ``REGISTRATURA_VOSK_MODEL`` at the returned directory.
"""

from __future__ import annotations

import http.client
import logging
import os
import secrets
import shutil
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from speech.asr import model_layout_problem, vosk_model_problem

logger = logging.getLogger(__name__)

BASE_URL = "https://alphacephei.com/vosk/models/"
#: Model archive per language.
MODELS: dict[str, str] = {
    "ru": "vosk-model-small-ru-0.22",
    "en": "vosk-model-small-en-us-0.15",
}
CHUNK_SIZE = 256 * 1024
TIMEOUT = 60.0

#: ``progress(bytes_received, total_bytes_or_None)``, called as the download goes.
Progress = Callable[[int, int | None], None]


class ModelDownloadError(RuntimeError):
    """The model could not be downloaded, verified or installed."""


def model_url(lang: str) -> str:
    """The download address of the model for ``lang`` (``"ru"`` or ``"en"``)."""
    name = MODELS.get(lang.lower())
    if name is None:
        raise ModelDownloadError(
            f"no Vosk model known for {lang!r}; expected one of {list(MODELS)}"
        )
    return f"{BASE_URL}{name}.zip"


def _name_from_url(url: str) -> str:
    name = PurePosixPath(urllib.parse.urlsplit(url).path).name
    if name.lower().endswith(".zip"):
        name = name[:-4]
    if not name or name in (".", "..") or name.startswith("."):
        raise ModelDownloadError(f"cannot name the model after the URL {url!r}")
    return name


def _fetch(url: str, target: Path, progress: Progress | None) -> None:
    """Download ``url`` into ``target``; raises :class:`ModelDownloadError` on any failure."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ModelDownloadError(f"only http(s) URLs can be downloaded, not {url!r}")
    request = urllib.request.Request(url, headers={"User-Agent": "registratura-model-download"})
    received = 0
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response, target.open("wb") as out:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            if progress is not None:
                progress(0, total)
            while True:
                chunk = response.read(CHUNK_SIZE)
                if not chunk:
                    break
                out.write(chunk)
                received += len(chunk)
                if progress is not None:
                    progress(received, total)
    except urllib.error.HTTPError as exc:
        raise ModelDownloadError(
            f"download failed: HTTP {exc.code} {exc.reason} for {url}"
        ) from exc
    except urllib.error.URLError as exc:
        raise ModelDownloadError(f"download failed: {exc.reason} ({url})") from exc
    except http.client.IncompleteRead as exc:
        raise ModelDownloadError(
            f"download truncated: the connection closed after {received} bytes ({url})"
        ) from exc
    except (http.client.HTTPException, OSError) as exc:
        raise ModelDownloadError(f"download failed: {exc} ({url})") from exc
    if total is not None and received != total:
        raise ModelDownloadError(f"download truncated: got {received} of {total} bytes ({url})")


def _model_root(names: list[str]) -> str:
    """The folder inside the archive that holds the model ("" for the archive's top)."""
    files = [n for n in names if not n.endswith("/")]
    for name in names:
        path = PurePosixPath(name)
        if name.startswith("/") or path.is_absolute() or ".." in path.parts or "\\" in name:
            raise ModelDownloadError(f"the archive holds an unsafe path: {name!r}")
    roots = {n.split("/", 1)[0] for n in files if "/" in n}
    candidates = [""]
    if len(roots) == 1 and all("/" in n for n in files):
        candidates.insert(0, roots.pop() + "/")
    problems = []
    for prefix in candidates:
        inside = {n[len(prefix) :] for n in files if n.startswith(prefix)}
        problem = model_layout_problem(inside)
        if problem is None:
            return prefix
        problems.append(problem)
    raise ModelDownloadError(f"the archive is not a Vosk model: {problems[0]}")


def _extract(archive: Path, staging: Path) -> Path:
    """Check and unpack ``archive`` into ``staging``; returns the model folder inside it."""
    if not zipfile.is_zipfile(archive):
        raise ModelDownloadError("the download is not a zip archive (truncated or wrong file?)")
    try:
        with zipfile.ZipFile(archive) as zf:
            names = zf.namelist()
            prefix = _model_root(names)
            bad = zf.testzip()
            if bad is not None:
                raise ModelDownloadError(f"the archive is corrupt (bad CRC in {bad!r})")
            zf.extractall(staging)
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as exc:
        raise ModelDownloadError(f"the archive is corrupt: {exc}") from exc
    except OSError as exc:
        raise ModelDownloadError(f"cannot unpack the archive: {exc}") from exc
    return staging / prefix.rstrip("/") if prefix else staging


def _install(source: Path, target: Path) -> None:
    """Rename ``source`` to ``target``, replacing an existing ``target`` (same file system)."""
    old = None
    if target.exists() or target.is_symlink():
        old = target.with_name(f".{target.name}.old-{secrets.token_hex(4)}")
        os.replace(target, old)
    try:
        os.replace(source, target)
    except OSError:
        if old is not None:
            os.replace(old, target)  # put the previous model back
        raise
    if old is not None and old.is_dir() and not old.is_symlink():
        shutil.rmtree(old, ignore_errors=True)
    elif old is not None:
        old.unlink(missing_ok=True)


def download_model(
    lang: str,
    dest_dir: Path,
    *,
    url: str | None = None,
    progress: Progress | None = None,
    force: bool = False,
) -> Path:
    """Download the Vosk model for ``lang`` into ``dest_dir``; returns the model's directory.

    The model lands in ``dest_dir/<archive name>`` (``dest_dir/vosk-model-small-ru-0.22``).
    ``url`` overrides the download address (a mirror, or a local server in tests); ``progress``
    is called with (bytes received, total bytes or None).  If a valid model is already there it
    is returned without downloading, unless ``force``.  Raises :class:`ModelDownloadError` on
    an HTTP error, a truncated or corrupt archive, or an archive that holds no Vosk model.
    """
    source_url = url or model_url(lang)
    dest_dir = Path(dest_dir)
    target = dest_dir / _name_from_url(source_url)
    if not force and target.is_dir() and vosk_model_problem(target) is None:
        logger.info("Vosk model already installed in %s", target)
        return target
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelDownloadError(f"cannot create {dest_dir}: {exc.strerror or exc}") from exc
    token = secrets.token_hex(6)
    archive = dest_dir / f".{target.name}.{token}.zip.part"
    staging = dest_dir / f".{target.name}.{token}.extract"
    try:
        logger.info("downloading the Vosk model from %s", source_url)
        _fetch(source_url, archive, progress)
        staging.mkdir()
        model_root = _extract(archive, staging)
        archive.unlink(missing_ok=True)
        try:
            _install(model_root, target)
        except OSError as exc:
            raise ModelDownloadError(f"cannot install the model into {target}: {exc}") from exc
    finally:
        archive.unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("Vosk model installed in %s; set REGISTRATURA_VOSK_MODEL=%s", target, target)
    return target

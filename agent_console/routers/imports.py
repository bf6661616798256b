"""The import upload page (admin): the clinic's files (XLSX, CSV) go to a temporary directory
and through :func:`clinic_import.run_import`, exactly as ``registratura import`` runs it; the
page shows the summary per entity and every problem (file, row, column, reason).

Uploads are multipart POSTs behind the CSRF check, limited in size while they stream in; the
files are deleted as soon as the import returns.  The import itself writes the audit entries.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from agent_console.deps import ClinicAdmin, ContainerDep, actor_of, regional_only
from agent_console.errors import ConsoleError
from agent_console.security import csrf_protect
from agent_console.templating import render
from clinic_import.runner import ImportReport, run_import

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 200 * 2**20  # all files of one upload together
MAX_FILES = 20
CHUNK = 2**20
ALLOWED = (".xlsx", ".xlsm", ".csv", ".txt")
ENTITY_LABELS = {"clinics": "Поликлиники", "districts": "Участки и улицы",
                 "specialties": "Специальности", "doctors": "Врачи",
                 "templates": "Расписания (шаблоны)", "patients": "Пациенты"}


TOO_LARGE = f"Файлы больше {MAX_UPLOAD_BYTES // 2**20} МБ: загрузите их частями."


class UploadTooLarge(ConsoleError):
    code = "upload_too_large"
    status = 413


def refuse_oversized(request: Request) -> None:
    """Refuse a declared oversized body before anything reads it (the CSRF check parses the
    form, so this runs first); the streaming copy below enforces the limit without one."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES + 2**20:
        raise UploadTooLarge(TOO_LARGE)


router = APIRouter(include_in_schema=False,
                   dependencies=[Depends(refuse_oversized), Depends(csrf_protect),
                                 Depends(regional_only)])


async def _save(files: list[UploadFile], folder: Path) -> list[Path]:
    """Stream the uploads to ``folder`` under safe names, refusing more than the limit."""
    if len(files) > MAX_FILES:
        raise UploadTooLarge(f"Не больше {MAX_FILES} файлов за раз.")
    total, saved = 0, []
    for i, upload in enumerate(files, 1):
        name = Path(upload.filename or f"file{i}").name or f"file{i}"
        target = folder / f"{i:02d}_{name}"  # two uploads of one name stay apart
        with target.open("wb") as out:
            while chunk := await upload.read(CHUNK):
                total += len(chunk)
                if total > MAX_UPLOAD_BYTES:
                    raise UploadTooLarge(TOO_LARGE)
                out.write(chunk)
        saved.append(target)
    return saved


def _shown_name(name: str) -> str:
    """The file name as the admin uploaded it (without our ``NN_`` prefix)."""
    return name[3:] if len(name) > 3 and name[:2].isdigit() and name[2] == "_" else name


@router.get("/admin/import")
def import_page(request: Request, agent: ClinicAdmin) -> Response:
    return render(request, "admin/import.html", {"report": None, "labels": ENTITY_LABELS,
                                                 "max_mb": MAX_UPLOAD_BYTES // 2**20})


@router.post("/admin/import")
async def import_form(request: Request, container: ContainerDep, agent: ClinicAdmin,
                      files: Annotated[list[UploadFile], File()],
                      dry_run: Annotated[str, Form()] = "",
                      skip_invalid: Annotated[str, Form()] = "") -> Response:
    uploads = [f for f in files if f.filename]
    if not uploads:
        return render(request, "admin/import.html", {
            "report": None, "labels": ENTITY_LABELS, "max_mb": MAX_UPLOAD_BYTES // 2**20,
            "error": "Выберите хотя бы один файл."}, status_code=422)
    with tempfile.TemporaryDirectory(prefix="registratura-import-") as tmp:
        paths = await _save(uploads, Path(tmp))
        report: ImportReport = await run_in_threadpool(
            run_import, paths, container.uow, dry_run=dry_run == "on",
            skip_invalid=skip_invalid == "on", actor=actor_of(request, agent),
            max_file_bytes=MAX_UPLOAD_BYTES,
            policy_system=container.settings.fhir_policy_system)
    logger.info("%s uploaded %d files: applied=%s, %d changes, %d problems", agent.username,
                len(paths), report.applied, report.changes, len(report.problems))
    return render(request, "admin/import.html", {
        "report": report, "labels": ENTITY_LABELS, "max_mb": MAX_UPLOAD_BYTES // 2**20,
        "dry_run": dry_run == "on", "skip_invalid": skip_invalid == "on",
        "files": [_shown_name(p.name) for p in paths], "shown_name": _shown_name},
        status_code=200 if report.applied or dry_run == "on" else 422)

"""The import upload page: the example clinic's files uploaded through the console, a dry run
that changes nothing, the real import, a file with errors reported per row, the size limit,
admin only and CSRF."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import func, select

from agent_console.routers import imports
from models.tables import AuditLog, Doctor

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "import" / "csv"


def _files(*names: str) -> list[tuple[str, tuple[str, bytes, str]]]:
    paths = [EXAMPLES / n for n in names] if names else sorted(EXAMPLES.glob("*.csv"))
    return [("files", (p.name, p.read_bytes(), "text/csv")) for p in paths]


def _doctors(container) -> int:  # type: ignore[no-untyped-def]
    with container.uow().reading() as u:
        return u.session.exec(select(func.count()).select_from(Doctor)).one()


def test_dry_run_then_import_of_the_example_clinic(admin, page_token, console_container):
    before = _doctors(console_container)
    token = page_token(admin, "/admin/import")
    dry = admin.post("/admin/import", data={"csrf_token": token, "dry_run": "on"},
                     files=_files())
    assert dry.status_code == 200, dry.text[:500]
    assert "ошибок нет — можно загружать" in dry.text
    assert 'data-entity="doctors"' in dry.text
    assert _doctors(console_container) == before  # a dry run saves nothing

    done = admin.post("/admin/import", data={"csrf_token": token}, files=_files())
    assert done.status_code == 200 and "Загружено" in done.text
    assert _doctors(console_container) > before
    with console_container.uow().reading() as u:
        actors = set(u.session.exec(select(AuditLog.actor).where(
            AuditLog.action.startswith("import"))).all())  # type: ignore[attr-defined]
    assert actors == {"agent:admin1"}

    again = admin.post("/admin/import", data={"csrf_token": token}, files=_files())
    summary = again.text.split('id="import-summary"')[1].split("</table>")[0]
    assert "Новых" in summary and ">0<" in summary


def test_a_file_with_errors_changes_nothing_and_names_the_row(admin, page_token,
                                                              console_container):
    bad = ("Фамилия;Имя;Полис ОМС;Дата рождения;Поликлиника\n"
           "Петров;Пётр;1234567890123456;01.01.1980;gp7\n")
    token = page_token(admin, "/admin/import")
    r = admin.post("/admin/import", data={"csrf_token": token},
                   files=[*_files("clinics.csv"),
                          ("files", ("пациенты.csv", bad.encode("utf-8"), "text/csv"))])
    assert r.status_code == 422
    problems = r.text.split('id="import-problems"')[1]
    assert "пациенты.csv" in problems and "01_" not in problems and "02_" not in problems
    assert "Не загружено" in r.text
    assert "1234567890123456" not in r.url.path


def test_upload_limits_role_and_csrf(admin, agent, page_token, monkeypatch):
    token = page_token(admin, "/admin/import")
    monkeypatch.setattr(imports, "MAX_UPLOAD_BYTES", 100)
    r = admin.post("/admin/import", data={"csrf_token": token}, files=_files("patients.csv"))
    assert r.status_code == 413 and "загрузите их частями" in r.text
    monkeypatch.undo()
    r = admin.post("/admin/import", data={"csrf_token": "forged"}, files=_files("clinics.csv"))
    assert r.status_code == 403
    assert agent.post("/admin/import", data={"csrf_token": token},
                      files=_files("clinics.csv")).status_code == 403
    empty = admin.post("/admin/import", data={"csrf_token": token},
                       files=[("files", ("", b"", "application/octet-stream"))],
                       headers={"referer": "http://testserver/admin/import"})
    assert empty.status_code == 303 and empty.headers["location"] == "/admin/import"
    assert 'class="flash error"' in admin.get("/admin/import").text

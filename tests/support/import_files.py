"""Helpers of the import tests: the example clinic's files, CSV and XLSX writers."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import openpyxl

from booking_core.actors import Actor
from clinic_import import ImportReport, run_import
from registratura.bootstrap import Container

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "import"
ACTOR = Actor.system("import:test")


def do_import(c: Container, *paths: Path, **kw: object) -> ImportReport:
    return run_import(list(paths), c.uow, actor=ACTOR, **kw)  # type: ignore[arg-type]


def write_csv(path: Path, rows: Sequence[Sequence[object]], encoding: str = "utf-8",
              sep: str = ";") -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        csv.writer(f, delimiter=sep).writerows(rows)
    return path


def write_xlsx(path: Path, sheets: dict[str, Sequence[Sequence[object]]]) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(list(row))
    wb.save(path)
    return path


def example_csvs() -> list[Path]:
    return sorted((EXAMPLES / "csv").glob("*.csv"))


def codes(report: ImportReport) -> set[tuple[str, int | None, str]]:
    """(file, row, code) of every problem: what a test asserts on."""
    return {(p.file, p.row, p.code) for p in report.problems}

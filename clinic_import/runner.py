"""``run_import``: files in, one transaction of upserts out, and a report of every problem.

The files are read twice at most: once to see what each holds (by its name, or by its header
row), then entity by entity in dependency order (clinics, districts, specialties, doctors,
templates, patients) in batches, so a template may name a doctor its workbook defines on a
later sheet.  Everything happens in one unit of work; it is committed only when nothing was
wrong, or with ``skip_invalid`` (then the rejected rows go to the error file).  A dry run always
rolls back, after counting what would change.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from booking_core.actors import Actor
from booking_core.onboarding import Onboarding
from booking_core.onboarding_records import ENTITIES, ERROR, WARNING, EntityCounts, Issue, Item
from booking_core.slots import generate_slots
from booking_core.uow import UnitOfWorkFactory
from booking_core.waiting_list import offer_free_time
from clinic_import import headers as hdr
from clinic_import.messages import render
from clinic_import.readers import (
    DEFAULT_POLICY_SYSTEM,
    FileError,
    Row,
    Source,
    column_letter,
    is_merged_marker,
    open_sources,
)
from clinic_import.rows import BUILDERS, Cells, RowErrors

logger = logging.getLogger(__name__)

DEFAULT_MAX_FILE_BYTES = 200 * 2**20
BATCH_ROWS = 2000
HEADER_SEARCH_ROWS = 10


@dataclass(frozen=True)
class RowProblem:
    """One problem: where (file, row, column) and why, in Russian and English."""

    file: str
    row: int | None
    column: str
    code: str
    message_ru: str
    message_en: str
    severity: str = ERROR


@dataclass
class ImportReport:
    """Per entity: created / updated / unchanged / flagged / rejected; every problem."""

    entities: dict[str, EntityCounts] = field(
        default_factory=lambda: {e: EntityCounts() for e in ENTITIES})
    problems: list[RowProblem] = field(default_factory=list)
    applied: bool = False
    slots_created: int = 0
    waitlist_offers: int = 0  # waiting-list entries offered time right after the import

    @property
    def errors(self) -> list[RowProblem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def rejected(self) -> int:
        return sum(c.rejected for c in self.entities.values())

    @property
    def changes(self) -> int:
        return sum(c.changed for c in self.entities.values())


@dataclass
class _Sheet:
    """A source whose entity and header row are known."""

    source: Source
    entity: str
    header_row: int
    headers: Row
    columns: hdr.HeaderMap

    @property
    def last_column(self) -> int:
        return max(self.columns.fields, default=0)


@dataclass(frozen=True)
class _Ref:
    """Where a record came from; printed as «file, row N»."""

    file: str
    row: int

    def __str__(self) -> str:
        return f"{self.file}, строка/row {self.row}"


class _Progress:
    """Bytes of the files as the unit: rows are counted against each file's share."""

    def __init__(self, callback: Callable[[int, int], None] | None, total: int) -> None:
        self.callback = callback
        self.total = max(total, 1)
        self.done = 0

    def advance(self, size: int, fraction: float) -> None:
        if self.callback:
            self.callback(min(self.done + int(size * fraction), self.total), self.total)

    def finish(self, size: int) -> None:
        self.done += size
        if self.callback:
            self.callback(min(self.done, self.total), self.total)


def run_import(paths: Sequence[Path], uow_factory: UnitOfWorkFactory, *, dry_run: bool = False,
               skip_invalid: bool = False, error_file: Path | None = None, actor: Actor,
               progress: Callable[[int, int], None] | None = None,
               max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
               generate: bool = True,
               policy_system: str = DEFAULT_POLICY_SYSTEM) -> ImportReport:
    """Import a clinic's files (XLSX sheets, CSV, FHIR R4 Bundles) into the database.

    Nothing changes unless every row is valid, or ``skip_invalid`` is set (then the valid rows
    are applied and the rejected ones written to ``error_file``).  After a change the slots of
    the window are generated (``generate``).  Warnings (a phone that is not a mobile, a formula
    whose saved value was used) never block.
    """
    report = ImportReport()
    sheets = _recognise(paths, max_file_bytes, report, policy_system)
    if any(p.row is None or p.code in _FILE_FATAL for p in report.errors):
        return report  # a file that cannot be read at all: nothing is tried
    meter = _Progress(progress, sum(s.source.size for s in sheets))
    rejected: list[tuple[_Sheet, int, Row, list[RowProblem]]] = []
    uow = uow_factory()
    with uow:
        onboarding = Onboarding(uow, actor)
        for entity in ENTITIES:
            for sheet in (s for s in sheets if s.entity == entity):
                _load_sheet(sheet, onboarding, report, rejected, meter)
        if not any(p.code in _FILE_FATAL for p in report.errors):
            onboarding.finish(sorted({s.source.path.name for s in sheets}))
        report.entities = onboarding.counts
        report.slots_created = onboarding.slots_created
        for entity, count in _rejected_counts(rejected).items():
            report.entities[entity].rejected = count
        fatal = any(p.code in _FILE_FATAL for p in report.errors)
        apply = not dry_run and not fatal and (skip_invalid or not report.errors)
        if apply:
            uow.commit()
            report.applied = True
    if rejected and error_file is not None:
        order = {id(sheet): i for i, sheet in enumerate(sheets)}
        rejected.sort(key=lambda r: (order[id(r[0])], r[1]))  # as in the files
        write_error_file(error_file, rejected)
    if report.applied and generate and report.entities["doctors"].updated:
        # New schedules made their slots already; a doctor back at work needs the window.
        report.slots_created += generate_slots(uow_factory())
    if report.applied and report.changes:
        # Time the import brought goes to the waiting list now, not at the next upkeep round.
        report.waitlist_offers = offer_free_time(uow_factory())
    report.problems.sort(key=lambda p: (p.file, p.row or 0))  # as the files read
    logger.info("import %s: %d changes, %d rejected rows, %d problems",
                "applied" if report.applied else "not applied", report.changes,
                report.rejected, len(report.problems))
    return report


# Problems that stop the import whatever ``skip_invalid`` says: no row of that file could be
# trusted, so "importing the good rows" would mean importing none of them silently.
_FILE_FATAL = frozenset({"file_unreadable", "file_empty", "file_too_large", "unknown_format",
                         "xls_not_supported", "xlsx_broken", "unsupported_encoding",
                         "bad_encoding_at", "csv_broken", "no_header", "unknown_entity",
                         "missing_columns", "fhir_not_json", "fhir_not_bundle"})


def _problem(report: ImportReport, file: str, row: int | None, column: str, code: str,
             severity: str = ERROR, **params: object) -> RowProblem:
    ru, en = render(code, params)
    problem = RowProblem(file, row, column, code, ru, en, severity)
    report.problems.append(problem)
    return problem


# --- which file holds what ------------------------------------------------------------------


def _recognise(paths: Sequence[Path], max_bytes: int, report: ImportReport,
               policy_system: str) -> list[_Sheet]:
    sheets: list[_Sheet] = []
    for path in paths:
        try:
            sources = open_sources(Path(path), max_bytes, policy_system)
        except FileError as exc:
            _problem(report, Path(path).name, exc.row, "", exc.code, **exc.params)
            continue
        for source in sources:
            try:
                sheet = _header(source, report)
            except FileError as exc:
                _problem(report, source.label, exc.row, "", exc.code, **exc.params)
                continue
            if sheet is not None:
                sheets.append(sheet)
    return sheets


def _header(source: Source, report: ImportReport) -> _Sheet | None:
    """Find the entity and its header row among the first rows (a title row may come first)."""
    named = hdr.entity_by_name(source.name)
    first: list[tuple[int, Row]] = list(islice(source.open_rows(), HEADER_SEARCH_ROWS))
    rows = [(n, r) for n, r in first if any(hdr.normalise(c) for c in r if isinstance(c, str))]
    if not rows:
        if source.sheet is not None and named is None:
            return None  # an empty extra sheet of a workbook ("Лист2"): nothing to say
        _problem(report, source.label, None, "", "empty_file")
        return None
    for number, cells in rows:
        entity = named or hdr.guess_entity(cells)
        if entity is None:
            continue
        columns = hdr.map_headers(entity, cells)
        if not hdr.missing_required(columns):
            for unknown in columns.unknown:
                guess = hdr.suggestion(entity, unknown)
                _problem(report, source.label, number, unknown,
                         "unknown_column_typo" if guess else "unknown_column", WARNING,
                         value=unknown, guess=guess)
            return _Sheet(source, entity, number, cells, columns)
    number, cells = rows[0]
    if named is None:
        if source.sheet is not None and len(rows) > 0 and not _looks_like_header(cells):
            return None  # a notes sheet beside the data: not ours
        _problem(report, source.label, number, "", "unknown_entity")
        return None
    columns = hdr.map_headers(named, cells)
    missing = hdr.missing_required(columns)
    if not columns.fields:
        found = ", ".join(str(c).strip() for c in cells if str(c).strip())[:200]
        expected = ", ".join(hdr.display_name(named, m) for m in missing)
        _problem(report, source.label, number, "", "no_header", expected=expected, found=found)
    else:
        _problem(report, source.label, number, "", "missing_columns",
                 missing=", ".join(hdr.display_name(named, m) for m in missing))
    return None


def _looks_like_header(cells: Row) -> bool:
    return sum(1 for c in cells if isinstance(c, str) and c.strip()) >= 2


# --- the rows of one sheet ------------------------------------------------------------------


def _load_sheet(sheet: _Sheet, onboarding: Onboarding, report: ImportReport,
                rejected: list[tuple[_Sheet, int, Row, list[RowProblem]]],
                meter: _Progress) -> None:
    builder = BUILDERS[sheet.entity]
    apply = getattr(onboarding, f"{sheet.entity}_batch")
    label = sheet.source.label
    batch: list[Item] = []  # type: ignore[type-arg]
    raw: dict[_Ref, Row] = {}
    seen_rows = 0
    try:
        for number, cells in _data_rows(sheet):
            seen_rows += 1
            ref = _Ref(label, number)
            problems = _cell_problems(sheet, number, cells, report)
            record = None
            try:
                record = builder(Cells(_by_field(sheet, cells)))
            except RowErrors as exc:
                problems += [_problem(report, label, number, _column(sheet, name), code)
                             for name, code in exc.errors]
            if any(p.severity == ERROR for p in problems):
                rejected.append((sheet, number, cells, problems))
                continue
            batch.append(Item(ref, record))
            raw[ref] = cells
            if len(batch) >= BATCH_ROWS:
                _apply(sheet, apply, batch, raw, report, rejected)
                batch, raw = [], {}
                meter.advance(sheet.source.size, _fraction(seen_rows))
        if batch:
            _apply(sheet, apply, batch, raw, report, rejected)
    except FileError as exc:
        _problem(report, label, exc.row, "", exc.code, **exc.params)
    if seen_rows == 0:
        _problem(report, label, sheet.header_row, "", "empty_file", WARNING)
    meter.finish(sheet.source.size)


def _fraction(rows: int) -> float:
    return min(0.95, rows / (rows + 50_000))  # a smooth bar without knowing the row count


def _data_rows(sheet: _Sheet) -> Iterator[tuple[int, Row]]:
    for number, cells in sheet.source.open_rows():
        if number <= sheet.header_row:
            continue
        if all(c is None or (isinstance(c, str) and not c.strip()) for c in cells
               if not is_merged_marker(c)):
            continue  # blank lines (and trailing empty rows of a sheet)
        yield number, cells


def _cell_problems(sheet: _Sheet, number: int, cells: Row,
                   report: ImportReport) -> list[RowProblem]:
    label = sheet.source.label
    found = []
    if cells and is_merged_marker(cells[-1]):
        cells.pop()
        found.append(_problem(report, label, number, "", "merged_cells"))
    for index, code in sheet.source.cell_problems.get(number, []):
        cell = f"{column_letter(index)}{number}"
        severity = WARNING if code == "formula" else ERROR
        found.append(_problem(report, label, number, _header_text(sheet, index), code,
                              severity, cell=cell))
    return found


def _by_field(sheet: _Sheet, cells: Row) -> dict[str, object]:
    pairs = sheet.columns.fields.items()
    if len(cells) > sheet.last_column:  # the usual full row: no bounds check per cell
        return {name: cells[i] for i, name in pairs}
    return {name: cells[i] for i, name in pairs if i < len(cells)}


def _header_text(sheet: _Sheet, index: int) -> str:
    return str(sheet.headers[index]).strip() if index < len(sheet.headers) else ""


def _column(sheet: _Sheet, field_name: str) -> str:
    """The file's own header for a field (what the user sees), else the documented one."""
    for index, name in sheet.columns.fields.items():
        if name == field_name:
            return _header_text(sheet, index)
    return hdr.display_name(sheet.entity, field_name)


def _apply(sheet: _Sheet, apply: Callable[[list[Item]], list[Issue]],  # type: ignore[type-arg]
           batch: list[Item], raw: dict[_Ref, Row], report: ImportReport,  # type: ignore[type-arg]
           rejected: list[tuple[_Sheet, int, Row, list[RowProblem]]]) -> None:
    issues = apply(batch)
    by_ref: dict[Hashable, list[RowProblem]] = {}
    for issue in issues:
        ref = issue.ref
        assert isinstance(ref, _Ref)
        params = {k: str(val) if isinstance(val, _Ref) else val
                  for k, val in issue.params.items()}
        problem = _problem(report, ref.file, ref.row, _column(sheet, issue.column), issue.code,
                           issue.severity, **params)
        by_ref.setdefault(ref, []).append(problem)
    for ref, problems in by_ref.items():
        if any(p.severity == ERROR for p in problems):
            assert isinstance(ref, _Ref)
            rejected.append((sheet, ref.row, raw[ref], problems))


def _rejected_counts(rejected: list[tuple[_Sheet, int, Row, list[RowProblem]]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for sheet, _, _, _ in rejected:
        counts[sheet.entity] = counts.get(sheet.entity, 0) + 1
    return counts


def write_error_file(path: Path, rejected: list[tuple[_Sheet, int, Row, list[RowProblem]]]
                     ) -> None:
    """The rejected rows as they were, with where they came from and why: fix and re-import.

    UTF-8 with BOM and ``;``, so Excel opens it with Cyrillic intact.
    """
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f, delimiter=";")
        current: _Sheet | None = None
        for sheet, row, cells, problems in rejected:
            if sheet is not current:
                current = sheet
                writer.writerow(["Файл / file", "Строка / row", "Ошибка", "Error",
                                 *(str(h) for h in sheet.headers)])
            writer.writerow([
                sheet.source.label, row,
                "; ".join(f"{p.column}: {p.message_ru}" if p.column else p.message_ru
                          for p in problems if p.severity == ERROR),
                "; ".join(f"{p.column}: {p.message_en}" if p.column else p.message_en
                          for p in problems if p.severity == ERROR),
                *("" if c is None else str(c) for c in cells),
            ])

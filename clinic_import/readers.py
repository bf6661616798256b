"""Reading the clinic's files: XLSX (every sheet) and CSV (UTF-8 with or without BOM, or
Windows-1251; ``;``, ``,`` or tab separated), row by row with their row numbers.

XLSX is read with python-calamine (Rust's calamine): on 200,000 patient rows it read the sheet
in 3.7 s where openpyxl's read-only mode took 48 s on the same machine, which alone would break
the import's 60 s budget; calamine holds one sheet's cells in memory at a time (158 MB peak for
that sheet against openpyxl's 41 MB), well inside the 500 MB budget, and the file size limit
bounds it.  calamine returns a formula's saved value; :func:`formula_cells` finds formulas in
the sheet's XML (streamed, only when there are any) so they can be reported.  CSV is streamed.
"""

from __future__ import annotations

import codecs
import csv
import logging
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from xml.etree.ElementTree import iterparse

import python_calamine

logger = logging.getLogger(__name__)

Row = list[object]
SAMPLE_BYTES = 1 << 20
ZIP_RATIO_LIMIT = 20  # an XLSX unpacks to at most this many times the size limit


class FileError(Exception):
    """A file that cannot be read at all; ``code`` is stable, ``row`` where it broke, if known."""

    def __init__(self, code: str, row: int | None = None, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.row = row
        self.params = params


@dataclass
class Source:
    """One file, or one sheet of a workbook, holding (we hope) one entity's rows."""

    path: Path
    sheet: str | None
    open_rows: Callable[[], Iterator[tuple[int, Row]]]  # (row number from 1, cells)
    size: int  # bytes of the file (the progress bar's unit)
    # Row number -> (column index, problem code): formulas and merged cells found in XLSX.
    cell_problems: dict[int, list[tuple[int, str]]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.path.name} [{self.sheet}]" if self.sheet else self.path.name

    @property
    def name(self) -> str:
        """What says which entity this is: the sheet name, or the file name without suffix."""
        return self.sheet or self.path.stem


def open_sources(path: Path, max_bytes: int) -> list[Source]:
    """The sources in ``path`` (one per CSV, one per XLSX sheet); raises :class:`FileError`."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise FileError("file_unreadable") from exc
    if size > max_bytes:
        raise FileError("file_too_large", size_mb=round(size / 2**20), limit_mb=max_bytes // 2**20)
    if size == 0:
        raise FileError("file_empty")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _xlsx_sources(path, size, max_bytes)
    if suffix in (".csv", ".txt", ".tsv"):
        return [_csv_source(path, size)]
    if suffix == ".xls":
        raise FileError("xls_not_supported")
    raise FileError("unknown_format", suffix=suffix or "—")


# --- CSV ------------------------------------------------------------------------------------


def detect_encoding(sample: bytes, whole: bool) -> str:
    """``utf-8-sig`` (BOM), ``utf-8`` or ``cp1251``; raises for UTF-16 and binary files."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in sample:
        raise FileError("unsupported_encoding", row=1)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=whole)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        sample.decode("cp1251")
    except UnicodeDecodeError as exc:
        raise FileError("unsupported_encoding", row=1) from exc
    return "cp1251"


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (";", ",", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ";"


def _decoded_lines(f: BinaryIO, encoding: str) -> Iterator[str]:
    """The file's lines as text, decoded one by one so a bad byte is reported on its line."""
    for number, line in enumerate(f, 1):
        try:
            yield line.decode(encoding if number == 1 else encoding.replace("-sig", ""))
        except UnicodeDecodeError as exc:
            raise FileError("bad_encoding_at", row=number, encoding=encoding) from exc


def _csv_source(path: Path, size: int) -> Source:
    with path.open("rb") as f:
        sample = f.read(SAMPLE_BYTES)
    encoding = detect_encoding(sample, whole=size <= SAMPLE_BYTES)
    text = sample.decode(encoding, errors="ignore")
    delimiter = _delimiter(text.splitlines()[0] if text else "")

    def rows() -> Iterator[tuple[int, Row]]:
        number = 0
        try:
            with path.open("rb") as f:
                lines = _decoded_lines(f, encoding)
                for number, row in enumerate(csv.reader(lines, delimiter=delimiter), 1):
                    yield number, row  # type: ignore[misc]
        except csv.Error as exc:
            raise FileError("csv_broken", row=number + 1) from exc

    return Source(path, None, rows, size)


# --- XLSX -----------------------------------------------------------------------------------


def _xlsx_sources(path: Path, size: int, max_bytes: int) -> list[Source]:
    try:
        with zipfile.ZipFile(path) as z:
            unpacked = sum(i.file_size for i in z.infolist())
            parts = _sheet_parts(z)
    except (zipfile.BadZipFile, KeyError, OSError, SyntaxError) as exc:
        raise FileError("xlsx_broken") from exc
    if unpacked > max_bytes * ZIP_RATIO_LIMIT:
        raise FileError("file_too_large", size_mb=round(unpacked / 2**20),
                        limit_mb=max_bytes * ZIP_RATIO_LIMIT // 2**20)
    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
    except python_calamine.CalamineError as exc:
        raise FileError("xlsx_broken") from exc
    sources = []
    for name in workbook.sheet_names:
        source = Source(path, name, _sheet_rows(workbook, name), size)
        sources.append(source)
        part = parts.get(name)
        if part is not None:
            source.cell_problems = formula_cells(path, part)
    return sources


def _sheet_rows(workbook: python_calamine.CalamineWorkbook, name: str
                ) -> Callable[[], Iterator[tuple[int, Row]]]:
    def rows() -> Iterator[tuple[int, Row]]:
        try:
            sheet = workbook.get_sheet_by_name(name)
        except python_calamine.CalamineError as exc:
            raise FileError("xlsx_broken") from exc
        first_row, first_col = sheet.start or (0, 0)
        merged = _merged_rows(sheet.merged_cell_ranges or [])
        for i, cells in enumerate(sheet.iter_rows()):
            number = first_row + i + 1
            row: Row = [""] * first_col + list(cells)
            if number in merged:
                row = [*row, _MERGED]  # a marker the runner turns into a problem
            yield number, row

    return rows


_MERGED = object()


def is_merged_marker(value: object) -> bool:
    return value is _MERGED


def _merged_rows(ranges: list) -> set[int]:  # type: ignore[type-arg]
    """Row numbers (from 1) inside a merge that spans rows: each such row lacks its own value."""
    rows: set[int] = set()
    for (r0, _c0), (r1, _c1) in ranges:
        if r1 > r0:
            rows.update(range(r0 + 1, r1 + 2))
    return rows


_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
       "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
       "p": "http://schemas.openxmlformats.org/package/2006/relationships"}


def _sheet_parts(z: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> its XML part in the archive (from workbook.xml and its relations)."""
    from xml.etree.ElementTree import fromstring

    book = fromstring(z.read("xl/workbook.xml"))
    rels = fromstring(z.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target", "") for r in rels.findall("p:Relationship", _NS)}
    parts = {}
    for s in book.findall("m:sheets/m:sheet", _NS):
        target = targets.get(s.get(f"{{{_NS['r']}}}id"), "")
        target = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
        parts[s.get("name", "")] = target
    return parts


_CELL_REF = re.compile(r"([A-Z]+)(\d+)")


def formula_cells(path: Path, part: str) -> dict[int, list[tuple[int, str]]]:
    """Cells holding a formula, by row: ``formula`` when a saved value came with it (imported,
    with a warning), ``formula_no_value`` when not (the row cannot be read).

    A quick byte scan decides first, so a sheet without formulas costs one streamed read.
    """
    with zipfile.ZipFile(path) as z:
        if not _has_formula(z, part):
            return {}
        found: dict[int, list[tuple[int, str]]] = {}
        with z.open(part) as f:
            for _event, el in iterparse(f):
                if el.tag == f"{{{_NS['m']}}}c":
                    if el.find("m:f", _NS) is not None:
                        m = _CELL_REF.fullmatch(el.get("r", ""))
                        if m:
                            saved = el.find("m:v", _NS)
                            has_value = saved is not None and bool(saved.text)
                            found.setdefault(int(m.group(2)), []).append(
                                (_column_index(m.group(1)),
                                 "formula" if has_value else "formula_no_value"))
                    el.clear()
        return found


def _has_formula(z: zipfile.ZipFile, part: str) -> bool:
    tail = b""
    with z.open(part) as f:
        while chunk := f.read(SAMPLE_BYTES):
            if re.search(rb"<f[ >/]", tail + chunk):
                return True
            tail = chunk[-8:]
    return False


def _column_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA: how a spreadsheet user finds the cell."""
    s = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        s = chr(65 + rest) + s
    return s

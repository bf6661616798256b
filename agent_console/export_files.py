"""Appointment exports as files: XLSX (openpyxl, write-only) and CSV (UTF-8 with BOM and ``;``,
which Russian Excel opens without asking)."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Sequence

from openpyxl import Workbook

from agent_console import labels
from booking_core.exports import ExportRow

logger = logging.getLogger(__name__)

FLAGS = {"doctor_left": "врач уволился", "schedule_changed": "расписание изменено",
         "absence": "врач отсутствует"}
HEADERS = ("Дата", "Время", "Врач", "Специальность", "Кабинет", "Пациент", "Год рождения",
           "Полис (посл. 4)", "Статус", "Канал", "Талон", "Отметка")


def _cells(row: ExportRow) -> list[object]:
    return [row.starts_at.strftime("%d.%m.%Y"), row.starts_at.strftime("%H:%M"), row.doctor,
            row.specialty, row.cabinet, row.patient, row.birth_year, row.policy_tail,
            labels.label(labels.STATUSES, row.status), labels.label(labels.CHANNELS, row.channel),
            row.talon, FLAGS.get(row.flag, row.flag)]


def to_csv(rows: Sequence[ExportRow]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADERS)
    writer.writerows(_cells(r) for r in rows)
    return buf.getvalue().encode("utf-8-sig")


def to_xlsx(rows: Sequence[ExportRow]) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Записи")
    sheet.append(list(HEADERS))
    for r in rows:
        sheet.append(_cells(r))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

"""``import``: a clinic group's MIS export imported with ``registratura import``'s code.

Generated: 10 clinics, 200 districts (5 streets each), 20 specialties, 500 doctors with weekly
templates (breaks, even/odd dates, alternating weeks), 200,000 attached patients, written once
as one XLSX workbook (a sheet per entity) and once as CSV files (patients in Windows-1251 with
``;``, the rest UTF-8), as MIS exports come.

For each backend and format, into a fresh migrated database: the first import (everything
created, slots generated for the 30-day window) and the same files again (nothing changes).
Each import runs in its own process, so its peak RSS is its own.  Targets: first import
< 60 s and < 500 MB peak, re-import < 30 s.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.common import (
    ROOT,
    DbHost,
    Stopwatch,
    console,
    db_kinds,
    fmt,
    make_container,
    print_table,
    save_json,
    verdict,
)

DEFAULT_DB = "both"
TARGET_FIRST_S, TARGET_RSS_MB, TARGET_REIMPORT_S = 60.0, 500.0, 30.0

_LAST = ("Иванов", "Петров", "Сидоров", "Кузнецов", "Смирнов", "Попов", "Волков", "Соколов",
         "Лебедев", "Козлов", "Новиков", "Морозов", "Павлов", "Семёнов", "Голубев", "Виноградов")
_FIRST = ("Андрей", "Сергей", "Алексей", "Дмитрий", "Михаил", "Николай", "Павел", "Юрий")
_MIDDLE = ("Андреевич", "Сергеевич", "Петрович", "Иванович", "Николаевич", "Олегович")
_STREETS = ("ул. Ленина", "ул. Мира", "пр. Победы", "ул. Садовая", "ул. Школьная",
            "ул. Лесная", "ул. Гагарина", "пер. Почтовый", "ул. Советская", "ул. Набережная")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--patients", type=int, default=200_000)
    parser.add_argument("--doctors", type=int, default=500)
    parser.add_argument("--formats", default="xlsx,csv", help="xlsx, csv or both (comma)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)  # URL FILE...


def _luhn_digit(partial: str) -> str:
    from booking_core.rules import luhn_check_digit

    return luhn_check_digit(partial)


def _snils(i: int) -> str:
    from booking_core.rules import snils_checksum

    first9 = f"{200_000_000 + i * 7:09d}"
    return first9 + snils_checksum(first9)


def generate(patients: int, doctors: int) -> dict[str, list[list[Any]]]:
    """The clinic group as rows per entity (header first)."""
    rng = random.Random(11)
    clinics = [[f"gp{100 + c}", f"ГБУЗ «Городская поликлиника № {100 + c}»"] for c in range(10)]
    districts: list[list[Any]] = []
    for code, _ in clinics:
        for n in range(1, 21):
            for s in range(5):
                street = _STREETS[(n + s) % len(_STREETS)] + f" {n}"
                districts.append([code, n, f"Участок {n}", street, f"{s * 20 + 1}-{s * 20 + 19}"])
    specs = [[f"spec{i:02d}", f"Специальность {i}", "самозапись" if i < 8 else "по направлению",
              "дети" if i == 1 else ("взрослые" if i % 3 == 0 else "все")] for i in range(20)]
    doctor_rows, templates = [], []
    for d in range(doctors):
        code = clinics[d % 10][0]
        ext = f"MIS-{d:05d}"
        spec = specs[d % 20][0]
        doctor_rows.append([ext, code, spec, (d // 10) % 20 + 1 if d % 20 < 2 else "",
                            _LAST[d % 16], _FIRST[d % 8], _MIDDLE[d % 6], str(100 + d % 300)])
        for weekday in ("пн", "вт", "ср", "чт", "пт"):
            if d % 7 == 0:  # even/odd dates: mornings on even, afternoons on odd
                templates.append([ext, code, weekday, "08:00-14:00", "", 20, "", "чёт.", ""])
                templates.append([ext, code, weekday, "14:00-20:00", "", 20, "", "нечёт.", ""])
            elif d % 7 == 1:  # alternating weeks
                templates.append([ext, code, weekday, "08:00-14:00", "", 15, "", "",
                                  "чёт." if weekday in ("пн", "ср", "пт") else "нечёт."])
            else:
                start = "08:00" if d % 2 else "14:00"
                end = "14:00" if d % 2 else "20:00"
                templates.append([ext, code, weekday, f"{start}-{end}",
                                  "11:00-11:30" if d % 2 else "17:00-17:30", 15, "", "", ""])
    born0 = date(1930, 1, 1)
    patient_rows = []
    for i in range(patients):
        first15 = f"50{i:013d}"
        clinic = clinics[i % 10][0]
        born = born0 + timedelta(days=rng.randrange(0, 33_000))
        patient_rows.append([first15 + _luhn_digit(first15), _LAST[i % 16], _FIRST[i % 8],
                             _MIDDLE[i % 6], born.strftime("%d.%m.%Y"), _snils(i),
                             f"+7916{i:07d}", clinic, i % 20 + 1])
    return {
        "Поликлиники": [["Код МО", "Наименование"], *clinics],
        "Участки": [["Код МО", "Участок", "Название участка", "Улица", "Дома"], *districts],
        "Специальности": [["Код специальности", "Специальность", "Запись", "Возраст"], *specs],
        "Врачи": [["Код врача", "Код МО", "Специальность", "Участок", "Фамилия", "Имя",
                   "Отчество", "Кабинет"], *doctor_rows],
        "Расписание": [["Код врача", "Код МО", "День недели", "Часы приёма", "Перерыв",
                        "Длительность приёма, мин", "Кабинет", "Числа", "Недели"], *templates],
        "Пациенты": [["Полис ОМС", "Фамилия", "Имя", "Отчество", "Дата рождения", "СНИЛС",
                      "Телефон", "Код МО", "Участок"], *patient_rows],
    }


CSV_NAMES = {"Поликлиники": "clinics", "Участки": "districts", "Специальности": "specialties",
             "Врачи": "doctors", "Расписание": "templates", "Пациенты": "patients"}


def write_files(data: dict[str, list[list[Any]]], folder: Path) -> dict[str, list[Path]]:
    import openpyxl

    folder.mkdir(parents=True, exist_ok=True)
    wb = openpyxl.Workbook(write_only=True)
    for name, rows in data.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    xlsx = folder / "clinic_group.xlsx"
    wb.save(xlsx)
    csvs = []
    for name, rows in data.items():
        path = folder / f"{CSV_NAMES[name]}.csv"
        encoding = "cp1251" if name == "Пациенты" else "utf-8"
        with path.open("w", encoding=encoding, newline="") as f:
            csv.writer(f, delimiter=";").writerows(rows)
        csvs.append(path)
    return {"xlsx": [xlsx], "csv": csvs}


def _same(stamp: Path, wanted: dict[str, int]) -> bool:
    try:
        return json.loads(stamp.read_text()) == wanted
    except (OSError, ValueError):
        return False


def _existing(folder: Path) -> dict[str, list[Path]]:
    return {"xlsx": [folder / "clinic_group.xlsx"],
            "csv": [folder / f"{name}.csv" for name in CSV_NAMES.values()]}


def child(url: str, files: list[str]) -> None:
    """One import in this process; prints its figures as JSON."""
    from booking_core.actors import Actor
    from clinic_import import run_import

    container = make_container(url)
    with Stopwatch() as sw:
        report = run_import([Path(f) for f in files], container.uow,
                            actor=Actor.system("bench"), max_file_bytes=1 << 30)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    rss_mb = usage.ru_maxrss / 1024
    rows = sum(c.created + c.updated + c.unchanged + c.rejected
               for c in report.entities.values())
    # CPU seconds beside wall time: on a shared machine the wall time says how busy it was.
    print(json.dumps({"seconds": sw.seconds, "cpu_s": usage.ru_utime + usage.ru_stime,
                      "rss_mb": rss_mb, "rows": rows,
                      "changes": report.changes, "errors": len(report.errors),
                      "slots": report.slots_created, "applied": report.applied}))
    container.dispose()


def _run_child(url: str, files: list[Path]) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "bench", "import", "--child", url,
                          *map(str, files)], cwd=ROOT, capture_output=True, text=True,
                         check=False)
    if out.returncode != 0:
        raise RuntimeError(f"import child failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(args: argparse.Namespace) -> int:
    if args.child:
        child(args.child[0], args.child[1:])
        return 0
    if args.quick:
        args.patients, args.doctors = 20_000, 100
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    folder = Path(ROOT / "bench" / "results" / "import-data")
    stamp = folder / "made-for.json"
    wanted = {"patients": args.patients, "doctors": args.doctors, "version": 1}
    with Stopwatch() as gen:
        data = None if _same(stamp, wanted) else generate(args.patients, args.doctors)
    with Stopwatch() as write:
        # The generated files are kept (bench/results is not committed): the same sizes
        # again reuse them instead of spending a minute and a half writing XLSX.
        files = _existing(folder) if data is None else write_files(data, folder)
        stamp.write_text(json.dumps(wanted))
    sizes = {fmt_: sum(p.stat().st_size for p in paths) / 2**20 for fmt_, paths in files.items()}
    console.print(f"Files for {args.patients:,} patients, {args.doctors} doctors: generated "
                  f"in {gen.seconds:.1f} s, written in {write.seconds:.1f} s "
                  f"(XLSX {sizes['xlsx']:.1f} MB, CSV {sizes['csv']:.1f} MB)")
    results: list[dict[str, Any]] = []
    for kind in db_kinds(args.db):
        with DbHost(kind, args.pg_url) as host:
            for fmt_ in formats:
                url = host.create(f"imp_{fmt_}")
                from models.migrate import upgrade

                container = make_container(url)
                upgrade(container.engine)
                container.dispose()
                first = _run_child(url, files[fmt_])
                again = _run_child(url, files[fmt_])
                results.append({"db": kind, "format": fmt_, "first": first, "again": again})
                time.sleep(0.1)
    _report(results, args)
    for kind in db_kinds(args.db):
        save_json("import", kind, {"patients": args.patients, "doctors": args.doctors,
                                   "runs": [r for r in results if r["db"] == kind]})
    return 0


def _report(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    rows = []
    for r in results:
        first, again = r["first"], r["again"]
        rows.append([f"{r['db']} {r['format']}", f"{first['rows']:,}",
                     fmt(first["rows"] / first["seconds"], 0), fmt(first["seconds"]),
                     fmt(first.get("cpu_s", float("nan"))), fmt(first["rss_mb"], 0),
                     f"{first['slots']:,}", fmt(again["seconds"]),
                     fmt(again.get("cpu_s", float("nan"))), fmt(again["rss_mb"], 0),
                     again["changes"],
                     verdict(first["seconds"] < TARGET_FIRST_S
                             and first["rss_mb"] < TARGET_RSS_MB
                             and again["seconds"] < TARGET_REIMPORT_S
                             and again["changes"] == 0 and not first["errors"])])
    print_table(f"Import: {args.patients:,} patients, {args.doctors} doctors",
                ["run", "rows", "rows/s", "first s", "first CPU s", "peak MB", "slots",
                 "again s", "again CPU s", "again MB", "changes", "target"], rows,
                caption=f"targets: first < {TARGET_FIRST_S:.0f} s and < {TARGET_RSS_MB:.0f} MB, "
                        f"re-import < {TARGET_REIMPORT_S:.0f} s with 0 changes (wall time); "
                        f"CPU s = the import process's user + system time")

"""The administration pages in a real browser (Debian's headless Chromium via Playwright).

An administrator registers a patient at the desk, hires a doctor, gives them an even/odd
template (mornings on even dates, afternoons on odd ones), checks the week preview, saves it,
generates slots, books the new patient into one of the new doctor's slots and prints the
doctor's day list.  Any JavaScript error or CSP violation fails the test; screenshots of every
page are saved in the test's tmp directory.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from booking_core import agents
from booking_core.actors import Actor
from booking_core.rules import luhn_check_digit

pytestmark = pytest.mark.slow

PASSWORD = "e2e-admin-pass-1"
EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "import" / "csv"
POLICY = "7700000000004" + "21" + luhn_check_digit("770000000000421")


def _shot(page, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)


def _login_admin(page, url: str, container) -> None:  # type: ignore[no-untyped-def]
    agents.create_agent(agents.NewAgent("chief", "admin", PASSWORD, Actor.system("e2e"),
                                        full_name="Главная М. В."), container.uow())
    page.goto(f"{url}/admin")
    page.fill("#username", "chief")
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_url(f"{url}/admin")


def test_admin_registers_hires_schedules_books_and_prints(console_url, sqlite_container,
                                                          browser_page, tmp_path):
    page, problems = browser_page
    url = console_url
    _login_admin(page, url, sqlite_container)
    assert page.is_visible("header.top nav a[href='/admin']")

    # 1. Register a patient who came to the desk with passport and policy.
    page.click(".subnav a[href='/admin/patients/new']")
    page.fill("#p-last", "Журавлёва")
    page.fill("#p-first", "Нина")
    page.fill("#p-middle", "Сергеевна")
    page.fill("#p-birth", "1962-11-03")
    page.fill("#p-policy", POLICY)
    page.fill("#p-snils", "112-233-445 95")
    page.fill("#p-phone", "8 916 700-11-22")
    _shot(page, tmp_path, "patient_new")
    page.click("#patient-new button[type=submit]")
    page.wait_for_selector("#patient-name")
    assert page.inner_text("#patient-name") == "Журавлёва Нина Сергеевна"
    assert "зарегистрирован" in page.inner_text(".flash.ok")
    assert POLICY not in page.url
    patient_id = page.url.rstrip("/").rsplit("/", 1)[1]

    # 2. Hire a doctor.
    page.goto(f"{url}/admin/doctors")
    page.fill("#d-last", "Соколова")
    page.fill("#d-first", "Марина")
    page.fill("#d-middle", "Игоревна")
    page.select_option("#d-spec", label="Терапевт")
    page.fill("#d-cab", "305")
    page.click("#doctor-new button[type=submit]")
    page.wait_for_selector("#doctor-name")
    assert page.inner_text("#doctor-name") == "Соколова Марина Игоревна"
    doctor_id = page.url.rstrip("/").rsplit("/", 1)[1]
    _shot(page, tmp_path, "doctor")

    # 3. An even/odd template on Tuesdays: 08-12 on even dates, 14-16 on odd ones.
    page.click("#edit-schedule")
    page.wait_for_selector("#template-rows")
    first, second = "tr[data-line='1']", "tr[data-line='2']"
    page.select_option(f"{first} select[name=weekday]", "1")
    page.fill(f"{first} input[name=start_time]", "08:00")
    page.fill(f"{first} input[name=end_time]", "12:00")
    page.fill(f"{first} input[name=slot_minutes]", "30")
    page.fill(f"{first} input[name=break_start]", "10:00")
    page.fill(f"{first} input[name=break_end]", "10:30")
    page.select_option(f"{first} select[name=date_parity]", "even")
    page.select_option(f"{second} select[name=weekday]", "1")
    page.fill(f"{second} input[name=start_time]", "14:00")
    page.fill(f"{second} input[name=end_time]", "16:00")
    page.fill(f"{second} input[name=slot_minutes]", "30")
    page.select_option(f"{second} select[name=date_parity]", "odd")
    page.fill("#monday", "2026-09-14")

    # 4. The preview: Tuesday 15.09 is odd (afternoon), Tuesday 22.09 even (morning).
    page.click("#preview-button")
    page.wait_for_selector("#preview")
    tuesday = page.inner_text("#preview .day[data-day='2026-09-15']")
    assert "14:00" in tuesday and "15:30" in tuesday and "08:00" not in tuesday
    assert "нет приёма" in page.inner_text("#preview .day[data-day='2026-09-14']")
    _shot(page, tmp_path, "template_preview_odd")
    page.fill("#monday", "2026-09-21")
    page.click("#preview-button")
    page.wait_for_selector("#preview .day[data-day='2026-09-22']")
    tuesday = page.inner_text("#preview .day[data-day='2026-09-22']")
    assert "08:00" in tuesday and "11:30" in tuesday and "10:00" not in tuesday
    assert "14:00" not in tuesday
    _shot(page, tmp_path, "template_preview_even")
    page.click("#save-button")
    page.wait_for_selector(".flash.ok")
    assert "Расписание сохранено" in page.inner_text(".flash.ok")

    # 5. Generate slots.
    page.goto(f"{url}/admin/doctors")
    page.click("#generate-slots")
    page.wait_for_selector(".flash.ok")
    assert "Талоны сформированы" in page.inner_text(".flash.ok")
    _shot(page, tmp_path, "doctors")

    # 6. Book the new patient into the new doctor's 15.09 afternoon.
    page.goto(f"{url}/schedule?patient={patient_id}&doctor={doctor_id}"
              f"&start=2026-09-15&days=1")
    slot = page.wait_for_selector("button.slot[data-label*='к врачу Соколовой']")
    assert slot.inner_text() == "14:00"
    slot.click()
    page.keyboard.press("Enter")
    page.wait_for_selector(".flash.ok")
    assert "Записан:" in page.inner_text(".flash.ok")
    talon = page.inner_text(".flash.ok")

    # 7. Print the doctor's day list for 15.09.
    page.goto(f"{url}/admin/exports")
    page.select_option("#dl-doctor", doctor_id)
    page.fill("#dl-day", "2026-09-15")
    page.click("#day-list-form button[type=submit]")
    page.wait_for_selector("#day-list")
    sheet = page.inner_text("#day-list")
    assert "Соколова Марина Игоревна" in sheet and "кабинет 305" in sheet
    row = page.inner_text("#day-list tbody tr")
    for expected in ("14:00", "Журавлёва Нина Сергеевна", "1962", "…" + POLICY[-4:]):
        assert expected in row, expected
    code = row.split("\t")[5].strip()
    assert code.isdigit() and code in talon
    assert POLICY not in page.content() and POLICY not in page.url
    _shot(page, tmp_path, "day_list")
    page.emulate_media(media="print")
    assert not page.is_visible("header.top") and not page.is_visible("#print-button")
    _shot(page, tmp_path, "day_list_print")
    page.pdf(path=str(tmp_path / "day_list.pdf"), format="A4", print_background=True)
    assert problems == [], problems


def test_empty_install_points_to_setup_and_the_upload_brings_the_clinic(empty_console,
                                                                        browser_page, tmp_path):
    url, container = empty_console
    page, problems = browser_page
    agents.create_agent(agents.NewAgent("it", "admin", PASSWORD, Actor.system("e2e")),
                        container.uow())
    page.goto(f"{url}/login")
    page.fill("#username", "it")
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_url(f"{url}/setup")
    assert page.inner_text("#setup-title") == "Поликлиника ещё не настроена"
    _shot(page, tmp_path, "setup")
    page.goto(f"{url}/queue")
    assert page.is_visible("#setup-needed")

    page.goto(f"{url}/setup")
    page.click("a[href='/admin/import'].button")
    page.set_input_files("#i-files", sorted(str(p) for p in EXAMPLES.glob("*.csv")))
    page.click("#i-submit")  # the dry run is ticked by default
    page.wait_for_selector("#import-result")
    assert "ошибок нет" in page.inner_text("#import-result")
    _shot(page, tmp_path, "import_dry_run")
    page.set_input_files("#i-files", sorted(str(p) for p in EXAMPLES.glob("*.csv")))
    page.uncheck("#i-dry")
    page.click("#i-submit")
    page.wait_for_selector("#import-result")
    assert page.inner_text("#import-result").strip() == "Загружено"
    created = page.inner_text("#import-summary tr[data-entity='doctors'] td:nth-child(2)")
    assert int(created) > 0
    _shot(page, tmp_path, "import_done")
    page.goto(f"{url}/")
    page.wait_for_url(f"{url}/queue")
    assert not page.is_visible("#setup-needed")
    assert problems == [], problems


def test_admin_edits_districts_specialties_and_a_patients_phone(console_url, sqlite_container,
                                                                browser_page, tmp_path):
    page, problems = browser_page
    url = console_url
    _login_admin(page, url, sqlite_container)
    _shot(page, tmp_path, "hub")
    assert "Городская поликлиника № 3" in page.inner_text("#clinics")

    # A new district with the streets it serves.
    page.click(".subnav a[href='/admin/clinics']")
    section = "section[data-clinic='1']"
    page.fill(f"{section} input[aria-label='Номер нового участка']", "9")
    page.fill(f"{section} textarea[aria-label='Улицы нового участка']",
              "ул. Садовая; 1-25 нечёт.\nпер. Тихий")
    page.click(f"{section} button:has-text('Добавить участок')")
    page.wait_for_selector(".flash.ok")
    assert "Участок № 9 сохранён" in page.inner_text(".flash.ok")
    streets = page.input_value(f"{section} tr:has(input[value='9']) textarea")
    assert streets.splitlines() == ["пер. Тихий", "ул. Садовая; 1-25 нечёт."]  # by name
    _shot(page, tmp_path, "clinics")

    # A specialty with the words callers say for it.
    page.click(".subnav a[href='/admin/specialties']")
    page.fill("#sn-code", "endocrinologist")
    page.fill("#sn-ru", "Эндокринолог")
    page.fill("#sn-syn", "эндокринолог, щитовидка, сахар")
    page.select_option("#sn-mode", "referral_only")
    page.select_option("#sn-age", "adult")
    page.click("#specialty-new button[type=submit]")
    page.wait_for_selector(".flash.ok")
    assert "Эндокринолог" in page.inner_text(".flash.ok")
    _shot(page, tmp_path, "specialties")

    # A patient's new phone is a landline: kept, and the admin is told no SMS will go there.
    page.goto(f"{url}/patients")
    page.fill("#q-name", "Иванов Сергей")
    page.press("#q-name", "Enter")
    page.wait_for_selector("#patient-name")
    page.click("#edit-patient")
    page.fill("#e-phone", "+7 495 123-45-67")
    page.click("form[action$='/phone'] button[type=submit]")
    page.wait_for_selector(".flash.ok")
    assert "SMS на него не уйдут" in page.inner_text(".flash.ok")
    assert "495" not in page.url
    # A representative's phone (rule 20: calls from it need no SMS code for a child).
    page.fill("#e-rep-phone", "+7 903 555-00-11")
    page.click("form[action$='/representative-phone'] button[type=submit]")
    page.wait_for_selector(".flash.ok")
    assert "Телефон представителя сохранён" in page.inner_text(".flash.ok")
    assert page.inner_text("#rep-phone-now").endswith("0011") and "555" not in page.url
    _shot(page, tmp_path, "patient_edit")
    page.click(".subnav a[href='/admin/exports']")
    page.wait_for_selector("#export-form")
    _shot(page, tmp_path, "exports")
    assert problems == [], problems

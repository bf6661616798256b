"""Administration of the clinic in the console (issue: bring in a real clinic): clinics,
districts with streets, specialties, doctors, desk registration, exports.  Admin only, CSRF,
every change audited with before and after; no personal data in URLs or in the audit."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook
from sqlmodel import select

from booking_core.rules import luhn_check_digit
from models.tables import AuditLog, Patient

GOOD_POLICY = "5500000000000" + "01" + luhn_check_digit("550000000000001")
BAD_POLICY = GOOD_POLICY[:-1] + str((int(GOOD_POLICY[-1]) + 1) % 10)
GOOD_SNILS = "112-233-445 95"


def _patient(**kw):  # type: ignore[no-untyped-def]
    body = {"last_name": "Новикова", "first_name": "Алла", "middle_name": "Петровна",
            "policy_number": GOOD_POLICY, "birth_date": "1979-04-12", "snils": GOOD_SNILS,
            "phone": "8 (916) 555-12-34", "clinic_id": 1}
    return body | kw


def _audit(container, action: str) -> list[AuditLog]:  # type: ignore[no-untyped-def]
    with container.uow().reading() as u:
        return list(u.session.exec(select(AuditLog).where(AuditLog.action == action)).all())


def test_register_patient_checks_each_field_and_audits_without_personal_data(
        admin, console_container):
    refused = {
        "invalid_policy": _patient(policy_number=BAD_POLICY),
        "invalid_snils": _patient(snils="112-233-445 96"),
        "invalid_birth_date": _patient(birth_date="2030-01-01"),
        "invalid_phone": _patient(phone="12"),
    }
    for code, body in refused.items():
        r = admin.post("/api/admin/patients", json=body)
        assert r.status_code == 422 and r.json()["error"]["id"] == code, (code, r.text)
        assert GOOD_POLICY not in r.text and "112-233" not in r.text
    r = admin.post("/api/admin/patients", json=_patient())
    assert r.status_code == 201, r.text
    new_id = r.json()["id"]
    again = admin.post("/api/admin/patients", json=_patient())
    assert again.status_code == 409 and again.json()["error"]["id"] == "duplicate"

    with console_container.uow().reading() as u:
        p = u.session.get(Patient, new_id)
        assert (p.phone, p.sms_reachable, p.snils, p.clinic_id) == (
            "+79165551234", True, "11223344595", 1)
        assert p.attached_on == console_container.clock.today()
    [entry] = _audit(console_container, "patient_register")
    assert entry.actor == "agent:admin1" and entry.after["clinic_id"] == 1
    assert GOOD_POLICY not in str(entry.after) and "1979" not in str(entry.after)

    # A landline is kept, but marked as not reachable by SMS.
    r = admin.put(f"/api/admin/patients/{new_id}/phone", json={"phone": "+7 495 123-45-67"})
    assert r.json() == {"sms_reachable": False}
    [entry] = _audit(console_container, "patient_phone")
    assert entry.before == {"has_phone": True, "sms_reachable": True}
    assert "495" not in str(entry.after)


def test_registration_is_for_admins_and_needs_the_csrf_token(agent, admin, make_client):
    assert agent.post("/api/admin/patients", json=_patient()).status_code == 403
    assert agent.get("/admin/patients/new").status_code == 403
    no_token = make_client("admin1")
    del no_token.headers["X-CSRF-Token"]
    r = no_token.post("/api/admin/patients", json=_patient())
    assert r.status_code == 403 and r.json()["error"]["id"] == "csrf_failed"


def test_registration_form_and_the_patient_can_then_be_found(admin, page_token):
    token = page_token(admin, "/admin/patients/new")
    form = _patient() | {"csrf_token": token, "district_id": ""}
    r = admin.post("/admin/patients", data=form)
    assert r.status_code == 303 and r.headers["location"].startswith("/patients/")
    assert GOOD_POLICY not in r.headers["location"]
    found = admin.post("/api/patients/search", json={"policy": GOOD_POLICY}).json()
    assert [f["full_name"] for f in found] == ["Новикова Алла Петровна"]
    # A refused form goes back to the page and says what is wrong.
    r = admin.post("/admin/patients", data=form | {"policy_number": BAD_POLICY},
                   headers={"referer": "http://testserver/admin/patients/new"})
    assert r.status_code == 303 and r.headers["location"] == "/admin/patients/new"
    assert "не проходит проверку" in admin.get("/admin/patients/new").text


def test_clinic_districts_streets_specialty_doctor_and_attachment(admin, console_container):
    r = admin.post("/api/admin/clinics", json={"code": "P7", "name": "Городская поликлиника № 7",
                                               "short_name": "Поликлиника № 7"})
    assert r.status_code == 201, r.text
    clinic = r.json()["id"]
    assert admin.post("/api/admin/clinics", json={"code": "P7", "name": "x"}).status_code == 409
    district = admin.post("/api/admin/districts", json={"clinic_id": clinic, "number": 4}).json()
    r = admin.put(f"/api/admin/districts/{district['id']}/streets",
                  json=[{"street": "ул. Ленина", "houses": "1-15"}, {"street": "ул. Мира"}])
    assert r.status_code == 204
    listed = next(c for c in admin.get("/api/admin/clinics").json() if c["id"] == clinic)
    assert listed["districts"][0]["streets"] == [{"street": "ул. Ленина", "houses": "1-15"},
                                                 {"street": "ул. Мира", "houses": ""}]
    spec = admin.post("/api/admin/specialties", json={
        "code": "endo", "name_ru": "Эндокринолог", "synonyms_ru": "эндокринолог, щитовидка",
        "booking_mode": "referral_only", "age_group": "adult"}).json()["id"]
    bad = admin.post("/api/admin/specialties", json={"code": "x", "name_ru": "x",
                                                     "booking_mode": "maybe"})
    assert bad.status_code == 422
    doctor = admin.post("/api/admin/doctors", json={
        "clinic_id": clinic, "specialty_id": spec, "last_name": "Орлова", "first_name": "Вера",
        "cabinet": "12", "district_id": district["id"], "external_id": "D-7"}).json()["id"]
    assert admin.post(f"/api/admin/doctors/{doctor}/cabinet",
                      json={"cabinet": "214"}).status_code == 204
    row = next(d for d in admin.get("/api/admin/doctors").json() if d["id"] == doctor)
    assert (row["cabinet"], row["district_number"], row["templates"]) == ("214", 4, 0)
    [moved] = _audit(console_container, "doctor_cabinet")
    assert (moved.before, moved.after) == ({"cabinet": "12"}, {"cabinet": "214"})

    # Attachment: a new patient of clinic 1 moves to clinic 7 only with a change of residence.
    pid = admin.post("/api/admin/patients", json=_patient()).json()["id"]
    r = admin.put(f"/api/admin/patients/{pid}/attachment",
                  json={"clinic_id": clinic, "district_id": district["id"]})
    assert r.status_code == 409 and r.json()["error"]["id"] == "attachment_too_soon"
    wrong = admin.put(f"/api/admin/patients/{pid}/attachment",
                      json={"clinic_id": 1, "district_id": district["id"]})
    assert wrong.json()["error"]["id"] == "invalid_input"  # district of another clinic
    assert admin.put(f"/api/admin/patients/{pid}/attachment", json={
        "clinic_id": clinic, "district_id": district["id"],
        "change_of_residence": True}).status_code == 204
    [attach] = _audit(console_container, "attach")
    assert attach.before["clinic_id"] == 1 and attach.after["clinic_id"] == clinic


def test_admin_pages_render(admin):
    for path in ("/admin", "/admin/clinics", "/admin/specialties", "/admin/doctors",
                 "/admin/patients/new", "/admin/exports", "/admin/doctors/1", "/setup"):
        r = admin.get(path)
        assert r.status_code == 200, path
        assert 'href="/admin"' in r.text  # the admin's navigation entry


def test_agent_has_no_administration_link(agent):
    page = agent.get("/queue").text
    assert 'href="/admin"' not in page
    assert agent.get("/admin/doctors").status_code == 403


def _book_one(admin) -> dict:  # type: ignore[no-untyped-def]
    specs = {s["code"]: s["id"] for s in admin.get("/api/specialties").json()}
    grid = admin.get("/api/schedule", params={"specialty_id": specs["therapist"],
                                              "date_from": "2026-09-08",
                                              "date_to": "2026-09-08"}).json()
    doc = next(d for d in grid["days"][0]["doctors"] if d["free"])
    pid = admin.post("/api/admin/patients", json=_patient()).json()["id"]
    appt = admin.post("/api/appointments", json={"patient_id": pid,
                                                 "slot_id": doc["free"][0]["slot_id"]})
    assert appt.status_code == 201, appt.text
    return appt.json() | {"doctor_id": doc["doctor"]["id"]}


def test_exports_csv_xlsx_and_day_list(admin, page_token, console_container):
    appt = _book_one(admin)
    token = page_token(admin, "/admin/exports")
    form = {"csrf_token": token, "date_from": "2026-09-08", "date_to": "2026-09-08"}
    r = admin.post("/admin/exports/appointments", data=form | {"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:3] == ["Дата", "Время", "Врач"]
    mine = next(row for row in rows if row[5] == "Новикова Алла Петровна")
    assert mine[6:8] == ["1979", GOOD_POLICY[-4:]] and mine[10] == appt["confirmation_code"]
    assert GOOD_POLICY not in r.text

    r = admin.post("/admin/exports/appointments", data=form | {"format": "xlsx"})
    sheet = load_workbook(io.BytesIO(r.content)).active
    values = [[c for c in row] for row in sheet.iter_rows(values_only=True)]
    assert values[0][0] == "Дата" and len(values) == len(rows)

    bad = admin.get("/api/admin/exports/appointments",
                    params={"from": "2026-09-09", "to": "2026-09-08"})
    assert bad.status_code == 422
    noted = _audit(console_container, "export")
    assert [(e.entity, e.after["rows"]) for e in noted] == [
        ("appointments_csv", len(rows) - 1), ("appointments_xlsx", len(rows) - 1)]

    day = admin.get("/api/admin/exports/day-list",
                    params={"doctor_id": appt["doctor_id"], "day": "2026-09-08"}).json()
    assert [r["talon"] for r in day["rows"]] == [appt["confirmation_code"]]
    page = admin.get("/admin/exports/day-list",
                     params={"doctor_id": appt["doctor_id"], "day": "2026-09-08"}).text
    assert "Новикова Алла Петровна" in page and "…" + GOOD_POLICY[-4:] in page
    assert "/static/print.css" in page and GOOD_POLICY not in page


def _new_doctor(admin) -> int:  # type: ignore[no-untyped-def]
    specs = {s["code"]: s["id"] for s in admin.get("/api/specialties").json()}
    return admin.post("/api/admin/doctors", json={
        "clinic_id": 1, "specialty_id": specs["therapist"], "last_name": "Чернова",
        "first_name": "Ирина", "cabinet": "31"}).json()["id"]


EVEN_ODD = [  # mornings on even dates, afternoons on odd ones (по чётным / нечётным)
    {"weekday": d, "start_time": "08:00", "end_time": "12:00", "slot_minutes": 20,
     "date_parity": "even", "break_start": "10:00", "break_end": "10:20"} for d in range(5)
] + [{"weekday": d, "start_time": "14:00", "end_time": "16:00", "slot_minutes": 30,
      "date_parity": "odd", "cabinet": "32"} for d in range(5)]


def test_template_preview_save_generate_override_and_leave(admin, console_container):
    doctor = _new_doctor(admin)
    week = admin.post(f"/api/admin/doctors/{doctor}/templates/preview",
                      json={"rows": EVEN_ODD, "monday": "2026-09-14"}).json()
    by_day = {d["day"]: [s["starts_at"][11:16] for s in d["slots"]] for d in week}
    # 14.09 is even: 08:00..11:40 every 20 min without the 10:00 break; 15.09 odd: 14:00..15:30
    assert by_day["2026-09-14"] == ["08:00", "08:20", "08:40", "09:00", "09:20", "09:40",
                                    "10:20", "10:40", "11:00", "11:20", "11:40"]
    assert by_day["2026-09-15"] == ["14:00", "14:30", "15:00", "15:30"]
    assert by_day["2026-09-19"] == [] and by_day["2026-09-20"] == []
    assert admin.get(f"/api/admin/doctors/{doctor}/templates").json() == []  # nothing saved
    broken = [EVEN_ODD[0], EVEN_ODD[1] | {"break_start": "13:00", "break_end": "13:30"}]
    r = admin.post(f"/api/admin/doctors/{doctor}/templates/preview", json={"rows": broken})
    assert r.status_code == 422 and "template row 2: break_outside_hours" in r.text

    saved = admin.put(f"/api/admin/doctors/{doctor}/templates", json={"rows": EVEN_ODD})
    assert saved.status_code == 200 and saved.json()["changed"] is True
    again = admin.put(f"/api/admin/doctors/{doctor}/templates", json={"rows": EVEN_ODD}).json()
    assert again["changed"] is False
    assert admin.post("/api/admin/doctors/slots/generate").status_code == 200
    grid = admin.get("/api/schedule", params={"doctor_id": doctor, "date_from": "2026-09-15",
                                              "date_to": "2026-09-15"}).json()
    free = grid["days"][0]["doctors"][0]["free"]
    assert [s["starts_at"][11:16] for s in free] == ["14:00", "14:30", "15:00", "15:30"]
    assert {s["cabinet"] for s in free} == {"32"}

    pid = admin.post("/api/admin/patients", json=_patient()).json()["id"]
    booked = admin.post("/api/appointments", json={"patient_id": pid,
                                                   "slot_id": free[1]["slot_id"]})
    assert booked.status_code == 201, booked.text

    # A day off on the booked day flags the visit instead of deleting it.
    off = admin.post(f"/api/admin/doctors/{doctor}/overrides",
                     json={"day": "2026-09-15", "reason": "учёба"})
    assert off.status_code == 201 and off.json()["flagged"] == 1
    assert admin.get(f"/api/appointments/{booked.json()['id']}").json()["status"] == "booked"
    [o] = admin.get(f"/api/admin/doctors/{doctor}/overrides").json()
    assert admin.delete(f"/api/admin/doctors/{doctor}/overrides/{o['id']}").status_code == 200

    left = admin.post(f"/api/admin/doctors/{doctor}/leave", json={"last_day": "2026-09-10"})
    assert left.json() == {"flagged": 1}
    day = admin.get("/admin/exports/day-list", params={"doctor_id": doctor, "day": "2026-09-15"})
    assert "врач уволился: перезаписать" in day.text  # the printout says so too
    row = next(d for d in admin.get("/api/admin/doctors").json() if d["id"] == doctor)
    assert row["left_on"] == "2026-09-10"


def test_template_editor_form_preview_shows_the_week_and_saves_nothing(admin, page_token):
    doctor = _new_doctor(admin)
    token = page_token(admin, f"/admin/doctors/{doctor}/schedule")
    form = {"csrf_token": token, "monday": "2026-09-14", "weekday": ["0", "1"],
            "start_time": ["08:00", ""], "end_time": ["12:00", ""], "slot_minutes": ["30", "15"],
            "break_start": ["", ""], "break_end": ["", ""], "date_parity": ["even", "any"],
            "week_parity": ["any", "any"], "cabinet": ["", ""], "valid_from": ["", ""],
            "valid_to": ["", ""]}
    page = admin.post(f"/admin/doctors/{doctor}/schedule/preview", data=form)
    assert page.status_code == 200
    assert 'data-day="2026-09-14"' in page.text and "11:30" in page.text
    assert admin.get(f"/api/admin/doctors/{doctor}/templates").json() == []
    bad = admin.post(f"/admin/doctors/{doctor}/schedule/preview",
                     data=form | {"end_time": ["07:00", ""]})
    assert bad.status_code == 422 and "Строка 1" in bad.text
    r = admin.post(f"/admin/doctors/{doctor}/schedule", data=form)
    assert r.status_code == 303
    [row] = admin.get(f"/api/admin/doctors/{doctor}/templates").json()
    assert (row["weekday"], row["date_parity"], row["slot_minutes"]) == (0, "even", 30)


def test_a_childs_representative_phone_is_registered_masked_and_audited(
        admin, agent, console_container, page_token):
    from booking_core import consent
    from support.world import patient_id

    child = patient_id(console_container, "child")
    assert consent.consent_needed(console_container.uow(), child, "+79035550011")
    r = admin.put(f"/api/admin/patients/{child}/representative-phone", json={"phone": "12"})
    assert r.status_code == 422 and r.json()["error"]["id"] == "invalid_phone"
    assert agent.put(f"/api/admin/patients/{child}/representative-phone",
                     json={"phone": "+79035550011"}).status_code == 403
    # The page's form, as a registrar fills it in.
    token = page_token(admin, f"/admin/patients/{child}")
    r = admin.post(f"/admin/patients/{child}/representative-phone",
                   data={"phone": "8 (903) 555-00-11", "csrf_token": token},
                   follow_redirects=True)
    assert r.status_code == 200 and "Телефон представителя сохранён" in r.text
    assert "*******0011" in r.text and "555-00-11" not in r.text
    with console_container.uow().reading() as u:
        assert u.session.get(Patient, child).representative_phone == "+79035550011"
    assert not consent.consent_needed(console_container.uow(), child, "+79035550011")
    [entry] = _audit(console_container, "patient_representative_phone")
    assert entry.after == {"has_representative_phone": True} and "0011" not in str(entry.after)
    r = admin.put(f"/api/admin/patients/{child}/representative-phone", json={"phone": ""})
    assert r.status_code == 204
    assert consent.consent_needed(console_container.uow(), child, "+79035550011")

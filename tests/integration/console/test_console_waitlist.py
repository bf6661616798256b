"""The waiting list in the console: agents add a patient and see the list per specialty with
each entry's state and waiting time; the page and the JSON API show the same."""

from __future__ import annotations

from booking_core import booking, slots
from booking_core.commands import BookSlot, Cancel, FindSlots
from models.tables import Channel
from support.world import AGENT, patient_id, specialty_id


def test_agent_adds_patients_and_sees_state_and_waiting_time(
        console_container, agent, observer, clock):
    c = console_container
    adult, elderly = patient_id(c, "adult"), patient_id(c, "elderly")
    eye = specialty_id(c, "ophthalmologist")
    r = agent.post("/api/waitlist", json={"patient_id": adult, "specialty_id": eye,
                                          "preference": "afternoon"})
    assert r.status_code == 201, r.text
    first = r.json()
    assert (first["status"], first["preference"], first["channel"]) == (
        "waiting", "afternoon", "console")
    again = agent.post("/api/waitlist", json={"patient_id": adult, "specialty_id": eye})
    assert again.status_code == 409, again.text
    assert again.json()["error"]["id"] == "already_waiting"
    bad = agent.post("/api/waitlist", json={"patient_id": elderly, "specialty_id": eye,
                                            "preference": "night"})
    assert (bad.status_code, bad.json()["error"]["id"]) == (422, "invalid_input")

    clock.advance(days=2)
    agent.post("/api/waitlist", json={"patient_id": elderly, "specialty_id": eye})
    # A cancellation: the afternoon slot goes to the first entry in order.
    other = patient_id(c, "3 no-shows")
    offer = next(o for o in slots.find_free_slots(
        FindSlots(adult, eye, Channel.IVR, limit=20), c.uow()) if o.starts_at.hour >= 13)
    appt = booking.book(BookSlot(other, offer.slot_id, AGENT), c.uow())
    booking.cancel(Cancel(appt.id, AGENT), c.uow())

    listed = agent.get("/api/waitlist", params={"specialty_id": eye}).json()
    assert [(e["patient_id"], e["status"], e["waited_days"]) for e in listed] == [
        (adult, "offered", 2), (elderly, "waiting", 0)]
    assert listed[0]["offer_starts_at"].startswith(offer.starts_at.isoformat()[:16])

    page = agent.get("/waitlist", params={"specialty_id": eye})
    assert page.status_code == 200
    assert "Предложено время" in page.text and "2 дня" in page.text
    assert "после обеда" in page.text and "Ждёт" in page.text
    assert observer.get("/api/waitlist", params={"specialty_id": eye}).status_code == 403

    # Taking the first one off: the held slot goes to the next in line at once.
    gone = agent.delete(f"/api/waitlist/{first['id']}")
    assert gone.status_code == 200 and gone.json()["status"] == "left"
    listed = agent.get("/api/waitlist", params={"specialty_id": eye}).json()
    assert [(e["patient_id"], e["status"]) for e in listed] == [(elderly, "offered")]
    closed = agent.get("/api/waitlist", params={"specialty_id": eye, "all": "true"}).json()
    assert {e["status"] for e in closed} == {"left", "offered"}


def test_dashboard_counts_patients_served_from_the_list_and_the_median_wait(
        console_container, agent, observer, clock):
    from booking_core import reminders

    c = console_container
    adult, elderly = patient_id(c, "adult"), patient_id(c, "elderly")
    eye = specialty_id(c, "ophthalmologist")
    assert observer.get("/api/dashboard").json()["waitlist_served"] == 0
    agent.post("/api/waitlist", json={"patient_id": adult, "specialty_id": eye})
    clock.advance(days=3)
    offer = slots.find_free_slots(FindSlots(elderly, eye, Channel.IVR), c.uow())[0]
    appt = booking.book(BookSlot(elderly, offer.slot_id, AGENT), c.uow())
    booking.cancel(Cancel(appt.id, AGENT), c.uow())
    reply = reminders.SmsReply("SM" + "c" * 32, "+79161234567", "1")
    assert reminders.handle_sms_reply(reply, c.uow()).action == "offer_taken"

    numbers = observer.get("/api/dashboard").json()
    assert (numbers["waitlist_served"], numbers["waitlist_median_wait_days"]) == (1, 3.0)
    page = observer.get("/dashboard")
    assert "записаны из листа ожидания, медиана ожидания 3,0 дн." in page.text


def test_registrar_adds_the_patient_from_the_card(console_container, agent, page_token):
    """The card has the form (no need for the JSON API): join, then the flash and the list."""
    c = console_container
    adult, eye = patient_id(c, "adult"), specialty_id(c, "ophthalmologist")
    card = agent.get(f"/patients/{adult}").text
    assert 'id="waitlist-join"' in card and "В лист ожидания" in card
    token = page_token(agent, f"/patients/{adult}")
    r = agent.post("/waitlist", data={"csrf_token": token, "patient_id": adult,
                                      "specialty_id": eye, "preference": "morning"})
    assert (r.status_code, r.headers["location"]) == (303, f"/patients/{adult}")
    assert "Пациент в листе ожидания" in agent.get(f"/patients/{adult}").text
    [entry] = agent.get("/api/waitlist", params={"specialty_id": eye}).json()
    assert (entry["preference"], entry["channel"]) == ("morning", "console")
    again = agent.post("/waitlist", data={"csrf_token": token, "patient_id": adult,
                                          "specialty_id": eye})
    assert again.status_code == 303  # refused: back to the card with the reason
    assert "already_waiting" in agent.get(f"/patients/{adult}").text

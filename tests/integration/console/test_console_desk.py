"""The console says whether the registry desk is open: the same hours the IVR and the dialplan
go by, public holidays included."""

from __future__ import annotations

from datetime import datetime


def test_open_on_a_weekday_morning(agent):
    desk = agent.get("/api/desk").json()
    assert desk["open"] is True and desk["closes_at"] == "2026-09-07T20:00:00"
    assert desk["text"] == "Регистратура открыта до 20:00"
    assert "Регистратура открыта до 20:00" in agent.get("/queue").text


def test_closed_on_a_public_holiday_and_says_when_it_opens(agent, clock):
    clock.set(datetime(2026, 11, 4, 10, 0))  # Unity Day, a Wednesday
    desk = agent.get("/api/desk").json()
    assert desk["open"] is False and desk["holiday"] == "День народного единства"
    assert desk["opens_at"] == "2026-11-05T08:00:00"
    text = "Регистратура закрыта (День народного единства), откроется чт, 5 ноября в 08:00"
    assert desk["text"] == text
    assert text in agent.get("/queue").text


def test_closed_before_opening_today(agent, clock):
    clock.set(datetime(2026, 9, 7, 6, 30))
    assert agent.get("/api/desk").json()["text"] == (
        "Регистратура закрыта, откроется сегодня в 08:00")

"""Russian words instead of internal ids: IVR steps, phone states, the audit log's actions,
actors and before/after."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from agent_console import labels

ROOT = Path(__file__).resolve().parents[2]


def _keys(table: dict, prefix: str = "") -> list[str]:
    out: list[str] = []
    for key, value in table.items():
        out += _keys(value, f"{prefix}{key}.") if isinstance(value, dict) else [prefix + key]
    return out


def test_every_prompt_step_has_a_russian_label_or_is_quiet():
    catalogue = tomllib.loads((ROOT / "ivr/dialogue/prompts/ru.toml").read_text("utf-8"))
    missing = [k for k in _keys(catalogue)
               if k not in labels.STEPS and k not in labels.QUIET_STEPS]
    assert missing == []
    assert labels.step_text("appointments_count", None) == "Названо число записей"


def test_an_unknown_step_never_shows_its_id():
    assert labels.step_text("brand_new_prompt", None) == labels.UNKNOWN_STEP
    assert not re.search(r"[a-z]+_[a-z]+", labels.step_text("brand_new_prompt", "1"))


def test_phone_states():
    assert labels.device_state("not_in_use") == "свободен"
    assert labels.device_state("unavailable") == "не в сети"


def test_audit_actions_and_actors():
    assert labels.AUDIT_ACTIONS["book"] == "Запись"
    assert labels.actor_text("agent:registrar7", "Смирнова Е. А.") == "Смирнова Е. А."
    assert labels.actor_text("system:hold_expiry") == "Система: истечение удержания"
    assert labels.actor_text("patient:") == "Пациент (не опознан)"


def test_before_after_as_a_readable_diff():
    before = {"status": "booked", "slot_id": 7, "starts_at": "2026-09-08T08:00:00",
              "arrived_at": None}
    after = {"status": "completed", "slot_id": 7, "starts_at": "2026-09-08T08:00:00",
             "arrived_at": "2026-09-08T07:55:00"}
    assert labels.audit_changes(before, after) == [
        ("Статус", "Записан", "Принят"), ("Пришёл в", "—", "08.09.2026 07:55")]
    assert labels.audit_changes(None, {"status": "booked", "channel": "console", "slot_id": 3,
                                       "doctor_id": 1},
                                {"doctor_id": {"1": "Кашинцева Галина Вячеславовна"}}) == [
        ("Статус", "", "Записан"), ("Канал", "", "Регистратура (консоль)"),
        ("Врач", "", "Кашинцева Галина Вячеславовна")]

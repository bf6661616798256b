"""The calls benchmark's arrival models: one call per channel, or channels redialling."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.calls import CallerPlan, CallResult, _patients_needed, _plateau


def _plan(channels: int, patients: int, redial_until: float = 0.0) -> CallerPlan:
    return CallerPlan("127.0.0.1", 0, Path("."), [object()] * patients,  # type: ignore[list-item]
                      ["1"] * patients, [0.0] * channels, 1.0, 1, redial_until=redial_until)


def test_one_call_per_channel_uses_one_patient_each() -> None:
    plan = _plan(3, 3)
    assert [list(plan.patients_of(c)) for c in range(3)] == [[0], [1], [2]]


def test_redialling_channels_take_turns_over_distinct_patients() -> None:
    plan = _plan(3, 9, redial_until=100.0)
    turns = [list(plan.patients_of(c)) for c in range(3)]
    assert turns == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]
    every = [i for t in turns for i in t]
    assert sorted(every) == list(range(9))  # nobody calls twice: a patient books once


def test_steady_runs_get_a_patient_for_every_call_a_channel_can_place() -> None:
    once = argparse.Namespace(steady=0.0, ramp=20.0)
    steady = argparse.Namespace(steady=120.0, ramp=140.0)
    assert _patients_needed(100, once) == 100
    # 260 s of redialling with calls over 60 s long: at most 5 calls after the first
    assert _patients_needed(100, steady) == 100 * (1 + 5)


def _call(start: float, end: float) -> CallResult:
    return CallResult(started=start, ended=end)


def test_plateau_counts_channels_not_calls_when_they_redial() -> None:
    # two channels, each placing two calls back to back: both are up from 1 to 9
    results = [_call(0, 5), _call(5, 9), _call(1, 4), _call(4, 10)]
    start, end, peak = _plateau(results, share=1.0, channels=2)
    assert (start, end) == (1, 9)
    assert peak == 2
    # counted per call (four), the plateau at 90 % would never be reached
    assert _plateau(results, share=1.0)[:2] == (0, 10)

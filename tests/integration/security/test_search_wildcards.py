"""``%`` and ``_`` typed into the name search are letters, not SQL wildcards
(on both databases)."""

from __future__ import annotations

import pytest

from booking_core import patients
from booking_core.patients import PatientQuery


@pytest.mark.parametrize("name", ["%", "_", "%%", "_%", "%ов", "И_анов", "Иванов %"])
def test_wildcards_in_a_name_match_nothing(container, name):
    assert patients.search_patients(PatientQuery(name=name), container.uow()) == []


def test_an_ordinary_prefix_still_matches(container):
    hits = patients.search_patients(PatientQuery(name="иван"), container.uow())
    assert "Иванов Сергей Петрович" in [h.full_name for h in hits]

"""The product packages ship no test doubles: simulators live under tests/support."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PRODUCT = ("agent_console", "booking_core", "ivr", "sms", "speech", "registratura", "models")


def test_ami_simulator_is_not_in_the_console_package() -> None:
    assert importlib.util.find_spec("agent_console.ami_sim") is None
    assert (ROOT / "tests" / "support" / "ami_sim.py").is_file()


def test_no_product_module_imports_the_test_support() -> None:
    offenders = [str(path.relative_to(ROOT)) for package in PRODUCT
                 for path in (ROOT / package).rglob("*.py")
                 if "ami_sim" in path.read_text(encoding="utf-8")]
    assert offenders == []

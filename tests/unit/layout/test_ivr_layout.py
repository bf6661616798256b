"""``ivr/`` keeps the dialogue apart from the transports (checked on the imports themselves)."""

from __future__ import annotations

import ast
from pathlib import Path

IVR = Path(__file__).resolve().parents[3] / "ivr"
# A transport may mask what it logs; nothing else of the booking core is its business.
TRANSPORT_MAY_IMPORT = {"booking_core.masking"}
BOOKING_SIDE = ("booking_core", "models", "agent_console", "sms", "clinic_import")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _offenders(folder: str, forbidden: tuple[str, ...], allowed: set[str]) -> list[str]:
    found = []
    for path in sorted((IVR / folder).rglob("*.py")):
        for name in sorted(_imports(path)):
            if name in allowed:
                continue
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                found.append(f"{path.relative_to(IVR.parent)}: {name}")
    return found


def test_transports_know_nothing_of_bookings() -> None:
    assert _offenders("transports", BOOKING_SIDE, TRANSPORT_MAY_IMPORT) == []


def test_the_dialogue_never_imports_a_transport() -> None:
    assert _offenders("dialogue", ("ivr.transports", "ivr.runtime"), set()) == []


def test_every_transport_is_a_folder_or_module_under_transports() -> None:
    flat = sorted(p.name for p in IVR.glob("*.py"))
    assert flat == ["__init__.py", "io.py", "runtime.py"]

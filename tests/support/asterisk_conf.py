"""Just enough of Asterisk's config formats to check the sample files in ``dialplans/``.

:func:`read_sections` reads ``pjsip.conf``-style files (repeated section names, ``(!)``
templates and ``[name](template)`` inheritance, ``;`` comments).  :class:`Dialplan` reads
``extensions.conf`` into contexts -> extensions -> priorities (with ``n`` numbering and
``(label)``s) and :meth:`Dialplan.walk` follows one extension through the applications that
decide routing: ``GotoIf``, ``GotoIfTime``, ``Goto`` and ``ExecIf``/``Set`` of variables, with
``$[...]`` string comparisons joined by ``&`` and ``|``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

DIALPLANS = Path(__file__).resolve().parents[2] / "dialplans"

_SECTION = re.compile(r"^\[([^\]]+)\](?:\(([^)]*)\))?\s*$")


def _strip_comment(line: str) -> str:
    out = []
    escaped = False
    for ch in line:
        if ch == ";" and not escaped:
            break
        escaped = ch == "\\" and not escaped
        out.append(ch)
    return "".join(out).strip()


def read_sections(path: Path) -> list[tuple[str, dict[str, list[str]]]]:
    """Concrete sections in file order, templates applied: ``[(name, {option: [values]})]``."""
    templates: dict[str, dict[str, list[str]]] = {}
    sections: list[tuple[str, dict[str, list[str]]]] = []
    current: dict[str, list[str]] | None = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = _strip_comment(raw)
        if not line:
            continue
        match = _SECTION.match(line)
        if match:
            name, inherit = match.group(1), [t.strip() for t in (match.group(2) or "").split(",")]
            current = {}
            for tpl in (t for t in inherit if t and t != "!"):
                for key, values in templates[tpl].items():
                    current[key] = list(values)
            if "!" in inherit:
                templates[name] = current
            else:
                sections.append((name, current))
            continue
        key, _, value = line.partition("=")
        if current is not None and key.strip():
            current.setdefault(key.strip(), []).append(value.lstrip(">").strip())
    return sections


def section(path: Path, name: str, kind: str) -> dict[str, list[str]]:
    """The section ``[name]`` with ``type = kind`` (pjsip.conf reuses names across types)."""
    for sec_name, options in read_sections(path):
        if sec_name == name and options.get("type") == [kind]:
            return options
    raise KeyError(f"no [{name}] of type {kind} in {path.name}")


@dataclass
class Priority:
    app: str
    args: str
    label: str | None


@dataclass
class Dialplan:
    """``contexts[context][extension]`` = priorities in order."""

    contexts: dict[str, dict[str, list[Priority]]] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> Dialplan:
        plan = cls()
        context = ""
        exten = ""
        for raw in path.read_text(encoding="utf-8").splitlines():
            line = _strip_comment(raw)
            match = _SECTION.match(line)
            if match:
                context = match.group(1)
                plan.contexts.setdefault(context, {})
                continue
            head, sep, body = line.partition("=>")
            if not sep:
                continue
            kind = head.strip()
            body = body.strip()
            if kind == "exten":
                exten, _, body = body.partition(",")
                plan.contexts[context][exten] = []
            elif kind != "same":
                continue
            prio = re.match(r"^(?:\d+|n)(?:\((\w[\w-]*)\))?,", body)
            if prio is None:
                raise ValueError(f"priority not understood: {line!r}")
            label, body = prio.group(1), body[prio.end():]
            app, _, args = body.partition("(")
            plan.contexts[context][exten].append(Priority(app.strip(), args[:-1], label))
        return plan

    def labels(self, context: str, exten: str) -> set[str]:
        return {p.label for p in self.contexts[context][exten] if p.label}

    def walk(self, context: str, exten: str, variables: dict[str, str], *,
             in_time: bool, stop_apps: tuple[str, ...]) -> list[Priority]:
        """Priorities run from the start of ``exten`` until an app in ``stop_apps`` (or a
        ``Set(QUEUESTATUS=...)``); ``in_time`` is what every ``GotoIfTime`` answers."""
        prios = self.contexts[context][exten]
        index = 0
        ran: list[Priority] = []
        for _ in range(200):
            prio = prios[index]
            ran.append(prio)
            if prio.app in stop_apps:
                return ran
            target: str | None = None
            if prio.app == "GotoIf":
                cond, _, where = prio.args.rpartition("?")
                yes, _, no = where.partition(":")
                target = (yes if evaluate(cond, variables) else no) or None
            elif prio.app == "GotoIfTime":
                target = prio.args.rpartition("?")[2] if in_time else None
            elif prio.app == "Goto" and "," not in prio.args:
                target = prio.args
            elif prio.app == "Goto":
                return ran
            elif prio.app == "Set":
                name, _, value = prio.args.partition("=")
                variables[name.lstrip("_")] = expand(value, variables)
                if name == "QUEUESTATUS" and value:
                    return ran
            if target:
                index = next(i for i, p in enumerate(prios) if p.label == target)
            else:
                index += 1
        raise AssertionError(f"{context},{exten} loops")


def expand(text: str, variables: dict[str, str]) -> str:
    """``${VAR}`` -> its value ("" when unset)."""
    return re.sub(r"\$\{(\w+)\}", lambda m: variables.get(m.group(1), ""), text)


def evaluate(condition: str, variables: dict[str, str]) -> bool:
    """``$["${A}" = "1" | "${B}" != "x"]`` (string comparisons, ``&``, ``|``, parentheses)."""
    text = expand(condition.strip(), variables)
    if text.startswith("$[") and text.endswith("]"):
        text = text[2:-1]

    def compare(match: re.Match[str]) -> str:
        equal = match.group(1) == match.group(3)
        return str(equal if match.group(2) == "=" else not equal)

    text = re.sub(r'"([^"]*)"\s*(!=|=)\s*"([^"]*)"', compare, text)
    text = text.replace("&", " and ").replace("|", " or ")
    if not re.fullmatch(r"[\s()]*(?:(?:True|False|and|or)[\s()]*)+", text):
        raise ValueError(f"expression not understood: {condition!r}")
    # Safe: the check above leaves only True/False/and/or and parentheses.
    return bool(eval(text, {"__builtins__": {}}))

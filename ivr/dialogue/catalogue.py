"""Prompt catalogues: one TOML file per locale (``ivr/dialogue/prompts/<locale>.toml``), same keys.

A template's placeholders are filled with text; a placeholder given a list or tuple becomes
separate parts (one audio file each).  That is how personal numbers are read back: digit by
digit, never rendered whole into a cached audio file.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from ivr.io import Prompt

PROMPTS_DIR = Path(__file__).with_name("prompts")
LOCALES = ("ru", "en")

PromptValue = str | int | Sequence[str]


class Catalogue:
    """The prompts of one locale."""

    def __init__(self, locale: str, templates: dict[str, str]) -> None:
        self.locale = locale
        self.templates = templates

    def __call__(self, key: str, **params: PromptValue) -> Prompt:
        """The prompt ``key`` with its placeholders filled."""
        return Prompt(key, tuple(self._parts(self.templates[key], params)), self.locale)

    def text(self, key: str, **params: str | int) -> str:
        """A template filled as one plain string (for use inside another prompt)."""
        text = ""
        for literal, field, spec, conv in string.Formatter().parse(self.templates[key]):
            text = _after(text, literal)
            if field is not None:
                value = params[field]
                text += format(value if conv is None else str(value), spec or "")
        return text

    def join(self, key: str, *prompts: Prompt) -> Prompt:
        """Several prompts played as one (one collection, one barge-in)."""
        return Prompt(key, tuple(p for prompt in prompts for p in prompt.parts), self.locale)

    def static_texts(self) -> list[str]:
        """Templates without placeholders: pre-rendered at start-up."""
        return [t for t in self.templates.values() if "{" not in t]

    @staticmethod
    def _parts(template: str, params: dict[str, PromptValue]) -> list[str]:
        parts: list[str] = []
        text = ""
        after_list = False
        for literal, field, spec, conv in string.Formatter().parse(template):
            # Punctuation right after a read-back list ends the list, not the next part.
            text = text + literal.lstrip(" .,;:") if after_list else _after(text, literal)
            after_list = False
            if field is None:
                continue
            value = params[field]
            if isinstance(value, list | tuple):
                if text.strip():
                    parts.append(text.strip())
                parts.extend(str(v) for v in value)
                text = ""
                after_list = True
                continue
            else:
                text += format(value if conv is None else str(value), spec or "")
        if text.strip():
            parts.append(text.strip())
        return parts


def _after(text: str, literal: str) -> str:
    """``text`` followed by ``literal``, one full stop where a value ends with one ("eight
    p.m." + ". For a call back" says "p.m. For a call back", not "p.m.. For")."""
    if text.endswith(".") and literal.startswith("."):
        literal = literal[1:]
    return text + literal


@cache
def load_catalogue(locale: str) -> Catalogue:
    """Load (once) the catalogue of ``locale``."""
    with (PROMPTS_DIR / f"{locale}.toml").open("rb") as fh:
        return Catalogue(locale, tomllib.load(fh))

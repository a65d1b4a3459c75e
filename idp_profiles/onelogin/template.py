"""OneLogin's SCIM JSON Template as text: loading it (shipped, a file, or inline), checking it up front, rendering it.
Placeholders such as {$user.firstname} are replaced as text by JSON-escaped values, then the result is parsed."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

TEMPLATES_DIR = Path(__file__).with_name("templates")
SHIPPED_TEMPLATES = tuple(sorted(p.stem for p in TEMPLATES_DIR.glob("*.json")))
PLACEHOLDER = re.compile(r"\{\$([^{}\s]*)\}")


@dataclass(frozen=True)
class Placeholder:
    name: str                 # "user.firstname", "parameters.scimusername"
    start: int                # offsets of "{$…}" in the template text
    end: int
    line: int


@dataclass(frozen=True)
class TemplateProblem:
    line: int
    message: str
    placeholder: str | None = None

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class TemplateError(ValueError):
    """The template cannot produce a valid body; raised when the app is configured, before any request."""

    def __init__(self, source: str, problems: list[TemplateProblem]) -> None:
        super().__init__(f"SCIM JSON Template ({source}) is invalid:\n" + "\n".join(f"  {p}" for p in problems))
        self.source = source
        self.problems = problems


def json_escaped(value: str) -> str:
    """The value as it may stand between the quotes of a JSON string (O'Brien, "quotes", back\\slashes)."""
    return json.dumps(value, ensure_ascii=False)[1:-1]


class ScimTemplate:
    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source
        self.placeholders = [Placeholder(m.group(1), m.start(), m.end(), text.count("\n", 0, m.start()) + 1)
                             for m in PLACEHOLDER.finditer(text)]

    @classmethod
    def load(cls, spec: str) -> "ScimTemplate":
        """A shipped template by name (core-2.0, enterprise-2.0, enterprise-1.1), inline JSON text, or a file."""
        if spec in SHIPPED_TEMPLATES:
            return cls((TEMPLATES_DIR / f"{spec}.json").read_text(encoding="utf-8"), spec)
        if spec.lstrip().startswith("{"):
            return cls(spec, "inline")
        path = Path(spec)
        if not path.is_file():
            raise TemplateError(spec, [TemplateProblem(0, f"no shipped template and no file named {spec!r}; "
                                                          f"shipped: {', '.join(SHIPPED_TEMPLATES)}")])
        return cls(path.read_text(encoding="utf-8"), str(path))

    def check(self, explain_unknown: Callable[[str], str | None], probe_values: Mapping[str, str]) -> None:
        """Raise TemplateError naming every unknown placeholder with its line; when all are known, render with
        awkward probe values (apostrophes, quotes) so a placeholder outside a JSON string shows up too."""
        problems = [TemplateProblem(p.line, f"unknown placeholder {{${p.name}}}: {why}", p.name)
                    for p in self.placeholders if (why := explain_unknown(p.name))]
        if not problems:
            text, spans = self._substitute(probe_values)
            problems = self._parse_problems(text, spans)
        if problems:
            raise TemplateError(self.source, problems)

    def render(self, values: Mapping[str, str]) -> dict:
        """The body for one user. Only fails for a template that was never checked."""
        text, spans = self._substitute(values)
        problems = self._parse_problems(text, spans)
        if problems:
            raise TemplateError(self.source, problems)
        return json.loads(text)

    # -- mechanics ----------------------------------------------------------------------------------------------
    def _substitute(self, values: Mapping[str, str]) -> tuple[str, list[tuple[int, int, Placeholder]]]:
        pieces, spans, cursor, length = [], [], 0, 0
        for placeholder in self.placeholders:
            pieces.append(self.text[cursor:placeholder.start])
            length += placeholder.start - cursor
            value = json_escaped(values.get(placeholder.name) or "")
            spans.append((length, length + len(value), placeholder))
            pieces.append(value)
            length += len(value)
            cursor = placeholder.end
        pieces.append(self.text[cursor:])
        return "".join(pieces), spans

    @staticmethod
    def _parse_problems(text: str, spans: list[tuple[int, int, Placeholder]]) -> list[TemplateProblem]:
        try:
            body = json.loads(text)
        except json.JSONDecodeError as exc:
            culprit = next((p for start, end, p in reversed(spans) if start <= exc.pos <= end + 1), None)
            if culprit is None:
                return [TemplateProblem(exc.lineno, f"not valid JSON after rendering: {exc.msg} "
                                                    f"(column {exc.colno})")]
            return [TemplateProblem(culprit.line, f"not valid JSON after rendering {{${culprit.name}}}: {exc.msg}; "
                                                  "the placeholder stands outside a JSON string, so values such as "
                                                  "O'Brien or quotes break the body", culprit.name)]
        if not isinstance(body, dict):
            return [TemplateProblem(1, f"renders to a JSON {type(body).__name__}, not an object")]
        return []

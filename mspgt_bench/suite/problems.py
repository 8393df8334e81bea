"""How the suite loader reports what is wrong: one line per problem, naming the file and the key path.

A suite is untrusted input, so text taken from it (keys, values, labels) is shown escaped: a
problem never spans two lines and never carries a terminal control sequence.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

MAX_SHOWN = 50
"""Problems listed in a ``SuiteError``'s message (all of them stay in ``problems``)."""

LINE_LIMIT = 1000
"""Characters of a problem's line before it is cut with '...' (names and text quoted from a suite can be long)."""

PART_LIMIT = 240
"""Characters of a problem's file name or key path before its middle is cut out."""

KEY_LIMIT = 60
"""Characters of one key in a key path before it is cut with '...'."""

REPR_LIMIT = 80
"""Characters of a value quoted in a message before it is cut with '...'."""


def one_line(text: str) -> str:
    """``text`` with every non-printable character (newline, escape, bidi override, ...) written as an escape."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def short_repr(value: Any, limit: int = REPR_LIMIT) -> str:
    """``repr(value)``, abbreviated (long strings and containers, deep nesting) and cut to ``limit`` characters."""
    shortener = reprlib.Repr()
    shortener.maxstring = shortener.maxother = limit
    shortener.maxlevel = 3
    text = shortener.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_path(parts: Iterable[Any]) -> str:
    """A key path as the suite writes it: ``models[0].args.dtype`` (an overlong key is cut)."""
    text = ""
    for part in parts:
        key = str(part) if len(str(part)) <= KEY_LIMIT else str(part)[: KEY_LIMIT - 3] + "..."
        text += f"[{part}]" if isinstance(part, int) else (f".{key}" if text else key)
    return text


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a suite."""

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{_middle_cut(one_line(self.file))}: {_middle_cut(one_line(self.path or '(top level)'))}"
        line = f"{where}: {one_line(self.message)}"
        return line if len(line) <= LINE_LIMIT else line[: LINE_LIMIT - 3] + "..."


def _middle_cut(text: str, limit: int = PART_LIMIT) -> str:
    """``text`` with its middle cut out when longer than ``limit`` (both ends of a path say the most)."""
    if len(text) <= limit:
        return text
    keep = (limit - 3) // 2
    return text[:keep] + "..." + text[-keep:]


class SuiteError(ValueError):
    """A suite that cannot be run; ``problems`` lists each reason."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        lines = [f"  - {p}" for p in problems[:MAX_SHOWN]]
        if len(problems) > MAX_SHOWN:
            lines.append(f"  ... and {len(problems) - MAX_SHOWN} more (fix these first)")
        super().__init__(f"invalid suite ({count}):\n" + "\n".join(lines))

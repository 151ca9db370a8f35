"""A word-level diff of two texts, as segments a view can colour: kept, removed, added.

Used by :mod:`workbench.core.diffing` for changed thinking, messages, tool results and the final
answers of two runs. Words and the whitespace between them are compared apart (so ``clever.`` and
``clever. More`` share ``clever.``), and the whitespace inside a change is given to both sides of
it, so "a b" replaced by "c d" reads as one change, not two around a kept space.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["Segment", "left_text", "right_text", "text_diff"]

Op = Literal["equal", "delete", "insert"]

MAX_TOKENS = 6000
"""Words per side past which the diff goes by lines: SequenceMatcher is quadratic at worst."""

_WORD = re.compile(r"\S+|\s+")
_LINE = re.compile(r"[^\n]*\n|[^\n]+")


@dataclass(frozen=True)
class Segment:
    """A piece of the texts: in both (``equal``), only in the first (``delete``) or only in the second (``insert``)."""

    op: Op
    text: str

    def to_dict(self) -> dict[str, str]:
        return {"op": self.op, "text": self.text}


def _tokens(text: str) -> list[str]:
    words = _WORD.findall(text)
    return words if len(words) <= MAX_TOKENS else _LINE.findall(text)


def text_diff(a: str, b: str) -> list[Segment]:
    """The segments that turn ``a`` into ``b``, adjacent ones of the same kind merged."""
    if a == b:
        return [Segment("equal", a)] if a else []
    left, right = _tokens(a), _tokens(b)
    segments: list[Segment] = []
    removed: list[str] = []
    added: list[str] = []

    def add(op: Op, text: str) -> None:
        if not text:
            return
        if segments and segments[-1].op == op:
            segments[-1] = Segment(op, segments[-1].text + text)
        else:
            segments.append(Segment(op, text))

    def end_change() -> None:  # what went, then what came
        add("delete", "".join(removed))
        add("insert", "".join(added))
        removed.clear()
        added.clear()

    matcher = difflib.SequenceMatcher(None, left, right, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        kept = "".join(left[i1:i2]) if tag == "equal" else ""
        if tag == "equal" and (removed or added) and kept.isspace():
            removed.append(kept)  # a space inside a change belongs to both of its sides
            added.append(kept)
        elif tag == "equal":
            end_change()
            add("equal", kept)
        else:
            removed.extend(left[i1:i2])
            added.extend(right[j1:j2])
    end_change()
    return segments


def left_text(segments: list[Segment]) -> str:
    """The first text back from its segments."""
    return "".join(s.text for s in segments if s.op != "insert")


def right_text(segments: list[Segment]) -> str:
    """The second text back from its segments."""
    return "".join(s.text for s in segments if s.op != "delete")

"""Text for a terminal of a given width: wrapped at word boundaries, with hanging indents.

:class:`StreamWrapper` wraps text that arrives in pieces (a thought as it streams), which may
split a word anywhere: it holds back the unfinished word until the next space. :func:`wrap_text`
wraps a whole text line by line, keeping its line breaks, code fences and the indent of list
items.
"""

from __future__ import annotations

import re
import textwrap
from typing import Callable

__all__ = ["StreamWrapper", "wrap_text"]

_LIST_ITEM = re.compile(r"^(\s*(?:[-*+]|\d+[.)])\s+)")


class StreamWrapper:
    """Writes streamed text after a label, wrapped to ``width`` and indented by ``indent`` on later lines."""

    def __init__(self, write: Callable[[str], object], width: int, indent: int, style: Callable[[str], str]) -> None:
        self.write = write
        self.width = max(width, indent + 20)  # a sliver of a terminal still gets readable lines
        self.indent = indent
        self.style = style
        self.column = indent
        self.word = ""
        self.space = False  # a space is owed before the next word
        self.line_start = True  # nothing written on this line yet, after the label or indent

    def feed(self, text: str) -> None:
        for char in text:
            if char == "\n":
                self._flush_word()
                self._newline()
            elif char.isspace():
                self._flush_word()
                self.space = not self.line_start
            else:
                self.word += char

    def end(self) -> None:
        """Write the held-back word; the caller ends the line."""
        self._flush_word()

    def _newline(self) -> None:
        self.write("\n" + " " * self.indent)
        self.column = self.indent
        self.space = False
        self.line_start = True

    def _flush_word(self) -> None:
        if not self.word:
            return
        word, self.word = self.word, ""
        gap = 1 if self.space and not self.line_start else 0
        if not self.line_start and self.column + gap + len(word) > self.width:
            self._newline()
            gap = 0
        self.write(" " * gap + self.style(word))
        self.column += gap + len(word)
        self.space = False
        self.line_start = False


def wrap_text(text: str, width: int, indent: str = "") -> list[str]:
    """``text`` as lines of at most ``width`` columns (a word longer than that stands alone),
    each prefixed by ``indent``; list items keep their hanging indent, code fences stay as written."""
    lines: list[str] = []
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            lines.append(indent + line)
            continue
        if fenced or not line.strip():
            lines.append((indent + line).rstrip())
            continue
        marker = _LIST_ITEM.match(line)
        hanging = " " * len(marker.group(1)) if marker else re.match(r"\s*", line).group(0)  # type: ignore[union-attr]
        lines.extend(textwrap.wrap(line, width=max(width, len(indent) + 20), initial_indent=indent,
                                   subsequent_indent=indent + hanging, break_long_words=False,
                                   break_on_hyphens=False, drop_whitespace=True) or [indent])
    return lines

"""A run shown live in a terminal: plan, phases, thinking as it streams, tool calls, totals.

Text is wrapped to the terminal's width at word boundaries, with a hanging indent under its label.
An assistant message is shown whole once it is complete; the one that is the run's final answer
is not: the answer follows "Complete in …", once.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Sequence, TextIO

from workbench.cli.wrap import StreamWrapper, wrap_text
from workbench.core import events as ev

__all__ = ["TerminalView"]

_STYLES = {"dim": "2", "bold": "1", "red": "31", "green": "32", "yellow": "33", "blue": "34", "magenta": "35", "cyan": "36"}


class TerminalView:
    """Writes each event as it comes; colour only on a terminal and when ``NO_COLOR`` is unset."""

    def __init__(self, out: TextIO | None = None, *, color: bool | None = None, width: int | None = None) -> None:
        self.out = out or sys.stdout
        if color is None:
            color = self.out.isatty() and not os.environ.get("NO_COLOR")
        self.color = color
        self.width = width or shutil.get_terminal_size((100, 24)).columns  # COLUMNS first, then the terminal
        self._open_line = False  # a delta stream is being written on the current line
        self._wrapper: StreamWrapper | None = None
        self._streamed: set[str] = set()
        self._texts: dict[str, str] = {}  # messages streaming, shown when whole
        self._held: str | None = None  # the latest whole message, until we know it is not the final answer
        self._phase_count = 0
        self._tokens = ev.Usage()  # the latest usage event's totals, for a failed or cancelled run's last line

    def _style(self, text: str, *styles: str) -> str:
        if not self.color or not styles:
            return text
        codes = ";".join(_STYLES[s] for s in styles)
        return f"\x1b[{codes}m{text}\x1b[0m"

    def _line(self, text: str = "", *styles: str) -> None:
        self._end_stream()
        self.out.write(self._style(text, *styles) + "\n")
        self.out.flush()

    def _end_stream(self) -> None:
        if self._open_line:
            if self._wrapper is not None:
                self._wrapper.end()
                self._wrapper = None
            self.out.write("\n")
            self._open_line = False

    def _wrapped(self, label: str, text: str, *styles: str, label_styles: Sequence[str] = ()) -> None:
        """``label`` then ``text``, wrapped, later lines indented under the text."""
        lines = wrap_text(text, self.width, " " * len(label)) or [""]
        self._end_stream()
        first = lines[0][len(label):]
        self.out.write(self._style(label, *label_styles) + self._style(first, *styles) + "\n")
        for line in lines[1:]:
            self.out.write(self._style(line, *styles) + "\n")
        self.out.flush()

    def _release(self) -> None:
        """Show the held message: something other than the run's end came after it."""
        if self._held is not None:
            text, self._held = self._held, None
            self._wrapped("  says: ", text, label_styles=("cyan",))

    def workspace(self, path: Path | None, files: Sequence[Path]) -> None:
        """Where the run worked and the files it wrote, after its result."""
        if path is None:
            return
        root = Path(os.path.abspath(path))
        self._line()
        self._line(f"Workspace: {root}", "bold")
        self._line(f"Files written ({len(files)}):" if files else "Files written: none")
        for file in files:
            try:
                size = f" ({file.stat().st_size:,} bytes)"
            except OSError:
                size = " (gone)"
            shown = file.relative_to(root) if file.is_relative_to(root) else file
            self._line(f"  {shown}{size}")

    def _clip(self, text: str, limit: int | None = None) -> str:
        limit = limit or self.width
        text = " ".join(text.split())
        return text if len(text) <= limit else text[: limit - 1] + "…"

    @staticmethod
    def _totals(tokens: ev.Usage, cost: float | None = None) -> str:
        """`` · tokens: 1,200 in, 300 out, 50 cache read · $0.0081``: what a run used (and cost, if known)."""
        text = f"tokens: {tokens.input:,} in, {tokens.output:,} out"
        if tokens.cache_read:
            text += f", {tokens.cache_read:,} cache read"
        if tokens.cache_write:
            text += f", {tokens.cache_write:,} cache write"
        if cost is not None:
            text += f" · ${cost:.4f}" if cost < 0.1 else f" · ${cost:.2f}"
        return " · " + text

    def _room(self, head: str) -> int:
        """Columns left on a line after ``head``, and at least enough for a few words."""
        return max(24, self.width - len(head))

    def feed(self, event: ev.Event) -> None:
        """Show one event."""
        data = event.data
        if not isinstance(data, (ev.UsageData, ev.ModelResponseData, ev.TextDeltaData, ev.ExecutionCompleteData)):
            self._release()
        match data:
            case ev.TextDeltaData():
                self._texts[data.step_id] = self._texts.get(data.step_id, "") + data.delta
            case ev.ThinkingDeltaData():
                if data.step_id not in self._streamed or self._wrapper is None:
                    self._end_stream()
                    self._streamed.add(data.step_id)
                    label = "  thinking: "
                    self.out.write(self._style(label, "magenta"))
                    self._wrapper = StreamWrapper(self.out.write, self.width, len(label),
                                                  lambda text: self._style(text, "dim"))
                    self._open_line = True
                self._wrapper.feed(data.delta)
                self.out.flush()
            case ev.ThinkingData():
                if data.redacted:
                    self._line("  thinking: [redacted by the model]", "magenta")
                elif data.step_id not in self._streamed:
                    self._wrapped("  thinking: ", self._clip(data.thought, 400), "dim", label_styles=("magenta",))
                else:
                    self._end_stream()
            case ev.TextData():
                self._texts.pop(data.step_id, None)
                self._held = data.text
            case ev.ExecutionStartedData():
                self._line(f"Run {event.run_id} · {data.model} · {data.strategy}", "bold")
                self._line(f"Task: {data.task}")
            case ev.PlanCreatedData():
                self._phase_count = len(data.plan.phases)
                self._line(f"Plan: {data.plan.goal}", "bold")
                for i, phase in enumerate(data.plan.phases, 1):
                    head = f"  {i}. {phase.name}: "
                    self._line(head + self._clip(phase.description, self._room(head)))
            case ev.PhaseStartData():
                count = f"/{self._phase_count}" if self._phase_count else ""
                self._line(f"── Phase {data.phase_index + 1}{count}: {data.phase_name}", "bold", "blue")
            case ev.PhaseCompleteData():
                head = f"  ✓ {data.phase_name}: "
                self._line(head + self._clip(data.summary, self._room(head)), "green")
            case ev.ToolStartData():
                head = f"  → {data.tool_name} "
                self._line(head + self._clip(json.dumps(data.params, ensure_ascii=False), self._room(head)), "yellow")
            case ev.ToolCompleteData():
                mark, style = ("✗", "red") if data.is_error else ("←", "yellow")
                result = data.result if isinstance(data.result, str) else json.dumps(data.result)
                head = f"  {mark} {data.tool_name} ({data.duration:.1f} ms): "
                self._line(head + self._clip(result, self._room(head)), style)
            case ev.ExecutionPausedData():
                self._line("  ‖ paused" + (" by a breakpoint" if data.reason == "breakpoint" else ""), "bold", "yellow")
            case ev.ExecutionResumedData():
                self._line("  ▶ stepping" if data.step else "  ▶ resumed", "yellow")
            case ev.ToolApprovalData():
                self._line(f"  ? {data.tool_name} waits for your decision", "bold", "yellow")
            case ev.ToolDecisionData():
                said = f": {data.note}" if data.note else ""
                words = {"approve": "approved", "edit": "edited", "deny": "denied"}[data.decision]
                edited = " " + self._clip(json.dumps(data.params, ensure_ascii=False), 200) if data.params else ""
                self._line(f"  {words}{edited}{said}", "yellow")
            case ev.UserMessageData():
                self._wrapped("  you: ", data.text, label_styles=("cyan",))
            case ev.RunForkedData():
                self._line(f"  ⑂ forked from {data.parent_id} after its event {data.at}; from here on, live", "bold")
            case ev.ModelRetryData():
                self._line(f"  ↻ model call {data.attempt} failed ({data.reason}); retrying in {data.delay_ms:.0f} ms", "yellow")
            case ev.UsageData():
                self._tokens = ev.Usage(input=data.input, output=data.output, cache_read=data.cache_read,
                                        cache_write=data.cache_write)
            case ev.ExecutionCompleteData():
                totals = self._totals(data.tokens_used, data.cost_usd)
                if self._held is not None and self._held.strip() != data.result.strip():
                    self._release()
                self._held = None
                self._line(f"Complete in {data.duration / 1000:.1f} s{totals}", "bold", "green")
                for line in wrap_text(data.result, self.width):
                    self.out.write(line + "\n")
                self.out.flush()
            case ev.ExecutionErrorData() | ev.ExecutionCancelledData() if self._texts:
                for text in self._texts.values():  # cut off mid-message: show what had come
                    self._wrapped("  says: ", text + " …", label_styles=("cyan",))
                self._texts.clear()
                self.feed(event)
            case ev.ExecutionErrorData():
                self._line(f"Failed: {data.error.type}: {data.error.message}{self._totals(self._tokens)}", "bold", "red")
            case ev.ExecutionCancelledData():
                self._line(f"Cancelled after {data.duration / 1000:.1f} s{self._totals(self._tokens)}: {data.reason}", "bold", "yellow")
            case _:
                pass  # unknown types

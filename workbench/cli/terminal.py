"""A run shown live in a terminal: plan, phases, thinking as it streams, tool calls, totals."""

from __future__ import annotations

import json
import os
import sys
from typing import TextIO

from workbench.core import events as ev

__all__ = ["TerminalView"]

_STYLES = {"dim": "2", "bold": "1", "red": "31", "green": "32", "yellow": "33", "blue": "34", "magenta": "35", "cyan": "36"}


class TerminalView:
    """Writes each event as it comes; colour only on a terminal and when ``NO_COLOR`` is unset."""

    def __init__(self, out: TextIO | None = None, *, color: bool | None = None, width: int = 100) -> None:
        self.out = out or sys.stdout
        if color is None:
            color = self.out.isatty() and not os.environ.get("NO_COLOR")
        self.color = color
        self.width = width
        self._open_line = False  # a delta stream is being written on the current line
        self._streamed: set[str] = set()
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
            self.out.write("\n")
            self._open_line = False

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

    def feed(self, event: ev.Event) -> None:
        """Show one event."""
        data = event.data
        match data:
            case ev.ThinkingDeltaData() | ev.TextDeltaData():
                first = data.step_id not in self._streamed
                if first:
                    self._end_stream()
                    self._streamed.add(data.step_id)
                    label = "  thinking: " if isinstance(data, ev.ThinkingDeltaData) else "  says: "
                    self.out.write(self._style(label, "magenta" if label.startswith("  thinking") else "cyan"))
                styles = ("dim",) if isinstance(data, ev.ThinkingDeltaData) else ()
                self.out.write(self._style(data.delta.replace("\n", " "), *styles))
                self.out.flush()
                self._open_line = True
            case ev.ThinkingData():
                if data.redacted:
                    self._line("  thinking: [redacted by the model]", "magenta")
                elif data.step_id not in self._streamed:
                    self._line("  thinking: " + self._clip(data.thought, 400), "dim")
                else:
                    self._end_stream()
            case ev.MessageData():
                if data.step_id not in self._streamed:
                    self._line("  says: " + data.text)
                else:
                    self._end_stream()
            case ev.ExecutionStartedData():
                self._line(f"Run {event.run_id} · {data.model} · {data.strategy}", "bold")
                self._line(f"Task: {data.task}")
            case ev.PlanCreatedData():
                self._phase_count = len(data.plan.phases)
                self._line(f"Plan: {data.plan.goal}", "bold")
                for i, phase in enumerate(data.plan.phases, 1):
                    self._line(f"  {i}. {phase.name}: {self._clip(phase.description, 80)}")
            case ev.PhaseStartData():
                count = f"/{self._phase_count}" if self._phase_count else ""
                self._line(f"── Phase {data.phase_index + 1}{count}: {data.phase_name}", "bold", "blue")
            case ev.PhaseCompleteData():
                self._line(f"  ✓ {data.phase_name}: {self._clip(data.summary, 200)}", "green")
            case ev.ToolStartData():
                params = self._clip(json.dumps(data.params, ensure_ascii=False), 80)
                self._line(f"  → {data.tool_name} {params}", "yellow")
            case ev.ToolCompleteData():
                mark, style = ("✗", "red") if data.is_error else ("←", "yellow")
                result = data.result if isinstance(data.result, str) else json.dumps(data.result)
                self._line(f"  {mark} {data.tool_name} ({data.duration:.1f} ms): {self._clip(result, 80)}", style)
            case ev.ModelRetryData():
                self._line(f"  ↻ model call {data.attempt} failed ({data.reason}); retrying in {data.delay_ms:.0f} ms", "yellow")
            case ev.UsageData():
                self._tokens = ev.Usage(input=data.input, output=data.output, cache_read=data.cache_read,
                                        cache_write=data.cache_write)
            case ev.ExecutionCompleteData():
                totals = self._totals(data.tokens_used, data.cost_usd)
                self._line(f"Complete in {data.duration / 1000:.1f} s{totals}", "bold", "green")
                self._line(data.result)
            case ev.ExecutionErrorData():
                self._line(f"Failed: {data.error.type}: {data.error.message}{self._totals(self._tokens)}", "bold", "red")
            case ev.ExecutionCancelledData():
                self._line(f"Cancelled after {data.duration / 1000:.1f} s{self._totals(self._tokens)}: {data.reason}", "bold", "yellow")
            case _:
                pass  # unknown types

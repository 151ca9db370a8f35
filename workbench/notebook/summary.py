"""A run as static HTML: what a saved notebook shows where widgets do not render.

GitHub, nbviewer and a notebook reopened after a kernel restart show this summary instead
of the live widget: the task, the status, the plan with each phase and its summary, the tool
calls and the result or error. It is plain HTML with inline styles (those viewers strip
stylesheets and scripts).
"""

from __future__ import annotations

from html import escape

from workbench.core.reducer import RunState, ToolCall

__all__ = ["summary_html"]

_STATUS_COLOURS = {
    "complete": "#1a7f37", "error": "#cf222e", "cancelled": "#9a6700", "interrupted": "#9a6700",
    "running": "#0969da", "pending": "#57606a",
}
_PHASE_MARKS = {"complete": "✓", "running": "…", "failed": "✗", "cancelled": "⊘", "pending": "○"}


def _clip(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summary_html(state: RunState) -> str:
    """The run as a compact, self-contained HTML fragment."""
    colour = _STATUS_COLOURS.get(state.status, "#57606a")
    tokens = state.tokens
    parts = [
        (f'<div class="workbench-run-summary" data-status="{escape(state.status)}" '
         'style="font-family: system-ui, sans-serif; font-size: 13px; '
         'border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 12px; max-width: 900px">'),
        f'<div><strong>{escape(state.task or "(no task)")}</strong></div>',
        f'<div style="color: #57606a">run {escape(state.run_id)} · {escape(state.model)} · {escape(state.strategy)} · '
        f'<span style="color: {colour}; font-weight: 600">{escape(state.status)}</span>'
        + (f" · {state.duration / 1000:.1f} s" if state.duration is not None else "")
        + f" · tokens {tokens.input:,} in / {tokens.output:,} out"
        + (f" · ${state.cost_usd:.4f}" if state.cost_usd is not None else "")
        + "</div>",
    ]
    if state.goal is not None:
        parts.append(f"<div style=\"margin-top: 6px\">Plan: {escape(state.goal)}</div><ol style=\"margin: 4px 0\">")
        for phase in state.phases.values():
            tools = [s for s in state.items_of(phase.id) if isinstance(s, ToolCall)]
            errors = sum(1 for t in tools if t.is_error)
            detail = f" — {escape(_clip(phase.summary))}" if phase.summary else ""
            calls = f' <span style="color: #57606a">({len(tools)} tool calls' + (f", {errors} failed" if errors else "") + ")</span>" if tools else ""
            parts.append(f"<li>{_PHASE_MARKS.get(phase.status, '')} {escape(phase.name)}{detail}{calls}</li>")
        parts.append("</ol>")
    else:
        tools = state.tool_calls
        if tools:
            parts.append(f'<div style="color: #57606a">{len(tools)} tool calls</div>')
    if state.error is not None:
        parts.append(f'<div style="color: #cf222e">Error ({escape(state.error.type)}): {escape(state.error.message)}</div>')
    if state.cancel_reason:
        parts.append(f'<div style="color: #9a6700">Cancelled: {escape(state.cancel_reason)}</div>')
    if not state.finished:  # a saved notebook may keep this one: say it is a moment, not the end
        parts.append('<div style="color: #57606a; font-style: italic">Saved while the run was going on; '
                     "the live view, with a kernel, shows the rest.</div>")
    if state.result:
        parts.append(f'<div style="margin-top: 6px; white-space: pre-wrap">{escape(_clip(state.result, 2000))}</div>')
    parts.append("</div>")
    return "".join(parts)

"""A fork's walk through its copied prefix: the parent's recorded answers in place of the model.

The fork's orchestrator runs its usual course (plan, phases, loops) from the start, but while
a :class:`Replay` is set, each model call is answered by the parent's ``model:response`` and
each tool call by its ``tool:complete`` (or the fork's edit of it), and nothing is logged: the
log already holds the copied events. So the conversation the fork goes on with is, block for
block, the one the parent had at the fork point, and the model is asked nothing for it.
Built-in tools that write files are run again with their recorded input, so the fork's
workspace holds what the parent's held at the fork point.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

import anthropic

from workbench.agent.tools import ToolOutcome
from workbench.agent.tools._output import to_result
from workbench.core import events as ev
from workbench.core.forking import ForkPlan, RecordedCall, tool_use_ids
from workbench.core.outputs import WRITE_TOOLS

__all__ = ["Replay"]


class Replay:
    """The recorded calls a fork replays, and where it stands in them."""

    def __init__(self, plan: ForkPlan, *, parent_id: str, edits: ev.ForkEdits, by: str | None = None,
                 resumed: ev.RunResumedData | None = None, steps_used: int = 0, pause_again: bool = False,
                 logged: Sequence[ev.Event] = ()) -> None:
        self.plan = plan
        self.parent_id = parent_id
        self.edits = edits
        self.by = by
        """Who forked the run: the author of the edit's message."""
        self.resumed = resumed
        """For a run taken over by another worker (same run, same log): the event it goes live with,
        in place of ``run:forked``."""
        self.steps_used = steps_used
        """The highest step number in the log: a taken-over run's live steps come after it, so the
        pieces of a turn the stopped worker left half done are never added to a new step's."""
        self.logged: deque[ev.Event] = deque(logged)
        """A taken-over run's events after ``plan.at`` that the stopped worker logged: what the run does
        again once live and finds there already (the end of a phase, the start of the next) is not
        logged twice (see :meth:`Orchestrator._emit`)."""
        self.pause_again = pause_again
        """A taken-over run that was paused: it pauses again at its next turn boundary once live."""
        self._calls: deque[RecordedCall] = deque(plan.calls)
        self._pending: dict[str, tuple[Any, bool]] = {}
        """The tool results of the call replayed last that have not been served yet."""
        self._ran_with: dict[str, dict[str, Any]] = {}
        self._edited = edits.tool_result

    @property
    def done(self) -> bool:
        """Whether the fork now stands where the parent stood after the last copied event."""
        return not self._calls and not self._pending

    def next_call(self) -> tuple[anthropic.types.Message, tuple[str, ...]]:
        """The next recorded answer, as the SDK would have built it, and the messages the call took in."""
        call = self._calls.popleft()
        response = call.response
        ids = set(tool_use_ids(response))
        self._pending = {i: r for i, r in call.tool_results.items() if i in ids}
        self._ran_with = dict(call.ran_with)
        if self._edited is not None and self._edited.tool_use_id in self._pending:
            self._pending[self._edited.tool_use_id] = (self._edited.result, False)
        usage = response.usage
        message = anthropic.types.Message.model_validate({
            "id": "msg_replayed",
            "type": "message",
            "role": "assistant",
            "model": response.model,
            "content": response.content,
            "stop_reason": response.stop_reason,
            "stop_sequence": None,
            "usage": {"input_tokens": usage.input, "output_tokens": usage.output,
                      "cache_read_input_tokens": usage.cache_read, "cache_creation_input_tokens": usage.cache_write},
        })
        return message, call.messages

    def takes(self, tool_use_id: str) -> bool:
        """Whether this tool call is one of the replayed answer's."""
        return tool_use_id in self._pending

    def tool_outcome(self, tool_use_id: str) -> ToolOutcome:
        """The recorded outcome of a replayed tool call, as the model saw it."""
        result, is_error = self._pending.pop(tool_use_id)
        if is_error:
            text = result if isinstance(result, str) else to_result(result)[1]
            return ToolOutcome(result=text, content=text, is_error=True, duration_ms=0.0)
        result, content = to_result(result)
        return ToolOutcome(result=result, content=content, is_error=False, duration_ms=0.0)

    def rewrite(self, tool_use_id: str, tool_name: str, params: dict[str, Any], outcome: ToolOutcome) -> dict[str, Any] | None:
        """The input to run the call with again, if it is a built-in write that succeeded (so the fork's
        workspace gets the file, as a person's edit had it); None for every other call."""
        if tool_name not in WRITE_TOOLS or outcome.is_error:
            return None
        edited: dict[str, Any] | None = self._ran_with.get(tool_use_id)
        return params if edited is None else edited

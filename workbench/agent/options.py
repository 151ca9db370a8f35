"""The options of a run (``options={...}``), validated with clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel
from pydantic_core import ErrorDetails

from workbench.errors import UserError

__all__ = ["CLIENT_OPTIONS", "SERVER_PATHS", "RunOptions", "ToolBreakpoint", "parse_options"]

MINUTE, DAY = 60, 24 * 3600


class ToolBreakpoint(BaseModel):
    """A breakpoint before every call of one tool: ``{"tool": "write_file"}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tool: str


class RunOptions(BaseModel):
    """Everything about a run that is not its task, model, strategy or tools.

    Keys are accepted in camelCase (as on the wire) or snake_case. Every number is finite
    and bounded: ``1e400`` in JSON reads as infinity, which must not pass as "no limit".
    """

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, allow_inf_nan=False
    )

    pace: float = Field(default=0, ge=0, le=100_000)
    """Simulated model only: deltas streamed per second; 0 streams as fast as possible."""
    seed: int = Field(default=0, ge=-(2**63), le=2**63 - 1)
    """Simulated model only: varies the generic scenario; the same task and seed give the same run."""
    scenario: str | None = None
    """Simulated model only: a scenario file scripting what the model thinks, says and calls."""
    faults: list[dict[str, Any]] = Field(default_factory=list)
    """Simulated model only: faults to inject, e.g. ``[{"request": 2, "kind": "529"}]``."""
    max_iterations: int = Field(default=25, ge=1, le=10_000)
    """Model calls allowed in one phase (or in the whole loop of strategy ``react``)."""
    max_tokens: int = Field(default=5_000_000, ge=1, le=1_000_000_000)
    """Input plus output tokens allowed for the whole run."""
    timeout: float = Field(default=3600, gt=0, le=7 * DAY)
    """Wall time allowed for the whole run, in seconds."""
    max_output_tokens: int = Field(default=16_000, ge=1, le=1_000_000)
    """``max_tokens`` of each model call."""
    thinking: Literal["auto", "adaptive", "enabled", "off"] = "auto"
    """Extended thinking: ``auto`` takes what the model supports (adaptive, else budgeted)."""
    thinking_budget: int = Field(default=4_096, ge=1_024, le=1_000_000)
    """``budget_tokens`` when thinking is budgeted (``enabled``)."""
    max_retries: int = Field(default=3, ge=0, le=20)
    """Retries of a model call that broke mid-stream (the SDK retries 429/529 on its own first)."""
    retry_delay: float = Field(default=1.0, ge=0, le=MINUTE)
    """First backoff delay in seconds; it doubles with each retry, with jitter."""
    sdk_max_retries: int = Field(default=2, ge=0, le=20)
    """The SDK's own retries of 429, 529 and other retryable statuses."""
    tool_timeout: float = Field(default=60, gt=0, le=DAY)
    """Seconds a tool may run before it is stopped with an error."""
    max_tool_output: int = Field(default=20_000, ge=100, le=10_000_000)
    """Characters of tool output passed to the model; longer output is cut with a marker."""
    workspace: str | None = None
    """Folder the built-in file tools work in; default ``$WORKBENCH_HOME/workspaces/<run id>``."""
    approve: list[str] | Literal["all"] = Field(default_factory=list)
    """Tools whose calls wait for a person's decision (``tool:approval``), or ``"all"``."""
    breakpoints: list[Literal["model", "tool"] | ToolBreakpoint] = Field(default_factory=list)
    """Where the run pauses by itself: before every model call (``"model"``), every tool call
    (``"tool"``), or every call of one tool (``{"tool": "write_file"}``)."""

    def workspace_path(self, run_id: str, home: Path) -> Path:
        return Path(self.workspace).expanduser() if self.workspace else home / "workspaces" / run_id


SERVER_PATHS = frozenset({"workspace", "scenario"})
"""Options that name paths on the machine the run executes on: never set by, nor shown to, clients."""

CLIENT_OPTIONS: frozenset[str] = frozenset(
    key
    for name, field in RunOptions.model_fields.items()
    if name not in SERVER_PATHS
    for key in (name, field.alias or name)
)
"""Options an HTTP client may set, camelCase or snake_case: all but those naming server paths."""

_FIELD_OF = {key: name for name, field in RunOptions.model_fields.items() for key in (name, field.alias or name)}

_UNITS = {
    "pace": "deltas per second",
    "max_iterations": "model calls",
    "max_tokens": "tokens",
    "timeout": "seconds",
    "max_output_tokens": "tokens",
    "thinking_budget": "tokens",
    "max_retries": "retries",
    "retry_delay": "seconds",
    "sdk_max_retries": "retries",
    "tool_timeout": "seconds",
    "max_tool_output": "characters",
}

_BOUNDS = {
    "less_than_equal": ("le", "at most"),
    "less_than": ("lt", "less than"),
    "greater_than_equal": ("ge", "at least"),
    "greater_than": ("gt", "more than"),
}


def parse_options(options: dict[str, Any] | RunOptions | None) -> RunOptions:
    """Validate ``options``; a bad or unknown key is a :class:`UserError` saying which and why."""
    if isinstance(options, RunOptions):
        return options
    if options is None:
        return RunOptions()
    if not isinstance(options, dict):
        raise UserError(f"options must be a dict, not {type(options).__name__}")
    try:
        return RunOptions.model_validate(options)
    except ValidationError as exc:
        problems = []
        unknown = False
        for error in exc.errors():
            key = ".".join(str(part) for part in error["loc"])
            if error["type"] == "extra_forbidden":
                unknown = True
                problems.append(f"unknown option {key!r}")
            else:
                problems.append(f"option {key!r}: {_problem(error)}")
        message = "; ".join(problems)
        if unknown:
            known = ", ".join(sorted(f.alias or name for name, f in RunOptions.model_fields.items()))
            message += f". Known options: {known}"
        raise UserError(message + ".") from None


def _problem(error: ErrorDetails) -> str:
    """What is wrong with one value, naming the bound and its unit where there is one."""
    field = _FIELD_OF.get(str(error["loc"][0]), "") if error["loc"] else ""
    unit = _UNITS.get(field)
    if error["type"] == "finite_number":
        upper = [getattr(m, "le") for m in RunOptions.model_fields[field].metadata if hasattr(m, "le")] if field else []
        return "must be a finite number" + (f", at most {_amount(upper[0], unit)}" if upper else "")
    if error["type"] in _BOUNDS:
        bound_key, words = _BOUNDS[error["type"]]
        bound = error.get("ctx", {}).get(bound_key)
        if isinstance(bound, (int, float)):
            return f"must be {words} {_amount(bound, unit)}"
    return str(error["msg"])


def _amount(value: float, unit: str | None) -> str:
    """``60 seconds``, ``604,800 seconds (7 days)``, ``100 characters``."""
    text = f"{value:,}" if isinstance(value, int) or not value.is_integer() else f"{int(value):,}"
    if unit is None:
        return text
    if unit == "seconds" and value >= DAY and value % DAY == 0:
        days = int(value // DAY)
        return f"{text} seconds ({days} day{'s' if days != 1 else ''})"
    return f"{text} {unit}"

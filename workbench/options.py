"""The options of a run (``options={...}``), validated with clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from .errors import UserError

__all__ = ["RunOptions", "parse_options"]


class RunOptions(BaseModel):
    """Everything about a run that is not its task, model, strategy or tools.

    Keys are accepted in camelCase (as on the wire) or snake_case.
    """

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    pace: float = Field(0, ge=0, le=100_000)
    """Simulated model only: deltas streamed per second; 0 streams as fast as possible."""
    seed: int = 0
    """Simulated model only: varies the generic scenario; the same task and seed give the same run."""
    scenario: str | None = None
    """Simulated model only: a scenario file scripting what the model thinks, says and calls."""
    faults: list[dict[str, Any]] = Field(default_factory=list)
    """Simulated model only: faults to inject, e.g. ``[{"request": 2, "kind": "529"}]``."""
    max_iterations: int = Field(25, ge=1, le=10_000)
    """Model calls allowed in one phase (or in the whole loop of strategy ``react``)."""
    max_tokens: int = Field(5_000_000, ge=1)
    """Input plus output tokens allowed for the whole run."""
    timeout: float = Field(3600, gt=0)
    """Wall time allowed for the whole run, in seconds."""
    max_output_tokens: int = Field(16_000, ge=1)
    """``max_tokens`` of each model call."""
    thinking: Literal["auto", "adaptive", "enabled", "off"] = "auto"
    """Extended thinking: ``auto`` takes what the model supports (adaptive, else budgeted)."""
    thinking_budget: int = Field(4_096, ge=1_024)
    """``budget_tokens`` when thinking is budgeted (``enabled``)."""
    max_retries: int = Field(3, ge=0, le=20)
    """Retries of a model call that broke mid-stream (the SDK retries 429/529 on its own first)."""
    retry_delay: float = Field(1.0, ge=0)
    """First backoff delay in seconds; it doubles with each retry, with jitter."""
    sdk_max_retries: int = Field(2, ge=0, le=20)
    """The SDK's own retries of 429, 529 and other retryable statuses."""
    tool_timeout: float = Field(60, gt=0)
    """Seconds a tool may run before it is stopped with an error."""
    max_tool_output: int = Field(20_000, ge=100)
    """Characters of tool output passed to the model; longer output is cut with a marker."""
    workspace: str | None = None
    """Folder the built-in file tools work in; default ``$WORKBENCH_HOME/workspaces/<run id>``."""

    def workspace_path(self, run_id: str, home: Path) -> Path:
        return Path(self.workspace).expanduser() if self.workspace else home / "workspaces" / run_id


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
        for error in exc.errors():
            key = ".".join(str(part) for part in error["loc"])
            if error["type"] == "extra_forbidden":
                problems.append(f"unknown option {key!r}")
            else:
                problems.append(f"option {key!r}: {error['msg']}")
        known = ", ".join(sorted(f.alias or name for name, f in RunOptions.model_fields.items()))
        raise UserError("; ".join(problems) + f". Known options: {known}.") from None

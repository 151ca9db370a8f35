"""The models the simulator lists (``GET /v1/models``) and describes (``GET /v1/models/{id}``)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

__all__ = ["DEFAULT_MODELS", "model_info"]

DEFAULT_MODELS = ("simulated", "claude-sonnet-4-6", "claude-opus-4-6", "claude-haiku-4-5")
"""Models listed by ``GET /v1/models`` when no list is given."""


def model_info(model: str, *, thinking_types: Collection[str], max_output_tokens: int) -> dict[str, Any]:
    """The ``ModelInfo`` of ``model`` as ``GET /v1/models/{id}`` returns it."""
    no = {"supported": False}
    types = frozenset(thinking_types)
    line = next((name for name in ("haiku", "sonnet", "opus") if name in model), None)
    return {
        "type": "model",
        "id": model,
        "display_name": _display_name(model),
        "created_at": "2026-01-01T00:00:00Z",
        "lifecycle": "active",
        "deprecated_at": None,
        "retires_at": None,
        "line": line,
        "max_input_tokens": 200_000,
        "max_tokens": max_output_tokens,
        "capabilities": {
            "batch": no,
            "citations": no,
            "code_execution": no,
            "context_management": {"supported": False},
            "effort": {"supported": False, "low": no, "medium": no, "high": no, "max": no},
            "image_input": no,
            "pdf_input": no,
            "server_tools": {"supported": False, "code_execution": no, "web_search": no},
            "structured_outputs": no,
            "thinking": {
                "supported": bool(types & {"enabled", "adaptive"}),
                "types": {t: {"supported": t in types} for t in ("adaptive", "between_tools", "disabled", "enabled")},
            },
        },
    }


def _display_name(model: str) -> str:
    if model == "simulated":
        return "Simulated Claude (offline)"
    words = model.removeprefix("claude-").split("-")
    name = [w.capitalize() for w in words if not w.isdigit()]
    version = ".".join(w for w in words if w.isdigit() and len(w) < 8)
    return " ".join(["Claude", *name, version]).strip()

"""What a run's tokens cost: Anthropic's list prices, kept here and nowhere else.

The table is matched by model id prefix, the longest first, so ``claude-sonnet-4-6`` and
``claude-sonnet-4-5-20250929`` both find ``claude-sonnet-4``. A model with no row (the
simulator, a model newer than the table) has no cost: ``None``, never 0.

Prices are US dollars per million tokens: ``input``, ``output``, ``cacheRead`` (cache hits) and
``cacheWrite`` (5-minute cache writes, the API's default). They are Anthropic's standard API
prices (no batch discount, no long-context or data-residency surcharge), from
https://platform.claude.com/docs/en/about-claude/pricing and the models' overview pages, checked
on :data:`CHECKED`. Models priced by prompt length (Claude Haiku 5.5) have no row: a run's totals
cannot say which band each call fell in.

Override or extend the table with :func:`set_prices` (``wb.set_prices``) in the process that runs
the agent, or with ``WORKBENCH_PRICES``: a JSON object of the same shape, or the path of a file
holding one, read when first needed (the way to reach a ``workbench serve`` or Jupyter server).
The notebook view gets the table from here (``RunView.prices``), never from a copy of its own.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Mapping

from workbench.core import events as ev
from workbench.core.redact import get_logger
from workbench.errors import UserError

__all__ = ["CHECKED", "DEFAULT_PRICES", "Prices", "cost_usd", "price_table", "prices_for", "run_cost", "set_prices", "view_prices"]

log = get_logger("workbench")

CHECKED = "2026-12-02"
"""The day the table was checked against Anthropic's published prices."""

Prices = dict[str, float]
"""``{"input": …, "output": …, "cacheRead": …, "cacheWrite": …}`` in USD per million tokens."""

_FIELDS = ("input", "output", "cacheRead", "cacheWrite")


def _row(input: float, output: float, cache_read: float, cache_write: float) -> Prices:
    return {"input": input, "output": output, "cacheRead": cache_read, "cacheWrite": cache_write}


DEFAULT_PRICES: Mapping[str, Prices] = {
    # Opus: $15/$75 up to Opus 4.1; from Opus 4.5 $5/$25; Opus 5.5 $4/$20.
    "claude-3-opus": _row(15, 75, 1.50, 18.75),
    "claude-opus-4-0": _row(15, 75, 1.50, 18.75),
    "claude-opus-4-1": _row(15, 75, 1.50, 18.75),
    "claude-opus-4-2025": _row(15, 75, 1.50, 18.75),  # Opus 4's dated id, claude-opus-4-20250514
    "claude-opus-4": _row(5, 25, 0.50, 6.25),  # Opus 4.5, 4.6, 4.7, 4.8
    "claude-opus-5": _row(5, 25, 0.50, 6.25),
    "claude-opus-5-5": _row(4, 20, 0.20, 5.00),
    # Sonnet: $3/$15 from 3.5 to 4.6; Sonnet 5 and 5.5 $2/$10.
    "claude-3-5-sonnet": _row(3, 15, 0.30, 3.75),
    "claude-3-7-sonnet": _row(3, 15, 0.30, 3.75),
    "claude-sonnet-4": _row(3, 15, 0.30, 3.75),
    "claude-sonnet-5": _row(2, 10, 0.20, 2.50),
    "claude-sonnet-5-5": _row(2, 10, 0.10, 2.50),  # cache hits cut from $0.20 on 2026-10-07
    # Haiku.
    "claude-3-haiku": _row(0.25, 1.25, 0.03, 0.30),
    "claude-3-5-haiku": _row(0.80, 4, 0.08, 1.00),
    "claude-haiku-4": _row(1, 5, 0.10, 1.25),  # Haiku 4.5
}
"""Anthropic's list prices by model id prefix, as checked on :data:`CHECKED`."""

_overrides: dict[str, Prices | None] = {}
_env_read = False


def _valid(prefix: object, prices: object) -> Prices | None:
    if not isinstance(prefix, str) or not prefix:
        raise UserError(f"a price table's keys are model id prefixes, not {prefix!r}")
    if prices is None:
        return None  # the model has no price: its runs show no cost
    if not isinstance(prices, Mapping) or set(prices) - set(_FIELDS) or "input" not in prices or "output" not in prices:
        raise UserError(
            f"prices for {prefix!r} must be a mapping with 'input' and 'output' (and optionally 'cacheRead', "
            f"'cacheWrite'), in USD per million tokens; got {prices!r}"
        )
    row: Prices = {}
    for name in _FIELDS:
        value = prices.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise UserError(f"the {name} price of {prefix!r} must be a number >= 0, not {value!r}")
        row[name] = float(value)
    return row


def set_prices(prices: Mapping[str, Mapping[str, float] | None] | None) -> None:
    """Override rows of the price table (model id prefix -> USD per million tokens), or reset with ``None``.

    ``wb.set_prices({"claude-sonnet-4": {"input": 3, "output": 15, "cacheRead": 0.3, "cacheWrite": 3.75}})``;
    a row of ``None`` takes a model's price away. Later calls add to earlier ones.
    """
    global _env_read
    if prices is None:
        _overrides.clear()
        _env_read = True  # a reset means the defaults, whatever WORKBENCH_PRICES says
        return
    if not isinstance(prices, Mapping):
        raise UserError(f"set_prices takes a mapping of model id prefix to prices, not {type(prices).__name__}")
    rows = {prefix: _valid(prefix, row) for prefix, row in prices.items()}
    _read_env()
    _overrides.update(rows)


def _read_env() -> None:
    global _env_read
    if _env_read:
        return
    _env_read = True
    raw = os.environ.get("WORKBENCH_PRICES", "").strip()
    if not raw:
        return
    try:
        text = raw if raw.startswith("{") else Path(raw).read_text("utf-8")
        table = json.loads(text)
    except (OSError, ValueError) as exc:
        raise UserError(f"WORKBENCH_PRICES must be a JSON object or the path of a file holding one: {exc}") from None
    if not isinstance(table, dict):
        raise UserError("WORKBENCH_PRICES must be a JSON object of model id prefix to prices")
    _overrides.update({prefix: _valid(prefix, row) for prefix, row in table.items()})


def price_table() -> list[tuple[str, Prices | None]]:
    """The table in force, overrides applied, as ``(prefix, prices)`` with the longest prefix first.

    This is what the notebook view gets to estimate a live run's cost; it matches as :func:`prices_for` does.
    """
    _read_env()
    merged: dict[str, Prices | None] = {**DEFAULT_PRICES, **_overrides}
    return sorted(merged.items(), key=lambda item: (-len(item[0]), item[0]))


def prices_for(model: str) -> Prices | None:
    """The prices of ``model``: the row of the longest prefix of its id, or ``None``."""
    for prefix, prices in price_table():
        if model.startswith(prefix):
            return prices
    return None


def cost_usd(model: str, tokens: ev.Usage) -> float | None:
    """What ``tokens`` cost on ``model`` in USD, or ``None`` when the model has no price."""
    prices = prices_for(model)
    if prices is None:
        return None
    return (
        tokens.input * prices["input"]
        + tokens.output * prices["output"]
        + tokens.cache_read * prices["cacheRead"]
        + tokens.cache_write * prices["cacheWrite"]
    ) / 1_000_000


def run_cost(model: str, tokens: ev.Usage) -> float | None:
    """:func:`cost_usd` for a run's ``execution:complete``: a bad ``WORKBENCH_PRICES`` is logged, never fatal."""
    try:
        return cost_usd(model, tokens)
    except UserError as exc:
        log.warning("no cost for this run: %s", exc)
        return None


def view_prices() -> dict[str, object]:
    """The table as the notebook view reads it: ``{"checked": …, "table": [[prefix, prices or null], …]}``."""
    return {"checked": CHECKED, "table": [[prefix, prices] for prefix, prices in price_table()]}

"""Choosing a model and building the ``anthropic`` client that talks to it.

Every model, real or simulated, is reached through ``anthropic.AsyncAnthropic``: the
simulated one is a simulator of the Messages API handed to the SDK as its HTTP transport,
so the SDK's own request building, retries and stream parsing run in every test.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import anthropic
import httpx2

from workbench.agent.options import RunOptions
from workbench.core.redact import get_logger, register_secret
from workbench.errors import UserError

__all__ = [
    "SIMULATED",
    "DEFAULT_CLAUDE_MODEL",
    "default_model",
    "validate_model",
    "ModelClient",
    "make_client",
    "RetryObserver",
]

log = get_logger("workbench")
get_logger("anthropic._base_client")  # at DEBUG the SDK logs whole requests: tasks, tool results

SIMULATED = "simulated"
DEFAULT_CLAUDE_MODEL = "claude-sonnet-4-6"
_CLAUDE = re.compile(r"^claude-[a-z0-9][a-z0-9.\-]{0,80}$")
_SIMULATOR_URL = "http://simulator.invalid"


def _has_credentials() -> bool:
    return bool(os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN"))


def default_model() -> str:
    """``WORKBENCH_MODEL`` if set; else a Claude model when a key is set; else the simulator."""
    chosen = os.environ.get("WORKBENCH_MODEL")
    if chosen:
        return chosen
    return DEFAULT_CLAUDE_MODEL if _has_credentials() else SIMULATED


def validate_model(model: str) -> str:
    """``model`` if it names the simulator or a Claude model; a :class:`UserError` otherwise."""
    if not isinstance(model, str) or not (model == SIMULATED or _CLAUDE.match(model)):
        raise UserError(
            f"unknown model {model!r}: use 'simulated' (offline, no key needed) or a Claude model id "
            f"such as {DEFAULT_CLAUDE_MODEL!r}"
        )
    return model


RetryObserver = Callable[[int, str, float], None]
"""Told ``(attempt, reason, delay_ms)`` each time the SDK is about to retry a call."""


@dataclass
class ModelClient:
    """An SDK client for one run, and what the run needs to know about it."""

    client: anthropic.AsyncAnthropic
    model: str
    simulated: bool

    async def aclose(self) -> None:
        await self.client.close()


def _retry_middleware(observer: RetryObserver, max_retries: int) -> Callable[..., Awaitable[Any]]:
    """A client middleware that reports the SDK's own retries (429, 529, 5xx) as they happen.

    The middleware chain runs once per HTTP attempt inside the SDK's retry loop, so it sees
    the responses the SDK is about to retry and that the caller never sees.
    """

    async def observe(request: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
        response = await call_next(request)
        status = response.status_code
        retryable = status in (408, 409, 429) or status >= 500
        if retryable and request.retries_taken < max_retries:
            headers = response.headers
            delay_ms = _retry_after_ms(headers)
            error_type = await _error_type(response)
            reason = f"{status} {error_type}".strip()
            observer(request.retries_taken + 1, reason, delay_ms)
        return response

    return observe


def _retry_after_ms(headers: httpx2.Headers) -> float:
    for name, scale in (("retry-after-ms", 1.0), ("retry-after", 1000.0)):
        value = headers.get(name)
        if value:
            try:
                return float(value) * scale
            except ValueError:
                continue
    return 500.0  # the SDK's first backoff when the server names no delay


async def _error_type(response: Any) -> str:
    try:
        body = await response.json()  # an error answer is small and the SDK reads it anyway
        return str(body["error"]["type"])
    except Exception:  # not JSON: the status says enough
        return ""


def check_credentials(model: str) -> None:
    """Refuse a Claude model (a :class:`UserError`) when this process has no credentials for the API."""
    if model != SIMULATED and not _has_credentials():
        raise UserError(
            f"model {model!r} needs an Anthropic API key: set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN "
            "for a gateway), or use model='simulated' to run offline"
        )


def make_client(model: str, options: RunOptions, *, on_retry: RetryObserver | None = None) -> ModelClient:
    """The SDK client for ``model``: the simulator in-process, or the Anthropic API.

    For Claude models the SDK reads ``ANTHROPIC_API_KEY`` / ``ANTHROPIC_AUTH_TOKEN`` and
    ``ANTHROPIC_BASE_URL`` itself, so gateways and proxies work as they do with the SDK.
    """
    validate_model(model)
    middleware = [_retry_middleware(on_retry, options.sdk_max_retries)] if on_retry else None
    if model == SIMULATED:
        from workbench.simulator import Simulator, SimulatorTransport, load_scenario

        scenario = load_scenario(options.scenario) if options.scenario else None
        simulator = Simulator(scenario=scenario, seed=options.seed, pace=options.pace, faults=options.faults)
        http = httpx2.AsyncClient(transport=SimulatorTransport(simulator), base_url=_SIMULATOR_URL)
        client = anthropic.AsyncAnthropic(
            api_key="simulated-no-key",  # the simulator needs a key header, not a real key
            base_url=_SIMULATOR_URL,
            http_client=http,
            max_retries=options.sdk_max_retries,
            middleware=middleware,
        )
        return ModelClient(client, model, simulated=True)
    check_credentials(model)
    client = anthropic.AsyncAnthropic(max_retries=options.sdk_max_retries, middleware=middleware)
    for credential in (client.api_key, client.auth_token):  # wherever the SDK found them
        register_secret(credential)
    return ModelClient(client, model, simulated=False)


async def thinking_param(client: ModelClient, options: RunOptions) -> dict[str, Any] | None:
    """The ``thinking`` request parameter for this model, respecting what it supports.

    ``auto`` asks the Models API which thinking types the model accepts and prefers
    ``adaptive``; when the model cannot be looked up it falls back to the model id.
    """
    if options.thinking == "off":
        return None
    mode: str = options.thinking
    if mode == "auto":
        mode = await _supported_thinking(client)
    if mode == "adaptive":
        return {"type": "adaptive"}
    if mode == "enabled":
        return {"type": "enabled", "budget_tokens": options.thinking_budget}
    return None


async def _supported_thinking(client: ModelClient) -> str:
    try:
        info = await client.client.models.retrieve(client.model)
        types = info.capabilities.thinking.types if info.capabilities else None
        if types is not None:
            if types.adaptive.supported:
                return "adaptive"
            if types.enabled.supported:
                return "enabled"
            return "off"
    except anthropic.APIError as exc:
        log.debug("model lookup failed (%s); choosing thinking from the model id", type(exc).__name__)
    return "adaptive" if _adaptive_by_id(client.model) else "enabled"


def _adaptive_by_id(model: str) -> bool:
    # Adaptive thinking arrived with the 4.6 generation; older models take a token budget.
    match = re.match(r"claude-(?:[a-z]+-)?(\d+)(?:-(\d+))?", model)
    if not match:
        return True
    major, minor = int(match[1]), int(match[2] or 0)
    return (major, minor) >= (4, 6) if minor < 100 else major > 4

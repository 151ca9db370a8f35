"""The simulated Anthropic API: its routes, the faults it injects, and the pace of its streams.

:class:`Simulator` knows nothing about sockets: :meth:`Simulator.handle` takes a method,
path, headers and body and returns a :class:`~.responses.SimResponse` whose body is an async
iterator of chunks (one per server-sent event when streaming). The in-process transport
(:mod:`.transport`) and the HTTP server (:mod:`.server`) only carry those bytes. A request is
checked by :mod:`.rules` and answered by :mod:`.answer`; the models it lists are :mod:`.model_list`'s.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from workbench.errors import UserError
from workbench.simulator.answer import answer
from workbench.simulator.frames import Frame, dumps, frame, message_frames
from workbench.simulator.generic import generic_scenario
from workbench.simulator.model_list import DEFAULT_MODELS, model_info
from workbench.simulator.responses import ConnectionDropped, SimResponse, api_id, dropped_body, json_response
from workbench.simulator.rules import MessagesApiError, check_auth, check_messages_request, check_version
from workbench.simulator.scenario import Fault, Scenario

__all__ = ["Simulator", "RequestRecord"]

_YIELD_EVERY = 64
"""At pace 0, frames sent between two turns of the event loop."""


@dataclass(frozen=True)
class RequestRecord:
    """What the simulator did with one ``POST /v1/messages`` request."""

    number: int
    """1 for the first ``POST /v1/messages``, counting the SDK's retries."""
    status: int
    stage: str | None = None
    """``plan``, ``phase``, ``final``, ``react``, or ``None`` for a prompt not of the workbench."""
    fault: str | None = None
    """The fault injected, if any."""


@dataclass
class _Counters:
    requests: int = 0
    other: int = 0
    open_streams: int = 0
    history: list[RequestRecord] = field(default_factory=list)


class Simulator:
    """An offline Anthropic Messages API that answers from a scenario and injects faults.

    - ``scenario``: what the model does; ``None`` builds :func:`generic_scenario` per task
      (read from the first user message), varied by ``seed``.
    - ``pace``: content deltas per second when streaming; 0 sends them as fast as possible.
    - ``faults``: extra faults (``Fault`` objects or dicts like ``{"request": 2, "kind": "529"}``),
      added to the scenario's own.
    - ``api_key``: if set, requests must carry exactly this key; otherwise any key will do.
    - ``thinking_types``: the ``thinking.type`` values the model accepts (an older model
      takes only ``("enabled", "disabled")``).
    - ``models``: model ids that exist; ``None`` accepts ``simulated`` and any ``claude-…`` id.
    - ``max_output_tokens``: the largest ``max_tokens`` accepted.
    - ``retry_after_ms``: the delay 429 and 529 answers ask for.
    """

    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        seed: int = 0,
        pace: float = 0.0,
        faults: Iterable[Fault | Mapping[str, Any]] = (),
        api_key: str | None = None,
        thinking_types: Collection[str] = ("adaptive", "enabled", "disabled"),
        models: Sequence[str] | None = None,
        max_output_tokens: int = 64_000,
        retry_after_ms: int = 20,
    ) -> None:
        if pace < 0:
            raise UserError(f"pace must be 0 (no pacing) or a positive number of deltas per second, not {pace}")
        self.scenario = scenario
        self.seed = seed
        self.pace = float(pace)
        self.faults: list[Fault] = [*(scenario.faults if scenario else []), *map(_as_fault, faults)]
        self._api_key = api_key  # kept private and never written into an answer
        self.thinking_types = frozenset(thinking_types)
        self.models = tuple(models) if models is not None else None
        self.max_output_tokens = max_output_tokens
        self.retry_after_ms = retry_after_ms
        self._counters = _Counters()
        self._generic: dict[str, Scenario] = {}

    def __repr__(self) -> str:
        kind = "scenario" if self.scenario else f"generic seed={self.seed}"
        return f"<Simulator {kind} pace={self.pace} faults={len(self.faults)} requests={self.requests}>"

    # --- what tests and tools can look at ---------------------------------------------

    @property
    def requests(self) -> int:
        """How many ``POST /v1/messages`` requests arrived so far (the SDK's retries count)."""
        return self._counters.requests

    @property
    def history(self) -> list[RequestRecord]:
        """One record per ``POST /v1/messages``, in arrival order."""
        return list(self._counters.history)

    @property
    def open_streams(self) -> int:
        """Streaming bodies started and not yet finished or closed."""
        return self._counters.open_streams

    def model_known(self, model: str) -> bool:
        if self.models is not None:
            return model in self.models
        return model == "simulated" or (model.startswith("claude-") and len(model) <= 100)

    def scenario_for(self, task: str) -> Scenario:
        """The scenario that answers ``task``: the given one, or the generic one for the task."""
        if self.scenario is not None:
            return self.scenario
        if task not in self._generic:
            self._generic[task] = generic_scenario(task, self.seed)
        return self._generic[task]

    # --- routing ----------------------------------------------------------------------

    async def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> SimResponse:
        """Answer one HTTP request."""
        headers = {k.lower(): v for k, v in headers.items()}
        route = path.split("?", 1)[0].rstrip("/") or "/"
        method = method.upper()
        if method == "POST" and route == "/v1/messages":
            self._counters.requests += 1
            return await self._messages(self._counters.requests, headers, body)
        self._counters.other += 1
        request_id = api_id("req_", "other", self._counters.other)
        try:
            if method == "POST" and route == "/v1/messages/count_tokens":
                return self._count_tokens(headers, body, request_id)
            if method == "GET" and route == "/v1/models":
                check_auth(headers, self._api_key)
                listed = self.models if self.models is not None else DEFAULT_MODELS
                data = [self.model_info(m) for m in listed]
                page = {"data": data, "has_more": False, "first_id": listed[0] if listed else None,
                        "last_id": listed[-1] if listed else None}  # fmt: skip
                return json_response(200, page, request_id)
            if method == "GET" and route.startswith("/v1/models/"):
                check_auth(headers, self._api_key)
                model = route.removeprefix("/v1/models/")
                if not self.model_known(model):
                    raise MessagesApiError(404, "not_found_error", f"model: {model}")
                return json_response(200, self.model_info(model), request_id)
            raise MessagesApiError(404, "not_found_error", "Not Found")
        except MessagesApiError as err:
            return json_response(err.status, err.body(request_id), request_id)

    def model_info(self, model: str) -> dict[str, Any]:
        """The ``ModelInfo`` of ``model`` as ``GET /v1/models/{id}`` returns it."""
        return model_info(model, thinking_types=self.thinking_types, max_output_tokens=self.max_output_tokens)

    # --- POST /v1/messages ------------------------------------------------------------

    async def _messages(self, number: int, headers: Mapping[str, str], raw: bytes) -> SimResponse:
        request_id = api_id("req_", "messages", self.seed, number)
        fault = next((f for f in self.faults if f.request == number), None)
        try:
            check_auth(headers, self._api_key)
            if fault is not None and fault.kind in ("429", "529"):
                self._record(number, int(fault.kind), None, fault.kind)
                return self._refusal(fault.kind, request_id)
            check_version(headers)
            request = check_messages_request(
                _parse_json(raw),
                model_known=self.model_known,
                thinking_types=self.thinking_types,
                max_output_tokens=self.max_output_tokens,
            )
        except MessagesApiError as err:
            self._record(number, err.status, None, None)
            return json_response(err.status, err.body(request_id), request_id)

        stage, message = answer(request, raw, number=number, seed=self.seed, scenario_for=self.scenario_for)
        kind = fault.kind if fault else None
        if not request.stream:
            return self._whole(number, stage, message, kind, request_id)
        frames = message_frames(message)
        self._record(number, 200, stage, kind)
        headers_out = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache",
                       "request-id": request_id}  # fmt: skip
        return SimResponse(200, headers_out, self._stream(frames, fault))

    def _whole(self, number: int, stage: str | None, message: dict[str, Any], kind: str | None, request_id: str) -> SimResponse:
        """A non-streaming answer; mid-stream faults become their closest whole-response analog."""
        self._record(number, 529 if kind == "midstream_error" else 200, stage, kind)
        if kind == "midstream_error":
            return self._refusal("529", request_id)
        if kind == "drop":
            return SimResponse(200, {"content-type": "application/json", "request-id": request_id}, dropped_body([]))
        return json_response(200, message, request_id)

    def _refusal(self, kind: str, request_id: str) -> SimResponse:
        status, error_type, text = (
            (429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit (simulated).")
            if kind == "429"
            else (529, "overloaded_error", "Overloaded")
        )
        response = json_response(status, MessagesApiError(status, error_type, text).body(request_id), request_id)
        seconds = max(1, -(-self.retry_after_ms // 1000))  # retry-after is whole seconds, rounded up
        response.headers.update(
            {"retry-after-ms": str(self.retry_after_ms), "retry-after": str(seconds), "x-should-retry": "true"}
        )
        return response

    async def _stream(self, frames: list[Frame], fault: Fault | None) -> AsyncIterator[bytes]:
        """The SSE body, one chunk per frame, paced and cut as the fault says."""
        kind = fault.kind if fault else None
        if kind in ("midstream_error", "drop"):
            assert fault is not None
            frames = frames[: min(fault.after_frames, len(frames) - 1)]  # always break before the end
        elif kind == "no_message_stop":
            # Without message_stop, and without the message_delta before it: the stream just ends
            # after the last content block, so the SDK's final message has stop_reason None.
            frames = frames[:-2]
        self._counters.open_streams += 1
        try:
            delay = 1.0 / self.pace if self.pace > 0 else 0.0
            for number, f in enumerate(frames):
                if delay and f.is_delta:
                    await asyncio.sleep(delay)
                elif not delay and number % _YIELD_EVERY == _YIELD_EVERY - 1:
                    # At pace 0 nothing here ever waits: give the loop a turn now and then so
                    # subscribers, other runs and a cancel are not held up for a whole answer.
                    await asyncio.sleep(0)
                yield f.encode()
            if kind == "midstream_error":
                yield frame("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
            elif kind == "drop":
                raise ConnectionDropped("the simulator dropped the connection mid-stream (fault 'drop')")
        finally:
            self._counters.open_streams -= 1

    def _count_tokens(self, headers: Mapping[str, str], raw: bytes, request_id: str) -> SimResponse:
        check_auth(headers, self._api_key)
        check_version(headers)
        body = _parse_json(raw)
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            raise MessagesApiError(400, "invalid_request_error", "messages: Field required")
        prompt = dumps([body.get("system"), body["messages"], body.get("tools")])
        return json_response(200, {"input_tokens": max(1, len(prompt) // 4)}, request_id)

    def _record(self, number: int, status: int, stage: str | None, fault: str | None) -> None:
        self._counters.history.append(RequestRecord(number, status, stage, fault))


def _as_fault(value: Fault | Mapping[str, Any]) -> Fault:
    if isinstance(value, Fault):
        return value
    try:
        return Fault.model_validate(dict(value))
    except (ValidationError, TypeError, ValueError) as err:
        raise UserError(
            f"bad fault {value!r}: give {{'request': N, 'kind': '429' | '529' | 'midstream_error' | 'drop' | "
            f"'no_message_stop', 'afterFrames': K}} ({err.__class__.__name__})"
        ) from None


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise MessagesApiError(400, "invalid_request_error", f"There was an error parsing the body of your request: {err}") from None



"""The simulated Anthropic API: routes, request rules, the turn to answer with, and faults.

:class:`Simulator` knows nothing about sockets: :meth:`Simulator.handle` takes a method,
path, headers and body and returns a :class:`SimResponse` whose body is an async iterator
of chunks (one per server-sent event when streaming). The in-process transport
(:mod:`.transport`) and the HTTP server (:mod:`.server`) only carry those bytes.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from workbench.errors import UserError
from workbench.simulator.request import parse_stage, task_of
from workbench.simulator.generic import chat_turn, generic_scenario
from workbench.simulator.rules import (
    MessagesApiError,
    CheckedRequest,
    check_auth,
    check_messages_request,
    check_version,
)
from workbench.simulator.scenario import Fault, Scenario, Turn, offer_tools, select_turn
from workbench.simulator.frames import (
    Frame,
    dumps,
    frame,
    make_message,
    message_frames,
    redacted_data,
    sign_thinking,
)

__all__ = [
    "Simulator",
    "SimResponse",
    "RequestRecord",
    "ConnectionDropped",
    "DEFAULT_MODELS",
]

DEFAULT_MODELS = ("simulated", "claude-sonnet-4-6", "claude-opus-4-6", "claude-haiku-4-5")
"""Models listed by ``GET /v1/models`` when no list is given."""

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class ConnectionDropped(Exception):
    """Raised by a :class:`SimResponse` body where the simulated connection breaks (fault ``drop``).

    The transport turns it into ``httpx2.RemoteProtocolError``; the HTTP server aborts the
    TCP connection.
    """


@dataclass
class SimResponse:
    """One answer of the simulator: status, headers and the body as an async iterator of chunks."""

    status: int
    headers: dict[str, str]
    body: AsyncIterator[bytes]

    async def read(self) -> bytes:
        """The whole body (convenient in tests; a ``drop`` raises :class:`ConnectionDropped`)."""
        return b"".join([chunk async for chunk in self.body])


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


def _ident(prefix: str, *parts: Any) -> str:
    """A deterministic id in the API's style (``msg_01…``, ``toolu_01…``): 22 base62 characters."""
    number = int.from_bytes(hashlib.sha256("\0".join(map(str, parts)).encode()).digest(), "big")
    chars = []
    for _ in range(22):
        number, rest = divmod(number, 62)
        chars.append(_BASE62[rest])
    return prefix + "01" + "".join(chars)


def _display_name(model: str) -> str:
    if model == "simulated":
        return "Simulated Claude (offline)"
    words = model.removeprefix("claude-").split("-")
    name = [w.capitalize() for w in words if not w.isdigit()]
    version = ".".join(w for w in words if w.isdigit() and len(w) < 8)
    return " ".join(["Claude", *name, version]).strip()


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
        request_id = _ident("req_", "other", self._counters.other)
        try:
            if method == "POST" and route == "/v1/messages/count_tokens":
                return self._count_tokens(headers, body, request_id)
            if method == "GET" and route == "/v1/models":
                check_auth(headers, self._api_key)
                listed = self.models if self.models is not None else DEFAULT_MODELS
                data = [self.model_info(m) for m in listed]
                page = {"data": data, "has_more": False, "first_id": listed[0] if listed else None,
                        "last_id": listed[-1] if listed else None}  # fmt: skip
                return _json(200, page, request_id)
            if method == "GET" and route.startswith("/v1/models/"):
                check_auth(headers, self._api_key)
                model = route.removeprefix("/v1/models/")
                if not self.model_known(model):
                    raise MessagesApiError(404, "not_found_error", f"model: {model}")
                return _json(200, self.model_info(model), request_id)
            raise MessagesApiError(404, "not_found_error", "Not Found")
        except MessagesApiError as err:
            return _json(err.status, err.body(request_id), request_id)

    def model_info(self, model: str) -> dict[str, Any]:
        """The ``ModelInfo`` of ``model`` as ``GET /v1/models/{id}`` returns it."""
        no = {"supported": False}
        types = self.thinking_types
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
            "max_tokens": self.max_output_tokens,
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

    # --- POST /v1/messages ------------------------------------------------------------

    async def _messages(self, number: int, headers: Mapping[str, str], raw: bytes) -> SimResponse:
        request_id = _ident("req_", "messages", self.seed, number)
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
            return _json(err.status, err.body(request_id), request_id)

        stage, message = self._answer(request, number, raw)
        kind = fault.kind if fault else None
        if not request.stream:
            return self._whole(number, stage, message, kind, request_id)
        frames = message_frames(message)
        self._record(number, 200, stage, kind)
        headers_out = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache",
                       "request-id": request_id}  # fmt: skip
        return SimResponse(200, headers_out, self._stream(frames, fault))

    def _answer(self, request: CheckedRequest, number: int, raw: bytes) -> tuple[str | None, dict[str, Any]]:
        """The assistant message answering ``request``, and the stage it belongs to."""
        body = request.body
        messages = body["messages"]
        stage = parse_stage(body.get("system"))
        if stage is None:
            turn = chat_turn(_last_user_text(messages), self.seed)
        else:
            task = task_of(messages)
            index = sum(1 for m in messages if m.get("role") == "assistant")
            turn = select_turn(self.scenario_for(task), stage, index, task)
        turn = offer_tools(turn, request.tool_names)
        message_id = _ident("msg_", self.seed, number, hashlib.sha256(raw).hexdigest())
        content = self._content(turn, message_id, request.thinking)
        prompt = dumps([body.get("system"), messages, body.get("tools")])
        produced = sum(len(b.get("thinking", "")) + len(b.get("text", "")) + len(dumps(b.get("input", ""))) for b in content)
        message = make_message(
            message_id=message_id,
            model=request.model,
            content=content,
            input_tokens=max(1, len(prompt) // 4),
            output_tokens=max(1, produced // 4),
        )
        return (stage.kind if stage else None), message

    @staticmethod
    def _content(turn: Turn, message_id: str, thinking: bool) -> list[dict[str, Any]]:
        content: list[dict[str, Any]] = []
        if thinking and turn.thinking:
            content.append({"type": "thinking", "thinking": turn.thinking, "signature": sign_thinking(turn.thinking)})
        if thinking and turn.redacted_thinking:
            content.append({"type": "redacted_thinking", "data": redacted_data(message_id)})
        if turn.text:
            content.append({"type": "text", "text": turn.text})
        for i, call in enumerate(turn.tool_calls):
            content.append({"type": "tool_use", "id": _ident("toolu_", message_id, i), "name": call.name, "input": call.input})
        return content

    def _whole(self, number: int, stage: str | None, message: dict[str, Any], kind: str | None, request_id: str) -> SimResponse:
        """A non-streaming answer; mid-stream faults become their closest whole-response analog."""
        self._record(number, 529 if kind == "midstream_error" else 200, stage, kind)
        if kind == "midstream_error":
            return self._refusal("529", request_id)
        if kind == "drop":
            return SimResponse(200, {"content-type": "application/json", "request-id": request_id}, _dropped([]))
        return _json(200, message, request_id)

    def _refusal(self, kind: str, request_id: str) -> SimResponse:
        status, error_type, text = (
            (429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit (simulated).")
            if kind == "429"
            else (529, "overloaded_error", "Overloaded")
        )
        response = _json(status, MessagesApiError(status, error_type, text).body(request_id), request_id)
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
        return _json(200, {"input_tokens": max(1, len(prompt) // 4)}, request_id)

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


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        return " ".join(b.get("text", "") for b in content if b.get("type") == "text")
    return ""


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _dropped(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk
    raise ConnectionDropped("the simulator dropped the connection (fault 'drop')")


def _json(status: int, payload: Any, request_id: str) -> SimResponse:
    headers = {"content-type": "application/json", "request-id": request_id}
    return SimResponse(status, headers, _chunks(dumps(payload).encode()))

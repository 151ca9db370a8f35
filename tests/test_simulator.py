"""The offline Anthropic API simulator, exercised through the real ``anthropic`` SDK.

Every SDK test runs twice: in-process through :class:`SimulatorTransport`, and over a real
socket through the aiohttp server (reached via ``ANTHROPIC_BASE_URL``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest

from workbench.agent import prompts
from workbench.errors import UserError
from workbench.simulator import (
    Scenario,
    Simulator,
    SimulatorTransport,
    dump_scenario,
    encode_frames,
    frame,
    generic_scenario,
    load_scenario,
    make_message,
    message_frames,
    parse_scenario,
    serve,
    sign_thinking,
    verify_thinking,
)
from workbench.simulator.__main__ import main as cli_main
from workbench.simulator.frames import (
    redacted_data,
    split_json,
    split_words,
    verify_redacted,
)
from workbench.simulator.generic import task_words

# --- the recorded transcripts (tests/fixtures/anthropic, copied from the Anthropic wire format) ---

FIXTURES = Path(__file__).parent / "fixtures" / "anthropic"
THINKING_THEN_TEXT = (FIXTURES / "thinking_then_text.sse").read_bytes()
TOOL_USE_AFTER_THINKING = (FIXTURES / "tool_use_after_thinking.sse").read_bytes()
REDACTED_THINKING = (FIXTURES / "redacted_thinking.sse").read_bytes()


KEY = "sk-test-simulator-key-0123456789"
MODEL = "claude-sonnet-4-6"
TASK = "Create a landing page for a coffee shop"
WORKSPACE_TOOLS: list[dict[str, Any]] = [
    {"name": name, "description": f"The {name} tool.", "input_schema": {"type": "object", "properties": {}}}
    for name in ("list_files", "read_file", "write_file")
]
HEADERS = {"x-api-key": KEY, "anthropic-version": "2023-06-01", "content-type": "application/json"}

SCENARIO_DATA: dict[str, Any] = {
    "format": "workbench-scenario",
    "version": 1,
    "plan": {
        "goal": "A one-page site for the shop.",
        "phases": [{"name": "Draft", "description": "Write the page."}, {"name": "Check", "description": "Read it."}],
    },
    "phases": [
        [
            {"thinking": "I should write index.html with the hero section.",
             "toolCalls": [{"name": "write_file", "input": {"path": "index.html", "content": "<h1>Hello</h1>"}}]},
            {"thinking": "The file is written.", "text": "Wrote index.html."},
        ],
        [{"redactedThinking": True, "text": "Done."}],
    ],
    "react": [{"text": "All done in one go."}],
    "final": {"thinking": "Summarise for the user.", "text": "Here is the plan for the page."},
}  # fmt: skip


def scenario() -> Scenario:
    return parse_scenario(json.loads(json.dumps(SCENARIO_DATA)))


def body(system: str | None, messages: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    """A valid ``POST /v1/messages`` body with adaptive thinking and the workspace tools."""
    data: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 8000,
        "messages": messages or [{"role": "user", "content": prompts.task_message(TASK)}],
        "thinking": {"type": "adaptive"},
        "tools": WORKSPACE_TOOLS,
    }
    if system is not None:
        data["system"] = system
    data.update(extra)
    return {k: v for k, v in data.items() if v is not None}


async def post(sim: Simulator, data: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """POST to the simulator directly; the answer's status and parsed JSON (or SSE bytes)."""
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    answer = await sim.handle("POST", "/v1/messages", HEADERS if headers is None else headers, raw)
    content = await answer.read()
    if answer.headers["content-type"].startswith("application/json"):
        return answer.status, json.loads(content)
    return answer.status, content


@contextlib.asynccontextmanager
async def connect(sim: Simulator, via: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[anthropic.AsyncAnthropic]:
    """An SDK client talking to ``sim`` in-process (``transport``) or over a socket (``server``)."""
    if via == "transport":
        http = httpx2.AsyncClient(transport=SimulatorTransport(sim))
        client = anthropic.AsyncAnthropic(api_key=KEY, base_url="http://simulator.invalid", http_client=http)
        try:
            yield client
        finally:
            await client.close()
        return
    async with serve(sim) as base_url:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", base_url)  # how any Anthropic client finds it
        client = anthropic.AsyncAnthropic(api_key=KEY)
        assert str(client.base_url).rstrip("/") == base_url
        try:
            yield client
        finally:
            await client.close()


async def stream(client: anthropic.AsyncAnthropic, data: dict[str, Any]) -> tuple[list[str], Any]:
    """Stream with ``messages.stream``; the SDK's event types and its final message."""
    async with client.messages.stream(**data) as s:
        kinds = [event.type async for event in s]
        return kinds, await s.get_final_message()


async def raw_events(client: anthropic.AsyncAnthropic, data: dict[str, Any]) -> list[tuple[str, str | None]]:
    """The raw stream events (``stream=True``), as ``(event type, delta type)``."""
    events = await client.messages.create(**data, stream=True)
    return [(e.type, getattr(getattr(e, "delta", None), "type", None)) async for e in events]


def sse_payloads(raw: bytes) -> list[dict[str, Any]]:
    """The JSON of every ``data:`` line of an SSE body."""
    return [json.loads(line[len(b"data: ") :]) for line in raw.split(b"\n") if line.startswith(b"data: ")]


def phase(index: int, count: int = 2, name: str = "Draft") -> str:
    return prompts.phase_system(index, count, name)


VIA = pytest.mark.parametrize("via", ["transport", "server"])


# --- wire: byte-exact transcripts -----------------------------------------------------------


def test_frame_is_event_line_compact_data_line_and_blank_line() -> None:
    assert frame("ping", {"type": "ping"}) == b'event: ping\ndata: {"type":"ping"}\n\n'
    assert frame("x", {"a": [1, {"b": None}], "t": "é"}) == 'event: x\ndata: {"a":[1,{"b":null}],"t":"é"}\n\n'.encode()


def test_encoder_reproduces_thinking_then_text_fixture() -> None:
    content = [
        {"type": "thinking", "thinking": "The user wants a landing page. I will outline sections first: hero, "
         "features, call to action.", "signature": "EqQBCgIYAhIMsig0001"},
        {"type": "text", "text": "Here is the plan for the page."},
    ]  # fmt: skip
    message = make_message(message_id="msg_01A", model=MODEL, content=content, input_tokens=512, output_tokens=64)
    pieces = {
        0: ["The user wants a landing page. ", "I will outline sections first: hero, features, call to action."],
        1: ["Here is the plan", " for the page."],
    }
    assert encode_frames(message_frames(message, pieces=pieces)) == THINKING_THEN_TEXT


def test_encoder_reproduces_tool_use_after_thinking_fixture() -> None:
    content = [
        {"type": "thinking", "thinking": "I should write index.html with the hero section.", "signature": "EqQBCgIYAhIMsig0002"},
        {"type": "tool_use", "id": "toolu_01XYZ", "name": "write_file", "input": {"path": "index.html", "content": "<h1>Hello</h1>"}},
    ]  # fmt: skip
    message = make_message(message_id="msg_01B", model=MODEL, content=content, input_tokens=512, output_tokens=91)
    assert message["stop_reason"] == "tool_use"
    pieces = {0: ["I should write index.html with the hero section."], 1: ['{"path": "index.', 'html", "content": "<h1>Hello</h1>"}']}
    assert encode_frames(message_frames(message, pieces=pieces, ping=False)) == TOOL_USE_AFTER_THINKING


def test_encoder_reproduces_redacted_thinking_fixture() -> None:
    content = [{"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix0LafB"}, {"type": "text", "text": "Done."}]
    message = make_message(message_id="msg_01C", model=MODEL, content=content, input_tokens=512, output_tokens=12)
    assert encode_frames(message_frames(message, ping=False)) == REDACTED_THINKING


def test_default_splitting_streams_words_and_json_pieces_that_concatenate_exactly() -> None:
    text = "  Hello  world,\nthis is\ta test. "
    assert split_words(text) == ["  Hello", "  world,", "\nthis", " is", "\ta", " test.", " "]
    assert "".join(split_words(text)) == text and split_words("") == []
    assert split_json("{}") == ["{", "}"]
    big = json.dumps({"content": "x" * 5000})
    assert "".join(split_json(big)) == big and len(split_json(big)) >= 2
    content = [{"type": "tool_use", "id": "toolu_1", "name": "w", "input": {"path": "a.md"}}]
    frames = message_frames(make_message(message_id="m", model=MODEL, content=content, input_tokens=3, output_tokens=4))
    partials = [f.payload["delta"]["partial_json"] for f in frames if f.is_delta]
    assert partials[0] == "" and len(partials) >= 3 and json.loads("".join(partials)) == {"path": "a.md"}
    assert [f.event for f in frames] == ["message_start", "content_block_start", "ping"] + ["content_block_delta"] * len(
        partials
    ) + ["content_block_stop", "message_delta", "message_stop"]


def test_signatures_are_deterministic_and_bound_to_the_exact_text() -> None:
    assert sign_thinking("abc") == sign_thinking("abc") != sign_thinking("abc ")
    assert verify_thinking("abc", sign_thinking("abc")) and not verify_thinking("abd", sign_thinking("abc"))
    data = redacted_data("seed")
    assert verify_redacted(data) and not verify_redacted(data[:-4] + "AAAA") and not verify_redacted("%%%")


# --- the real SDK, in-process and over a socket --------------------------------------------------


@VIA
async def test_sdk_parses_a_thinking_and_text_turn(via: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sim = Simulator(scenario())
    async with connect(sim, via, monkeypatch) as client:
        kinds, final = await stream(client, body(prompts.final_system()))
        raw = await raw_events(client, body(prompts.final_system()))
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert final.content[0].thinking == "Summarise for the user."
    assert final.content[0].signature == sign_thinking("Summarise for the user.")
    assert final.content[1].text == "Here is the plan for the page."
    assert (final.stop_reason, final.model, final.role) == ("end_turn", MODEL, "assistant")
    assert final.id.startswith("msg_01") and final.usage.input_tokens > 100 and final.usage.output_tokens >= 1
    # The SDK's own events: it adds "thinking", "signature" and "text" events to the raw ones.
    assert kinds == [
        "message_start",
        "content_block_start", *["content_block_delta", "thinking"] * 4, "content_block_delta", "signature",
        "content_block_stop",
        "content_block_start", *["content_block_delta", "text"] * 7, "content_block_stop",
        "message_delta", "message_stop",
    ]  # fmt: skip
    assert raw == [
        ("message_start", None),
        ("content_block_start", None), *[("content_block_delta", "thinking_delta")] * 4,
        ("content_block_delta", "signature_delta"), ("content_block_stop", None),
        ("content_block_start", None), *[("content_block_delta", "text_delta")] * 7, ("content_block_stop", None),
        ("message_delta", None), ("message_stop", None),
    ]  # fmt: skip
    assert sim.requests == 2 and [r.stage for r in sim.history] == ["final", "final"]


@VIA
async def test_sdk_parses_a_thinking_and_tool_use_turn_and_the_conversation_goes_on(
    via: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = Simulator(scenario())
    opening = {"role": "user", "content": "Task: make the page\n\nNow do phase 1: Draft."}
    async with connect(sim, via, monkeypatch) as client:
        _, first = await stream(client, body(phase(0), [opening]))
        assert [b.type for b in first.content] == ["thinking", "tool_use"]
        thinking, call = first.content
        assert thinking.thinking == "I should write index.html with the hero section."
        assert thinking.signature == sign_thinking(thinking.thinking)
        assert (call.name, call.input) == ("write_file", {"path": "index.html", "content": "<h1>Hello</h1>"})
        assert call.id.startswith("toolu_01") and first.stop_reason == "tool_use"
        # The whole assistant message goes back unchanged, then the tool result: accepted.
        history = [
            opening,
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "ok"}]},
        ]
        _, second = await stream(client, body(phase(0), history))
        assert [(b.type, getattr(b, "text", None)) for b in second.content] == [("thinking", None), ("text", "Wrote index.html.")]
        assert second.stop_reason == "end_turn"
        # Asked again past the end of the phase's turns: the last turn, final (text, no tools).
        history += [
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in second.content]},
            {"role": "user", "content": "Anything else?"},
        ]
        _, third = await stream(client, body(phase(0), history))
        assert [b.type for b in third.content] == ["thinking", "text"] and third.content[1].text == "Wrote index.html."
    assert [(r.number, r.status, r.stage) for r in sim.history] == [(1, 200, "phase"), (2, 200, "phase"), (3, 200, "phase")]


@VIA
async def test_sdk_parses_redacted_thinking_which_can_be_sent_back(via: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sim = Simulator(scenario())
    async with connect(sim, via, monkeypatch) as client:
        _, final = await stream(client, body(phase(1, name="Check")))
        assert [b.type for b in final.content] == ["redacted_thinking", "text"]
        assert verify_redacted(final.content[0].data) and final.content[1].text == "Done."
        again = [
            {"role": "user", "content": "Task: x"},
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in final.content]},
            {"role": "user", "content": "and?"},
        ]
        _, _ = await stream(client, body(phase(1, name="Check"), again))
        tampered = json.loads(json.dumps(again))
        tampered[1]["content"][0]["data"] = "QUJD" + tampered[1]["content"][0]["data"][4:]
        with pytest.raises(anthropic.BadRequestError) as caught:
            await stream(client, body(phase(1, name="Check"), tampered))
    assert caught.value.api_message == "messages.1.content.0: Invalid `data` in `redacted_thinking` block"


@VIA
async def test_plan_call_submits_the_plan_with_the_plan_tool(via: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sim = Simulator(scenario())
    async with connect(sim, via, monkeypatch) as client:
        _, plan = await stream(client, body(prompts.plan_system(), tools=[prompts.PLAN_TOOL]))
        _, no_tool = await stream(client, body(prompts.plan_system(), tools=None))
    assert [b.type for b in plan.content] == ["thinking", "tool_use"]
    assert plan.content[1].name == prompts.PLAN_TOOL_NAME
    assert plan.content[1].input == {
        "goal": "A one-page site for the shop.",
        "phases": [{"name": "Draft", "description": "Write the page."}, {"name": "Check", "description": "Read it."}],
    }
    assert "2 phases" in plan.content[0].thinking and "Draft, Check" in plan.content[0].thinking
    # Without the tool on offer the plan comes as text instead of a call.
    assert [b.type for b in no_tool.content] == ["thinking", "text"] and no_tool.stop_reason == "end_turn"
    assert no_tool.content[1].text == "Goal: A one-page site for the shop.\n\nPlan:\n1. Draft: Write the page.\n2. Check: Read it."


async def test_a_request_without_thinking_gets_no_thinking_blocks_and_needs_none_back() -> None:
    sim = Simulator(scenario())
    status, answer = await post(sim, body(phase(0), thinking=None, stream=False))
    assert status == 200 and [b["type"] for b in answer["content"]] == ["tool_use"]
    history = [
        {"role": "user", "content": "Task: x"},
        {"role": "assistant", "content": answer["content"]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": answer["content"][0]["id"], "content": "ok"}]},
    ]
    status, answer = await post(sim, body(phase(0), history, thinking=None, stream=False))
    assert status == 200 and answer["content"] == [{"type": "text", "text": "Wrote index.html."}]


async def test_non_streaming_answer_is_the_whole_message() -> None:
    sim = Simulator(scenario())
    http = httpx2.AsyncClient(transport=SimulatorTransport(sim))
    async with anthropic.AsyncAnthropic(api_key=KEY, base_url="http://simulator.invalid", http_client=http) as client:
        message = await client.messages.create(**body(prompts.final_system()))
    assert [b.type for b in message.content] == ["thinking", "text"]
    assert message.content[1].text == "Here is the plan for the page." and message.stop_reason == "end_turn"


async def test_a_prompt_that_is_not_the_workbench_s_gets_a_short_generic_answer() -> None:
    sim = Simulator(scenario())
    status, answer = await post(sim, body("You are a helpful assistant.", [{"role": "user", "content": "What is 2+2?"}], stream=False))
    assert status == 200 and [b["type"] for b in answer["content"]] == ["thinking", "text"]
    assert "What is 2+2?" in answer["content"][1]["text"] and "simulator" in answer["content"][1]["text"]
    status, answer = await post(sim, body(None, [{"role": "user", "content": "Hi"}], stream=False, thinking=None))
    assert status == 200 and [b["type"] for b in answer["content"]] == ["text"]
    assert [r.stage for r in sim.history] == [None, None]


# --- models -------------------------------------------------------------------------------


@VIA
async def test_models_api_reports_thinking_types(via: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sim = Simulator()
    older = Simulator(thinking_types=("enabled", "disabled"), models=["claude-old-1"])
    async with connect(sim, via, monkeypatch) as client:
        info = await client.models.retrieve(MODEL)
        simulated = await client.models.retrieve("simulated")
        listed = [m.id async for m in client.models.list()]
        with pytest.raises(anthropic.NotFoundError) as missing:
            await client.models.retrieve("gpt-4")
    async with connect(older, "transport", monkeypatch) as client:
        old = await client.models.retrieve("claude-old-1")
        with pytest.raises(anthropic.BadRequestError) as refused:
            await client.messages.create(**body(prompts.final_system(), model="claude-old-1"))
        with pytest.raises(anthropic.NotFoundError):
            await client.messages.create(**body(prompts.final_system(), thinking={"type": "enabled", "budget_tokens": 2048}))
        _, ok = await stream(client, body(prompts.final_system(), model="claude-old-1", thinking={"type": "enabled", "budget_tokens": 2048}))
    assert (info.id, info.type, info.display_name) == (MODEL, "model", "Claude Sonnet 4.6")
    types = info.capabilities.thinking.types
    assert (types.adaptive.supported, types.enabled.supported, types.between_tools.supported) == (True, True, False)
    assert simulated.capabilities.thinking.supported
    assert listed == ["simulated", "claude-sonnet-4-6", "claude-opus-4-6", "claude-haiku-4-5"]
    assert missing.value.type == "not_found_error" and missing.value.api_message == "model: gpt-4"
    old_types = old.capabilities.thinking.types
    assert (old_types.adaptive.supported, old_types.enabled.supported) == (False, True)
    assert refused.value.api_message == "thinking.type.adaptive is not supported for this model. Use thinking.type.enabled instead."
    assert [b.type for b in ok.content] == ["thinking", "text"] and ok.model == "claude-old-1"
    assert sim.requests == 0  # only POST /v1/messages is counted


# --- faults, observed through the SDK ------------------------------------------------------------


@VIA
@pytest.mark.parametrize("kind", ["429", "529"])
async def test_429_and_529_are_retried_by_the_sdk_itself(via: str, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sim = Simulator(scenario(), faults=[{"request": 1, "kind": kind}])
    async with connect(sim, via, monkeypatch) as client:
        started = time.monotonic()
        _, final = await stream(client, body(prompts.final_system()))
        elapsed = time.monotonic() - started
    assert final.content[1].text == "Here is the plan for the page."
    assert [(r.number, r.status, r.fault) for r in sim.history] == [(1, int(kind), kind), (2, 200, None)]
    assert elapsed < 0.9  # retry-after-ms: 20 was honoured (the SDK's own backoff starts at 0.5 s + jitter)


async def test_429_answer_carries_retry_headers_and_the_error_shape() -> None:
    sim = Simulator(faults=[{"request": 1, "kind": 429}, {"request": 2, "kind": "529"}], retry_after_ms=1500)
    answer = await sim.handle("POST", "/v1/messages", HEADERS, json.dumps(body(prompts.final_system())).encode())
    assert answer.status == 429
    assert (answer.headers["retry-after-ms"], answer.headers["retry-after"]) == ("1500", "2")
    payload = json.loads(await answer.read())
    assert payload["error"] == {"type": "rate_limit_error", "message": payload["error"]["message"]}
    status, payload = await post(sim, body(prompts.final_system()))
    assert status == 529 and payload["error"] == {"type": "overloaded_error", "message": "Overloaded"}


@VIA
async def test_sdk_gives_up_after_its_retries(via: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sim = Simulator(scenario(), faults=[{"request": n, "kind": "529"} for n in (1, 2, 3)])
    async with connect(sim, via, monkeypatch) as client:
        with pytest.raises(anthropic.OverloadedError) as caught:
            await stream(client, body(prompts.final_system()))
    assert caught.value.status_code == 529 and sim.requests == 3  # one try and the SDK's 2 retries


@VIA
async def test_midstream_error_raises_api_status_error_and_is_not_retried(via: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sim = Simulator(scenario(), faults=[{"request": 1, "kind": "midstream_error", "afterFrames": 4}])
    seen: list[str] = []
    async with connect(sim, via, monkeypatch) as client:
        with pytest.raises(anthropic.APIStatusError) as caught:
            async with client.messages.stream(**body(prompts.final_system())) as s:
                async for event in s:
                    seen.append(event.type)
    assert type(caught.value) is anthropic.APIStatusError  # status 200 maps to no subclass
    assert (caught.value.status_code, caught.value.type, caught.value.api_message) == (200, "overloaded_error", "Overloaded")
    # message_start, content_block_start, ping (skipped by the SDK), one thinking delta, then the error
    assert seen == ["message_start", "content_block_start", "content_block_delta", "thinking"]
    assert sim.requests == 1


async def test_midstream_error_frames_on_the_wire() -> None:
    sim = Simulator(scenario(), faults=[{"request": 1, "kind": "midstream_error", "afterFrames": 3}])
    status, raw = await post(sim, body(prompts.final_system(), stream=True))
    events = [line.removeprefix(b"event: ") for line in raw.split(b"\n") if line.startswith(b"event: ")]
    assert status == 200 and events == [b"message_start", b"content_block_start", b"ping", b"error"]
    assert raw.endswith(b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n')


@VIA
async def test_drop_raises_the_http_library_protocol_error(via: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sim = Simulator(scenario(), faults=[{"request": 1, "kind": "drop", "afterFrames": 5}])
    seen: list[str] = []
    async with connect(sim, via, monkeypatch) as client:
        with pytest.raises(httpx2.RemoteProtocolError):  # not wrapped by the SDK, not an anthropic error
            async with client.messages.stream(**body(prompts.final_system())) as s:
                async for event in s:
                    seen.append(event.type)
        # The client still works after the broken connection.
        _, final = await stream(client, body(prompts.final_system()))
    assert seen == ["message_start", "content_block_start", "content_block_delta", "thinking", "content_block_delta", "thinking"]
    assert final.stop_reason == "end_turn" and sim.requests == 2


@VIA
async def test_a_dropped_non_streaming_request_is_retried_by_the_sdk(via: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Without streaming the SDK reads the body inside its retry loop, so the broken
    # connection becomes an APIConnectionError there and is retried.
    sim = Simulator(scenario(), faults=[{"request": 1, "kind": "drop"}])
    async with connect(sim, via, monkeypatch) as client:
        message = await client.messages.create(**body(prompts.final_system()))
    assert message.content[1].text == "Here is the plan for the page."
    assert [(r.number, r.fault) for r in sim.history] == [(1, "drop"), (2, None)]


@VIA
async def test_no_message_stop_ends_quietly_with_stop_reason_none(via: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sim = Simulator(scenario(), faults=[{"request": 1, "kind": "no_message_stop"}])
    async with connect(sim, via, monkeypatch) as client:
        kinds, final = await stream(client, body(prompts.final_system()))
    assert final.stop_reason is None
    assert [b.type for b in final.content] == ["thinking", "text"] and final.content[1].text == "Here is the plan for the page."
    assert kinds[-1] == "content_block_stop" and "message_stop" not in kinds and "message_delta" not in kinds


async def test_faults_come_from_the_scenario_file_too(tmp_path: Path) -> None:
    data = dict(SCENARIO_DATA, faults=[{"request": 2, "kind": "529"}])
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data))
    sim = Simulator(load_scenario(path), faults=[{"request": 1, "kind": "429"}])
    statuses = [(await post(sim, body(prompts.final_system(), stream=False)))[0] for _ in range(3)]
    assert statuses == [429, 529, 200]


def test_a_bad_fault_is_a_user_error() -> None:
    with pytest.raises(UserError, match="bad fault"):
        Simulator(faults=[{"request": 1, "kind": "explode"}])


# --- request rules ----------------------------------------------------------------------------


def _tool_exchange(assistant: list[dict[str, Any]], results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"role": "user", "content": "Task: x"}, {"role": "assistant", "content": assistant}, {"role": "user", "content": results}]


async def _first_turn(sim: Simulator) -> list[dict[str, Any]]:
    status, answer = await post(sim, body(phase(0), stream=False))
    assert status == 200
    return answer["content"]


THINKING_FIRST = (
    "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`. When `thinking` "
    "is enabled, a final `assistant` message must start with a thinking block (preceeding the lastmost set of "
    "`tool_use` and `tool_result` blocks). We recommend you include thinking blocks from previous turns. To avoid "
    "this requirement, disable `thinking`. Please consult our documentation at "
    "https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
)
BUDGET = (
    "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at "
    "https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size"
)


def _without(key: str) -> Callable[[dict[str, Any], list[dict[str, Any]]], dict[str, Any]]:
    return lambda b, _: {k: v for k, v in b.items() if k != key}


def _set(**changes: Any) -> Callable[[dict[str, Any], list[dict[str, Any]]], dict[str, Any]]:
    return lambda b, _: {**b, **changes}


def _history(make: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> Callable[..., dict[str, Any]]:
    return lambda b, turn: {**b, "messages": make(json.loads(json.dumps(turn)))}


def _result(turn: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": turn[1]["id"], "content": "ok"}


RULES: list[tuple[str, Callable[..., dict[str, Any]], int, str, str]] = [
    ("no model", _without("model"), 400, "invalid_request_error", "model: Field required"),
    ("model not a string", _set(model=5), 400, "invalid_request_error", "model: Input should be a valid string"),
    ("unknown model", _set(model="gpt-4"), 404, "not_found_error", "model: gpt-4"),
    ("no max_tokens", _without("max_tokens"), 400, "invalid_request_error", "max_tokens: Field required"),
    ("max_tokens not int", _set(max_tokens="lots"), 400, "invalid_request_error", "max_tokens: Input should be a valid integer"),
    ("max_tokens zero", _set(max_tokens=0), 400, "invalid_request_error", "max_tokens: Input should be greater than or equal to 1"),
    ("max_tokens too big", _set(max_tokens=10**6), 400, "invalid_request_error",
     "max_tokens: 1000000 > 64000, which is the maximum allowed number of output tokens for claude-sonnet-4-6"),
    ("no messages", _without("messages"), 400, "invalid_request_error", "messages: Field required"),
    ("empty messages", _set(messages=[]), 400, "invalid_request_error", "messages: at least one message is required"),
    ("assistant first", _set(messages=[{"role": "assistant", "content": "hi"}, {"role": "user", "content": "yo"}]),
     400, "invalid_request_error", 'messages: first message must use the "user" role'),
    ("roles repeat", _set(messages=[{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]), 400,
     "invalid_request_error", 'messages: roles must alternate between "user" and "assistant", but found multiple "user" roles in a row'),
    ("bad role", _set(messages=[{"role": "system", "content": "a"}]), 400, "invalid_request_error",
     "messages.0.role: Input should be 'user' or 'assistant'"),
    ("budget too small", _set(thinking={"type": "enabled", "budget_tokens": 512}), 400, "invalid_request_error",
     "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"),
    ("budget not below max_tokens", _set(thinking={"type": "enabled", "budget_tokens": 8000}), 400, "invalid_request_error", BUDGET),
    ("unknown thinking type", _set(thinking={"type": "sometimes"}), 400, "invalid_request_error",
     ("thinking: Input tag 'sometimes' found using 'type' does not match any of the expected tags: "
      "'enabled', 'disabled', 'adaptive', 'between_tools'")),
    ("unsupported thinking type", _set(thinking={"type": "between_tools"}), 400, "invalid_request_error",
     "thinking.type.between_tools is not supported for this model. Use thinking.type.adaptive or thinking.type.enabled instead."),
    ("forced tool use with thinking", _set(tool_choice={"type": "any"}), 400, "invalid_request_error",
     "Thinking may not be enabled when tool_choice forces tool use."),
    ("named tool with thinking", _set(tool_choice={"type": "tool", "name": "read_file"}), 400, "invalid_request_error",
     "Thinking may not be enabled when tool_choice forces tool use."),
    ("temperature with thinking", _set(temperature=0.2), 400, "invalid_request_error",
     "`temperature` may only be set to 1 when thinking is enabled or in adaptive mode."),
    ("tool_use without its thinking block", _history(lambda t: _tool_exchange(t[1:], [_result(t)])), 400,
     "invalid_request_error", THINKING_FIRST),
    ("thinking text changed", _history(lambda t: _tool_exchange([{**t[0], "thinking": t[0]["thinking"] + "!"}, t[1]], [_result(t)])),
     400, "invalid_request_error", "messages.1.content.0: Invalid `signature` in `thinking` block"),
    ("signature changed", _history(lambda t: _tool_exchange([{**t[0], "signature": sign_thinking("other")}, t[1]], [_result(t)])),
     400, "invalid_request_error", "messages.1.content.0: Invalid `signature` in `thinking` block"),
    ("tool_use not answered", _history(lambda t: _tool_exchange(t, [{"type": "text", "text": "go on"}])), 400,
     "invalid_request_error", ("messages.2: `tool_use` ids were found without `tool_result` blocks immediately after: "
     "{id}. Each `tool_use` block must have a corresponding `tool_result` block in the next message.")),
    ("tool_result after text", _history(lambda t: _tool_exchange(t, [{"type": "text", "text": "here"}, _result(t)])), 400,
     "invalid_request_error", "messages.2: `tool_result` blocks for {id} must come first in the message content, before any other content."),
    ("tool_result for an unknown id", _history(lambda t: _tool_exchange(t, [_result(t), {"type": "tool_result", "tool_use_id": "toolu_nope", "content": ""}])),
     400, "invalid_request_error", ("messages.2.content.1: unexpected `tool_use_id` found in `tool_result` blocks: toolu_nope. "
     "Each `tool_result` block must have a corresponding `tool_use` block in the previous message.")),
]  # fmt: skip


@pytest.mark.parametrize(("case", "mutate", "status", "error_type", "message"), RULES, ids=[r[0] for r in RULES])
async def test_request_rules(case: str, mutate: Callable[..., dict[str, Any]], status: int, error_type: str, message: str) -> None:
    sim = Simulator(scenario())
    turn = await _first_turn(sim)
    got_status, payload = await post(sim, mutate(body(phase(0)), turn))
    tool_id = turn[1]["id"]
    assert got_status == status
    assert payload == {
        "type": "error",
        "error": {"type": error_type, "message": message.replace("{id}", tool_id)},
        "request_id": payload["request_id"],
    }
    assert payload["request_id"].startswith("req_")


async def test_history_sent_back_unchanged_passes_every_rule() -> None:
    sim = Simulator(scenario())
    turn = await _first_turn(sim)
    status, answer = await post(sim, body(phase(0), _tool_exchange(turn, [_result(turn), {"type": "text", "text": "note"}]), stream=False))
    assert status == 200 and answer["content"][-1] == {"type": "text", "text": "Wrote index.html."}


async def test_enabled_thinking_with_budget_passes_and_an_older_model_refuses_adaptive() -> None:
    status, _ = await post(Simulator(), body(prompts.final_system(), thinking={"type": "enabled", "budget_tokens": 4096}))
    assert status == 200
    older = Simulator(thinking_types=("enabled", "disabled"))
    status, payload = await post(older, body(prompts.final_system()))
    assert status == 400 and payload["error"]["message"] == (
        "thinking.type.adaptive is not supported for this model. Use thinking.type.enabled instead."
    )


async def test_headers_body_and_routes() -> None:
    sim = Simulator(api_key=KEY)
    data = json.dumps(body(prompts.final_system())).encode()
    for headers, message in [
        ({"anthropic-version": "2023-06-01"}, "x-api-key header is required"),
        ({"x-api-key": "sk-wrong-key", "anthropic-version": "2023-06-01"}, "invalid x-api-key"),
        ({"authorization": "Bearer sk-also-wrong", "anthropic-version": "2023-06-01"}, "invalid x-api-key"),
    ]:
        answer = await sim.handle("POST", "/v1/messages", headers, data)
        raw = await answer.read()
        assert answer.status == 401 and json.loads(raw)["error"] == {"type": "authentication_error", "message": message}
        assert b"sk-" not in raw  # no key, right or wrong, is ever echoed
    bearer = await sim.handle("POST", "/v1/messages", {"authorization": f"Bearer {KEY}", "anthropic-version": "2023-06-01"}, data)
    assert bearer.status == 200 and KEY.encode() not in await bearer.read()
    status, payload = await post(sim, data, {"x-api-key": KEY})
    assert status == 400 and payload["error"]["message"] == "anthropic-version: header is required"
    status, payload = await post(sim, b'{"model": ')
    assert status == 400 and payload["error"]["message"].startswith("There was an error parsing the body of your request")
    missing = await sim.handle("GET", "/v1/complete", HEADERS, b"")
    assert missing.status == 404 and json.loads(await missing.read())["error"] == {"type": "not_found_error", "message": "Not Found"}
    counted = await sim.handle("POST", "/v1/messages/count_tokens", HEADERS, data)
    assert counted.status == 200 and json.loads(await counted.read())["input_tokens"] > 0
    assert sim.requests == 6  # every POST /v1/messages (even refused ones) and nothing else


# --- the generic scenario -------------------------------------------------------------------


def test_generic_scenario_names_phases_from_the_task() -> None:
    coffee = generic_scenario(TASK, seed=0)
    assert [p.name for p in coffee.plan.phases] == [
        "Understand the landing page brief", "Gather coffee shop details", "Outline the page",
        "Write the landing page", "Review and polish",
    ]  # fmt: skip
    assert coffee.plan.goal == "Create a landing page for a coffee shop, saved as index.html in the workspace."
    trip = generic_scenario("Plan a three-day trip to Lisbon", seed=1)
    assert [p.name for p in trip.plan.phases] == [
        "Understand the three-day trip brief", "Outline the trip", "Plan the three-day trip", "Review and polish",
    ]  # fmt: skip
    for task in (TASK, "Plan a three-day trip to Lisbon", "Write a short poem about autumn leaves", "How do vaccines work?"):
        for seed in range(6):
            assert 3 <= len(generic_scenario(task, seed).plan.phases) <= 5
    assert task_words("Research the history of tea").context == "tea"
    assert task_words("Write a short poem about autumn leaves").output == "short-poem.txt"


@pytest.mark.parametrize("task", [TASK, "Plan a three-day trip to Lisbon", "Write a short poem about autumn leaves", ""])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_generic_scenario_is_a_plausible_script(task: str, seed: int) -> None:
    s = generic_scenario(task, seed)
    written: set[str] = set()
    for turns in [*s.phases, s.react]:
        assert 2 <= len(turns) <= 5
        assert turns[-1].text and not turns[-1].tool_calls  # each stage ends with a summary
        for turn in turns:
            assert turn.thinking and turn.thinking.count(". ") >= 2  # several sentences
            for call in turn.tool_calls:
                assert call.name in {"list_files", "read_file", "write_file"}
                if call.name == "write_file":
                    assert call.input["content"].strip() and not call.input["path"].startswith("/")
                    written.add(call.input["path"])
                elif call.name == "read_file":
                    assert call.input["path"] in written  # only reads what it wrote before
                else:
                    assert call.input == {"path": "."}
    assert all(2 <= len(turns) <= 3 for turns in s.phases)
    assert task.lower().split(" ")[-1] in s.phases[0][0].thinking.lower()  # mentions the task
    assert s.final.text and not s.final.tool_calls and task_words(task).output in s.final.text


async def test_generic_runs_are_deterministic_for_task_and_seed() -> None:
    async def transcript(seed: int) -> bytes:
        sim = Simulator(seed=seed)
        out = b""
        for system in (prompts.plan_system(), phase(0, 4, "x"), phase(3, 4, "y"), prompts.final_system()):
            status, raw = await post(sim, body(system, stream=True, tools=[*WORKSPACE_TOOLS, prompts.PLAN_TOOL]))
            assert status == 200
            out += raw
        return out

    first, again, other = await transcript(0), await transcript(0), await transcript(1)
    assert first == again and first != other
    # The plan call's tool input, put back together from its input_json_delta pieces.
    plan = "".join(p["delta"].get("partial_json", "") for p in sse_payloads(first.split(b"event: message_stop")[0]) if "delta" in p)
    assert [phase["name"] for phase in json.loads(plan)["phases"]] == [p.name for p in generic_scenario(TASK, 0).plan.phases]


async def test_tools_not_offered_become_text() -> None:
    sim = Simulator()
    status, answer = await post(sim, body(phase(0, 4, "Understand"), tools=None, stream=False))
    assert status == 200 and [b["type"] for b in answer["content"]] == ["thinking", "text"]
    assert "list the files" in answer["content"][1]["text"] and answer["stop_reason"] == "end_turn"


# --- pacing and cancellation --------------------------------------------------------------------------


async def test_pace_spaces_the_deltas() -> None:
    words = " ".join(f"w{i}" for i in range(20))
    paced = Simulator(parse_scenario(dict(SCENARIO_DATA, final={"text": words})), pace=50)
    started = time.monotonic()
    status, raw = await post(paced, body(prompts.final_system(), thinking=None, stream=True))
    elapsed = time.monotonic() - started
    assert status == 200 and raw.count(b"text_delta") == 20
    assert elapsed >= 0.3  # 20 deltas at 50 per second
    started = time.monotonic()
    await post(Simulator(parse_scenario(dict(SCENARIO_DATA, final={"text": words}))), body(prompts.final_system(), stream=True))
    assert time.monotonic() - started < 0.2  # pace 0: no sleeping


async def test_cancelling_the_consumer_stops_the_stream_promptly() -> None:
    sim = Simulator(scenario(), pace=5)  # 0.2 s per delta: the whole answer would take seconds
    http = httpx2.AsyncClient(transport=SimulatorTransport(sim))
    client = anthropic.AsyncAnthropic(api_key=KEY, base_url="http://simulator.invalid", http_client=http)
    first_delta = asyncio.Event()

    async def consume() -> None:
        async with client.messages.stream(**body(prompts.final_system())) as s:
            async for event in s:
                if event.type == "content_block_delta":
                    first_delta.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first_delta.wait(), 2)
    assert sim.open_streams == 1
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 0.1 and sim.open_streams == 0
    await client.close()


# --- scenario files ---------------------------------------------------------------------------------


def test_scenario_files_load_and_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "coffee.json"
    path.write_text(dump_scenario(generic_scenario(TASK, 3)))
    assert load_scenario(path) == generic_scenario(TASK, 3)
    assert json.loads(path.read_text())["phases"][0][0]["toolCalls"][0] == {"name": "list_files", "input": {"path": "."}}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"format": "workbench-scenario",\n "version": 1,\n "plan": }', "{path}, line 3: not valid JSON: Expecting value"),
        ('{"format": "workbench-run", "version": 1}', "{path}: not a scenario file: 'format' is 'workbench-run', expected 'workbench-scenario'."),
        ('{"format": "workbench-scenario", "version": 2}', "{path}: scenario version 2 is newer than this workbench understands (version 1); upgrade agent-workbench to use it."),
        ("[1, 2]", "{path}: a scenario file must hold a JSON object, not list."),
        (json.dumps(dict(SCENARIO_DATA, phases=[[{"thinking": "only"}], []])),
         ("{path}: not a valid scenario: phases.0.0: Value error, a turn needs a non-empty 'text' or at least one of 'toolCalls'; "
          "phases.1: List should have at least 1 item after validation, not 0")),
        (json.dumps(dict(SCENARIO_DATA, final={"txt": "typo"})), "{path}: not a valid scenario: final.txt: Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_bad_scenario_files_are_user_errors_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(UserError) as caught:
        load_scenario(path)
    assert str(caught.value).startswith(message.format(path=path))
    with pytest.raises(UserError, match="cannot read the scenario file"):
        load_scenario(tmp_path / "missing.json")


def test_cli_prints_a_generic_scenario_that_loads_back(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["--print-scenario", TASK, "--seed", "2"]) == 0
    path = tmp_path / "s.json"
    path.write_text(capsys.readouterr().out)
    assert load_scenario(path) == generic_scenario(TASK, 2)
    assert cli_main(["--scenario", str(tmp_path / "nope.json")]) == 2
    assert "nope.json: cannot read the scenario file" in capsys.readouterr().err


# --- the simulator reads the agent's prompts as a model would: from the request alone ---


def test_every_prompt_the_agent_writes_reads_back_as_its_stage() -> None:
    from workbench.simulator.request import PLAN_TOOL_NAME, Stage, parse_stage, task_of

    assert parse_stage(prompts.plan_system()) == Stage("plan")
    assert parse_stage(prompts.final_system()) == Stage("final")
    assert parse_stage(prompts.react_system()) == Stage("react")
    assert parse_stage(prompts.phase_system(1, 4, "Research sources")) == Stage("phase", 1, 4, "Research sources")
    assert parse_stage([{"type": "text", "text": prompts.phase_system(0, 2, "Draft")}]) == Stage("phase", 0, 2, "Draft")
    assert parse_stage("You are a helpful assistant.") is None
    # The plan tool the simulator submits a scripted plan with is the one the planning request offers.
    assert PLAN_TOOL_NAME == prompts.PLAN_TOOL["name"] == prompts.PLAN_TOOL_NAME
    phases = [("Research", "Find sources"), ("Write", "Write it")]
    for opening in (prompts.task_message(TASK), prompts.phase_message(TASK, "A page", phases, 1, ["found three"]),
                    prompts.final_message(TASK, phases, ["found three", "wrote it"])):
        assert task_of([{"role": "user", "content": opening}]) == TASK
        assert task_of([{"role": "user", "content": [{"type": "text", "text": opening}]}]) == TASK

"""Agent loops of one's own against the simulator: the real SDK, tools the workbench never sends,
and tool calls whose inputs ``jsonschema`` checks against each tool's ``input_schema``."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import anthropic
import httpx2
import jsonschema
import pytest

from workbench.simulator import Simulator, SimulatorTransport, serve
from workbench.simulator.schema_input import input_for

MODEL = "claude-sonnet-4-6"

WEATHER = {
    "name": "get_weather",
    "description": "Get the current weather for a city.",
    "input_schema": {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "The city, e.g. Paris"},
            "units": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city", "units"],
    },
}
CALCULATOR = {
    "name": "calculator",
    "description": "Do arithmetic on two numbers.",
    "input_schema": {
        "type": "object",
        "properties": {
            "a": {"type": "number", "minimum": -1000000, "maximum": 1000000},
            "b": {"type": "number", "minimum": -1000000, "maximum": 1000000},
            "operation": {"type": "string", "enum": ["add", "subtract", "multiply", "divide"]},
        },
        "required": ["a", "b", "operation"],
        "additionalProperties": False,
    },
}
SEARCH = {
    "name": "search_papers",
    "description": "Search a library of research papers.",
    "input_schema": {
        "type": "object",
        "properties": {
            "query": {"type": "string", "minLength": 3},
            "filters": {
                "type": "object",
                "properties": {
                    "year": {"type": "integer", "minimum": 1990, "maximum": 2030},
                    "language": {"type": "string", "enum": ["en", "fr", "de"]},
                    "open_access": {"type": "boolean"},
                },
                "required": ["year", "language", "open_access"],
            },
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3, "uniqueItems": True},
            "limit": {"type": "integer", "minimum": 1, "maximum": 10},
        },
        "required": ["query", "filters", "tags", "limit"],
    },
}
NOTE = {"name": "save_note", "description": "Save a short note.", "input_schema": {
    "type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}}  # fmt: skip


def weather_result(args: dict[str, Any]) -> str:
    return f"{args['city']}: 18 degrees {args['units']}, light rain"


def calculator_result(args: dict[str, Any]) -> str:
    a, b = args["a"], args["b"]
    return str({"add": a + b, "subtract": a - b, "multiply": a * b, "divide": a / b}[args["operation"]])


def search_result(args: dict[str, Any]) -> str:
    return json.dumps([{"title": "Tidal forcing of coastal ecosystems", "year": args["filters"]["year"]}])


EXECUTE: dict[str, Callable[[dict[str, Any]], str]] = {
    "get_weather": weather_result, "calculator": calculator_result, "search_papers": search_result,
    "save_note": lambda args: "saved",
}  # fmt: skip


@contextlib.asynccontextmanager
async def client_for(sim: Simulator, via: str = "transport") -> AsyncIterator[anthropic.AsyncAnthropic]:
    if via == "transport":
        http = httpx2.AsyncClient(transport=SimulatorTransport(sim))
        async with anthropic.AsyncAnthropic(api_key="any", base_url="http://simulator.invalid", http_client=http) as c:
            yield c
        return
    async with serve(sim) as base_url, anthropic.AsyncAnthropic(api_key="any", base_url=base_url) as c:
        yield c


async def ask(client: anthropic.AsyncAnthropic, stream: bool, **request: Any) -> Any:
    if stream:
        async with client.messages.stream(model=MODEL, max_tokens=2000, **request) as s:
            return await s.get_final_message()
    return await client.messages.create(model=MODEL, max_tokens=2000, **request)


def valid(tools: list[dict[str, Any]], block: Any) -> None:
    schema = next(t["input_schema"] for t in tools if t["name"] == block.name)
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(block.input, schema, cls=jsonschema.Draft202012Validator)


async def agent_loop(client: anthropic.AsyncAnthropic, tools: list[dict[str, Any]], question: str, *,
                     stream: bool, turns: int = 6, **extra: Any) -> list[tuple[str | None, list[Any]]]:
    """A hand-written agent loop, as a workshop would write one; each answer as (stop_reason, blocks)."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": question}]
    transcript: list[tuple[str | None, list[Any]]] = []
    for _ in range(turns):
        message = await ask(client, stream, tools=tools, messages=messages, **extra)
        blocks = []
        for block in message.content:
            if block.type == "tool_use":
                valid(tools, block)
                blocks.append(("tool_use", block.name, block.input))
            elif block.type == "text":
                blocks.append(("text", block.text))
            else:
                blocks.append((block.type,))
        transcript.append((message.stop_reason, blocks))
        if message.stop_reason != "tool_use":
            return transcript
        messages.append({"role": "assistant", "content": message.content})
        messages.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": b.id, "content": EXECUTE[b.name](b.input)}
            for b in message.content if b.type == "tool_use"]})  # fmt: skip
    raise AssertionError(f"the loop did not end: {transcript}")


def answer_text(question: str, *results: tuple[str, str]) -> str:
    lines = "\n".join(f"- `{name}` returned: {text}." for name, text in results)
    return (f"Here is what I found for \u201c{question}\u201d:\n\n{lines}\n\n"
            "(Simulated answer: the offline simulator read the tool results back to you.)")  # fmt: skip


@pytest.mark.parametrize("stream", [False, True])
async def test_weather_loop_calls_the_tool_with_the_city_and_the_unit_asked_for(stream: bool) -> None:
    question = "What's the weather in Paris in fahrenheit?"
    async with client_for(Simulator()) as client:
        transcript = await agent_loop(client, [CALCULATOR, WEATHER], question, stream=stream)
    assert transcript == [
        ("tool_use", [("text", "I'll use `get_weather` for this."),
                      ("tool_use", "get_weather", {"city": "Paris", "units": "fahrenheit"})]),
        ("end_turn", [("text", answer_text(question, ("get_weather", "Paris: 18 degrees fahrenheit, light rain")))]),
    ]  # fmt: skip


@pytest.mark.parametrize("via", ["transport", "server"])
async def test_calculator_loop_takes_the_numbers_and_the_operation_from_the_words(via: str) -> None:
    question = "What is 17 times 23?"
    async with client_for(Simulator(), via) as client:
        transcript = await agent_loop(client, [WEATHER, CALCULATOR], question, stream=True)
    assert transcript == [
        ("tool_use", [("text", "I'll use `calculator` for this."),
                      ("tool_use", "calculator", {"a": 17, "b": 23, "operation": "multiply"})]),
        ("end_turn", [("text", answer_text(question, ("calculator", "391")))]),
    ]  # fmt: skip


async def test_search_loop_fills_a_nested_object_and_an_array_within_their_bounds() -> None:
    question = "Find papers on tides from 2019 in French"
    async with client_for(Simulator()) as client:
        transcript = await agent_loop(client, [NOTE, SEARCH], question, stream=False)
    (first, blocks), (last, answer) = transcript
    call = blocks[1]
    assert first == "tool_use" and call[:2] == ("tool_use", "search_papers")
    assert call[2] == {"query": "papers on tides from 2019 in French",
                       "filters": {"year": 2019, "language": "fr", "open_access": False},
                       "tags": ["find", "papers", "tides"], "limit": 5}  # fmt: skip
    assert last == "end_turn" and "Tidal forcing of coastal ecosystems" in answer[0][1]


async def test_two_tools_that_fit_are_called_one_after_the_other_then_the_answer() -> None:
    question = "What's the weather in Oslo in celsius, and what is 3 plus 4?"
    async with client_for(Simulator()) as client:
        transcript = await agent_loop(client, [WEATHER, CALCULATOR, NOTE], question, stream=True)
    assert [(stop, [b[1] for b in blocks if b[0] == "tool_use"]) for stop, blocks in transcript] == [
        ("tool_use", ["get_weather"]), ("tool_use", ["calculator"]), ("end_turn", []),
    ]  # fmt: skip
    assert transcript[0][1][1][2] == {"city": "Oslo", "units": "celsius"}
    assert transcript[1][1][1][2] == {"a": 3, "b": 4, "operation": "add"}
    assert transcript[2][1][0][1] == answer_text(question, ("get_weather", "Oslo: 18 degrees celsius, light rain"),
                                                 ("calculator", "7"))  # fmt: skip


async def test_thinking_comes_first_and_goes_back_with_the_tool_result() -> None:
    async with client_for(Simulator()) as client:
        transcript = await agent_loop(client, [WEATHER], "Is it raining in Lisbon?", stream=True,
                                      thinking={"type": "enabled", "budget_tokens": 1024})  # fmt: skip
    assert [blocks[0][0] for _, blocks in transcript] == ["thinking", "thinking"]
    assert transcript[0][1][-1] == ("tool_use", "get_weather", {"city": "Lisbon", "units": "celsius"})
    assert transcript[-1][0] == "end_turn"


@pytest.mark.parametrize("stream", [False, True])
async def test_tool_choice(stream: bool) -> None:
    tools = [WEATHER, CALCULATOR]
    hello = [{"role": "user", "content": "hi"}]
    async with client_for(Simulator()) as client:
        auto = await ask(client, stream, tools=tools, messages=hello)  # nothing fits: a plain answer
        none = await ask(client, stream, tools=tools, messages=[{"role": "user", "content": "Weather in Rome?"}],
                         tool_choice={"type": "none"})  # fmt: skip
        forced = await ask(client, stream, tools=tools, messages=hello, tool_choice={"type": "any"})
        named = await ask(client, stream, tools=tools, tool_choice={"type": "tool", "name": "calculator"},
                          messages=[{"role": "user", "content": "Weather in Rome?"}])  # fmt: skip
        best = await ask(client, stream, tools=tools, tool_choice={"type": "any"},
                         messages=[{"role": "user", "content": "What is 6 divided by 3?"}])  # fmt: skip
    assert (auto.stop_reason, [b.type for b in auto.content]) == ("end_turn", ["text"])
    assert (none.stop_reason, [b.type for b in none.content]) == ("end_turn", ["text"])
    assert forced.stop_reason == "tool_use" and forced.content[-1].name == "get_weather"  # none fits: the first
    assert named.stop_reason == "tool_use" and named.content[-1].name == "calculator"
    assert best.content[-1].name == "calculator" and best.content[-1].input == {"a": 6, "b": 3, "operation": "divide"}
    for message in (forced, named, best):
        valid(tools, message.content[-1])


async def test_the_same_request_gets_the_same_bytes() -> None:
    body = json.dumps({"model": MODEL, "max_tokens": 500, "stream": True, "tools": [SEARCH, WEATHER],
                       "messages": [{"role": "user", "content": "Search papers about coral reefs"}]}).encode()  # fmt: skip
    headers = {"x-api-key": "k", "anthropic-version": "2023-06-01", "content-type": "application/json"}
    first = await (await Simulator().handle("POST", "/v1/messages", headers, body)).read()
    again = await (await Simulator().handle("POST", "/v1/messages", headers, body)).read()
    assert first == again and b'"name":"search_papers"' in first and b'"stop_reason":"tool_use"' in first


SCHEMAS: list[dict[str, Any]] = [
    # what pydantic writes for a model with a nested model and an optional field
    {"$defs": {"Point": {"type": "object", "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}},
                         "required": ["x", "y"]}},
     "type": "object", "properties": {"start": {"$ref": "#/$defs/Point"},
                                      "label": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}},
     "required": ["start", "label"]},
    {"type": "object", "properties": {"when": {"type": "string", "format": "date"},
                                      "at": {"type": "string", "format": "date-time"},
                                      "email": {"type": "string", "format": "email"},
                                      "site": {"type": "string", "format": "uri"}},
     "required": ["when", "at", "email", "site"]},
    {"type": "object", "properties": {"code": {"type": "string", "pattern": "^[A-Z][0-9]$"},
                                      "name": {"type": "string", "minLength": 40, "maxLength": 45},
                                      "kind": {"const": "fixed"}},
     "required": ["code", "name", "kind"]},
    {"type": "object", "properties": {"ratio": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                                      "step": {"type": "integer", "multipleOf": 7, "minimum": 50},
                                      "flag": {"type": "boolean"}},
     "required": ["ratio", "step", "flag"], "additionalProperties": False},
    {"type": "object", "properties": {"points": {"type": "array", "minItems": 2, "items": {
        "type": "object", "properties": {"lat": {"type": "number", "minimum": -90, "maximum": 90},
                                         "lon": {"type": "number", "minimum": -180, "maximum": 180}},
        "required": ["lat", "lon"]}},
        "colors": {"type": "array", "items": {"enum": ["red", "green", "blue"]}, "uniqueItems": True, "minItems": 2}},
     "required": ["points", "colors"]},
    {"type": "object", "properties": {"mode": {"type": ["string", "null"], "enum": ["fast", "slow", None]},
                                      "options": {"allOf": [{"properties": {"depth": {"type": "integer",
                                                                                      "maximum": 3}},
                                                             "required": ["depth"]}]}},
     "required": ["mode", "options"], "minProperties": 2},
    {"type": "object", "properties": {}},
]  # fmt: skip


@pytest.mark.parametrize("schema", SCHEMAS, ids=[f"schema{i}" for i in range(len(SCHEMAS))])
@pytest.mark.parametrize("text", ["Draw a path from 3000 to 4000 on 2024-05-01", "", "slow please, mail ada@example.org"])
def test_generated_inputs_are_valid_against_their_schemas(schema: dict[str, Any], text: str) -> None:
    value = input_for(schema, text)
    jsonschema.validate(value, schema, cls=jsonschema.Draft202012Validator)
    assert input_for(schema, text) == value  # deterministic


async def test_a_tool_error_is_reported_in_the_answer_and_a_server_tool_is_never_called() -> None:
    question = "What's the weather in Atlantis?"
    async with client_for(Simulator()) as client:
        first = await ask(client, False, tools=[WEATHER], messages=[{"role": "user", "content": question}])
        call = first.content[-1]
        assert call.input == {"city": "Atlantis", "units": "celsius"}
        answer = await ask(client, False, tools=[WEATHER], messages=[
            {"role": "user", "content": question}, {"role": "assistant", "content": first.content},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "is_error": True,
                                          "content": "unknown city"}]}])  # fmt: skip
        server_tool = await ask(client, False, tools=[{"name": "web_search", "type": "web_search_20250305"}],
                                tool_choice={"type": "tool", "name": "web_search"},
                                messages=[{"role": "user", "content": "Search the news"}])  # fmt: skip
    assert answer.stop_reason == "end_turn"
    assert "- `get_weather` reported an error: unknown city." in answer.content[-1].text
    assert server_tool.stop_reason == "end_turn" and [b.type for b in server_tool.content] == ["text"]

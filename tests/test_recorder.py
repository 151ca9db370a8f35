"""Recording an agent of one's own: the same contract as an orchestrated run, whatever the code does."""

import asyncio
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest

import workbench as wb
from workbench.agent.recorder import record
from workbench.core.contract import contract_violations

FIXTURES = Path(__file__).parent / "fixtures" / "anthropic"


def types(run: wb.Run) -> list[str]:
    return [e.type for e in run.events]


def test_a_recorded_run_has_the_whole_event_sequence():
    with record("Summarise the news", model="my-agent") as rec:
        assert rec.plan("A short summary", ["Fetch", ("Summarise", "Three lines")]) == ["p1", "p2"]
        with rec.phase("Fetch") as phase:
            rec.think("The front page has the headlines.")
            with rec.tool("fetch", url="https://example.org") as call:
                call.result = {"headlines": 3}
            phase.summary = "Fetched 3 headlines"
        with rec.phase("Summarise"):
            rec.think_stream(["Three ", "stories."])
            rec.say("Three stories stand out.")
            rec.usage(input=10, output=5)
        rec.finish("Three stories.")
    run = rec.run
    assert contract_violations(list(run.events)) == []
    assert types(run) == [
        "execution:started", "plan:created",
        "phase:start", "thinking", "tool:start", "tool:complete", "phase:complete",
        "phase:start", "thinking:delta", "thinking:delta", "thinking", "text", "usage", "phase:complete",
        "execution:complete",
    ]
    state = run.state
    assert (state.status, state.result, state.model) == ("complete", "Three stories.", "my-agent")
    assert [(p.name, p.summary) for p in state.phases.values()] == [("Fetch", "Fetched 3 headlines"), ("Summarise", "")]
    assert state.tool_calls[0].result == {"headlines": 3} and state.tool_calls[0].phase_id == "p1"
    assert state.steps[state.items_of("p2")[0].step_id].text == "Three stories."
    assert state.tokens.input == 10


def test_an_exception_in_the_agent_code_ends_every_open_thing_and_the_run():
    with pytest.raises(ValueError):
        with record("Crash") as rec:
            with rec.phase("Work"):
                with rec.tool("divide", a=1, b=0):
                    raise ValueError("b must not be 0")
    run = rec.run
    assert contract_violations(list(run.events)) == []
    assert types(run)[-4:] == ["tool:start", "tool:complete", "phase:complete", "execution:error"]
    assert run.state.tool_calls[0].result == "ValueError: b must not be 0" and run.state.tool_calls[0].is_error
    assert run.state.error.message == "ValueError: b must not be 0"


def test_leaving_the_block_without_finishing_completes_and_nothing_follows_the_end():
    with record("Quick") as rec:
        rec.say("hi")
    assert types(rec.run)[-1] == "execution:complete"
    with pytest.raises(wb.UserError, match="already ended"):
        rec.say("too late")


def test_misuse_is_a_clear_error():
    with pytest.raises(wb.UserError, match="non-empty"):
        record("")
    with record("Nest") as rec:
        with rec.phase("Outer"):
            with pytest.raises(wb.UserError, match="do not nest"):
                with rec.phase("Inner"):
                    pass
    assert contract_violations(list(rec.run.events)) == []


async def test_async_use_and_save_load(tmp_path):
    async with record("Async agent") as rec:
        rec.think("thinking")
        rec.finish("done")
    path = rec.run.save(tmp_path / "mine.jsonl")
    assert [e.to_dict() for e in wb.load(path).events] == [e.to_dict() for e in rec.run.events]


def sdk_message(fixture: str) -> Any:
    """The ``anthropic.types.Message`` the real SDK makes of a recorded API stream."""
    body = (FIXTURES / fixture).read_bytes()

    async def fetch() -> Any:
        transport = httpx2.MockTransport(lambda request: httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body))
        client = anthropic.AsyncAnthropic(api_key="test", http_client=httpx2.AsyncClient(transport=transport))
        async with client.messages.stream(model="claude-sonnet-4-6", max_tokens=2000, messages=[{"role": "user", "content": "hi"}]) as stream:
            return await stream.get_final_message()

    return asyncio.run(fetch())


def test_a_model_answer_is_recorded_whole_with_its_tokens():
    tool_use = sdk_message("tool_use_after_thinking.sse")
    thinking_then_text = sdk_message("thinking_then_text.sse")
    with record("Build a landing page", model="claude-sonnet-4-6") as rec:
        rec.plan("A page", ["Build"])
        with rec.phase("Build"):
            rec.think(tool_use.content[0].thinking)
            rec.response(tool_use)
            with rec.tool("write_file", **tool_use.content[1].input) as call:
                call.result = "wrote index.html"
            rec.response(thinking_then_text.to_dict())  # the dict form too
        rec.response(thinking_then_text, iteration=7)  # outside any phase, numbered by hand
        rec.finish("Done.")
    run = rec.run
    assert contract_violations(list(run.events)) == []
    assert types(run) == [
        "execution:started", "plan:created", "phase:start", "thinking", "usage", "model:response",
        "tool:start", "tool:complete", "usage", "model:response", "phase:complete",
        "usage", "model:response", "execution:complete"]
    first, second, third = (e.data for e in run.events if e.type == "model:response")
    assert first.content == [b.to_dict(mode="json") for b in tool_use.content] == [
        {"type": "thinking", "thinking": "I should write index.html with the hero section.", "signature": "EqQBCgIYAhIMsig0002"},
        {"type": "tool_use", "id": "toolu_01XYZ", "name": "write_file", "input": {"path": "index.html", "content": "<h1>Hello</h1>"}},
    ]
    assert (first.phase_id, first.iteration, first.model, first.stop_reason) == ("p1", 1, "claude-sonnet-4-6", "tool_use")
    assert (first.usage.input, first.usage.output, first.usage.cache_read, first.usage.cache_write) == (512, 91, 0, 0)
    assert second.content == [b.to_dict(mode="json") for b in thinking_then_text.content]
    assert [b["type"] for b in second.content] == ["thinking", "text"]
    assert second.content[1]["text"] == "Here is the plan for the page."
    assert (second.phase_id, second.iteration, second.stop_reason, second.usage.output) == ("p1", 2, "end_turn", 64)
    assert (third.phase_id, third.iteration) == (None, 7)
    # the usage events are the running totals, as in a workbench run
    totals = [(e.data.input, e.data.output) for e in run.events if e.type == "usage"]
    assert totals == [(512, 91), (1024, 155), (1536, 219)]
    state = run.state
    assert (state.tokens.input, state.tokens.output) == (1536, 219)
    assert state.cost_usd is not None  # a priced model


def test_a_response_that_is_not_a_model_answer_is_refused():
    with record("Misuse") as rec:
        with pytest.raises(wb.UserError, match="the SDK's Message"):
            rec.response("Here is the plan")
        with pytest.raises(wb.UserError, match="the SDK's Message"):
            rec.response({"content": []})  # no usage
    assert types(rec.run) == ["execution:started", "execution:complete"]


def test_a_recorded_run_cannot_be_forked(tmp_path):
    with record("Build a landing page", model="claude-sonnet-4-6") as rec:
        rec.response(sdk_message("thinking_then_text.sse"))
        rec.finish("Done.")
    why = r"recorded from an agent of its own \(strategy 'custom'\); the workbench cannot run that agent"
    with pytest.raises(wb.UserError, match=why):
        rec.run.fork(at=3)
    loaded = wb.load(rec.run.save(tmp_path / "mine.jsonl"))
    with pytest.raises(wb.UserError, match=why):
        loaded.fork()

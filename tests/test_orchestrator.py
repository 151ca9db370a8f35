"""The orchestrator end to end: the simulator behind the real SDK, whole event sequences asserted."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest

import workbench as wb
from conftest import write_scenario
from workbench.agent.turns import content_params
from workbench.core import events as ev
from workbench.core.contract import contract_violations
from workbench.simulator import Simulator, serve

FIXTURES = Path(__file__).parent / "fixtures" / "anthropic"

PLAN = {"goal": "A haiku about tides", "phases": [
    {"name": "Draft", "description": "Write the haiku"},
    {"name": "Check", "description": "Read it back"},
]}
PHASES = [
    [
        {"thinking": "I will draft it first.", "text": "Drafting.",
         "toolCalls": [{"name": "write_file", "input": {"path": "haiku.txt", "content": "moon pulls the water"}}]},
        {"thinking": "The draft is saved.", "text": "Drafted haiku.txt."},
    ],
    [
        {"thinking": "Read it back.", "toolCalls": [{"name": "read_file", "input": {"path": "haiku.txt"}}]},
        {"text": "Checked."},
    ],
]
FINAL = {"thinking": "Summarise.", "text": "Here is the haiku."}


def scenario(tmp_path: Path, **overrides: Any) -> str:
    fields = {"plan": PLAN, "phases": PHASES, "final": FINAL, "react": PHASES[0], **overrides}
    return write_scenario(tmp_path / "scenario.json", **fields)


def shape(events: list[ev.Event]) -> list[str]:
    """Event types, with each run of deltas of one step folded into one ``…+`` entry."""
    out: list[str] = []
    for event in events:
        name = event.type + "+" if event.type.endswith(":delta") else event.type
        if name.endswith("+") and out and out[-1] == name:
            continue
        out.append(name)
    return out


def assert_contract(events: list[ev.Event]) -> None:
    assert contract_violations(events) == []


async def run_to_end(task: str = "Write a haiku about tides", **kwargs: Any) -> wb.Run:
    run = wb.run(task, **kwargs)
    await asyncio.wait_for(run.wait_async(), 30)
    return run


async def test_a_scripted_plan_run_gives_exactly_the_expected_events(tmp_path: Path):
    run = await run_to_end(model="simulated", options={"scenario": scenario(tmp_path)})
    events = list(run.events)
    assert_contract(events)
    model_call = ["usage", "model:response"]
    thought = ["thinking:delta+", "thinking"]
    said = ["text:delta+", "text"]
    assert shape(events) == [
        "execution:started",
        *thought, *model_call, "plan:created",
        "phase:start", *thought, *said, *model_call, "tool:start", "tool:complete",
        *thought, *said, *model_call, "phase:complete",
        "phase:start", *thought, *model_call, "tool:start", "tool:complete",
        *said, *model_call, "phase:complete",
        *thought, *said, *model_call,
        "execution:complete",
    ]
    state = run.state
    assert state.status == "complete" and state.result == "Here is the haiku."
    assert [(p.name, p.status, p.summary) for p in state.phases.values()] == [
        ("Draft", "complete", "Drafted haiku.txt."), ("Check", "complete", "Checked.")]
    assert [s.text for s in state.thinking_steps][:3] == [
        state.thinking_steps[0].text, "I will draft it first.", "The draft is saved."]
    write, read = state.tool_calls
    assert (write.tool_name, write.params, write.result, write.phase_id) == (
        "write_file", {"path": "haiku.txt", "content": "moon pulls the water"}, "Wrote 20 bytes to haiku.txt", "p1")
    assert (read.tool_name, read.result, read.is_error, read.phase_id) == ("read_file", "moon pulls the water", False, "p2")
    assert (run.workspace / "haiku.txt").read_text() == "moon pulls the water"
    usage = [e.data for e in events if e.type == "usage"]
    assert len(usage) == 6 and all(b.input > a.input for a, b in zip(usage, usage[1:]))
    assert events[-1].data.tokens_used == ev.Usage(**usage[-1].model_dump(by_alias=False))


async def test_the_generic_scenario_plans_three_to_five_phases_and_writes_files():
    run = await run_to_end("Create a landing page for a coffee shop", model="simulated")
    events = list(run.events)
    assert_contract(events)
    state = run.state
    assert state.status == "complete"
    assert 3 <= len(state.phases) <= 5
    assert all(p.status == "complete" and p.summary for p in state.phases.values())
    assert any("coffee" in p.name.lower() or "landing" in p.name.lower() for p in state.phases.values())
    assert {c.tool_name for c in state.tool_calls} >= {"write_file", "read_file"}
    assert any(run.workspace.rglob("*.html")) or any(run.workspace.rglob("*.md"))
    # Deterministic: the same task and seed give the same run (ids, texts, tools; not times).
    again = await run_to_end("Create a landing page for a coffee shop", model="simulated")
    assert [(e.type, e.data) for e in again.events if e.type not in ("execution:started", "execution:complete", "tool:complete")] == [
        (e.type, e.data) for e in events if e.type not in ("execution:started", "execution:complete", "tool:complete")]


async def test_react_strategy_is_one_loop_without_plan(tmp_path: Path):
    run = await run_to_end(model="simulated", strategy="react", options={"scenario": scenario(tmp_path)})
    events = list(run.events)
    assert_contract(events)
    types = shape(events)
    assert "plan:created" not in types and "phase:start" not in types
    assert types[0] == "execution:started" and types[-1] == "execution:complete"
    assert types.count("tool:start") == 1
    assert all(getattr(e.data, "phase_id", None) is None for e in events)
    assert run.result == "Drafted haiku.txt."


def test_thinking_blocks_go_back_unchanged_with_their_signatures():
    """The fixture's thinking + tool_use answer, parsed by the SDK, becomes the next request's content."""
    body = (FIXTURES / "tool_use_after_thinking.sse").read_bytes()

    async def fetch() -> Any:
        transport = httpx2.MockTransport(lambda request: httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body))
        client = anthropic.AsyncAnthropic(api_key="test", http_client=httpx2.AsyncClient(transport=transport))
        async with client.messages.stream(model="claude-sonnet-4-6", max_tokens=2000, messages=[{"role": "user", "content": "hi"}]) as stream:
            return await stream.get_final_message()

    message = asyncio.run(fetch())
    assert content_params(message) == [
        {"type": "thinking", "thinking": "I should write index.html with the hero section.", "signature": "EqQBCgIYAhIMsig0002"},
        {"type": "tool_use", "id": "toolu_01XYZ", "name": "write_file", "input": {"path": "index.html", "content": "<h1>Hello</h1>"}},
    ]


@pytest.mark.parametrize("supported, expected", [(("adaptive", "enabled"), "adaptive"), (("enabled",), "enabled")])
async def test_thinking_follows_what_the_model_supports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, supported, expected):
    seen: list[dict[str, Any]] = []
    original = Simulator.handle

    async def spy(self: Simulator, method: str, path: str, headers: Any, body: bytes) -> Any:
        if path.endswith("/v1/messages"):
            seen.append(json.loads(body).get("thinking"))
        return await original(self, method, path, headers, body)

    monkeypatch.setattr(Simulator, "handle", spy)
    monkeypatch.setattr(Simulator, "__init__", _with_thinking_types(Simulator.__init__, supported))
    run = await run_to_end(model="simulated", options={"scenario": scenario(tmp_path)})
    assert run.state.status == "complete", run.state.error
    assert seen and all(t is not None and t["type"] == expected for t in seen)
    if expected == "enabled":
        assert all(t["budget_tokens"] == 4096 for t in seen)


def _with_thinking_types(init: Any, supported: tuple[str, ...]) -> Any:
    def patched(self: Simulator, *args: Any, **kwargs: Any) -> None:
        kwargs["thinking_types"] = supported
        init(self, *args, **kwargs)

    return patched


@pytest.mark.parametrize(
    "kind, reason",
    [
        ("429", "429 rate_limit_error"),
        ("529", "529 overloaded_error"),
        ("midstream_error", "mid-stream overloaded_error"),
        ("drop", "connection dropped mid-stream"),
        ("no_message_stop", "stream ended without message_stop"),
    ],
)
async def test_each_fault_is_retried_visibly_and_the_run_completes(tmp_path: Path, kind: str, reason: str):
    options = {"scenario": scenario(tmp_path), "faults": [{"request": 3, "kind": kind}], "retryDelay": 0.01}
    run = await run_to_end(model="simulated", options=options)
    events = list(run.events)
    assert_contract(events)
    assert run.state.status == "complete", run.state.error
    retries = [e.data for e in events if e.type == "model:retry"]
    assert [(r.attempt, r.reason) for r in retries] == [(1, reason)]
    assert retries[0].delay_ms > 0
    # Whatever streamed before the break is marked interrupted; the retried call streams anew.
    assert run.state.result == "Here is the haiku."


async def test_retries_give_up_with_an_error_naming_the_cause(tmp_path: Path):
    faults = [{"request": n, "kind": "midstream_error"} for n in range(1, 6)]
    run = await run_to_end(model="simulated", options={"scenario": scenario(tmp_path), "faults": faults,
                                                       "retryDelay": 0.01, "maxRetries": 2})
    events = list(run.events)
    assert_contract(events)
    assert [e.data.attempt for e in events if e.type == "model:retry"] == [1, 2]
    last = events[-1]
    assert last.type == "execution:error"
    assert last.data.error.type == "model_error"
    assert "failed 3 times" in last.data.error.message and "mid-stream overloaded_error" in last.data.error.message


async def test_the_backoff_doubles_up_to_a_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from workbench.agent import orchestrator

    monkeypatch.setattr(orchestrator, "MAX_RETRY_WAIT", 0.04)  # as 120 s is to a 60 s retryDelay, scaled down
    faults = [{"request": n, "kind": "midstream_error"} for n in range(1, 6)]
    run = await run_to_end(model="simulated", options={"scenario": scenario(tmp_path), "faults": faults,
                                                       "retryDelay": 0.01, "maxRetries": 5})
    delays = [e.data.delay_ms for e in run.events if e.type == "model:retry"]
    caps = [10, 20, 40, 40, 40]  # each delay is its backoff times a jitter of 0.5 to 1
    assert len(delays) == 5 and all(cap / 2 <= d <= cap for d, cap in zip(delays, caps)), delays
    assert run.state.status == "complete"


async def test_a_claude_model_through_anthropic_base_url_survives_every_fault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A server that speaks the Anthropic API over a real socket, with every kind of fault."""
    key = "sk-ant-api03-test-key-that-must-never-leak-0123456789"
    faults = [
        {"request": 1, "kind": "429"},  # the SDK retries this one itself: request 2
        {"request": 3, "kind": "529"},  # likewise: request 4
        {"request": 5, "kind": "midstream_error"},
        {"request": 7, "kind": "drop"},
        {"request": 9, "kind": "no_message_stop"},
    ]
    simulator = Simulator(json_scenario(tmp_path), faults=faults, api_key=key)
    async with serve(simulator) as base_url:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", key)
        run = wb.run("Write a haiku about tides", model="claude-sonnet-4-6", options={"retryDelay": 0.01})
        await asyncio.wait_for(run.wait_async(), 30)
    events = list(run.events)
    assert_contract(events)
    assert run.state.status == "complete", run.state.error
    assert [r.reason for r in (e.data for e in events if e.type == "model:retry")] == [
        "429 rate_limit_error", "529 overloaded_error", "mid-stream overloaded_error",
        "connection dropped mid-stream", "stream ended without message_stop"]
    saved = run.save(tmp_path / "run.jsonl").read_text()
    assert key not in saved and "sk-ant-" not in saved


def json_scenario(tmp_path: Path) -> Any:
    from workbench.simulator import load_scenario

    return load_scenario(scenario(tmp_path))


async def test_a_refused_key_ends_the_run_with_a_clear_error_and_no_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    key = "sk-ant-api03-wrong-key-0123456789abcdef"
    async with serve(Simulator(api_key="sk-ant-api03-the-right-one-000000000")) as base_url:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", key)
        run = wb.run("Write a haiku", model="claude-sonnet-4-6")
        await asyncio.wait_for(run.wait_async(), 30)
    last = run.events[-1]
    assert last.type == "execution:error" and last.data.error.type == "authentication_error"
    assert "ANTHROPIC_API_KEY" in last.data.error.message
    assert all(key not in e.to_json() for e in run.events)


async def test_a_failing_tool_is_an_error_result_and_the_run_goes_on(tmp_path: Path):
    @wb.tool
    def flaky(n: int) -> str:
        """Always fails."""
        raise RuntimeError(f"flaky broke on {n}")

    phases = [[{"thinking": "Try the tool.", "toolCalls": [{"name": "flaky", "input": {"n": 3}}]}, {"text": "It failed; moving on."}],
              [{"thinking": "Escape?", "toolCalls": [{"name": "write_file", "input": {"path": "../escape.txt", "content": "x"}}]},
               {"text": "Refused."}]]
    run = await run_to_end(model="simulated", tools=[flaky, "write_file"],
                           options={"scenario": scenario(tmp_path, phases=phases)})
    assert_contract(list(run.events))
    assert run.state.status == "complete"
    calls = run.state.tool_calls
    assert [(c.tool_name, c.is_error) for c in calls] == [("flaky", True), ("write_file", True)]
    assert calls[0].result == "RuntimeError: flaky broke on 3"
    assert "inside the workspace" in calls[1].result
    assert not (run.workspace.parent / "escape.txt").exists()


async def test_a_tool_the_model_was_not_given_is_answered_with_the_list_of_tools(tmp_path: Path):
    from types import SimpleNamespace

    from workbench.agent.models import make_client
    from workbench.agent.options import RunOptions
    from workbench.agent.orchestrator import Orchestrator, RunConfig
    from workbench.agent.tools import resolve_tools
    from workbench.core.log import RunLog

    run_log = RunLog("r_t")
    config = RunConfig("t", "simulated", "react", resolve_tools(["read_file"]), RunOptions(), tmp_path)
    orchestrator = Orchestrator(config, run_log, make_client("simulated", RunOptions()))
    answer = await orchestrator._run_tool(SimpleNamespace(id="toolu_1", name="teleport", input={"to": "mars"}), None)
    assert answer == {"type": "tool_result", "tool_use_id": "toolu_1", "is_error": True,
                      "content": "Unknown tool 'teleport'. Available tools: read_file."}
    assert [e.type for e in run_log.events] == ["tool:start", "tool:complete"]
    assert run_log.events[1].data.is_error


async def test_cancel_ends_the_run_promptly_and_interrupts_a_running_tool(tmp_path: Path):
    started = asyncio.Event()
    loop = asyncio.get_running_loop()

    @wb.tool
    async def slow(seconds: float) -> str:
        """Sleeps."""
        loop.call_soon_threadsafe(started.set)
        await asyncio.sleep(seconds)
        return "done"

    phases = [[{"thinking": "Wait.", "toolCalls": [{"name": "slow", "input": {"seconds": 30}}]}, {"text": "Waited."}], [{"text": "x"}]]
    run = wb.run("Wait a while", model="simulated", tools=[slow], options={"scenario": scenario(tmp_path, phases=phases)})
    await asyncio.wait_for(started.wait(), 10)
    began = time.monotonic()
    assert run.cancel("stopped by the test")
    await asyncio.wait_for(run.wait_async(), 5)
    assert time.monotonic() - began < 1.0
    events = list(run.events)
    assert_contract(events)
    assert shape(events)[-3:] == ["tool:start", "tool:complete", "execution:cancelled"]
    assert events[-2].data.is_error and "cancelled" in events[-2].data.result
    assert events[-1].data.reason == "stopped by the test"
    assert run.state.status == "cancelled"
    assert not run.cancel()  # already over


async def test_cancel_while_streaming_at_a_slow_pace():
    run = wb.run("Write a long essay", model="simulated", options={"pace": 50})
    async for event in run.subscribe():
        if event.type == "thinking:delta":
            break
    run.cancel()
    await asyncio.wait_for(run.wait_async(), 5)
    assert_contract(list(run.events))
    assert run.state.status == "cancelled"
    assert any(s.status == "interrupted" for s in run.state.thinking_steps)


async def test_max_iterations_ends_a_loop_that_never_finishes(tmp_path: Path):
    looping = {"thinking": "Again.", "toolCalls": [{"name": "list_files", "input": {"path": "."}}]}
    phases = [[looping] * 10, [{"text": "x"}]]
    run = await run_to_end(model="simulated", options={"scenario": scenario(tmp_path, phases=phases), "maxIterations": 3})
    assert_contract(list(run.events))
    last = run.events[-1]
    assert last.type == "execution:error" and last.data.error.type == "limit_exceeded"
    assert "3 model calls" in last.data.error.message and "maxIterations" in last.data.error.message
    assert len(run.state.tool_calls) == 3


async def test_token_and_time_limits_end_runs_with_clear_errors(tmp_path: Path):
    run = await run_to_end(model="simulated", options={"scenario": scenario(tmp_path), "maxTokens": 100})
    last = run.events[-1]
    assert last.type == "execution:error" and last.data.error.type == "limit_exceeded"
    assert "limit of 100" in last.data.error.message
    slow = await run_to_end(model="simulated", options={"pace": 20, "timeout": 0.3})
    last = slow.events[-1]
    assert last.type == "execution:error" and "time limit of 0.3 s" in last.data.error.message
    assert_contract(list(slow.events))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"task": ""}, "non-empty string"),
        ({"task": "x" * 50_001}, "the limit is 50,000"),
        ({"model": "gpt-4"}, "unknown model 'gpt-4'"),
        ({"model": "claude-sonnet-4-6"}, "needs an Anthropic API key: set ANTHROPIC_API_KEY"),
        ({"strategy": "yolo"}, "unknown strategy 'yolo'"),
        ({"tools": ["teleport"]}, "teleport"),
        ({"options": {"pase": 3}}, "unknown option 'pase'"),
        ({"options": {"scenario": "/nonexistent/scenario.json"}}, "scenario.json"),
    ],
)
def test_bad_requests_are_refused_before_a_run_exists(kwargs: dict[str, Any], message: str):
    task = kwargs.pop("task", "Write a haiku")
    with pytest.raises(wb.UserError, match=message.replace("(", r"\(")):
        wb.run(task, **kwargs)


async def test_save_and_load_give_the_same_events_and_state(tmp_path: Path):
    run = await run_to_end(model="simulated", options={"scenario": scenario(tmp_path)})
    path = run.save(tmp_path / "out" / "run.jsonl")
    loaded = wb.load(path)
    assert [e.to_dict() for e in loaded.events] == [e.to_dict() for e in run.events]
    assert loaded.state.to_dict() == run.state.to_dict()
    assert (loaded.id, loaded.task, loaded.model, loaded.strategy) == (run.id, run.task, run.model, "plan")
    assert await loaded is loaded.state  # a loaded run is already over


def test_wait_works_without_an_event_loop(tmp_path: Path):
    run = wb.run("Write a haiku", model="simulated", options={"scenario": scenario(tmp_path)})
    state = run.wait(timeout=30)
    assert state.status == "complete" and run.done


def test_polling_wait_leaves_no_listener_behind():
    run = wb.run("Write a haiku", model="simulated", options={"pace": 200})
    before = len(run.log._listeners)
    with pytest.raises(TimeoutError):
        run.wait(timeout=0.01)
    assert len(run.log._listeners) == before
    run.cancel()
    run.wait(timeout=10)
    assert len(run.log._listeners) == before


async def test_interrupt_ends_a_run_as_interrupted_not_cancelled():
    run = wb.run("Write a long essay", model="simulated", options={"pace": 50})
    async for event in run.subscribe():
        if event.type == "thinking:delta":
            break
    assert run.interrupt("the server is shutting down")
    await asyncio.wait_for(run.wait_async(), 5)
    last = run.events[-1]
    assert (last.type, last.data.error.type, last.data.error.message) == (
        "execution:error", "interrupted", "the server is shutting down")
    assert run.state.status == "interrupted"
    assert_contract(list(run.events))


def test_log_lines_never_carry_a_credential(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture):
    from workbench.core.redact import get_logger

    key = "sk-ant-api03-secret-in-a-log-line-0123456789"
    monkeypatch.setenv("ANTHROPIC_API_KEY", key)
    caplog.set_level("DEBUG")
    try:
        raise RuntimeError(f"upstream said: bad key {key}")
    except RuntimeError:
        get_logger("workbench.server").exception("request failed with %s", key)
    assert caplog.records and all(key not in r.getMessage() and key not in (r.exc_text or "") for r in caplog.records)
    assert "[redacted]" in caplog.text and key not in caplog.text

"""Runs as OpenTelemetry traces, by the GenAI semantic conventions, received by a real OTLP/HTTP receiver.

Every trace here goes through the SDK's OTLP/HTTP exporter to :mod:`otlp_receiver`, which decodes
the protobuf with ``opentelemetry-proto``: what a collector (Phoenix, Langfuse, MLflow, …) would get.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from otlp_receiver import Receiver, Span, otlp_receiver, tree
from servers import start_server
from test_orchestrator import FINAL, PHASES, PLAN, run_to_end, scenario

import workbench as wb
from workbench.core import otel
from workbench.core.progress import ts_ms
from workbench.core.redact import refresh_secrets

WHOLE_RUN = [
    "invoke_agent workbench",
    "  chat simulated",  # the plan
    "  phase Draft",
    "    chat simulated",
    "    execute_tool write_file",
    "    chat simulated",
    "  phase Check",
    "    chat simulated",
    "    execute_tool read_file",
    "    chat simulated",
    "  chat simulated",  # the final answer
]
CONTENT_KEYS = {"gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions", "gen_ai.tool.call.arguments",
                "gen_ai.tool.call.result", "workbench.plan.goal", "workbench.phase.summary"}


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    monkeypatch.delenv(otel.CAPTURE, raising=False)
    monkeypatch.delenv(otel.SWITCH, raising=False)
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    with otlp_receiver() as receiving:
        yield receiving


@pytest.fixture
def switched_on(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    """Every run of this process exported at its end, to the receiver (as the environment says)."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    otel.enable()
    try:
        yield receiver
    finally:
        otel.flush(10)
        otel.enable(False)


def exporter(receiver: Receiver) -> OTLPSpanExporter:
    return OTLPSpanExporter(endpoint=receiver.traces_url)


def sent(run: wb.Run, receiver: Receiver, **options: Any) -> list[Span]:
    """Export ``run`` to the receiver and return the spans that arrived (one trace)."""
    before = len(receiver.spans)
    trace_id = run.to_otel(exporter(receiver), **options)
    spans = receiver.spans[before:]
    assert {s.trace_id for s in spans} == {trace_id}
    return spans


def ns(ts: str) -> int:
    return ts_ms(ts) * 1_000_000


def named(spans: list[Span], name: str) -> list[Span]:
    return sorted((s for s in spans if s.name == name), key=lambda s: s.start)


def usage_attributes(tokens: Any) -> dict[str, int]:
    return {"gen_ai.usage.input_tokens": tokens.input + tokens.cache_read + tokens.cache_write,
            "gen_ai.usage.output_tokens": tokens.output,
            "gen_ai.usage.cache_read.input_tokens": tokens.cache_read,
            "gen_ai.usage.cache_creation.input_tokens": tokens.cache_write}


async def test_a_whole_run_is_one_trace_with_the_run_its_phases_model_calls_and_tool_calls(
        tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "tides-lab")
    run = await run_to_end(model="simulated", options={"scenario": scenario(tmp_path)})
    spans = sent(run, receiver)
    state, events = run.state, list(run.events)
    assert tree(spans) == WHOLE_RUN
    assert len({s.trace_id for s in spans}) == 1 and [s.parent_id for s in spans].count("") == 1
    assert {s.resource["service.name"] for s in spans} == {"tides-lab"}
    assert {s.scope for s in spans} == {("workbench", "https://opentelemetry.io/schemas/1.41.1")}

    (root,) = named(spans, "invoke_agent workbench")
    plan_created = next(e for e in events if e.type == "plan:created")
    assert (root.kind, root.status) == ("internal", ("unset", ""))
    assert root.events == [("plan:created", ns(plan_created.ts), {"workbench.plan.phases": 2})]
    assert (root.start, root.end) == (ns(events[0].ts), ns(events[-1].ts))
    assert root.attributes == {
        "gen_ai.operation.name": "invoke_agent", "gen_ai.provider.name": "anthropic", "gen_ai.agent.name": "workbench",
        "gen_ai.conversation.id": run.id, "gen_ai.request.model": "simulated", **usage_attributes(state.tokens),
        "workbench.run.id": run.id, "workbench.run.strategy": "plan", "workbench.run.status": "complete",
        "workbench.run.waited_ms": 0, "workbench.run.model_calls": 6, "workbench.run.tool_calls": 2,
        "workbench.run.retries": 0,  # and no workbench.run.cost_usd: the simulator has no price
    }
    assert state.cost_usd is None

    draft, check = named(spans, "phase Draft"), named(spans, "phase Check")
    for (phase_span,), phase in zip((draft, check), state.phases.values()):
        assert phase_span.parent_id == root.span_id and phase_span.kind == "internal"
        assert (phase_span.start, phase_span.end) == (ns(phase.started_at or ""), ns(phase.ended_at or ""))
        assert phase_span.attributes == {"workbench.phase.id": phase.id, "workbench.phase.name": phase.name,
                                         "workbench.phase.index": phase.index, "workbench.phase.status": "complete",
                                         **usage_attributes(phase.tokens)}

    chats = named(spans, "chat simulated")
    responses = [e.data for e in events if e.type == "model:response"]
    assert len(chats) == len(state.model_calls) == len(responses) == 6
    for chat, call, response in zip(chats, state.model_calls, responses):
        assert chat.kind == "client" and chat.status == ("unset", "")
        assert (chat.start, chat.end) == (ns(call.started_at), ns(call.started_at) + call.duration * 1_000_000)
        assert chat.attributes == {
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic", "gen_ai.request.model": "simulated",
            "gen_ai.request.stream": True, "gen_ai.conversation.id": run.id, "gen_ai.response.model": response.model,
            "gen_ai.response.finish_reasons": [response.stop_reason], **usage_attributes(call.tokens),
            "gen_ai.response.time_to_first_chunk": (call.ttft or 0) / 1000,
        }
    assert [c.attributes["gen_ai.response.finish_reasons"] for c in chats] == [
        ["tool_use"], ["tool_use"], ["end_turn"], ["tool_use"], ["end_turn"], ["end_turn"]]

    starts = {e.data.tool_use_id: e for e in events if e.type == "tool:start"}
    completes = {e.data.tool_use_id: e for e in events if e.type == "tool:complete"}
    for name, parent in (("execute_tool write_file", draft[0]), ("execute_tool read_file", check[0])):
        (tool,) = named(spans, name)
        call_id = tool.attributes["gen_ai.tool.call.id"]
        assert tool.parent_id == parent.span_id and tool.kind == "internal" and tool.status == ("unset", "")
        assert (tool.start, tool.end) == (ns(starts[call_id].ts), ns(completes[call_id].ts))
        assert tool.attributes == {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name.split()[1],
                                   "gen_ai.tool.call.id": call_id, "gen_ai.tool.type": "function"}


async def test_a_failed_run_ends_its_spans_in_error_with_the_retries_and_the_exception(
        tmp_path: Path, receiver: Receiver) -> None:
    faults = [{"request": n, "kind": "midstream_error"} for n in range(3, 8)]  # the Draft phase's second call
    run = await run_to_end(model="simulated", options={"scenario": scenario(tmp_path), "faults": faults,
                                                       "retryDelay": 0.01, "maxRetries": 2})
    spans = sent(run, receiver)
    assert tree(spans) == [
        "invoke_agent workbench",
        "  chat simulated",
        "  phase Draft",
        "    chat simulated",
        "    execute_tool write_file",
        "    chat simulated",  # the call that failed three times
    ]
    error = run.state.error
    assert error is not None and error.type == "model_error"
    (root,) = named(spans, "invoke_agent workbench")
    assert root.status == ("error", error.message) and root.attributes["error.type"] == "model_error"
    assert root.attributes["workbench.run.status"] == "error" and root.attributes["workbench.run.retries"] == 2
    assert [name for name, _, _ in root.events] == ["plan:created", "exception"]
    _, at, attributes = root.events[-1]
    assert at == ns(run.events[-1].ts)
    assert attributes == {"exception.type": "model_error", "exception.message": error.message}
    (phase,) = named(spans, "phase Draft")
    assert phase.status == ("error", error.message) and phase.attributes["workbench.phase.status"] == "failed"
    failed = named(spans, "chat simulated")[-1]
    assert failed.status == ("error", error.message) and failed.attributes["error.type"] == "model_error"
    assert failed.end == ns(run.events[-1].ts) and "gen_ai.response.model" not in failed.attributes
    retries = [e for e in run.events if e.type == "model:retry"]
    assert [(name, at, attrs["workbench.retry.attempt"], attrs["workbench.retry.reason"])
            for name, at, attrs in failed.events] == [
        ("model:retry", ns(r.ts), r.data.attempt, "mid-stream overloaded_error") for r in retries]
    # the span covers its retries: it starts where the first attempt did, at the tool call's end
    (tool,) = named(spans, "execute_tool write_file")
    assert failed.start == tool.end


async def test_a_cancelled_run_says_so_on_the_run_its_phase_and_the_tool_call_it_stopped(
        tmp_path: Path, receiver: Receiver) -> None:
    started = asyncio.Event()
    loop = asyncio.get_running_loop()

    @wb.tool
    async def slow(seconds: float) -> str:
        """Sleeps."""
        loop.call_soon_threadsafe(started.set)
        await asyncio.sleep(seconds)
        return "done"

    phases = [[{"thinking": "Wait.", "toolCalls": [{"name": "slow", "input": {"seconds": 30}}]}, {"text": "Waited."}],
              [{"text": "x"}]]
    run = wb.run("Wait a while", model="simulated", tools=[slow],
                 options={"scenario": scenario(tmp_path, phases=phases)})
    await asyncio.wait_for(started.wait(), 10)
    run.cancel("stopped by the test")
    await asyncio.wait_for(run.wait_async(), 5)
    spans = sent(run, receiver)
    assert tree(spans) == ["invoke_agent workbench", "  chat simulated", "  phase Draft", "    chat simulated",
                           "    execute_tool slow"]
    end = ns(run.events[-1].ts)
    (root,), (phase,), (tool,) = (named(spans, n) for n in ("invoke_agent workbench", "phase Draft", "execute_tool slow"))
    stopped = next(e for e in run.events if e.type == "tool:complete")  # the orchestrator's, as it stopped the tool
    for span, ended in ((root, end), (phase, end), (tool, ns(stopped.ts))):
        assert span.status == ("error", "stopped by the test") and span.attributes["error.type"] == "cancelled"
        assert span.end == ended
    assert root.events[-1] == ("execution:cancelled", end, {"workbench.cancel.reason": "stopped by the test"})
    assert phase.attributes["workbench.phase.status"] == "cancelled"


async def test_approvals_and_pauses_are_span_events_where_they_happened(tmp_path: Path, receiver: Receiver) -> None:
    run = wb.run("Write a haiku about tides", model="simulated", strategy="react",
                 options={"scenario": scenario(tmp_path), "approve": ["write_file"], "breakpoints": ["tool"]})
    deadline = time.monotonic() + 20
    while not run.done:
        assert time.monotonic() < deadline
        if run.state.paused is not None:
            run.resume()
        elif run.waiting:
            run.decide(run.waiting[0], "approve", by="ada")
        await asyncio.sleep(0.01)
    spans = sent(run, receiver)
    at = {e.type: ns(e.ts) for e in run.events}
    (root,) = named(spans, "invoke_agent workbench")
    call_id = next(e.data.tool_use_id for e in run.events if e.type == "tool:start")
    assert root.events == [
        ("execution:paused", at["execution:paused"], {"workbench.pause.reason": "breakpoint",
                                                      "workbench.pause.before": "tool", "gen_ai.tool.call.id": call_id}),
        ("execution:resumed", at["execution:resumed"], {"workbench.resume.step": False}),
    ]
    assert root.attributes["workbench.run.waited_ms"] == run.state.waited > 0
    (tool,) = named(spans, "execute_tool write_file")
    assert tool.events == [("tool:approval", at["tool:approval"], {}),
                           ("tool:decision", at["tool:decision"], {"workbench.decision": "approve"})]


async def test_content_goes_along_only_when_capture_is_on(tmp_path: Path, receiver: Receiver,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    run = await run_to_end(model="simulated", options={"scenario": scenario(tmp_path)})
    spans = sent(run, receiver)
    assert not [(s.name, k) for s in spans for k in s.attributes if k in CONTENT_KEYS]
    everything = b"".join(receiver.bodies)
    for text in ("Write a haiku about tides", "I will draft it first.", "Drafting.", "moon pulls the water",
                 "Here is the haiku.", PLAN["goal"]):
        assert text.encode() not in everything, text

    monkeypatch.setenv(otel.CAPTURE, "true")
    spans = sent(run, receiver)
    (root,) = named(spans, "invoke_agent workbench")
    assert json.loads(root.attributes["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Write a haiku about tides"}]}]
    assert json.loads(root.attributes["gen_ai.output.messages"]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "Here is the haiku."}], "finish_reason": "stop"}]
    draft_call = named(spans, "chat simulated")[1]
    (message,) = json.loads(draft_call.attributes["gen_ai.output.messages"])
    tool_use_id = next(e.data.tool_use_id for e in run.events if e.type == "tool:start")
    assert message == {"role": "assistant", "finish_reason": "tool_use", "parts": [
        {"type": "reasoning", "content": PHASES[0][0]["thinking"]},
        {"type": "text", "content": PHASES[0][0]["text"]},
        {"type": "tool_call", "id": tool_use_id, "name": "write_file",
         "arguments": {"path": "haiku.txt", "content": "moon pulls the water"}},
    ]}
    (write,) = named(spans, "execute_tool write_file")
    assert json.loads(write.attributes["gen_ai.tool.call.arguments"]) == {"path": "haiku.txt",
                                                                          "content": "moon pulls the water"}
    assert write.attributes["gen_ai.tool.call.result"] == next(
        e.data.result for e in run.events if e.type == "tool:complete")
    assert FINAL["thinking"] in named(spans, "chat simulated")[-1].attributes["gen_ai.output.messages"]
    # Each call's input, rebuilt from the log: the system prompt, the phase's opening, and from the
    # second call of a phase on, the answer before it and the tool's result.
    after_write = named(spans, "chat simulated")[2]
    system = json.loads(after_write.attributes["gen_ai.system_instructions"])
    assert [p["type"] for p in system] == ["text"] and "phase 1 of 2" in system[0]["content"].lower()
    opening, answer, results = json.loads(after_write.attributes["gen_ai.input.messages"])
    assert opening["role"] == "user" and "Write a haiku about tides" in opening["parts"][0]["content"]
    assert answer == {"role": "assistant", "parts": message["parts"]}
    assert results == {"role": "user", "parts": [{"type": "tool_call_response", "id": tool_use_id,
                                                  "response": "Wrote 20 bytes to haiku.txt"}]}
    spans = sent(run, receiver, capture_content=False)  # the argument wins over the environment
    assert not [k for s in spans for k in s.attributes if k in CONTENT_KEYS]


async def test_no_credential_reaches_the_collector_even_with_content_captured(
        tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    key = "sk-ant-api03-" + "Zq7" * 14
    monkeypatch.setenv("ANTHROPIC_API_KEY", key)
    refresh_secrets()
    try:
        phases = [[{"thinking": f"The key is {key}.", "text": f"Using {key}",
                    "toolCalls": [{"name": "write_file", "input": {"path": "k.txt", "content": key}}]},
                   {"text": "Done."}], [{"text": "Checked."}]]
        run = await run_to_end(f"Keep {key} safe", model="simulated",
                               options={"scenario": scenario(tmp_path, phases=phases)})
        assert run.state.status == "complete"
        sent(run, receiver, capture_content=True)
    finally:
        monkeypatch.delenv("ANTHROPIC_API_KEY")
        refresh_secrets()
    everything = b"".join(receiver.bodies)
    assert key.encode() not in everything and key[:20].encode() not in everything
    assert b"[redacted]" in everything  # the content went along, with the key taken out


async def test_a_run_file_exports_to_the_same_trace_only_when_asked(tmp_path: Path, receiver: Receiver) -> None:
    run = await run_to_end(model="simulated", options={"scenario": scenario(tmp_path)})
    path = run.save(tmp_path / "run.jsonl")

    def shape(spans: list[Span]) -> list[tuple[Any, ...]]:
        return sorted((s.name, s.start, s.end, json.dumps(s.attributes, sort_keys=True), s.status, str(s.events))
                      for s in spans)

    live = sent(run, receiver, trace_id_from_run=True)
    first, second = (sent(wb.load(path), receiver, trace_id_from_run=True) for _ in range(2))
    assert len(receiver.traces()) == 1  # three exports, one trace
    by_id = [sorted(spans, key=lambda s: s.span_id) for spans in (live, first, second)]
    assert by_id[0] == by_id[1] == by_id[2]  # the same spans, ids and all
    assert live[0].trace_id == format(otel.trace_id_of(run.id), "032x")

    random_ids = [sent(wb.load(path), receiver) for _ in range(2)]
    assert random_ids[0][0].trace_id != random_ids[1][0].trace_id != live[0].trace_id
    assert {s.span_id for s in random_ids[0]}.isdisjoint(s.span_id for s in random_ids[1])
    assert shape(random_ids[0]) == shape(random_ids[1]) == shape(live)  # the same trace, but for its ids


async def test_a_fork_links_to_its_parents_trace_when_ids_come_from_the_runs(tmp_path: Path, receiver: Receiver) -> None:
    parent = await run_to_end(model="simulated", options={"scenario": scenario(tmp_path)})
    fork = parent.fork(at=next(e.id for e in parent.events if e.type == "tool:complete"))
    await asyncio.wait_for(fork.wait_async(), 30)
    spans = sent(fork, receiver, trace_id_from_run=True)
    (root,) = named(spans, "invoke_agent workbench")
    parent_root = sent(parent, receiver, trace_id_from_run=True)[0]
    assert root.links == [(parent_root.trace_id, parent_root.span_id)] and parent_root.parent_id == ""
    assert root.attributes["workbench.run.parent_id"] == parent.id


def expected_tree(run_file: bytes, tmp_path: Path) -> list[str]:
    """The span tree a run's log makes, checked against the log itself: its phases, model calls and tool calls."""
    path = tmp_path / "downloaded.jsonl"
    path.write_bytes(run_file)
    run = wb.load(path)
    with otlp_receiver() as local:
        lines = tree(sent(run, local))
    state = run.state
    assert lines[0] == "invoke_agent workbench" and state.status == "complete"
    assert [line.strip() for line in lines if line.startswith("  phase ")] == [f"phase {p.name}" for p in state.phases.values()]
    assert sum(line.strip() == "chat simulated" for line in lines) == len(state.model_calls) > 0
    assert sorted(line.strip() for line in lines if "execute_tool" in line) == sorted(
        f"execute_tool {c.tool_name}" for c in state.tool_calls)
    return lines


async def test_every_run_of_a_server_switched_on_arrives_as_a_trace(tmp_path: Path, switched_on: Receiver) -> None:
    served = await start_server(tmp_path, otel=True)
    files = {}
    try:
        async with aiohttp.ClientSession() as http:
            for seed in (1, 2):
                async with http.post(served.api + "/runs", json={"task": "Write a haiku about tides", "model": "simulated",
                                                                 "options": {"seed": seed, "pace": 0}}) as reply:
                    assert reply.status == 201, await reply.text()
                    run_id = (await reply.json())["id"]
                await asyncio.wait_for(served.service._live[run_id].wait_async(), 30)
                async with http.get(f"{served.api}/runs/{run_id}/log") as reply:
                    files[run_id] = await reply.read()
    finally:
        await served.runner.cleanup()
        await served.service.close()  # flushes the traces of the runs that just ended
    traces = switched_on.wait_for_traces(2)
    by_run = {spans[0].attributes["gen_ai.conversation.id"]: spans for spans in traces.values()}
    assert sorted(by_run) == sorted(files)
    for run_id, spans in by_run.items():
        assert tree(spans) == expected_tree(files[run_id], tmp_path)


def test_workbench_serve_with_workbench_otel_sends_each_run_to_the_collector(tmp_path: Path, receiver: Receiver) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "WORKBENCH_OTEL": "1", "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
           "OTEL_SERVICE_NAME": "workshop", "WORKBENCH_HOME": str(tmp_path / "home")}
    env.pop("ANTHROPIC_API_KEY", None)
    server = subprocess.Popen([sys.executable, "-m", "workbench.cli", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    api = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, server.stdout and server.stdout.read()
                time.sleep(0.05)
        body = json.dumps({"task": "Write a haiku about tides", "model": "simulated",
                           "options": {"seed": 3, "pace": 0}}).encode()
        request = urllib.request.Request(api + "/runs", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as reply:
            run_id = json.loads(reply.read())["id"]
        (spans,) = receiver.wait_for_traces(1, timeout=30).values()
        with urllib.request.urlopen(f"{api}/runs/{run_id}/log", timeout=30) as reply:
            run_file = reply.read()
    finally:
        server.terminate()
        server.wait(15)
    assert spans[0].attributes["gen_ai.conversation.id"] == run_id
    assert {s.resource["service.name"] for s in spans} == {"workshop"}
    assert tree(spans) == expected_tree(run_file, tmp_path)


def test_a_recorded_run_of_ones_own_agent_is_sent_too_when_switched_on(switched_on: Receiver) -> None:
    with wb.record("Summarise the notes", model="my-agent") as rec:
        rec.plan("A summary", ["Read"])
        with rec.phase("Read"):
            rec.think("Read the notes first.")
            rec.usage(input=120, output=30, cache_read=40)
            with rec.tool("read_file", path="notes.md") as call:
                call.result = "three notes"
            rec.usage(input=200, output=45, cache_read=80)
        rec.finish("Three notes, summarised.")
    assert otel.flush(10)
    (spans,) = switched_on.wait_for_traces(1).values()
    assert tree(spans) == ["invoke_agent workbench", "  phase Read", "    chat my-agent", "    execute_tool read_file",
                           "    chat my-agent"]
    first, second = named(spans, "chat my-agent")
    assert usage_attributes_of(first) == (160, 30, 40) and usage_attributes_of(second) == (280, 45, 80)  # rec.usage() takes each call's own


def usage_attributes_of(span: Span) -> tuple[int, int, int]:
    a = span.attributes
    return a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"], a["gen_ai.usage.cache_read.input_tokens"]


def test_a_server_without_the_switch_imports_no_opentelemetry_sdk(tmp_path: Path, receiver: Receiver) -> None:
    from test_startup import fresh_python, loaded

    answer = fresh_python(f"""
        import asyncio, json, sys
        from workbench.serving.service import Principal, RunService

        async def main():
            service = RunService(store_path=sys.argv[1], workspace_root=sys.argv[2])
            await service.load_agent()
            run = service.create(Principal("ada"), {{"task": "Write a haiku", "model": "simulated",
                                                     "options": {{"pace": 0}}}})
            await run.wait_async()
            await service.close()
            return run.status

        status = asyncio.run(main())
        print(json.dumps({{"status": status, "loaded": {loaded(["opentelemetry.sdk", "opentelemetry.exporter"])}}}))
    """, tmp_path, str(tmp_path / "runs.db"), str(tmp_path / "ws"))
    # (the OpenTelemetry API comes with the anthropic SDK, which imports it itself)
    assert answer == {"status": "complete", "loaded": []}

"""No credential in any event: what the log scrubs, how streamed text is scrubbed, and a canary
key and token followed through a whole run into every output (events, both servers' streams,
run files, SQLite, the terminal, HTML, logs)."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from pathlib import Path

import anthropic
import httpx2
import pytest
from servers import raw_get, start_server

import workbench as wb
from conftest import write_scenario
from workbench.agent.models import ModelClient
from workbench.agent.options import parse_options
from workbench.agent.orchestrator import Orchestrator, RunConfig
from workbench.cli.main import main as cli_main
from workbench.core import events as ev
from workbench.core.contract import contract_violations
from workbench.core.log import RunLog
from workbench.core.redact import REDACTED, redact
from workbench.core.store import RunStore
from workbench.serving.service import Principal
from workbench.serving.workshop import load_workshop
from workbench.simulator.frames import encode_frames, make_message, message_frames

KEY = "sk-ant-api03-CANARY-0123456789abcdefghijklmnop"
TOKEN = "wbtoken-canary-5f0e1d2c3b4a69788796"
"""Not key-shaped: only known because the process was told (a server's token)."""
SECRETS = (KEY, TOKEN)
PHRASE = "canary pass phrase 4711"
"""A registered secret with spaces in it: only known as a whole."""
GENERIC_TASK = f"Write notes about {KEY} and {TOKEN}"

# Every event type whose data carries text a model, a tool or a person wrote.
TEXT_TYPES = {"execution:started", "plan:created", "phase:start", "thinking:delta", "thinking", "text:delta",
              "text", "tool:start", "tool:complete", "phase:complete", "execution:complete"}
GENERIC_TYPES = TEXT_TYPES - {"phase:start", "execution:complete"}
"""What the generic scenario echoes the task into (all a run started over HTTP can script)."""


def leaks(blob: str | bytes) -> list[str]:
    text = blob.decode("utf-8", "replace") if isinstance(blob, bytes) else blob
    return [s for s in SECRETS if s in text]


@pytest.fixture
def canary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("WORKBENCH_TOKEN", TOKEN)


def canary_scenario(tmp_path: Path) -> str:
    """A scripted run with the canaries in its plan, thinking, text, tool params, tool results
    (a workspace ``.env`` read back), a tool error, the phase summary and the final result."""
    return write_scenario(
        tmp_path / "canary-scenario.json",
        plan={"goal": f"Check the key {KEY}", "thinking": f"The key is {KEY}; the token {TOKEN}.",
              "phases": [{"name": f"Read {KEY}", "description": f"Look at .env (Bearer {TOKEN})"}]},
        phases=[[
            {"thinking": f"The .env holds {KEY} and {TOKEN}.", "text": f"Reading .env, x-api-key: {KEY}",
             "toolCalls": [{"name": "read_file", "input": {"path": ".env"}},
                           {"name": "write_file", "input": {"path": "notes.txt", "content": f"key={KEY}\ntoken {TOKEN}"}},
                           {"name": "read_file", "input": {"path": f"missing-{TOKEN}.txt"}}]},
            {"text": f"Summary: the key is {KEY}, the token {TOKEN}"},
        ]],
        final={"thinking": f"Finish with {KEY}", "text": f"Done. Key {KEY}, token {TOKEN}."},
    )


def workspace_with_env(tmp_path: Path) -> Path:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / ".env").write_text(f"ANTHROPIC_API_KEY={KEY}\nWORKBENCH_TOKEN={TOKEN}\n")
    return workspace


def assert_scrubbed(events: list[ev.Event], types: set[str] = TEXT_TYPES) -> None:
    """No canary anywhere, the canaries were there to scrub in all ``types``, and the contract holds."""
    assert [e.id for e in events if leaks(e.to_json())] == []
    scrubbed = {e.type for e in events if REDACTED in e.to_json()}
    assert types <= scrubbed, types - scrubbed
    assert contract_violations(events) == []


def database_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))  # the file, its -wal and -shm


# --- the choke point: RunLog.append ----------------------------------------------------------


def every_event_type_carrying(text: str) -> list[ev.EventData]:
    phase = ev.PlanPhase(id="p1", name=text, description=text)
    return [
        ev.ExecutionStartedData(task=text, started_at="2026-01-01T00:00:00.000Z", model=text, strategy=text),
        ev.PlanCreatedData(plan=ev.Plan(goal=text, phases=[phase])),
        ev.PhaseStartData(phase_id=text, phase_name=text, phase_index=0),
        ev.ThinkingDeltaData(step_id=text, delta=text, phase_id=text),
        ev.ThinkingData(thought=text, iteration=1, step_id=text, phase_id=text),
        ev.TextDeltaData(step_id=text, delta=text, phase_id=text),
        ev.TextData(step_id=text, text=text, phase_id=text),
        ev.ToolStartData(tool_name=text, params={"path": text, text: [text, {"deep": (text, 1)}]}, tool_use_id=text,
                         phase_id=text),
        ev.ToolCompleteData(tool_name=text, result={"content": [text, {text: text}], "n": 3}, duration=1.0,
                            tool_use_id=text, is_error=True),
        ev.PhaseCompleteData(phase_id=text, phase_name=text, summary=text),
        ev.UsageData(input=1, output=2, note=text),  # an extra field, kept and scrubbed too
        ev.ModelRetryData(attempt=1, reason=text, delay_ms=10.0),
        ev.ExecutionPausedData(reason="user", before="tool", tool_use_id=text),
        ev.ExecutionResumedData(by=text, step=True),
        ev.ToolApprovalData(tool_use_id=text, tool_name=text, params={"path": text}, phase_id=text),
        ev.ToolDecisionData(tool_use_id=text, decision="edit", params={"path": [text]}, note=text, by=text),
        ev.UserMessageData(text=text, by=text, phase_id=text),
        ev.ModelResponseData(phase_id=text, iteration=1, model=text, content=[{"type": "text", "text": text}],
                             stop_reason=text, usage=ev.Usage(input=1)),
        ev.RunForkedData(parent_id=text, at=3, edits=ev.ForkEdits(message=text, tool_result=ev.ToolResultEdit(
            tool_use_id=text, result={"r": [text]}))),
        ev.RunResumedData(attempt=2, at=3, worker=text),
        ev.ExecutionErrorData(error=ev.ErrorInfo(type=text, message=text), stack=text),
    ]


def test_every_event_type_is_scrubbed_as_it_enters_the_log(canary: None):
    log = RunLog("r_scrub")
    datas = every_event_type_carrying(f"a {KEY} b Bearer {TOKEN} c")
    covered = {d.TYPE for d in datas} | {"execution:complete", "execution:cancelled"}
    assert covered == set(ev.EVENT_TYPES)  # a new event type must be added here
    for data in datas[:-1]:
        log.append(data)
    log.append(datas[-1])
    assert [e.id for e in log.events if leaks(e.to_json())] == []
    assert log.events[0].data.task == f"a {REDACTED} b Bearer {REDACTED} c"
    assert log.events[7].data.params == {"path": f"a {REDACTED} b Bearer {REDACTED} c", f"a {REDACTED} b Bearer {REDACTED} c":
                                         [f"a {REDACTED} b Bearer {REDACTED} c", {"deep": (f"a {REDACTED} b Bearer {REDACTED} c", 1)}]}
    assert log.events[10].to_dict()["data"] == {"input": 1, "output": 2, "cacheRead": 0, "cacheWrite": 0,
                                                "note": f"a {REDACTED} b Bearer {REDACTED} c"}
    for data in (ev.ExecutionCompleteData(result=KEY, duration=1.0, tokens_used=ev.Usage()),
                 ev.ExecutionCancelledData(reason=f"by {TOKEN}", duration=1.0)):
        other = RunLog("r_scrub2")
        event = other.append(data)
        assert not leaks(event.to_json()) and REDACTED in event.to_json()


def test_an_event_with_nothing_to_scrub_is_stored_as_given():
    data = ev.ToolStartData(tool_name="write_file", params={"path": "a.txt", "content": "é ü 🙂"}, tool_use_id="t1")
    event = RunLog("r_same").append(data)
    assert event.data is data


def test_lone_surrogates_become_replacement_characters_so_every_event_encodes(tmp_path: Path):
    run = wb.record("Surrogates \udfff in the task")
    run.say("half a pair: \ud83d, and a whole one: 🙂")
    with run.tool("read_file", path="\udc80.txt") as call:
        call.result = {"\ud800": ["\udfff"]}
    run.finish("done \udfff")
    events = list(run.run.events)
    assert events[0].data.task == "Surrogates \ufffd in the task" and run.run.task == "Surrogates \ufffd in the task"
    assert events[1].data.text == "half a pair: \ufffd, and a whole one: 🙂"
    assert events[2].data.params == {"path": "\ufffd.txt"} and events[3].data.result == {"\ufffd": ["\ufffd"]}
    assert events[-1].data.result == "done \ufffd"
    for event in events:
        event.to_json().encode("utf-8")  # strict: would raise on a lone surrogate
    path = run.run.save(tmp_path / "surrogates.jsonl")
    assert wb.load(path).events[1].data.text == events[1].data.text
    store = RunStore(tmp_path / "runs.db")
    store.add(run.run)
    assert store.flush()
    store.close()


# --- secrets the process knows -------------------------------------------------------------


def test_tokens_a_process_is_given_are_scrubbed_like_the_environment_s(tmp_path: Path):
    from workbench.remote.connection import Connection
    from workbench.serving.tokens import single_token

    served_token, workshop_token, client_token = (f"{name}-token-canary-0a1b2c3d4e5f" for name in ("serve", "people", "client"))
    single_token(served_token)  # workbench serve --token
    (tmp_path / "workshop.toml").write_text(f'[[people]]\nname = "ada"\nrole = "instructor"\ntoken = "{workshop_token}"\n')
    load_workshop(tmp_path / "workshop.toml")
    Connection("http://127.0.0.1:1/api", "standalone", client_token)  # wb.connect(url, token=...)
    for token in (served_token, workshop_token, client_token):
        assert redact(f"saw {token}.") == f"saw {REDACTED}."
        event = RunLog("r_tokens").append(ev.TextData(step_id="s1", text=f"saw {token}."))
        assert event.data.text == f"saw {REDACTED}."


def test_a_secret_registered_in_code_is_scrubbed_and_short_values_are_not_registered():
    from workbench.core.redact import register_secret

    register_secret("my own api key 0123")  # spaces and all
    register_secret("abc")  # too short: every "abc" would go
    assert redact("use my own api key 0123 for abc") == f"use {REDACTED} for abc"


def test_labels_stay_and_only_the_credential_goes():
    assert redact("Authorization: Bearer abcdefgh12345678") == f"Authorization: Bearer {REDACTED}"
    assert redact('{"x-api-key": "abcdefgh12345678"}') == f'{{"x-api-key": "{REDACTED}"}}'
    assert redact(f"key={KEY}.") == f"key={REDACTED}."
    assert redact("a bearer of good news") == "a bearer of good news"


# --- streamed text ----------------------------------------------------------------------------


def _texts(rng: random.Random) -> list[str]:
    words = [PHRASE, PHRASE[:7], "tide", "pool", "Bearer", "bearer", "x-api-key:", "x-api-key=", "'", '"', "sk-ant-", "sk-ant-api03",
             KEY, TOKEN, KEY[:12], TOKEN[:9], "\udfff", "🙂", "abcdefghij", "=", ":", "-", "\n"]
    gaps = [" ", "", "  ", "\n", "\t", ": "]
    return ["".join(rng.choice(words) + rng.choice(gaps) for _ in range(rng.randint(1, 9))) for _ in range(300)] + [
        f"Bearer {TOKEN}", f"x-api-key: '{KEY}'", f"{KEY}{TOKEN}", f"the key\t{KEY}\n", f"a {PHRASE}{PHRASE[:9]}",
        "q" * 300 + TOKEN + "z" * 300, "=" * 270 + KEY, "w" * 250 + PHRASE[:12] + " " + PHRASE]


def _split(text: str, cuts: list[int]) -> list[str]:
    bounds = [0, *sorted(cuts), len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:])]


def _streamed(pieces: list[str]) -> list[str]:
    from workbench.core.redact import StreamScrubber

    scrubber = StreamScrubber()
    return [*(scrubber.feed(p) for p in pieces), scrubber.flush()]


def test_streamed_pieces_join_to_the_scrubbed_whole_wherever_the_text_is_split(canary: None):
    from workbench.core.redact import register_secret, scrub

    register_secret(PHRASE)
    rng = random.Random(7)
    for text in _texts(rng):
        whole = scrub(text)
        assert not leaks(whole)
        splits = [[i] for i in range(len(text) + 1)]  # every single cut
        splits += [[i, j] for i in range(len(text) + 1) for j in range(i, len(text) + 1)] if len(text) < 40 else []
        splits += [rng.sample(range(len(text) + 1), min(len(text) + 1, rng.randint(2, 12))) for _ in range(30)]
        splits.append(list(range(len(text) + 1)))  # one character at a time
        for cuts in splits:
            released = _streamed(_split(text, cuts))
            assert "".join(released) == whole, (text, cuts, released)
            assert not any(leaks(piece) or PHRASE in piece for piece in released), (text, cuts, released)


def test_streamed_text_goes_out_word_by_word_not_at_the_end():
    released = _streamed(["The ", "tide ", "turns", " slowly", "."])
    assert released == ["The ", "tide ", "", "turns ", "", "slowly."]


def test_a_bearer_label_waits_for_its_token_however_short_the_pieces():
    released = _streamed(["Bearer", " ", "abcdefgh", "ij", " ok"])
    assert released == ["", "", "", "", f"Bearer {REDACTED} ", "ok"]


def test_a_recorded_thought_streamed_in_pieces_never_shows_a_split_key(canary: None):
    with wb.record("Stream a thought") as rec:
        rec.think_stream(["The key is sk-an", "t-api03-CANARY-012345", "6789abcdefghijklmnop, kept."])
    events = list(rec.run.events)
    deltas = [e.data.delta for e in events if e.type == "thinking:delta"]
    assert deltas == ["The key is ", f"{REDACTED}, ", "kept."]
    assert [e.data.thought for e in events if e.type == "thinking"] == [f"The key is {REDACTED}, kept."]
    assert contract_violations(events) == []


async def test_the_orchestrator_holds_back_a_key_split_across_deltas(canary: None, tmp_path: Path):
    """A real SDK stream whose thinking and text deltas cut the key and the token in two."""
    message = make_message(message_id="msg_1", model="claude-sonnet-4-6", input_tokens=5, output_tokens=9, content=[
        {"type": "thinking", "thinking": f"Use {KEY} now", "signature": "sig"},
        {"type": "text", "text": f"Bearer {TOKEN} sent"},
    ])
    pieces = {0: ["Use sk-ant-api", "03-CANARY-0123456789abcdefghijklmnop", " now"],
              1: ["Bearer", " wbtoken-can", "ary-5f0e1d2c3b4a69788796 sent"]}
    body = encode_frames(message_frames(message, pieces=pieces))
    transport = httpx2.MockTransport(lambda request: httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body))
    client = anthropic.AsyncAnthropic(api_key=KEY, http_client=httpx2.AsyncClient(transport=transport), max_retries=0)
    log = RunLog("r_split")
    config = RunConfig("Say it", "claude-sonnet-4-6", "react", [], parse_options({"thinking": "off"}), tmp_path)
    await Orchestrator(config, log, ModelClient(client, "claude-sonnet-4-6", simulated=False)).execute()
    events = list(log.events)
    assert [(e.type, getattr(e.data, "delta", None)) for e in events if e.type.endswith(":delta")] == [
        ("thinking:delta", "Use "), ("thinking:delta", f"{REDACTED} "), ("thinking:delta", "now"),
        ("text:delta", f"Bearer {REDACTED} "), ("text:delta", "sent"),
    ]
    assert [e.data.thought for e in events if e.type == "thinking"] == [f"Use {REDACTED} now"]
    assert [e.data.text for e in events if e.type == "text"] == [f"Bearer {REDACTED} sent"]
    assert [e.id for e in events if leaks(e.to_json())] == [] and contract_violations(events) == []


# --- the canary through every output ------------------------------------------------------------


async def test_a_canary_run_leaves_no_credential_in_any_output(canary: None, tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    run = wb.run(f"Tidy up: the key is {KEY} and the token is {TOKEN}", model="simulated",
                 options={"scenario": canary_scenario(tmp_path), "workspace": str(workspace_with_env(tmp_path))})
    await asyncio.wait_for(run.wait_async(), 30)
    assert run.state.status == "complete", run.state.error
    events = list(run.events)
    assert_scrubbed(events)
    env_read = next(e for e in events if e.type == "tool:complete" and e.data.tool_name == "read_file")
    assert REDACTED in json.dumps(env_read.data.result)
    assert not leaks(run.task) and not leaks(json.dumps(run.summary())) and not leaks(run.to_html())
    from workbench.notebook.files import file_content, files_note

    written = [file_content(run, f["path"]) for f in files_note(run)["files"]]  # what the view shows of each file
    assert written and not leaks(json.dumps(written))
    assert not leaks(run.save(tmp_path / "canary.jsonl").read_bytes())
    store = RunStore(tmp_path / "store" / "runs.db")
    store.add(run)
    assert store.flush()
    store.close()
    assert not leaks(database_bytes(tmp_path / "store" / "runs.db"))
    assert not leaks(caplog.text)


def test_workbench_run_prints_no_credential(canary: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    code = cli_main(["run", f"Tidy up: the key is {KEY} and the token is {TOKEN}", "--model", "simulated",
                     "--scenario", canary_scenario(tmp_path), "--workspace", str(workspace_with_env(tmp_path)),
                     "--save", str(tmp_path / "cli.jsonl")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert REDACTED in out and not leaks(out) and not leaks(err)
    assert not leaks((tmp_path / "cli.jsonl").read_bytes())


async def test_the_standalone_server_serves_no_credential(canary: None, tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture):
    """The generic scenario echoes the task everywhere: plan, thinking, text, files written and read back."""
    caplog.set_level(logging.DEBUG)
    served = await start_server(tmp_path, token=TOKEN)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    try:
        async with httpx2.AsyncClient(base_url=served.api, headers=auth) as http:
            created = await http.post("/runs", json={"task": GENERIC_TASK, "model": "simulated"})
            assert created.status_code == 201, created.text
            run_id = created.json()["id"]
            stream = await raw_get(served.port, f"/api/runs/{run_id}/events", auth)
            reference = await raw_get(served.port, f"/api/runs/{run_id}/events?profile=reference", auth)
            run = served.service.get(Principal("owner"), run_id)
            await asyncio.wait_for(run.wait_async(), 30)
            bodies = [(await http.get(path)).content for path in ("/runs", f"/runs/{run_id}", f"/runs/{run_id}/log")]
        assert stream.status == 200 and stream.ended and b"[redacted]" in stream.body
        assert [leaks(b) for b in (stream.body, reference.body, *bodies)] == [[]] * 5
        assert_scrubbed(list(run.events), GENERIC_TYPES)
        assert served.service.store.flush()
        assert not leaks(database_bytes(tmp_path / "runs.db"))
    finally:
        await served.runner.cleanup()
    assert not leaks(caplog.text)


def test_a_run_file_from_elsewhere_is_scrubbed_as_it_is_read(canary: None, tmp_path: Path):
    with wb.record("Leaky") as rec:
        rec.say("nothing to see")
    lines = rec.run.save(tmp_path / "clean.jsonl").read_text().replace("Leaky", f"Leaky {KEY}")
    lines = lines.replace("nothing to see", f"Bearer {TOKEN}")  # as a workbench that did not scrub wrote it
    (tmp_path / "leaky.jsonl").write_text(lines)
    run = wb.load(tmp_path / "leaky.jsonl")
    assert run.task == f"Leaky {REDACTED}" and run.events[1].data.text == f"Bearer {REDACTED}"
    assert [e.id for e in run.events if leaks(e.to_json())] == [] and not leaks(json.dumps(run.summary()))


def test_a_failure_s_message_and_stack_are_scrubbed_of_a_registered_token():
    from workbench.core.redact import register_secret

    token = "registered-token-canary-77aa88bb99"
    register_secret(token)
    with pytest.raises(RuntimeError):
        with wb.record(f"Fail with {token}") as rec:
            with rec.tool("fetch", url=f"https://example.org/?token={token}") as call:
                call.result = f"got {token}"
            raise RuntimeError(f"upstream refused {token}")
    events = list(rec.run.events)
    assert [e.type for e in events] == ["execution:started", "tool:start", "tool:complete", "execution:error"]
    assert events[-1].data.error.message == f"RuntimeError: upstream refused {REDACTED}"
    assert f"upstream refused {REDACTED}" in events[-1].data.stack
    assert events[1].data.params == {"url": f"https://example.org/?token={REDACTED}"}
    assert [e.id for e in events if token in e.to_json()] == [] and contract_violations(events) == []

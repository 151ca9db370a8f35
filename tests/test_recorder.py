"""Recording an agent of one's own: the same contract as an orchestrated run, whatever the code does."""

import pytest

import workbench as wb
from workbench.agent.recorder import record
from workbench.core.contract import contract_violations


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

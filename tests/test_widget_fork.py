""""Fork from here" on the widget's kernel side: ``{kind: "fork"}`` and ``{kind: "show"}`` from the browser.

No browser: messages go in as ipywidgets delivers them and what comes out is captured
(``test_widget``'s ``capture``). The runs are the orchestrator with the simulator behind the real
SDK. The browser's side is in ``test_fork_view_browser.py``.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from servers import LoopThread, start_server
from test_widget import FrontEnd, capture, message, wait_for  # noqa: F401 - capture is a fixture

import workbench as wb
from workbench.core import events as ev
from workbench.notebook.widget import RunView
from workbench.notebook.widget.fork_control import FORKABLE_STRATEGIES

_ids = itertools.count(1)
TOKEN = "token-of-the-widget-fork-tests"


def ask(view: RunView, sent: Any, content: dict[str, Any]) -> dict[str, Any]:
    """Send a fork as the browser does and return the kernel's answer to it."""
    request_id = f"f:{next(_ids)}"
    message(view, {"kind": "fork", **content, "requestId": request_id})

    def answers() -> list[dict[str, Any]]:
        return [m for _, m in sent.of_kind("fork") if m["requestId"] == request_id]

    wait_for(lambda: bool(answers()))
    assert len(answers()) == 1
    return answers()[0]


def after(sent: Any, count: int) -> list[dict[str, Any]]:
    """The messages sent after the first ``count``."""
    with sent.lock:
        return [m for _, m in sent.messages[count:]]


def shown_ids(messages: list[dict[str, Any]], run_id: str) -> list[int]:
    """The event ids a view gets for ``run_id`` from ``messages``, as run_view.js applies them."""
    front = FrontEnd()
    for m in messages:
        if m["kind"] == "events" and m["runId"] == run_id:
            front.receive(m["events"])
    return [i for item in front.items for i in range(item.get("firstId", item["id"]), item["id"] + 1)]


def test_a_fork_from_the_view_retargets_it_and_show_goes_back(capture: Any) -> None:  # noqa: F811
    run = wb.run("Write a haiku about tides", model="simulated", options={"pace": 1000})  # its fork lives a second
    run.wait(timeout=30)
    view = RunView(run)
    sent = capture(view)
    assert view.forkable is True and view.runs == []
    message(view, {"kind": "ready"})
    wait_for(lambda: shown_ids(after(sent, 0), run.id) == list(range(1, len(run.events) + 1)))

    # Refusals: the engine's words, and nothing changes.
    assert ask(view, sent, {"at": 0})["error"] == f"at must be an event id from 1 to {len(run.events)}, got 0"
    assert ask(view, sent, {"at": "12"})["error"] == "a fork needs the id of the event to fork at, not '12'"
    assert ask(view, sent, {"at": 5, "toolResult": "x"})["error"] == (
        'the edited tool result must be {"toolUseId": "toolu_…", "result": …}')
    assert len(view.family) == 1 and view.run_id == run.id

    # A fork: the answer names it, then the view says it shows it and sends its events from the first.
    call = next(e for e in run.events if e.type == "tool:complete")
    before = len(sent)
    answer = ask(view, sent, {"at": call.id, "message": "Make it about the moon", "runId": run.id})
    assert answer == {"kind": "fork", "requestId": answer["requestId"], "ok": True, "error": None, "runId": answer["runId"]}
    fork = view.family[answer["runId"]]
    fork.wait(timeout=30)
    tabs = [{"id": run.id, "parentId": None, "at": None}, {"id": fork.id, "parentId": run.id, "at": call.id}]
    wait_for(lambda: shown_ids(after(sent, before), fork.id) == list(range(1, len(fork.events) + 1)))
    targets = [m for m in after(sent, before) if m["kind"] == "target"]
    assert targets == [{"kind": "target", "runId": fork.id, "task": run.task, "model": run.model, "strategy": "plan",
                        "controls": True, "forkable": True, "runs": tabs}]  # a run going on in this kernel
    kinds = [m["kind"] for m in after(sent, before)]
    assert kinds.index("fork") < kinds.index("target") < kinds.index("events")
    assert not [m for m in after(sent, before) if m["kind"] == "events" and m["runId"] != fork.id]
    assert (view.run_id, view.runs, view.forkable) == (fork.id, tabs, True)
    assert fork.events[call.id].type == "run:forked" and fork.parent_id == run.id

    # Raw envelopes of the run a request names, whichever is shown.
    message(view, {"kind": "envelopes", "requestId": "e:1", "runId": run.id, "from": 1, "to": 2})
    wait_for(lambda: bool([m for _, m in sent.of_kind("envelopes") if m["requestId"] == "e:1"]))
    (reply,) = [m for _, m in sent.of_kind("envelopes") if m["requestId"] == "e:1"]
    assert reply["events"] == [e.to_dict() for e in run.events[:2]]

    # Back to the parent: all of it again, under the same tabs.
    before = len(sent)
    message(view, {"kind": "show", "runId": run.id})
    wait_for(lambda: shown_ids(after(sent, before), run.id) == list(range(1, len(run.events) + 1)))
    assert [m["runId"] for m in after(sent, before) if m["kind"] == "target"] == [run.id]
    assert (view.run_id, view.runs) == (run.id, tabs)
    message(view, {"kind": "show", "runId": "r_0000000000000000"})  # not one of the view's runs: nothing
    assert view.run_id == run.id
    view.close()


def test_a_recorded_run_is_not_offered_a_fork_and_refuses_one(capture: Any) -> None:  # noqa: F811
    with wb.record("Tidy the notes") as rec:
        rec.finish("Tidied.")
    view = RunView(rec.run)
    sent = capture(view)
    assert view.forkable is False
    assert ask(view, sent, {"at": 1})["error"] == (  # the engine's refusal, should a view ask anyway
        f"run {rec.run.id} was recorded from an agent of its own (strategy 'custom'); the workbench cannot run that "
        "agent, so it cannot fork the run")
    view.close()


def test_the_view_knows_the_orchestrators_strategies() -> None:
    from workbench.agent.orchestrator import STRATEGIES

    assert FORKABLE_STRATEGIES == set(STRATEGIES)


def test_a_remote_run_forks_on_its_server_from_the_view(tmp_path: Path, capture: Any) -> None:  # noqa: F811
    thread = LoopThread()
    served = thread.run(start_server(tmp_path, token=TOKEN))
    try:
        wb.connect(served.api, TOKEN)
        run = wb.run("Write a haiku about tides", model="simulated")
        run.wait(timeout=30)
        view = RunView(run)
        sent = capture(view)
        assert view.forkable is True and view.server == "standalone"
        call = next(e for e in run.events if isinstance(e.data, ev.ToolCompleteData))
        assert isinstance(call.data, ev.ToolCompleteData)
        answer = ask(view, sent, {"at": call.id, "toolResult": {"toolUseId": call.data.tool_use_id, "result": "empty"}})
        assert answer["ok"] is True, answer
        fork = view.family[answer["runId"]]
        assert fork.id in served.service._live and fork.parent_id == run.id  # forked on the server, followed here
        fork.wait(timeout=30)
        wait_for(lambda: shown_ids(after(sent, 0), fork.id) == list(range(1, len(fork.events) + 1)))
        assert fork.events[call.id].to_dict()["data"]["edits"]["toolResult"] == {
            "toolUseId": call.data.tool_use_id, "result": "empty"}
        # The server's refusal, in its words.
        assert ask(view, sent, {"at": 10_000})["error"] == (
            f"{served.api} answered HTTP 400: at must be an event id from 1 to {len(fork.events)}, got 10000")
        view.close()
    finally:
        wb.disconnect()
        thread.run(served.runner.cleanup())
        thread.close()

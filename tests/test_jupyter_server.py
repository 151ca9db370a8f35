"""The installed package in a plain ``jupyter server``: a real server, real kernels, no mocks.

One ``jupyter server`` subprocess for the module, started with a token and nothing else of
the workbench's: the extension must be on because the package is installed (its
``jupyter_server_config.d/workbench.json``, put under ``sys.prefix/etc/jupyter`` by the wheel's
shared data). The tests check that

- ``jupyter server extension list`` says ``workbench`` is enabled, from that file, and valid;
- the server serves the workbench HTTP contract under ``/workbench/api``: credentials required,
  ``POST runs``, the SSE stream and its resume, bad input refused (in brief: the whole contract
  is tested in-process in ``test_contract.py`` and ``test_server_ext.py``);
- a notebook's kernel (started through a session, as a front end does) finds its server with
  ``wb.connect()``, starts a run there, has its kernel restarted while the run goes on, and the
  restarted kernel attaches to the same run and gets all of it: the server's run log exactly,
  and a widget whose messages carry every event, as in a run started in the kernel.

Nothing is left behind: the server's kernels are shut down, and any kernel process still
alive afterwards fails the module.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import distribution
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_process import Jupyter, kernel_processes, start_jupyter, stop_jupyter
from servers import HttpReply, frames_of, raw_get, without_keepalives

import workbench as wb
from workbench.core import events as ev
from workbench.core.runfile import read_run_file
from workbench.notebook.widget.messages import merged_items

REPO = Path(__file__).resolve().parent.parent
CONFIG_FILE = "jupyter_server_config.d/workbench.json"
API = "/workbench/api"
TASK = "Write a short guide to tide pools"
PACE = 40
"""Pace of the run the kernel starts: about 19 s, so it is still going when the kernel has restarted,
even on a busy machine (the restart itself takes about 4 s here)."""
KERNEL_S = 30.0
"""Time a kernel gets to start (or restart) and answer."""
ANSI = re.compile(r"\x1b\[[0-9;]*m")


# --- the server ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Jupyter]:
    """``jupyter server`` with a token only, stopped at the end of the module with no kernel left behind."""
    jupyter = start_jupyter(tmp_path_factory.mktemp("jupyter-server"), "server")
    try:
        yield jupyter
    finally:
        leftovers = stop_jupyter(jupyter)
    assert not leftovers, f"kernel processes were still running after the server stopped: {leftovers}"


@contextmanager
def explained(server: Jupyter, timeline: list[str] | None = None) -> Iterator[None]:
    """On failure, print what happened and the server's log tail (pytest shows them with the failure)."""
    try:
        yield
    except BaseException:
        print("\n".join(timeline or []), "--- server log ---", server.log_tail(60), sep="\n")
        raise


def token_header(server: Jupyter) -> dict[str, str]:
    return {"Authorization": f"token {server.token}"}


def post_run(server: Jupyter, body: bytes, **headers: str) -> Any:
    return server.request("POST", f"{API}/runs", body, headers={"Content-Type": "application/json", **headers})


def run_log(server: Jupyter, run_id: str, tmp_path: Path) -> tuple[list[ev.Event], list[dict[str, Any]]]:
    """The run's log as the server has it: events read by the run-file reader (which insists on ids
    1, 2, 3, … without gaps), and each line's raw JSON."""
    answer = server.request("GET", f"{API}/runs/{run_id}/log", headers=token_header(server))
    assert answer.status == 200, answer
    path = tmp_path / f"{run_id}.jsonl"
    path.write_bytes(answer.body)
    header, events = read_run_file(path)
    assert header.run_id == run_id
    lines = [json.loads(line) for line in answer.body.decode().splitlines()[1:] if line.strip()]
    return events, lines


def stream(server: Jupyter, path: str, headers: dict[str, str] | None = None) -> HttpReply:
    """An event stream read to its end over a raw socket, to see its exact bytes."""
    return asyncio.run(raw_get(server.port, path, {**token_header(server), **(headers or {})}))


# --- the extension is on because the package is installed ----------------------------------------


def test_the_installed_package_enables_the_extension(server: Jupyter) -> None:
    # The wheel's shared data put the repository's config file under <prefix>/etc/jupyter.
    installed = [f for f in distribution("agent-workbench").files or [] if str(f).endswith(f"etc/jupyter/{CONFIG_FILE}")]
    assert installed, f"the installed agent-workbench has no etc/jupyter/{CONFIG_FILE}; see pyproject.toml's shared-data"
    config_file = Path(os.path.realpath(str(installed[0].locate())))
    config = json.loads(config_file.read_text("utf-8"))
    assert config == json.loads((REPO / "jupyter-config" / CONFIG_FILE).read_text("utf-8"))
    assert config == {"ServerApp": {"jpserver_extensions": {"workbench": True}}}

    with explained(server):
        listing = subprocess.run([sys.executable, "-m", "jupyter", "server", "extension", "list"], env=server.env,
                                 capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)
        output = ANSI.sub("", listing.stdout + listing.stderr)  # stdout or stderr, depending on the version
        assert listing.returncode == 0, output
        # The listing goes config dir by config dir: workbench is enabled in the one that holds the
        # installed file, and this server's own (empty) JUPYTER_CONFIG_DIR has nothing of it.
        sections: dict[str, list[str]] = {}
        lines: list[str] = []
        for line in output.splitlines():
            if line.startswith("Config dir: "):
                lines = sections.setdefault(os.path.realpath(line.removeprefix("Config dir: ").strip()), [])
            elif line.strip():
                lines.append(line.strip())
        package_dir = str(config_file.parent.parent)
        assert package_dir in sections, output
        assert "workbench enabled" in sections[package_dir], output
        assert "- Validating workbench..." in sections[package_dir], output
        assert f"workbench {wb.__version__} OK" in sections[package_dir], output
        own_dir = os.path.realpath(server.env["JUPYTER_CONFIG_DIR"])
        assert own_dir in sections and not any("workbench" in line for line in sections[own_dir]), output

        # …and the server, given no jpserver_extensions, loaded it.
        assert not any("jpserver_extensions" in arg for arg in server.command)
        log = server.log.read_text("utf-8")
        assert "workbench | extension was successfully loaded" in log, "the server did not load the workbench extension"
        # …and, once started, froze its start-up objects out of garbage collection (freeze_startup_objects).
        assert re.search(r"workbench: \d{5,} start-up objects left out of garbage collection", log), log[-2000:]


# --- the contract on that server -----------------------------------------------------------------


def assert_json_error(answer: Any, statuses: tuple[int, ...]) -> dict[str, Any]:
    assert answer.status in statuses, (answer.status, answer.body[:300])
    assert answer.headers.get("content-type", "").startswith("application/json"), answer.headers
    error = answer.json()
    assert set(error) == {"error"} and isinstance(error["error"], dict) and error["error"].get("message"), error
    return error["error"]


def test_a_plain_jupyter_server_serves_the_workbench_contract(server: Jupyter, tmp_path: Path) -> None:
    with explained(server):
        created = post_run(server, json.dumps({"task": "Write a haiku about tides", "model": "simulated"}).encode(),
                           **token_header(server))
        assert created.status == 201, created
        run = created.json()
        assert run["task"] == "Write a haiku about tides" and run["model"] == "simulated"

        # The events from the start: retry first, every event once, the terminal event last.
        whole = stream(server, f"{API}/runs/{run['id']}/events")
        assert whole.status == 200 and whole.headers["content-type"].startswith("text/event-stream"), whole.raw[:300]
        assert whole.ended, "the stream ends after the terminal event"
        assert whole.body.startswith(b"retry: 2000\n\n")
        events, _ = run_log(server, run["id"], tmp_path)
        assert events[-1].type in ev.TERMINAL_TYPES and len(events) > 10
        assert without_keepalives(whole.body) == b"retry: 2000\n\n" + frames_of(events)
        assert whole.body.endswith(frames_of(events[-1:]))
        # Resuming after event k gives exactly the events after k, from any k.
        for k in (0, 1, len(events) // 2, len(events) - 1):
            resumed = stream(server, f"{API}/runs/{run['id']}/events", {"Last-Event-ID": str(k)})
            assert resumed.status == 200 and resumed.ended
            assert without_keepalives(resumed.body) == b"retry: 2000\n\n" + frames_of(events[k:])
        at_end = server.request("GET", f"{API}/runs/{run['id']}/events",
                                headers={**token_header(server), "Last-Event-ID": str(len(events))})
        assert (at_end.status, at_end.body) == (204, b"")  # so that an EventSource stops reconnecting
        assert_json_error(server.request("GET", f"{API}/runs/{run['id']}/events",
                                         headers={**token_header(server), "Last-Event-ID": "abc"}), (400,))

        # Cancel: a run that is going stops (202), one that has ended cannot (409).
        slow = post_run(server, json.dumps({"task": "Write a long report", "model": "simulated",
                                            "options": {"pace": 5}}).encode(), **token_header(server)).json()
        cancelled = server.request("POST", f"{API}/runs/{slow['id']}/cancel", b"", headers=token_header(server))
        assert cancelled.status == 202, cancelled
        ended = stream(server, f"{API}/runs/{slow['id']}/events")
        assert ended.ended and b"event: execution:cancelled\n" in ended.body
        again = server.request("POST", f"{API}/runs/{slow['id']}/cancel", b"", headers=token_header(server))
        assert_json_error(again, (409,))

        # No token, or a wrong one: refused, in the contract's JSON shape, with no run data.
        for headers in ({}, {"Authorization": "token not-the-token"}):
            for path in (f"{API}/runs", f"{API}/runs/{run['id']}", f"{API}/runs/{run['id']}/events",
                         f"{API}/runs/{run['id']}/log"):
                refused = server.request("GET", path, headers=headers)
                assert_json_error(refused, (401, 403))
                assert run["id"].encode() not in refused.body, refused.body
            assert_json_error(post_run(server, b'{"task": "Not allowed", "model": "simulated"}', **headers), (401, 403))

        # Bad input: a 4xx JSON error, and no run made.
        before = [r["id"] for r in server.api("GET", f"{API}/runs")["runs"]]
        for bad in (b'{"task": ""}', b"{not json", b'{"task": "x", "model": "no-such-model"}', b"[]"):
            error = assert_json_error(post_run(server, bad, **token_header(server)), tuple(range(400, 500)))
            assert error.get("type"), error
        assert [r["id"] for r in server.api("GET", f"{API}/runs")["runs"]] == before
        assert before.count(run["id"]) == 1


def test_no_token_from_a_url_reaches_the_server_log(server: Jupyter) -> None:
    """jupyter_server's access log scrubs ``?token=``; Tornado's line for a refused request (the
    XSRF check of a POST with a wrong token in its URL) quotes the whole URL unless told not to."""
    wrong = "wrong-token-" + "5" * 20
    unknown = f"{API}/runs/r_0000000000000000"
    with explained(server):
        created = post_run(server, json.dumps({"task": "Write a haiku", "model": "simulated"}).encode(),
                           **token_header(server))
        run_id = created.json()["id"]
        requests = [("GET", f"{API}/runs/{run_id}/events?token={wrong}", 403),
                    ("GET", f"{API}/runs/{run_id}/events?after=1&token={wrong}", 403),
                    ("GET", f"{unknown}/events?token={server.token}", 404),
                    ("GET", f"{API}/runs?token={wrong}", 403),
                    ("POST", f"{API}/runs?token={wrong}", 403),
                    ("POST", f"{API}/runs/{run_id}/cancel?token={wrong}", 403),
                    ("POST", f"{unknown}/cancel?token={server.token}", 404)]
        for method, path, status in requests:
            body = b'{"task": "x", "model": "simulated"}' if method == "POST" else None
            answer = server.request(method, path, body, headers={"Content-Type": "application/json"})
            assert answer.status == status, (method, path, answer)
        time.sleep(0.5)  # the server writes its log as it goes: let the last lines land
        log = server.log.read_text("utf-8")
        for method, path, status in requests:  # every request was logged, its token scrubbed
            assert f"{status} {method} {path.split('?')[0]}" in log, (method, path, log[-3000:])
        assert wrong not in log and server.token not in log, log[-3000:]


# --- a notebook's kernel: start a run, restart, attach -------------------------------------------


@dataclass
class Cell:
    """What a cell printed and displayed."""

    stdout: str
    stderr: str
    displays: list[dict[str, Any]]
    """The data of its ``display_data`` and ``execute_result`` messages."""

    def json(self) -> Any:
        """The last line of its stdout, as JSON (the cells below end by printing one)."""
        lines = self.stdout.strip().splitlines()
        assert lines, f"the cell printed nothing; stderr:\n{self.stderr}"
        return json.loads(lines[-1])


@dataclass
class Frontend:
    """What a notebook front end does with a kernel: run cells, keep every iopub message, send comm messages."""

    client: BlockingKernelClient
    messages: list[dict[str, Any]] = field(default_factory=list)
    """Every iopub message received, in order (also those of no cell, such as widget messages sent later)."""

    @classmethod
    def open(cls, connection_file: Path) -> Frontend:
        client = BlockingKernelClient(connection_file=str(connection_file))
        client.load_connection_file()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=KERNEL_S)
        except BaseException:
            client.stop_channels()
            raise
        return cls(client)

    def close(self) -> None:
        self.client.stop_channels()

    def _next(self, deadline: float, waiting_for: str) -> dict[str, Any]:
        try:
            message = self.client.get_iopub_msg(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            pytest.fail(f"the kernel sent nothing more while waiting for {waiting_for}")
        self.messages.append(message)
        return message

    def execute(self, code: str, timeout: float = 60.0) -> Cell:
        """Run ``code`` as a cell; fails the test with the kernel's traceback if the cell raises."""
        msg_id = self.client.execute(code, store_history=True, allow_stdin=False)
        deadline = time.monotonic() + timeout
        stdout: list[str] = []
        stderr: list[str] = []
        displays: list[dict[str, Any]] = []
        traceback = ""
        while True:
            message = self._next(deadline, f"the cell to end:\n{code}\nIt printed:\n{''.join(stdout)}{''.join(stderr)}")
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "stream":
                (stdout if content["name"] == "stdout" else stderr).append(content["text"])
            elif kind in ("display_data", "execute_result"):
                displays.append(content["data"])
            elif kind == "error":
                traceback = ANSI.sub("", "\n".join(content["traceback"]))
            elif kind == "status" and content["execution_state"] == "idle":
                break
        reply = self.client.get_shell_msg(timeout=max(0.01, deadline - time.monotonic()))
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = self.client.get_shell_msg(timeout=max(0.01, deadline - time.monotonic()))
        if reply["content"]["status"] != "ok" or traceback:
            pytest.fail(f"a cell failed in the kernel:\n{code}\n--- traceback ---\n{traceback}\n"
                        f"--- stdout ---\n{''.join(stdout)}\n--- stderr ---\n{''.join(stderr)}")
        return Cell("".join(stdout), "".join(stderr), displays)

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
        """Read iopub messages until ``condition()`` holds."""
        deadline = time.monotonic() + timeout
        while not condition():
            self._next(deadline, what)

    def comm_messages(self, comm_id: str, kind: str) -> list[dict[str, Any]]:
        """The contents of the custom messages a widget sent of ``kind``."""
        return [m["content"]["data"]["content"] for m in self.messages
                if m["msg_type"] == "comm_msg" and m["content"].get("comm_id") == comm_id
                and m["content"]["data"].get("method") == "custom" and m["content"]["data"]["content"].get("kind") == kind]

    def send_custom(self, comm_id: str, content: dict[str, Any]) -> None:
        """A custom widget message from the browser side, as ipywidgets' front end sends it."""
        message = self.client.session.msg("comm_msg", {"comm_id": comm_id, "data": {"method": "custom", "content": content}})
        self.client.shell_channel.send(message)


def start_notebook_kernel(server: Jupyter) -> tuple[str, Path]:
    """A kernel started through a session, the way a front end opens a notebook: its id and connection file."""
    session = server.api("POST", "/api/sessions", {"path": "attach.ipynb", "type": "notebook", "name": "attach.ipynb",
                                                   "kernel": {"name": "python3"}}, timeout=KERNEL_S)
    kernel_id = session["kernel"]["id"]
    return kernel_id, server.runtime / f"kernel-{kernel_id}.json"


START_CELL = f"""
import json, time
import workbench as wb
connection = wb.connect()
run = wb.run({TASK!r}, model="simulated", options={{"pace": {PACE}}})
deadline = time.monotonic() + 20
while len(run.log.events) < 3 and time.monotonic() < deadline:  # the kernel follows the run live
    time.sleep(0.02)
print(json.dumps({{"api": connection.api, "kind": connection.kind, "id": run.id, "seen": len(run.log.events),
                  "status": run.state.status}}))
"""

ATTACH_CELL = """
import json
import workbench as wb
fresh = "run" not in globals()
wb.connect()
attached = wb.attach({run_id!r})
state = attached.wait(60)
print(json.dumps({{"fresh": fresh, "status": state.status, "error": str(attached.follow_error or ""),
                  "events": [e.to_dict() for e in attached.log.events]}}))
"""


def test_a_notebook_run_outlives_a_kernel_restart_and_is_attached_whole(server: Jupyter, tmp_path: Path) -> None:
    began = time.monotonic()
    timeline: list[str] = []

    def mark(what: str) -> None:
        timeline.append(f"{time.monotonic() - began:6.2f} s  {what}")

    frontends: list[Frontend] = []
    with explained(server, timeline):
        try:
            kernel_id, connection_file = start_notebook_kernel(server)
            first = Frontend.open(connection_file)
            frontends.append(first)
            first_pids = set(kernel_processes(server.runtime))
            assert first_pids, "no kernel process found"
            mark(f"kernel {kernel_id[:8]} ready")

            # --- cell 1: connect to this kernel's server, start a run there --------------------
            started = first.execute(START_CELL).json()
            run_id = started["id"]
            mark(f"run {run_id} started from the kernel: {started}")
            assert started["kind"] == "jupyter" and started["api"] == f"{server.url}{API}", started
            assert started["seen"] >= 3 and started["status"] == "running", started

            # --- restart the kernel while the run goes on --------------------------------------
            before = server.api("GET", f"{API}/runs/{run_id}")
            assert before["status"] == "running", before
            server.api("POST", f"/api/kernels/{kernel_id}/restart", timeout=KERNEL_S)
            first.close()
            after = server.api("GET", f"{API}/runs/{run_id}")
            mark(f"kernel restarted; the run had {before['eventCount']} events before, {after['eventCount']} after")
            assert after["status"] == "running", "the run should still be going after the restart; slow it down"
            assert after["eventCount"] >= before["eventCount"]
            assert not first_pids & set(kernel_processes(server.runtime)), "the kernel process was not replaced"
            # The notebook's session still has this kernel: how wb.connect() finds its server.
            assert [s["kernel"]["id"] for s in server.api("GET", "/api/sessions")] == [kernel_id]

            # --- cell 2, in the restarted kernel: attach to the run and see all of it ----------
            second = Frontend.open(connection_file)
            frontends.append(second)
            attached = second.execute(ATTACH_CELL.format(run_id=run_id)).json()
            mark(f"attached: {attached['status']}, {len(attached['events'])} events")
            assert attached["fresh"], "the restarted kernel still had the first kernel's variables"
            assert attached["status"] == "complete" and not attached["error"], attached["error"]

            events, lines = run_log(server, run_id, tmp_path)
            assert attached["events"] == lines, "the attached run's events differ from the server's run log"
            assert [e["id"] for e in attached["events"]] == list(range(1, len(events) + 1))
            assert len(events) > after["eventCount"], "the run went on after the restart"
            assert events[-1].type == "execution:complete"
            assert server.api("GET", f"{API}/runs/{run_id}")["status"] == "complete"

            # --- cell 3: the attached run's view, as a notebook shows a run -------------------
            shown = second.execute("attached")
            views = [d for d in shown.displays if "application/vnd.jupyter.widget-view+json" in d]
            assert len(views) == 1, shown.displays
            model_id = views[0]["application/vnd.jupyter.widget-view+json"]["model_id"]
            assert "complete" in views[0]["text/plain"] and run_id in views[0]["text/plain"]
            assert "text/html" in views[0], "the static summary beside the widget"
            opened = [m["content"] for m in second.messages
                      if m["msg_type"] == "comm_open" and m["content"]["comm_id"] == model_id]
            assert len(opened) == 1 and opened[0]["target_name"] == "jupyter.widget", opened
            state = opened[0]["data"]["state"]
            assert state["_model_name"] == "AnyModel" and state["run_id"] == run_id and state["task"] == TASK, state

            # The widget sends the whole run to its views (deltas of a step merged, as in embedded mode)…
            expected = merged_items(events)

            def received(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
                return [item for message in messages for item in message["events"]]

            def whole(count: int) -> Callable[[], bool]:
                def check() -> bool:
                    items = received(second.comm_messages(model_id, "events")[count:])
                    return bool(items) and items[-1]["id"] == events[-1].id
                return check

            second.wait_for(whole(0), "the widget to send the run")
            pumped = second.comm_messages(model_id, "events")
            assert received(pumped) == expected
            # …and a view that appears later (a page reload) says "ready" and gets it all again.
            second.send_custom(model_id, {"kind": "ready"})
            second.wait_for(whole(len(pumped)), "the widget to answer ready")
            assert received(second.comm_messages(model_id, "events")[len(pumped):]) == expected
            mark(f"the widget sent {len(expected)} items for {len(events)} events, twice")
        finally:
            for frontend in frontends:
                frontend.close()
    print("\n".join(timeline))

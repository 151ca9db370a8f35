"""The output within reach, from code: ``run.to_html(path)`` returns the path, ``wb.runs()`` is a
table in a notebook and a list to code, a run on a server says its workspace is not here, and an
actionable error shows its message alone in a real IPython kernel while a bug keeps its traceback."""

from __future__ import annotations

import os
import queue
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from test_client import TOKEN, Remote, no_connection_left_behind, remote  # noqa: F401 - fixtures

import workbench as wb
from workbench.notebook.files import files_note
from workbench.remote.run_list import RunList

ROOT = Path(__file__).resolve().parent.parent


def test_to_html_with_a_path_returns_the_path_and_without_one_the_page(tmp_path):
    run = wb.run("Write a haiku", model="simulated", strategy="react", options={"pace": 0})
    run.wait(30)
    target = tmp_path / "haiku.html"
    saved = run.to_html(target)
    assert saved == target and isinstance(saved, Path)
    assert run.to_html(str(target)) == target
    page = run.to_html()
    assert isinstance(page, str) and page == target.read_text("utf-8") and page.startswith("<!doctype html>")
    assert run.save(tmp_path / "haiku.jsonl") == tmp_path / "haiku.jsonl"  # as save does


def test_runs_is_a_list_of_dicts_shown_as_an_escaped_table(remote: Remote):  # noqa: F811
    wb.connect(remote.api, token=TOKEN)
    first = wb.run("Write a <b>haiku</b> & more", strategy="react")
    first.wait(30)
    second = wb.run("Plan a picnic", strategy="react")
    second.wait(30)
    runs = wb.runs()
    assert isinstance(runs, list) and isinstance(runs, RunList)
    assert [s["id"] for s in runs] == [second.id, first.id] and runs[1]["task"] == "Write a <b>haiku</b> & more"
    html = runs._repr_html_()
    assert "<b>haiku" not in html and "Write a &lt;b&gt;haiku&lt;/b&gt; &amp; more" in html
    heads = re.findall(r"<th(?: [^>]*)?>(.*?)</th>", html)
    assert heads == ["id", "task", "status", "started", "duration"]  # the contract's summaries carry no tokens
    rows = [re.findall(r"<td(?: [^>]*)?>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", html)[1:]]
    assert [row[0] for row in rows] == [f"<code>{second.id}</code>", f"<code>{first.id}</code>"]
    assert [row[2] for row in rows] == ["complete", "complete"]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row[3]) for row in rows)
    assert all(re.fullmatch(r"\d+\.\d s", row[4]) for row in rows)
    assert RunList()._repr_html_() == "<p><em>No runs on this server yet.</em></p>"
    with_tokens = RunList([{**runs[0], "tokens": {"input": 1200, "output": 300}}, runs[1]])._repr_html_()
    assert re.findall(r"<th(?: [^>]*)?>(.*?)</th>", with_tokens)[-1] == "tokens"
    assert re.findall(r"<td>(.*?)</td>", with_tokens)[4] == "1,200 in · 300 out"  # after id, status, started, duration

    # A run on the server has no workspace here, and its view says so rather than show a path.
    attached = wb.attach(first.id)
    attached.wait(30)
    assert attached.workspace is None
    assert files_note(attached)["where"] == "server" and files_note(attached)["workspace"] is None


# --- errors in a real kernel ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kernel():
    from jupyter_client.manager import KernelManager

    manager = KernelManager(kernel_name="python3")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "server_ext"),
                                                       os.environ.get("PYTHONPATH", "")])}
    manager.kernel_cmd = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    manager.start_kernel(env=env, extra_arguments=[])
    client = manager.client()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    yield client
    client.stop_channels()
    manager.shutdown_kernel(now=True)


def execute(client: Any, code: str) -> list[dict[str, Any]]:
    """Run ``code`` as a cell; the ``error`` outputs it produced."""
    msg_id = client.execute(code)
    errors = []
    while True:
        try:
            msg = client.get_iopub_msg(timeout=60)
        except queue.Empty:
            pytest.fail(f"no answer from the kernel to {code!r}")
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "error":
            errors.append(msg["content"])
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return errors


def shown(error: dict[str, Any]) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error["traceback"]))


@pytest.mark.parametrize("code, expected", [
    ("import workbench as wb\nwb.connect('http://127.0.0.1:9')",
     r"ServerError: cannot reach .*127\.0\.0\.1:9.*"),
    ("import sys, workbench as wb\nsys.modules['pandas'] = None  # as without pandas installed\n"
     "wb.load(r'" + str(ROOT / "notebooks" / "runs") + "/' + __import__('os').listdir(r'"
     + str(ROOT / "notebooks" / "runs") + "')[0]).to_pandas()",
     r"UserError: to_pandas\(\) needs pandas: pip install pandas"),
    ("import workbench as wb\nwb.runs()", r"UserError: wb.runs\(\) needs a server: call wb.connect\(\) first .*"),
])
def test_an_actionable_error_shows_its_message_alone(kernel, code, expected):
    errors = execute(kernel, code)
    assert len(errors) == 1
    text = shown(errors[0])
    assert re.fullmatch(expected, text), text
    assert "asyncio" not in text and "Traceback" not in text and "File " not in text


def test_a_503_from_the_server_shows_its_message_alone(kernel):
    code = ("from workbench.errors import ServerError\n"
            "raise ServerError.from_response(503, '{\"error\": {\"type\": \"unavailable\", \"message\": \"the run store "
            "is in use by another process\"}}', url='http://127.0.0.1:8888/workbench/api')")
    text = shown(execute(kernel, code)[0])
    assert text == ("ServerError: http://127.0.0.1:8888/workbench/api answered HTTP 503: the run store is in use by "
                    "another process")


def test_a_real_bug_keeps_its_traceback(kernel):
    errors = execute(kernel, "def broken():\n    return {}['missing']\nbroken()")
    text = shown(errors[0])
    assert errors[0]["ename"] == "KeyError" and "broken()" in text and "return {}['missing']" in text

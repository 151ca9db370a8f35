"""What starting up costs: ``import workbench``, ``workbench --help`` and the Jupyter extension load
none of the anthropic SDK, pydantic, aiohttp, OpenTelemetry or the servers; the names they defer still work.

Each check runs in a fresh interpreter, since this test process has long imported everything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

HEAVY = ["anthropic", "pydantic", "aiohttp", "httpx2", "jupyter_server", "tornado", "IPython", "anywidget", "opentelemetry",
         "workbench.core.events", "workbench.agent.launch", "workbench.remote.client", "workbench.serving.standalone",
         "workbench.serving.service", "workbench_server_ext"]
"""What a light start must not import (the first modules: the costly packages; then our own that load them).

Once the anthropic SDK is loaded, so is the OpenTelemetry API (the SDK's middleware imports it): what a
run without the OpenTelemetry switch must still not import is the OpenTelemetry SDK."""


def fresh_python(code: str, tmp_path: Path, *args: str) -> Any:
    """Run ``code`` in a new interpreter; it prints one JSON value as its last line, returned here."""
    env = {**os.environ, "WORKBENCH_HOME": str(tmp_path / "home")}
    env.pop("ANTHROPIC_API_KEY", None)
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                          timeout=120, env=env, cwd=tmp_path, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def loaded(names: list[str] = HEAVY) -> str:
    """Code for a child: the names among ``names`` that are in ``sys.modules``."""
    return f"[name for name in {names!r} if name in sys.modules]"


def test_import_workbench_loads_nothing_heavy_and_every_public_name_still_resolves(tmp_path: Path) -> None:
    answer = fresh_python(f"""
        import json, sys
        import workbench as wb
        after_import = {loaded()}
        missing = [name for name in wb.__all__ if name not in dir(wb)]
        from workbench import Run, RunState, ToolContext, fold, record, tool
        from workbench.events import TextDelta
        import workbench.core.events, workbench.events
        resolved = {{name: type(getattr(wb, name)).__name__ for name in wb.__all__}}
        print(json.dumps({{
            "after_import": after_import,
            "missing_from_dir": missing,
            "events_is_core": wb.events is workbench.core.events is workbench.events is sys.modules["workbench.events"],
            "same_class": TextDelta is workbench.core.events.TextDelta,
            "run_is_handle": Run is sys.modules["workbench.core.handle"].Run and wb.Run is Run,
            "resolved": resolved,
        }}))
    """, tmp_path)
    assert answer["after_import"] == []
    assert answer["missing_from_dir"] == []
    assert answer["events_is_core"] is True and answer["same_class"] is True and answer["run_is_handle"] is True
    assert answer["resolved"] == {
        "run": "function", "load": "function", "diff": "function", "connect": "function", "disconnect": "function",
        "attach": "function", "runs": "function", "compare": "function", "sweep": "function",
        "Comparison": "type", "record": "function", "Recorder": "type", "tool": "function",
        "Tool": "type", "ToolContext": "type", "current_context": "function", "Run": "type", "RunState": "type",
        "reduce": "function", "fold": "function", "set_prices": "function", "events": "module", "WorkbenchError": "type",
        "UserError": "type", "RunFailed": "type", "RunFileError": "type", "LimitExceeded": "type",
        "ToolError": "type",
    }


def test_an_unknown_name_is_still_an_attribute_error(tmp_path: Path) -> None:
    answer = fresh_python("""
        import json, workbench
        try:
            workbench.no_such_name
        except AttributeError as error:
            print(json.dumps(str(error)))
    """, tmp_path)
    assert answer == "module 'workbench' has no attribute 'no_such_name'"


def test_a_local_run_needs_neither_the_remote_client_nor_a_server(tmp_path: Path) -> None:
    answer = fresh_python(f"""
        import json, sys
        import workbench as wb
        state = wb.run("Write a haiku", model="simulated").wait(timeout=60)
        print(json.dumps({{"status": state.status, "loaded": {loaded(["anthropic", "workbench.remote.client",
                                                                     "workbench.serving.service", "opentelemetry.sdk",
                                                                     "jsonschema"])}}}))
    """, tmp_path)
    # jsonschema only for a person's edit of a tool call: its import can take seconds (its format checkers)
    assert answer == {"status": "complete", "loaded": ["anthropic"]}


def test_workbench_help_imports_neither_the_sdk_nor_a_server(tmp_path: Path) -> None:
    answer = fresh_python(f"""
        import contextlib, io, json, runpy, sys
        sys.argv = ["workbench", "--help"]
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                runpy.run_module("workbench.cli", run_name="__main__")
            except SystemExit as exit:
                code = exit.code
        print(json.dumps({{"code": code, "usage": out.getvalue().splitlines()[0], "loaded": {loaded()}}}))
    """, tmp_path)
    assert answer == {"code": 0, "usage": "usage: workbench [-h] COMMAND ...", "loaded": []}


def test_the_jupyter_extension_loads_without_the_agent_until_asked(tmp_path: Path) -> None:
    # What a Jupyter server does at start: import the package named in jpserver_extensions, ask for
    # its extension points (which imports workbench_server_ext), make the service. The agent and
    # the SDK come with RunService.load_agent, which the extension awaits once the server runs.
    answer = fresh_python(f"""
        import asyncio, json, sys
        import jupyter_server.serverapp  # loaded by Jupyter before any extension
        import workbench
        points = workbench._jupyter_server_extension_points()
        from workbench.serving.service import RunService
        service = RunService(store_path=sys.argv[1], workspace_root=sys.argv[2])
        before = {loaded(["anthropic", "workbench.agent.launch", "workbench.agent.orchestrator", "opentelemetry.sdk"])}
        asyncio.run(service.load_agent())
        after = {loaded(["anthropic", "workbench.agent.launch", "workbench.agent.orchestrator", "opentelemetry.sdk"])}
        service.store.close()
        print(json.dumps({{"points": [p["module"] for p in points], "tools": service.allowed_tools,
                           "before": before, "after": after}}))
    """, tmp_path, str(tmp_path / "runs.db"), str(tmp_path / "workspaces"))
    assert answer == {
        "points": ["workbench_server_ext"],
        "tools": ["list_files", "read_file", "write_file"],
        "before": [],
        "after": ["anthropic", "workbench.agent.launch", "workbench.agent.orchestrator"],
    }


def test_the_built_in_tool_names_are_the_built_in_tools() -> None:
    from workbench.agent.tools import BUILTIN_TOOL_NAMES, BUILTIN_TOOLS

    assert BUILTIN_TOOL_NAMES == tuple(BUILTIN_TOOLS) == ("list_files", "read_file", "write_file")

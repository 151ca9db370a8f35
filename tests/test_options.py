"""Run options: every number finite and bounded, and what an HTTP client may set (every option but
those naming server paths, in camelCase or snake_case), through ``wb.run`` and the standalone server."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from servers import Served, start_server

import workbench as wb
from workbench.agent.options import RunOptions
from workbench.serving.tokens import OWNER

INFINITY = json.loads("1e400")  # what a JSON body's 1e400 becomes

BOUNDS = [
    ({"timeout": INFINITY}, "option 'timeout': must be a finite number, at most 604,800 seconds (7 days)."),
    ({"timeout": 604_801}, "option 'timeout': must be at most 604,800 seconds (7 days)."),
    ({"timeout": 0}, "option 'timeout': must be more than 0 seconds."),
    ({"retryDelay": INFINITY}, "option 'retryDelay': must be a finite number, at most 60 seconds."),
    ({"retryDelay": 1e308}, "option 'retryDelay': must be at most 60 seconds."),
    ({"retry_delay": 61}, "option 'retry_delay': must be at most 60 seconds."),
    ({"toolTimeout": INFINITY}, "option 'toolTimeout': must be a finite number, at most 86,400 seconds (1 day)."),
    ({"tool_timeout": 86_400.5}, "option 'tool_timeout': must be at most 86,400 seconds (1 day)."),
    ({"pace": INFINITY}, "option 'pace': must be a finite number, at most 100,000 deltas per second."),
    ({"pace": float("nan")}, "option 'pace': must be a finite number, at most 100,000 deltas per second."),
    ({"pace": -1}, "option 'pace': must be at least 0 deltas per second."),
    ({"maxTokens": INFINITY}, "option 'maxTokens': must be a finite number, at most 1,000,000,000 tokens."),
    ({"maxToolOutput": 10**12}, "option 'maxToolOutput': must be at most 10,000,000 characters."),
    ({"seed": 2**64}, "option 'seed': must be at most 9,223,372,036,854,775,807."),
    ({"timeout": INFINITY, "pase": 3}, "option 'timeout': must be a finite number, at most 604,800 seconds (7 days); "
                                       "unknown option 'pase'. Known options: approve, breakpoints, faults, maxIterations, maxOutputTokens, "
                                       "maxRetries, maxTokens, maxToolOutput, pace, retryDelay, scenario, sdkMaxRetries, "
                                       "seed, thinking, thinkingBudget, timeout, toolTimeout, workspace."),
]


@pytest.mark.parametrize("options, message", BOUNDS)
def test_numbers_must_be_finite_and_within_bounds(options: dict[str, Any], message: str):
    with pytest.raises(wb.UserError) as refused:
        wb.run("Write a haiku", model="simulated", options=options)
    assert str(refused.value) == message


def test_the_bounds_keep_the_defaults_and_allow_the_extremes():
    assert RunOptions() == RunOptions(timeout=3600, retry_delay=1.0, tool_timeout=60, pace=0)
    edge = RunOptions.model_validate({"timeout": 7 * 24 * 3600, "retryDelay": 60, "tool_timeout": 24 * 3600,
                                      "pace": 100_000, "seed": -(2**63)})
    assert (edge.timeout, edge.retry_delay, edge.tool_timeout, edge.pace) == (604_800, 60, 86_400, 100_000)


@pytest.fixture
async def served(tmp_path: Path):
    server = await start_server(tmp_path)
    yield server
    await server.runner.cleanup()


async def post_runs(server: Served, body: bytes) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http:
        async with http.post(server.api + "/runs", data=body, headers={"Content-Type": "application/json"}) as r:
            return r.status, await r.json()


@pytest.mark.parametrize("name, message", [
    ("timeout", "option 'timeout': must be a finite number, at most 604,800 seconds (7 days)."),
    ("retryDelay", "option 'retryDelay': must be a finite number, at most 60 seconds."),
    ("toolTimeout", "option 'toolTimeout': must be a finite number, at most 86,400 seconds (1 day)."),
    ("tool_timeout", "option 'tool_timeout': must be a finite number, at most 86,400 seconds (1 day)."),
])
async def test_infinity_in_a_request_body_is_a_400_naming_the_option(served: Served, name: str, message: str):
    body = b'{"task": "Write a haiku", "model": "simulated", "options": {"%s": 1e400}}' % name.encode()
    assert await post_runs(served, body) == (400, {"error": {"type": "invalid_request", "message": message}})
    assert served.service.list(OWNER)["runs"] == []


async def test_http_clients_may_set_every_option_but_server_paths_in_either_spelling(served: Served):
    # The SDK's own retries are off and so are the workbench's: the simulated 529 ends the run.
    options = {"sdk_max_retries": 0, "maxRetries": 0, "retry_delay": 0, "max_iterations": 3,
               "faults": [{"request": 1, "kind": "529"}]}
    body = json.dumps({"task": "Write a haiku", "model": "simulated", "strategy": "react", "options": options})
    status, summary = await post_runs(served, body.encode())
    assert status == 201, summary
    run = served.service.get(OWNER, summary["id"])
    await asyncio.wait_for(run.wait_async(), 20)
    assert [e.type for e in run.events] == ["execution:started", "execution:error"]
    assert run.events[-1].data.error.message == "the model call failed 1 times; last failure: 529 overloaded_error"

    for key in ("workspace", "scenario"):
        body = json.dumps({"task": "t", "options": {key: "/etc/passwd"}}).encode()
        status, refusal = await post_runs(served, body)
        assert status == 400 and refusal["error"]["type"] == "invalid_request"
        assert refusal["error"]["message"].startswith(f"options ['{key}'] cannot be set over HTTP; allowed: ")
        allowed = refusal["error"]["message"].split("allowed: ", 1)[1]
        assert "'sdkMaxRetries'" in allowed and "'sdk_max_retries'" in allowed and "'workspace'" not in allowed


def test_what_http_clients_may_set_is_every_option_but_server_paths():
    from workbench.serving.service import CLIENT_OPTIONS

    assert CLIENT_OPTIONS == {
        "pace", "seed", "faults", "timeout", "thinking",
        "maxIterations", "max_iterations", "maxTokens", "max_tokens", "maxOutputTokens", "max_output_tokens",
        "thinkingBudget", "thinking_budget", "maxRetries", "max_retries", "retryDelay", "retry_delay",
        "sdkMaxRetries", "sdk_max_retries", "toolTimeout", "tool_timeout", "maxToolOutput", "max_tool_output",
        "approve", "breakpoints",
    }


def test_the_readme_options_table_lists_every_option_with_its_default():
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n### Options\n", 1)[1].split("\n#", 1)[0]
    rows = [line.split(" | ") for line in section.splitlines() if line.startswith("| `")]
    table = {cells[0].strip("| `"): cells[1].strip("`") for cells in rows}
    fields = {field.alias: field.default for field in RunOptions.model_fields.values()}
    assert list(table) == list(fields)
    for key, default in fields.items():
        if isinstance(default, (int, float)):
            assert float(table[key]) == default, key
    assert table["thinking"] == '"auto"' and table["faults"] == "[]" == table["approve"] == table["breakpoints"]

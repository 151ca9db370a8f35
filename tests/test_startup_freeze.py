"""The first run in a process freezes the start-up objects out of garbage collection: once, never a
run's own objects, off with WORKBENCH_FREEZE_STARTUP_OBJECTS=0, and left to a server's own setting.

Each case runs in a fresh interpreter: freezing is for the whole process, and this test session
turns it off (see the root conftest.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

SCRIPT = r"""
import gc, json, sys, time, weakref
import workbench as wb
from workbench.serving.service import RunService

if sys.argv[1] == "service":
    RunService(store_path=sys.argv[2] + "/runs.db", workspace_root=sys.argv[2] + "/workspaces")
before = gc.get_freeze_count()
first = wb.run("Write a haiku", model="simulated")
first.wait(30)
after_first = gc.get_freeze_count()
log = weakref.ref(first.log)
events = len(first.events)
del first
for _ in range(50):  # the background loop may still be letting go of the finished run's task
    gc.collect()
    if log() is None:
        break
    time.sleep(0.1)
second = wb.run("Write another", model="simulated")
second.wait(30)
print(json.dumps({"before": before, "after_first": after_first, "after_second": gc.get_freeze_count(),
                  "first_log_freed": log() is None, "events": events, "status": second.state.status}))
"""


def run_fresh(tmp_path: Path, mode: str = "embedded", **env: str) -> dict[str, object]:
    environment = {k: v for k, v in os.environ.items() if k != "WORKBENCH_FREEZE_STARTUP_OBJECTS"}
    environment.update(env, PYTHONPATH=os.pathsep.join([str(REPO), environment.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode, str(tmp_path)], capture_output=True, text=True,
                         env=environment, timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_first_run_freezes_the_start_up_objects_once_and_none_of_its_own(tmp_path: Path):
    figures = run_fresh(tmp_path)
    assert figures["before"] == 0
    # Everything imported and built before the first run: the SDK, pydantic, the workbench (and more).
    assert figures["after_first"] > 50_000
    # Not again for the second run (frozen objects that are freed leave the count).
    assert figures["after_second"] <= figures["after_first"]
    # The first run's own objects were not frozen: dropped, its log (in cycles with its client) is collected.
    assert figures["first_log_freed"] is True and figures["events"] > 100 and figures["status"] == "complete"


@pytest.mark.parametrize("value", ["0", "false", "off"])
def test_workbench_freeze_startup_objects_0_turns_it_off(tmp_path: Path, value: str):
    figures = run_fresh(tmp_path, WORKBENCH_FREEZE_STARTUP_OBJECTS=value)
    assert (figures["before"], figures["after_first"], figures["after_second"]) == (0, 0, 0)
    assert figures["first_log_freed"] is True


def test_a_process_serving_runs_leaves_it_to_its_server(tmp_path: Path):
    # The Jupyter extension freezes at its own start-up, if WorkbenchApp.freeze_startup_objects says so.
    figures = run_fresh(tmp_path, "service")
    assert (figures["before"], figures["after_first"], figures["after_second"]) == (0, 0, 0)

"""The ``workbench`` command, run as a real process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from workbench.contract import contract_violations
from workbench.runfile import read_run_file


def workbench(*args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "workbench.cli", *args], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "NO_COLOR": "1"}, **kwargs)


def test_run_shows_the_run_and_saves_a_file_that_keeps_the_contract(tmp_path: Path):
    out = tmp_path / "picnic.jsonl"
    done = workbench("run", "Plan a picnic for twelve people", "--save", str(out))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Run r_") and lines[0].endswith("· simulated · plan")
    assert lines[1] == "Task: Plan a picnic for twelve people"
    assert any(line.startswith("Plan: ") for line in lines)
    assert any(line.startswith("── Phase 1/") for line in lines)
    assert any(line.startswith("  thinking: ") for line in lines)
    assert any(line.startswith("  → write_file ") for line in lines)
    assert any(line.startswith("  ← write_file (") and " ms): Wrote " in line for line in lines)
    assert any(line.startswith("Complete in ") and "tokens:" in line for line in lines)
    assert "Saved" in done.stderr and str(out) in done.stderr
    header, events = read_run_file(out)
    assert header.task == "Plan a picnic for twelve people"
    assert contract_violations(events) == []
    assert events[-1].type == "execution:complete"


def test_replay_restreams_a_saved_run(tmp_path: Path):
    out = tmp_path / "run.jsonl"
    assert workbench("run", "Write a haiku", "--save", str(out), "--strategy", "react").returncode == 0
    replayed = workbench("replay", str(out), "--speed", "0")
    assert replayed.returncode == 0
    assert replayed.stdout.splitlines()[1] == "Task: Write a haiku"
    assert "Complete in" in replayed.stdout


def test_a_claude_model_without_a_key_is_a_clear_error_not_a_traceback():
    done = workbench("run", "Write a haiku", "--model", "claude-sonnet-4-6")
    assert done.returncode == 2
    assert "needs an Anthropic API key: set ANTHROPIC_API_KEY" in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_files_and_arguments_are_clear_errors(tmp_path: Path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"format": "something"}\n')
    done = workbench("replay", str(bad))
    assert done.returncode == 2 and "line 1: not a workbench run file" in done.stderr
    assert "Traceback" not in done.stderr
    assert workbench("run", "x", "--strategy", "nope").returncode == 2


def test_ctrl_c_cancels_cleanly_and_still_saves(tmp_path: Path):
    out = tmp_path / "cancelled.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "run", "Write a long report", "--pace", "40", "--save", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "NO_COLOR": "1"},
    )
    assert process.stdout is not None
    first = process.stdout.readline()  # the run has started
    assert first.startswith("Run r_")
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=20)
    assert process.returncode == 130, stderr
    assert "Cancelled after" in stdout and "cancelled with Ctrl-C" in stdout
    _, events = read_run_file(out)
    assert events[-1].type == "execution:cancelled"
    assert contract_violations(events) == []
    assert json.loads(out.read_text().splitlines()[0])["format"] == "workbench-run"

"""The ``workbench`` command, run as a real process."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from test_tls import make_pki

from workbench.cli.main import main
from workbench.core import events as ev
from workbench.core.contract import contract_violations
from workbench.core.runfile import read_run_file


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


def _scenario_listing_files(tmp_path: Path) -> str:
    from conftest import write_scenario

    turns = [{"thinking": "See what is there.", "toolCalls": [{"name": "list_files", "input": {}}]}, {"text": "Listed."}]
    return write_scenario(tmp_path / "scenario.json", plan={"goal": "g", "phases": [{"name": "p", "description": "d"}]},
                          phases=[turns], react=turns, final={"text": "Listed."})


def test_file_names_that_are_not_utf8_are_listed_with_escapes_and_the_run_is_saved(tmp_path: Path, capsys):
    from workbench.cli.main import main

    workspace = tmp_path / "ws"
    workspace.mkdir()
    with open(os.path.join(os.fsencode(workspace), b"bad\xff.txt"), "wb") as f:
        f.write(b"hi")
    with open(os.path.join(os.fsencode(workspace), b"bad\xfe.txt"), "wb"):
        pass
    out = tmp_path / "run.jsonl"
    code = main(["run", "List the files", "--strategy", "react", "--scenario", _scenario_listing_files(tmp_path),
                 "--workspace", str(workspace), "--save", str(out)])
    shown = capsys.readouterr()
    assert code == 0, shown.err
    _, events = read_run_file(out)
    assert [(e.data.result, e.data.is_error) for e in events if e.type == "tool:complete"] == [
        ("bad\\xfe.txt  (0 bytes)\nbad\\xff.txt  (2 bytes)", False)]
    assert events[-1].type == "execution:complete" and contract_violations(events) == []
    assert "): bad\\xfe.txt (0 bytes) bad\\xff.txt (2 bytes)\n" in shown.out
    assert shown.err == f"Saved {len(events)} events to {out}\n"


def test_a_terminal_that_cannot_show_the_run_still_gets_it_saved(tmp_path: Path, capsys, monkeypatch):
    import io

    from workbench.cli.main import main

    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(io.BytesIO(), encoding="ascii"))  # '·' cannot be shown
    out = tmp_path / "run.jsonl"
    code = main(["run", "Write a haiku", "--strategy", "react", "--pace", "50", "--save", str(out)])
    assert code == 1
    _, events = read_run_file(out)
    problem = "UnicodeEncodeError: 'ascii' codec can't encode character '\\xb7' in position 23: ordinal not in range(128)"
    assert events[0].type == "execution:started" and contract_violations(events) == []
    assert events[-1].type == "execution:cancelled"
    assert events[-1].data.reason == f"the terminal could not show the run ({problem})"
    assert capsys.readouterr().err == (f"Saved {len(events)} events to {out}\n"
                                       f"workbench: error: the terminal could not show the run ({problem}); "
                                       f"it was cancelled, and {out} holds what it did\n")


def test_a_run_file_that_cannot_be_written_is_a_clear_error(tmp_path: Path, capsys):
    from workbench.cli.main import main

    (tmp_path / "a_file").write_text("")
    out = tmp_path / "a_file" / "run.jsonl"
    assert main(["run", "Write a haiku", "--strategy", "react", "--save", str(out)]) == 1
    err = capsys.readouterr().err
    assert err == f"workbench: error: cannot save the run to {out}: File exists: {tmp_path / 'a_file'}\n"


def test_a_task_that_is_not_utf8_is_refused(capsys):
    from workbench.cli.main import main

    # How Python hands over the argument b"Write a \xff haiku" on a UTF-8 system.
    assert main(["run", os.fsdecode(b"Write a \xff haiku")]) == 2
    assert capsys.readouterr().err == ("workbench: error: the task is not valid UTF-8 text (it reads "
                                       "'Write a \\xff haiku'); pass the task as UTF-8\n")


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


# --- workbench serve: TLS files, and plain HTTP off loopback ----------------------------------------

PLAIN_HTTP_REFUSED = (
    "workbench: error: refusing to serve plain HTTP on {host}: every token and run would cross the network unencrypted, "
    "readable by anyone on it. Serve HTTPS with --certfile FILE (and --keyfile FILE), or, if an HTTPS reverse proxy "
    "is in front of this server, pass --allow-http\n")


@pytest.fixture
def not_serving(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    """What ``workbench serve`` would have served with; nothing listens (serve is replaced)."""
    seen: dict[str, Any] = {}

    async def fake_serve(**kwargs: Any) -> int:
        seen.update(kwargs)
        return 0

    monkeypatch.setattr("workbench.serving.listener.serve", fake_serve)
    monkeypatch.setenv("WORKBENCH_TOKEN", "t0ken-for-cli-tests")
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    return seen


@pytest.mark.parametrize("host", ["192.0.2.1", "example.org"])  # neither can be bound here, come what may
def test_serve_refuses_plain_http_off_loopback_before_listening(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               host: str):
    monkeypatch.setenv("WORKBENCH_TOKEN", "t0ken-for-cli-tests")
    store = tmp_path / "runs.db"
    done = workbench("serve", "--host", host, "--port", "0", "--store", str(store))
    assert (done.returncode, done.stdout, done.stderr) == (2, "", PLAIN_HTTP_REFUSED.format(host=host))
    assert not store.exists()


def test_allow_http_off_loopback_serves_with_a_warning_first(not_serving: dict[str, Any],
                                                              capsys: pytest.CaptureFixture[str]):
    assert main(["serve", "--host", "0.0.0.0", "--allow-http"]) == 0
    assert capsys.readouterr().err == (
        "workbench: WARNING: serving plain HTTP on 0.0.0.0 (--allow-http): tokens and runs cross the network "
        "unencrypted, readable by anyone on it.\n"
        "workbench: WARNING: this is safe only behind an HTTPS reverse proxy that is the one way in; otherwise serve "
        "HTTPS with --certfile and --keyfile.\n")
    assert (not_serving["host"], not_serving["allow_http"], not_serving["ssl_context"]) == ("0.0.0.0", True, None)
    not_serving.clear()
    assert main(["serve"]) == 0  # loopback: plain HTTP, no flag, no warning
    assert capsys.readouterr().err == ""
    assert (not_serving["host"], not_serving["allow_http"], not_serving["ssl_context"]) == ("127.0.0.1", False, None)


def test_serve_loads_the_certificate_with_its_key_or_from_one_file(not_serving: dict[str, Any], tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]):
    pki = make_pki(tmp_path)
    assert main(["serve", "--host", "0.0.0.0", "--certfile", str(pki.cert), "--keyfile", str(pki.key)]) == 0
    assert isinstance(not_serving["ssl_context"], ssl.SSLContext) and not_serving["host"] == "0.0.0.0"
    not_serving.clear()
    assert main(["serve", "--certfile", str(pki.both)]) == 0
    assert isinstance(not_serving["ssl_context"], ssl.SSLContext)
    assert capsys.readouterr().err == ""


def test_bad_certificate_and_key_files_are_clear_errors(not_serving: dict[str, Any], tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]):
    pki = make_pki(tmp_path)
    missing, junk, locked = tmp_path / "missing.pem", tmp_path / "junk.pem", tmp_path / "locked.pem"
    junk.write_text("not a certificate\n")
    encrypted = tmp_path / "encrypted-key.pem"
    key = serialization.load_pem_private_key(pki.key.read_bytes(), password=None)
    encrypted.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.BestAvailableEncryption(b"a passphrase")))
    cases = [
        (["--certfile", str(missing)], f"cannot read the certificate file {missing}: No such file or directory"),
        (["--certfile", str(tmp_path)], f"cannot read the certificate file {tmp_path}: Is a directory"),
        (["--certfile", str(pki.cert), "--keyfile", str(missing)],
         f"cannot read the key file {missing}: No such file or directory"),
        (["--certfile", str(junk)], f"{junk} holds no certificate: --certfile needs a PEM file with a "
         "'-----BEGIN CERTIFICATE-----' block (the server's certificate first, then any intermediates)"),
        (["--certfile", str(pki.cert)],
         f"{pki.cert} holds a certificate but no private key: pass the key's file with --keyfile"),
        (["--certfile", str(pki.cert), "--keyfile", str(pki.cert)],
         f"{pki.cert} holds no private key: --keyfile needs a PEM file with a '-----BEGIN PRIVATE KEY-----' block"),
        (["--certfile", str(pki.cert), "--keyfile", str(pki.other_key)],
         f"the key in {pki.other_key} does not belong to the certificate in {pki.cert}: pass the key that was made "
         "with that certificate"),
        (["--certfile", str(pki.cert), "--keyfile", str(encrypted)],
         f"the key in {encrypted} is protected by a passphrase, which workbench serve cannot ask for; give it an "
         f"unencrypted copy (openssl pkey -in {encrypted} -out key.pem), readable only by you"),
        (["--keyfile", str(pki.key)], "--keyfile needs --certfile: pass the certificate (chain) with --certfile FILE"),
    ]
    if os.geteuid() != 0:  # root reads any file
        locked.write_bytes(pki.cert.read_bytes())
        locked.chmod(0)
        cases.append((["--certfile", str(locked)], f"cannot read the certificate file {locked}: Permission denied"))
    for args, message in cases:
        assert main(["serve", "--host", "0.0.0.0", *args]) == 2, args
        assert capsys.readouterr().err == f"workbench: error: {message}\n"
    assert not_serving == {}
    assert not (tmp_path / "home").exists()  # refused before the store's folder is made


# --- what a person reads: wrapping, the answer once, the workspace ------------------------------

THOUGHT = ("First I want to look at what the workspace already holds, because a reused folder may have notes from "
           "an earlier attempt that I should not overwrite without reading them.")
ANSWER = ("The answer is in `notes/answer.md`.\n\n- It says forty-two.\n- Nothing else was needed for this small and "
          "entirely made-up task, so the run ends here.")


def _answer_scenario(tmp_path: Path) -> str:
    from conftest import write_scenario

    turns = [{"thinking": THOUGHT, "text": "Writing the answer down first, so that it is in the workspace.",
              "toolCalls": [{"name": "write_file", "input": {"path": "notes/answer.md", "content": "# Answer\n\n42\n"}}]},
             {"text": ANSWER}]
    return write_scenario(tmp_path / "scenario.json", plan={"goal": "g", "phases": [{"name": "p", "description": "d"}]},
                          phases=[turns], react=turns, final={"text": ANSWER})


WRAPPED = {
    120: [
        "Task: Answer the question",
        "  thinking: First I want to look at what the workspace already holds, because a reused folder may have notes from an",
        "            earlier attempt that I should not overwrite without reading them.",
        "  says: Writing the answer down first, so that it is in the workspace.",
        '  → write_file {"path": "notes/answer.md", "content": "# Answer\\n\\n42\\n"}',
        "  ← write_file (N ms): Wrote 13 bytes to notes/answer.md",
        "Complete in N s · tokens: N in, N out",
        "The answer is in `notes/answer.md`.",
        "",
        "- It says forty-two.",
        "- Nothing else was needed for this small and entirely made-up task, so the run ends here.",
        "",
        "Workspace: WS",
        "Files written (1):",
        "  notes/answer.md (13 bytes)",
    ],
    80: [
        "Task: Answer the question",
        "  thinking: First I want to look at what the workspace already holds, because a",
        "            reused folder may have notes from an earlier attempt that I should",
        "            not overwrite without reading them.",
        "  says: Writing the answer down first, so that it is in the workspace.",
        '  → write_file {"path": "notes/answer.md", "content": "# Answer\\n\\n42\\n"}',
        "  ← write_file (N ms): Wrote 13 bytes to notes/answer.md",
        "Complete in N s · tokens: N in, N out",
        "The answer is in `notes/answer.md`.",
        "",
        "- It says forty-two.",
        "- Nothing else was needed for this small and entirely made-up task, so the run",
        "  ends here.",
        "",
        "Workspace: WS",
        "Files written (1):",
        "  notes/answer.md (13 bytes)",
    ],
}


@pytest.mark.parametrize("columns", [120, 80])
def test_thinking_wraps_at_words_under_its_label_and_the_answer_is_printed_once(tmp_path: Path, columns: int):
    import re

    workspace = tmp_path / "ws"
    done = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "run", "Answer the question", "--strategy", "react", "--pace", "40",
         "--scenario", _answer_scenario(tmp_path), "--workspace", str(workspace)],
        capture_output=True, text=True, timeout=60, env={**os.environ, "NO_COLOR": "1", "COLUMNS": str(columns)})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Run r_")
    shown = [re.sub(r"\d[\d,.]*( ms| s|(?= in| out))", r"N\1", line) for line in lines[1:]]
    assert shown == [line.replace("WS", str(workspace)) for line in WRAPPED[columns]]
    assert max(len(line) for line in lines) <= columns
    assert done.stdout.count("forty-two") == 1


# --- taking part from the terminal ---------------------------------------------------------------


def supervised(tmp_path: Path, answers: str, *args: str, editor: str | None = None) -> tuple[subprocess.CompletedProcess[str], list[ev.Event]]:
    out = tmp_path / "run.jsonl"
    env = {**os.environ, "NO_COLOR": "1", "WORKBENCH_HOME": str(tmp_path / "home")}
    env.pop("VISUAL", None)
    if editor is not None:
        env["EDITOR"] = editor
    done = subprocess.run([sys.executable, "-m", "workbench.cli", "run", "Write a haiku about tides", "--strategy", "react",
                           "--scenario", scenario_file(tmp_path), "--save", str(out), *args],
                          input=answers, capture_output=True, text=True, env=env, timeout=60)
    _, events = read_run_file(out)
    assert contract_violations(events) == []
    return done, events


def scenario_file(tmp_path: Path) -> str:
    from conftest import write_scenario

    turns = [{"thinking": "I will write it.", "text": "Writing.",
              "toolCalls": [{"name": "write_file", "input": {"path": "haiku.txt", "content": "moon pulls the water"}}]},
             {"text": "Done."}]
    return write_scenario(tmp_path / "scenario.json", react=turns, plan={"goal": "g", "phases": [{"name": "p"}]},
                          phases=[turns], final={"text": "Done."})


def decisions(events: list[ev.Event]) -> list[tuple[str, Any, Any]]:
    return [(e.data.decision, e.data.params, e.data.note) for e in events if isinstance(e.data, ev.ToolDecisionData)]


def test_approve_asks_before_each_call_and_runs_it_on_yes(tmp_path: Path):
    done, events = supervised(tmp_path, "maybe\ny\n", "--approve", "write_file")
    assert done.returncode == 0, done.stderr
    assert "Run write_file? [y]es, [n]o, [e]dit its params: Answer y, n or e." in done.stderr
    assert "? write_file waits for your decision" in done.stdout and "  approved" in done.stdout
    assert decisions(events) == [("approve", None, None)]
    assert "← write_file" in done.stdout


def test_no_denies_with_a_note_the_model_reads(tmp_path: Path):
    done, events = supervised(tmp_path, "n\nnot in this folder\n", "--approve", "all")
    assert done.returncode == 0, done.stderr
    assert decisions(events) == [("deny", None, "not in this folder")]
    assert "  denied: not in this folder" in done.stdout
    assert "They denied my call to write_file with the note “not in this folder”" in done.stdout
    assert list((tmp_path / "home").rglob("haiku.txt")) == []  # it never ran


def test_edit_opens_the_params_in_the_editor_and_refuses_what_does_not_fit(tmp_path: Path):
    editor = tmp_path / "editor.py"
    # first edit: not JSON; second: misses the schema's 'content'; third: a new path
    editor.write_text(
        "import json, pathlib, sys\n"
        f"count = pathlib.Path({str(tmp_path / 'count')!r})\n"
        "n = int(count.read_text()) if count.exists() else 0\n"
        "count.write_text(str(n + 1))\n"
        "path = pathlib.Path(sys.argv[1])\n"
        "params = json.loads(path.read_text())\n"
        "if n == 0: path.write_text('{not json')\n"
        "elif n == 1: path.write_text(json.dumps({'path': 'x.txt'}))\n"
        "else: params['path'] = 'tides.txt'; path.write_text(json.dumps(params))\n")
    done, events = supervised(tmp_path, "e\ne\ne\n", "--approve", "write_file", editor=f"{sys.executable} {editor}")
    assert done.returncode == 0, done.stderr
    assert "The params are not valid JSON (Expecting property name enclosed in double quotes, line 1); " \
           "the call still waits." in done.stderr
    assert "the edited params do not fit the schema of write_file: params: 'content' is a required property" in done.stderr
    assert decisions(events) == [("edit", {"path": "tides.txt", "content": "moon pulls the water"}, None)]
    assert "Wrote 20 bytes to tides.txt" in done.stdout


def test_a_breakpoint_waits_for_enter_and_a_typed_line_goes_to_the_agent(tmp_path: Path):
    done, events = supervised(tmp_path, "use the word brine\n\n", "--break", "model")
    assert done.returncode == 0, done.stderr
    assert [e.type for e in events if e.type in ("execution:paused", "execution:resumed", "user:message")] == [
        "execution:paused", "user:message", "execution:resumed", "execution:paused", "execution:resumed"]
    assert "  you: use the word brine" in done.stdout
    assert "The person supervising this run says: “use the word brine”" in done.stdout


def test_closed_input_cancels_a_run_that_waits_for_an_answer(tmp_path: Path):
    done, events = supervised(tmp_path, "", "--approve", "write_file")
    assert done.returncode == 130 and "No more input: cancelling the run." in done.stderr
    assert events[-1].type == "execution:cancelled"


def test_ctrl_c_cancels_a_run_that_waits_for_an_answer(tmp_path: Path):
    out = tmp_path / "run.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "run", "Write a haiku about tides", "--strategy", "react",
         "--scenario", scenario_file(tmp_path), "--approve", "write_file", "--save", str(out)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "NO_COLOR": "1", "WORKBENCH_HOME": str(tmp_path / "home")})
    assert process.stdout is not None
    while "waits for your decision" not in process.stdout.readline():
        pass
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=20)
    assert process.returncode == 130, stderr
    _, events = read_run_file(out)
    assert [e.type for e in events][-3:] == ["tool:approval", "tool:complete", "execution:cancelled"]

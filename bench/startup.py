"""Start-up benchmark: ``import workbench`` against ``import anthropic``, ``workbench --help``, the Jupyter extension.

    python bench/startup.py            # about 1 to 2 minutes
    python bench/startup.py --quick    # fewer rounds, about 30 s

Every figure is measured in fresh processes, several times, interleaved so that a busy machine
slows each side alike; the table shows the median and the minimum:

1. ``import workbench`` and ``import anthropic``, each timed inside a fresh interpreter (so the
   interpreter's own start is left out), and their ratio (target: at most 0.15). The child also
   says which heavy packages the import brought in.
2. ``workbench --help`` (the installed console script, else ``python -m workbench.cli``): wall
   time, against a bare ``python -c pass``; and, under ``-X importtime``, whether printing the help
   imported the SDK, pydantic, aiohttp or a server (target: none of them).
3. A real ``jupyter server`` (free port, ``--no-browser``, a temporary root and Jupyter folders)
   with the workbench extension enabled, and the same server with it disabled: the import time of
   the ``workbench`` and ``workbench_server_ext`` packages in it (from ``-X importtime``; Jupyter
   itself logs "Extension package workbench took X s to import" only above 0.1 s), the time until
   ``/api/status`` and the extension's ``/workbench/api/runs`` both answer, and how long the
   first run's ``POST /workbench/api/runs`` takes, sent as soon as the routes answer (the
   extension loads the agent and the SDK in a worker thread once the server is up; a run asked
   for before that is done waits for it).

This is a benchmark, not a test: it prints figures, says plainly when a target is missed, and
exits 0 either way (1 only if something misbehaved, e.g. a server did not start).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for entry in (REPO, REPO / "bench"):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

import report  # bench/report.py
from report import print_summary, verdict

# --- targets ---------------------------------------------------------------------------------

TARGET_IMPORT_RATIO = 0.15
"""``import workbench`` at most this fraction of ``import anthropic``."""

HEAVY = ("anthropic", "pydantic", "aiohttp", "httpx2", "jupyter_server", "tornado", "IPython", "anywidget")
"""Packages whose import ``import workbench`` and ``workbench --help`` should not pay for."""

HELP_MUST_NOT_IMPORT = ("anthropic", "pydantic", "aiohttp", "jupyter_server", "tornado",
                        "workbench.serving.standalone", "workbench.serving.service", "workbench_server_ext",
                        "workbench.agent.orchestrator")

SERVER_START_S = 90.0


@dataclass(frozen=True)
class Mode:
    name: str
    import_rounds: int
    jupyter_rounds: int


FULL = Mode("full", import_rounds=9, jupyter_rounds=3)
QUICK = Mode("quick", import_rounds=3, jupyter_rounds=1)


# --- environment -----------------------------------------------------------------------------


def child_environment(tmp: Path) -> dict[str, str]:
    """This checkout's code first, a private workbench home, and no credentials."""
    env = os.environ.copy()
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(REPO / "server_ext"), *filter(None, [env.get("PYTHONPATH")])])
    env["WORKBENCH_HOME"] = str(tmp / "workbench-home")
    env["ANTHROPIC_CONFIG_DIR"] = str(tmp / "anthropic-config")
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "WORKBENCH_MODEL",
                 "ANTHROPIC_PROFILE", "PYTHONPROFILEIMPORTTIME"):
        env.pop(name, None)
    return env


def machine() -> str:
    return report.machine(("anthropic", "pydantic", "aiohttp", "jupyter_server"), load=True)


def median_min(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} s (min {min(values):.3f})"


# --- 1. imports ------------------------------------------------------------------------------

_IMPORT_CHILD = """
import json, sys, time
started = time.perf_counter()
import {module}
seconds = time.perf_counter() - started
heavy = {heavy!r}
print(json.dumps({{"seconds": seconds, "file": {module}.__file__,
                  "loaded": [name for name in heavy if name in sys.modules]}}))
"""


@dataclass(frozen=True)
class ImportTiming:
    seconds: float
    file: str
    loaded: list[str]


def time_import(module: str, env: dict[str, str], cwd: Path) -> ImportTiming:
    code = _IMPORT_CHILD.format(module=module, heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL, check=True)
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return ImportTiming(answer["seconds"], answer["file"], answer["loaded"])


# --- 2. the command line ---------------------------------------------------------------------


def help_command() -> tuple[list[str], str]:
    script = Path(sys.executable).parent / "workbench"
    if script.is_file():
        return [str(script), "--help"], "workbench --help"
    return [sys.executable, "-m", "workbench.cli", "--help"], "python -m workbench.cli --help"


def wall_time(command: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   stdin=subprocess.DEVNULL, timeout=120, check=True)
    return time.perf_counter() - started


def modules_imported_by_help(env: dict[str, str], cwd: Path) -> set[str]:
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "workbench.cli", "--help"], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, check=True)
    return {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}


# --- 3. a Jupyter server ---------------------------------------------------------------------


@dataclass(frozen=True)
class JupyterTiming:
    ready: float
    """Seconds from the process's start until ``/api/status`` answered."""
    routes: float | None
    """Seconds from the process's start until the extension's ``/workbench/api/runs`` answered."""
    jupyter_says: float | None
    """What Jupyter logged as "Extension package workbench took X s to import" (at debug level below 0.1 s)."""
    extension_import: float | None
    """``import workbench_server_ext`` in the server (from the import-time log), which Jupyter
    does after timing ``import workbench``, when it asks for the extension's points."""
    first_run: float | None
    """Seconds the first ``POST /workbench/api/runs`` took (sent as soon as the routes answered, or
    once the extension said it had started: after loading the agent, where it does)."""
    started_after: float | None
    """Seconds from the routes answering until the extension's start hook had run (its
    "start-up objects left out of garbage collection" line), when the POST waited for it."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def answers(url: str, token: str, *, data: bytes | None = None, timeout: float = 2.0) -> int | None:
    headers = {"Authorization": f"token {token}"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            answer.read()
            status: int = answer.status
            return status
    except urllib.error.HTTPError as error:
        with error:
            return error.code
    except (urllib.error.URLError, OSError):
        return None


def cumulative_import(log: str, module: str) -> float | None:
    """The outermost ``-X importtime`` line of ``module``: its cumulative time, in seconds."""
    best: tuple[int, float] | None = None
    for match in re.finditer(rf"^import time:\s+\d+ \|\s+(\d+) \|( *){re.escape(module)}$", log, re.M):
        depth, micros = len(match.group(2)), int(match.group(1))
        if best is None or depth < best[0]:
            best = (depth, micros / 1e6)
    return best[1] if best else None


STARTED_LINE = re.compile(r"workbench: \d+ start-up objects left out of garbage collection")
"""What the extension logs at the end of its start hook (after loading the agent, where it does)."""


def run_jupyter(tmp: Path, env: dict[str, str], *, extension: bool, wait_for_start: bool = False) -> JupyterTiming:
    home = Path(tempfile.mkdtemp(prefix="jupyter-", dir=tmp))
    root = home / "root"
    root.mkdir()
    env = {**env, "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_DATA_DIR": str(home / "data"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "WORKBENCH_HOME": str(home / "workbench-home"),
           # `jupyter server` execs `jupyter-server`: the variable, unlike -X importtime, lives on.
           "PYTHONPROFILEIMPORTTIME": "1"}
    token, port = secrets.token_hex(16), free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "jupyter", "server", "--no-browser", f"--port={port}",
               "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
               "--ServerApp.allow_root=True", f"--ServerApp.jpserver_extensions=workbench={extension}",
               # Jupyter logs how long `import workbench` took at info level only above 0.1 s.
               "--ServerApp.log_level=DEBUG"]
    log_path = home / "jupyter.log"
    with log_path.open("wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=root, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = started + SERVER_START_S
        ready = routes = None
        while ready is None or (extension and routes is None):
            if process.poll() is not None:
                raise RuntimeError(f"jupyter server exited with {process.returncode}:\n"
                                   + log_path.read_text("utf-8", "replace")[-3000:])
            if ready is None and answers(f"{url}/api/status", token) == 200:
                ready = time.perf_counter() - started
            if ready is not None and extension and answers(f"{url}/workbench/api/runs", token) == 200:
                routes = time.perf_counter() - started
            if time.perf_counter() > deadline:
                raise RuntimeError(f"jupyter server did not answer within {SERVER_START_S:.0f} s")
            time.sleep(0.02)
        first_run = started_after = None
        if extension and wait_for_start:
            while not STARTED_LINE.search(log_path.read_text("utf-8", "replace")):
                if time.perf_counter() > deadline:
                    raise RuntimeError("the extension did not log the end of its start hook")
                time.sleep(0.02)
            started_after = time.perf_counter() - started - (routes or 0)
        if extension:
            body = json.dumps({"task": "Write a haiku about start-up time", "model": "simulated"}).encode()
            asked = time.perf_counter()
            status = answers(f"{url}/workbench/api/runs", token, data=body, timeout=60)
            if status != 201:
                raise RuntimeError(f"POST /workbench/api/runs answered {status}")
            first_run = time.perf_counter() - asked
    finally:
        stop(process, url, token)
    log = log_path.read_text("utf-8", "replace")
    said = re.search(r"Extension package workbench took ([0-9.]+)s to import", log)
    return JupyterTiming(
        ready=ready,
        routes=routes,
        jupyter_says=float(said.group(1)) if said else None,
        extension_import=cumulative_import(log, "workbench_server_ext") if extension else None,
        first_run=first_run,
        started_after=started_after,
    )


def stop(process: subprocess.Popen[bytes], url: str, token: str) -> None:
    if process.poll() is None:
        answers(f"{url}/api/shutdown", token, data=b"")
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)  # the server's own process group (start_new_session)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            pass


# --- main ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, for smoke-testing (about 30 s)")
    args = parser.parse_args(argv)
    mode = QUICK if args.quick else FULL
    tmp = Path(tempfile.mkdtemp(prefix="workbench-startup-"))
    try:
        return bench(mode, tmp, args.quick)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def bench(mode: Mode, tmp: Path, quick: bool) -> int:
    started = time.perf_counter()
    env = child_environment(tmp)
    print(f"Agent Workbench start-up benchmark ({mode.name} mode), code from {REPO}")
    print(f"machine: {machine()}")
    rows: list[tuple[str, str, str, str]] = []
    bad = False

    # --- 1 -----------------------------------------------------------------------------------
    print(f"\n1. import time in a fresh interpreter, 1 warm-up + {mode.import_rounds} rounds, interleaved")
    time_import("workbench", env, tmp), time_import("anthropic", env, tmp)  # warm the disk cache
    ours: list[ImportTiming] = []
    sdk: list[float] = []
    for _ in range(mode.import_rounds):
        ours.append(time_import("workbench", env, tmp))
        sdk.append(time_import("anthropic", env, tmp).seconds)
    wb_times = [t.seconds for t in ours]
    if not ours[0].file.startswith(str(REPO)):
        print(f"   NOTE: imported {ours[0].file}, not this checkout's workbench")
    loaded = sorted({name for t in ours for name in t.loaded})
    ratio = statistics.median(wb_times) / statistics.median(sdk)
    print(f"   import workbench: {median_min(wb_times)}; it loaded: {', '.join(loaded) or 'none of ' + ', '.join(HEAVY)}")
    print(f"   import anthropic: {median_min(sdk)}")
    ratio_ok = ratio <= TARGET_IMPORT_RATIO
    print(f"   ratio of the medians: {ratio:.3f}   (target ≤ {TARGET_IMPORT_RATIO}: {verdict(ratio_ok, quick)})")
    rows.append(("import workbench", median_min(wb_times), "", ""))
    rows.append(("import anthropic", median_min(sdk), "baseline", ""))
    rows.append(("import workbench ÷ import anthropic", f"{ratio:.3f}", f"≤ {TARGET_IMPORT_RATIO}", verdict(ratio_ok, quick)))

    # --- 2 -----------------------------------------------------------------------------------
    command, label = help_command()
    print(f"\n2. {label}: wall time, interpreter start included, 1 warm-up + {mode.import_rounds} rounds")
    wall_time(command, env, tmp), wall_time([sys.executable, "-c", "pass"], env, tmp)
    helps, bare = [], []
    for _ in range(mode.import_rounds):
        helps.append(wall_time(command, env, tmp))
        bare.append(wall_time([sys.executable, "-c", "pass"], env, tmp))
    imported = modules_imported_by_help(env, tmp)
    unwanted = sorted(name for name in HELP_MUST_NOT_IMPORT if name in imported)
    help_ok = not unwanted
    print(f"   {label}: {median_min(helps)};  python -c pass: {median_min(bare)}")
    print(f"   imported {len(imported)} modules; of {', '.join(HELP_MUST_NOT_IMPORT)}: "
          f"{', '.join(unwanted) or 'none'}   ({verdict(help_ok, quick)})")
    rows.append((label, median_min(helps), f"python -c pass: {statistics.median(bare):.3f} s", ""))
    rows.append((f"{label} imports the SDK, pydantic or a server", ", ".join(unwanted) or "none", "none",
                 verdict(help_ok, quick)))

    # --- 3 -----------------------------------------------------------------------------------
    print(f"\n3. jupyter server (imports timed with PYTHONPROFILEIMPORTTIME), {mode.jupyter_rounds} rounds of three "
          "starts: the extension with a run asked for at once, the extension with a run asked for once its start "
          "hook has run, and no extension")
    at_once: list[JupyterTiming] = []
    later: list[JupyterTiming] = []
    without: list[JupyterTiming] = []
    try:
        for _ in range(mode.jupyter_rounds):
            at_once.append(run_jupyter(tmp, env, extension=True))
            later.append(run_jupyter(tmp, env, extension=True, wait_for_start=True))
            without.append(run_jupyter(tmp, env, extension=False))
    except RuntimeError as exc:
        print(f"   FAILED: {exc}")
        bad = True
    if at_once and later and without:
        for i, (now, then, wo) in enumerate(zip(at_once, later, without, strict=False), 1):
            print(f"   round {i}: /api/status answered after {now.ready:.3f} / {then.ready:.3f} s with the extension, "
                  f"{wo.ready:.3f} s without; its routes after {now.routes or 0:.3f} / {then.routes or 0:.3f} s; "
                  f"Jupyter: import workbench took {now.jupyter_says or 0:.3f} s, then workbench_server_ext "
                  f"{now.extension_import or 0:.3f} s; first POST /runs at once {now.first_run or 0:.3f} s; start hook "
                  f"done {then.started_after or 0:.3f} s after the routes answered, first POST /runs then "
                  f"{then.first_run or 0:.3f} s")
        with_ext = at_once + later
        ready_with = statistics.median(w.ready for w in with_ext)
        ready_without = statistics.median(w.ready for w in without)
        rows.append(("Jupyter: 'Extension package workbench took X s to import'",
                     median_min([w.jupyter_says or 0 for w in with_ext]), "", ""))
        rows.append(("then import workbench_server_ext (PYTHONPROFILEIMPORTTIME)",
                     median_min([w.extension_import or 0 for w in with_ext]), "", ""))
        rows.append(("server start until /api/status answers, with / without it",
                     f"{ready_with:.3f} / {ready_without:.3f} s ({ready_with - ready_without:+.3f} s)", "", ""))
        rows.append(("server start until /workbench/api/runs answers",
                     median_min([w.routes or 0 for w in with_ext]), "", ""))
        rows.append(("first POST /runs, sent as soon as the routes answer",
                     median_min([w.first_run or 0 for w in at_once]), "", ""))
        rows.append(("the extension's start hook done, after the routes answer",
                     median_min([w.started_after or 0 for w in later]), "", ""))
        rows.append(("first POST /runs, sent once the start hook is done",
                     median_min([w.first_run or 0 for w in later]), "", ""))

    print_summary(f"{mode.name} mode, {time.perf_counter() - started:.0f} s", rows)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

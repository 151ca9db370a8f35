"""Shared by the tests that start a real Jupyter app (``jupyter lab`` or ``jupyter server``) in a
subprocess: an isolated environment, a token, a wait for ``/api/status``, and a stop that
shuts the kernels down and reports any kernel process that had to be killed.

The environment keeps this machine's user configuration out (its own JUPYTER_CONFIG_DIR,
JUPYTER_DATA_DIR, JUPYTER_RUNTIME_DIR, WORKBENCH_HOME) but not the installed packages'
configuration under ``sys.prefix/etc/jupyter``: that is how the workbench extension is enabled.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
from servers import Reply

App = Literal["lab", "server"]

STARTUP_S = 30.0

_NAMES: dict[App, str] = {"lab": "JupyterLab", "server": "Jupyter Server"}
_APP_ARGS: dict[App, list[str]] = {
    # Nothing reaches out to the network: no news feed, no update check, no PyPI extension manager.
    "lab": ["--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly"],
    "server": [],
}


@dataclass
class Jupyter:
    """A Jupyter app running in a subprocess of its own (process group), with its token."""

    app: App
    url: str
    port: int
    token: str
    root: Path
    runtime: Path
    command: list[str]
    env: dict[str, str]
    """The environment it runs in: give it to any ``jupyter`` command that should see the same configuration."""
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def name(self) -> str:
        return _NAMES[self.app]

    def api(self, method: str, path: str, body: Any = None, *, timeout: float = 5.0) -> Any:
        """A JSON request with the token; raises ``urllib.error.HTTPError`` on a 4xx or 5xx."""
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"token {self.token}"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            content = answer.read()
        return json.loads(content) if content else None

    def request(self, method: str, path: str, body: bytes | None = None, *,
                headers: dict[str, str] | None = None, timeout: float = 10.0) -> Reply:
        """Any request, exactly as given (no token unless ``headers`` has one); never raises on a status."""
        request = urllib.request.Request(f"{self.url}{path}", data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return Reply(answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read())
        except urllib.error.HTTPError as error:
            with error:
                return Reply(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text("utf-8", "replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def isolated_environment(tmp: Path) -> dict[str, str]:
    """This process's environment, with every Jupyter and workbench folder of its own in ``tmp``."""
    env = os.environ.copy()
    env.update(
        WORKBENCH_HOME=str(tmp / "workbench-home"),
        JUPYTER_CONFIG_DIR=str(tmp / "config"),  # no user configuration of this machine
        JUPYTER_DATA_DIR=str(tmp / "data"),  # the workbench extension keeps its run store here
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),  # kernels' connection files: how leftovers are found
        JUPYTERLAB_SETTINGS_DIR=str(tmp / "lab-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp / "lab-workspaces"),
        # The kernelspec runs "python": make it this interpreter, which has the workbench.
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    )
    return env


def start_jupyter(tmp: Path, app: App) -> Jupyter:
    """``jupyter <app>`` on 127.0.0.1, a free port and a fresh token, serving ``tmp/root``; waits until it answers."""
    root = tmp / "root"
    root.mkdir()
    token, port = secrets.token_hex(16), free_port()
    env = isolated_environment(tmp)
    log = tmp / "jupyter.log"
    command = [
        sys.executable, "-m", "jupyter", app, "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--ServerApp.allow_root=True",
        *_APP_ARGS[app],
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   cwd=root, start_new_session=True)
    jupyter = Jupyter(app=app, url=f"http://127.0.0.1:{port}", port=port, token=token, root=root,
                      runtime=Path(env["JUPYTER_RUNTIME_DIR"]), command=command, env=env, process=process, log=log)
    deadline = time.monotonic() + STARTUP_S
    while True:
        if process.poll() is not None:
            pytest.fail(f"{jupyter.name} exited with {process.returncode} before answering:\n{jupyter.log_tail()}")
        try:
            with urllib.request.urlopen(f"{jupyter.url}/api/status?token={token}", timeout=1) as answer:
                if answer.status == 200:
                    return jupyter
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            stop_jupyter(jupyter)
            pytest.fail(f"{jupyter.name} did not answer /api/status within {STARTUP_S:.0f} s:\n{jupyter.log_tail()}")
        time.sleep(0.1)


def kernel_processes(runtime: Path) -> list[int]:
    """Processes started with a connection file in ``runtime``: this server's kernels."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            except OSError:
                continue
            if str(runtime) in cmdline and "kernel" in cmdline:
                pids.append(int(entry.name))
    return pids


def stop_jupyter(jupyter: Jupyter) -> list[int]:
    """Stop the server and its kernels; the pids of kernels that had to be killed (none, normally)."""
    process = jupyter.process
    if process.poll() is None:
        try:  # shut the kernels down first, then the server, as a person's "Shut Down" would
            for kernel in jupyter.api("GET", "/api/kernels"):
                jupyter.api("DELETE", f"/api/kernels/{kernel['id']}")
            jupyter.api("POST", "/api/shutdown")
            process.wait(timeout=10)
        except (urllib.error.URLError, OSError, subprocess.TimeoutExpired, ValueError):
            pass
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)  # the server's whole process group
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            pass
    leftovers = kernel_processes(jupyter.runtime)
    for pid in leftovers:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return leftovers

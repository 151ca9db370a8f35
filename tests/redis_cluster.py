"""Real Redis for the tests of runs shared through it: Debian's ``redis-server`` on a free loopback
port (AOF on, no RDB snapshots, in the test's own folder), and ``workbench serve --redis`` replicas
and ``workbench worker`` processes around it, as separate processes that a test can kill.

Without ``redis-server`` the tests skip with a note, unless ``WORKBENCH_REQUIRE_REDIS=1`` (CI),
where a missing binary is a failure.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
ROOT = Path(__file__).resolve().parent.parent


def skip_without_redis() -> None:
    if os.path.exists(REDIS_SERVER):
        return
    problem = "redis-server is not installed (Debian: apt-get install -y redis-server)"
    if os.environ.get("WORKBENCH_REQUIRE_REDIS") == "1":
        pytest.fail(f"WORKBENCH_REQUIRE_REDIS=1 but {problem}")
    pytest.skip(problem)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RedisServer:
    """One redis-server process; :meth:`restart` keeps its data (the AOF in ``folder``)."""

    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
             "--appendfsync", "always", "--dir", str(self.folder), "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@dataclass
class Process:
    """A ``workbench`` command running in a process of its own."""

    process: subprocess.Popen[str]
    output: list[str]
    port: int | None = None

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as when a machine goes away."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


def environment(**extra: str) -> dict[str, str]:
    env = {**os.environ, **extra}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "server_ext"), *sys.path])
    return env


async def start_workbench(*args: str, env: dict[str, str], ready: str, timeout: float = 60.0) -> Process:
    """``python -m workbench.cli ARGS`` until it prints a line starting with ``ready``."""
    process = subprocess.Popen([sys.executable, "-m", "workbench.cli", *args], env=env, stdout=subprocess.PIPE,  # noqa: ASYNC220 - returns at once
                               stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    assert process.stdout is not None
    output: list[str] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        line = await asyncio.wait_for(loop.run_in_executor(None, process.stdout.readline), deadline - loop.time())
        if not line:
            raise RuntimeError(f"workbench {args[0]} stopped before it was ready:\n{''.join(output)}")
        output.append(line)
        if line.startswith(ready):
            break
    started = Process(process, output)
    found = re.search(r"http://127\.0\.0\.1:([0-9]+)/api", line)
    if found:
        started.port = int(found.group(1))
    # Keep reading its output, so that a full pipe never blocks it.
    loop.run_in_executor(None, lambda: output.extend(iter(process.stdout.readline, "")))  # type: ignore[union-attr]
    return started


async def start_replica(redis: RedisServer, home: Path, *extra: str, env: dict[str, str]) -> Process:
    return await start_workbench("serve", "--redis", redis.url, "--port", "0", "--heartbeat", "0.5",
                                 "--workspace-root", str(home / "workspaces"), *extra, env=env,
                                 ready="Workbench server on")


async def start_worker(redis: RedisServer, home: Path, name: str, *extra: str, env: dict[str, str]) -> Process:
    return await start_workbench("worker", "--redis", redis.url, "--name", name, "--claim-idle", "1",
                                 "--workspace-root", str(home / "workspaces"), *extra, env=env,
                                 ready="Workbench worker")

"""How the SSE bench's parent runs its children: the bench's script again (``--serve`` or ``--client``),
pinned and niced, spoken to in JSON lines on stdin and ``@@ {json}`` lines on stdout."""

from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from sse_bench.common import ENTRY, PREFIX

CHILDREN: list[Child] = []


class Child:
    """A subprocess speaking the ``@@ {json}`` protocol on stdout and JSON commands on stdin."""

    def __init__(self, argv: list[str], log_path: Path, name: str) -> None:
        self.name = name
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - the child's stderr for its whole life; closed by stop()
        env = {**os.environ, "SSE_BENCH_PARENT": str(os.getpid()), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([sys.executable, str(ENTRY), *argv], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._log, env=env)
        CHILDREN.append(self)
        self.pid = self.proc.pid
        self._seq = 0
        self._replies: dict[int, queue.Queue[dict[str, Any]]] = {}
        self._other: queue.Queue[dict[str, Any]] = queue.Queue()
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True, name=f"read-{name}").start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace")
            if not line.startswith(PREFIX):
                continue
            msg = json.loads(line[len(PREFIX):])
            seq = msg.get("seq")
            with self._lock:
                target = self._replies.get(seq) if seq is not None else None
            (target or self._other).put(msg)
        self._other.put({"eof": True})

    def send(self, msg: dict[str, Any]) -> int:
        with self._lock:
            self._seq += 1
            seq = self._seq
            self._replies[seq] = queue.Queue()
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps({**msg, "seq": seq}) + "\n").encode())
        self.proc.stdin.flush()
        return seq

    def reply(self, seq: int, timeout: float) -> dict[str, Any]:
        try:
            msg = self._replies[seq].get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"{self.name}: no answer within {timeout:.0f} s; its log:\n{self.tail()}") from None
        if "error" in msg:
            raise RuntimeError(f"{self.name} failed: {msg['error']}")
        return msg

    def call(self, msg: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
        return self.reply(self.send(msg), timeout)

    def message(self, timeout: float) -> dict[str, Any]:
        try:
            msg = self._other.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"{self.name}: nothing within {timeout:.0f} s; its log:\n{self.tail()}") from None
        if msg.get("eof"):
            raise RuntimeError(f"{self.name} exited ({self.proc.poll()}); its log:\n{self.tail()}")
        return msg

    def tail(self, chars: int = 3000) -> str:
        try:
            if not self._log.closed:
                self._log.flush()
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, graceful: bool = True) -> None:
        if self.proc.poll() is None and graceful:
            try:
                self.send({"cmd": "quit"})
                self.proc.stdin.close()  # type: ignore[union-attr]
            except (OSError, ValueError):
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        if self in CHILDREN:
            CHILDREN.remove(self)


def stop_all_children() -> None:
    for child in CHILDREN[:]:  # stop() removes each from CHILDREN
        try:
            child.stop(graceful=False)
        except Exception:  # noqa: BLE001, S110 - stopping the rest matters more
            pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

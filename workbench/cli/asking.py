"""Taking part in a run from the terminal: approve tool calls and go on from breakpoints.

``workbench run TASK --approve write_file`` asks before each such call: ``y`` runs it, ``n``
denies it (with a note the model reads), ``e`` opens its params in ``$VISUAL`` / ``$EDITOR``
and runs it with what was saved. ``--break model`` (or ``tool``, or a tool's name) pauses the run
there and waits for Enter; a line typed first goes to the agent as a message. Ctrl-C cancels
the run, also while it waits for an answer.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any, TextIO

from workbench.core import events as ev
from workbench.core.handle import Run
from workbench.errors import UserError

__all__ = ["TerminalAsker", "breakpoint_options"]


def breakpoint_options(names: list[str]) -> list[Any]:
    """``--break`` values as the ``breakpoints`` option: ``model``, ``tool``, or a tool's name."""
    return [name if name in ("model", "tool") else {"tool": name} for name in names]


class TerminalAsker:
    """Answers a run's waits with what the person types, one line at a time."""

    def __init__(self, run: Run, *, out: TextIO | None = None) -> None:
        self.run = run
        self.out = out or sys.stderr
        self._lines: asyncio.StreamReader | None = None
        self._fd: int | None = None

    async def answer(self, event: ev.Event) -> None:
        """If ``event`` makes the run wait for the person, ask them and act on the answer."""
        if isinstance(event.data, ev.ToolApprovalData):
            await self._decide(event.data)
        elif isinstance(event.data, ev.ExecutionPausedData) and not self.run.done:
            where = "the next model call" if event.data.before == "model" else "this tool call"
            line = await self._ask(f"Paused before {where}. Enter goes on; type a message for the agent first if you like: ")
            if line is None:
                return
            if line.strip():
                self.run.say(line.strip())
            self._control(self.run.resume)

    async def _decide(self, call: ev.ToolApprovalData) -> None:
        while not self.run.done:
            line = await self._ask(f"Run {call.tool_name}? [y]es, [n]o, [e]dit its params: ")
            if line is None:
                return
            choice = line.strip().lower()[:1]
            if choice == "y":
                self._control(self.run.decide, call.tool_use_id, "approve")
                return
            if choice == "n":
                note = await self._ask("A note for the agent (why not; Enter for none): ")
                if note is None:
                    return
                self._control(self.run.decide, call.tool_use_id, "deny", None, note.strip() or None)
                return
            if choice == "e":
                params = await self._edit(call.tool_name, call.params)
                if params is not None and self._control(self.run.decide, call.tool_use_id, "edit", params):
                    return
                continue
            self._say("Answer y, n or e.")

    async def _edit(self, name: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """The params as the person saved them in their editor; None (and why) if they are not a JSON object."""
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        with tempfile.TemporaryDirectory(prefix="workbench-") as folder:
            path = Path(folder) / f"{name}-params.json"
            path.write_text(json.dumps(params, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            try:
                process = await asyncio.create_subprocess_exec(*shlex.split(editor), str(path))
            except OSError as exc:
                self._say(f"Cannot start the editor {editor!r} ({exc.strerror}); set $EDITOR.")
                return None
            if await process.wait() != 0:
                self._say(f"The editor exited with status {process.returncode}; the call still waits.")
                return None
            text = path.read_text(encoding="utf-8")
        try:
            edited = json.loads(text)
        except json.JSONDecodeError as exc:
            self._say(f"The params are not valid JSON ({exc.msg}, line {exc.lineno}); the call still waits.")
            return None
        if not isinstance(edited, dict):
            self._say("The params must be a JSON object; the call still waits.")
            return None
        return edited

    def _control(self, act: Any, *args: Any) -> bool:
        """Do a control; a refusal (an edit that does not fit the schema, a run that ended) is said, not raised."""
        try:
            act(*args)
        except UserError as exc:
            self._say(f"{exc}")
            return False
        return True

    async def _ask(self, question: str) -> str | None:
        """One line from the person, or None when the run ends first (Ctrl-C) or stdin is closed."""
        self.out.write(question)
        self.out.flush()
        lines = await self._reader()
        reading = asyncio.ensure_future(lines.readline())
        ending = asyncio.ensure_future(self.run.wait_async())
        try:
            await asyncio.wait({reading, ending}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ending.cancel()
        if not reading.done():
            reading.cancel()
            self.out.write("\n")
            return None
        raw = reading.result()
        if not raw:  # end of input: nobody can answer, so the run is cancelled, not left waiting
            self._say("No more input: cancelling the run.")
            self.run.cancel("cancelled: no answer, the input was closed")
            return None
        return raw.decode("utf-8", "replace").rstrip("\n")

    async def _reader(self) -> asyncio.StreamReader:
        """stdin as lines, read when the loop says it is readable: no thread (which Ctrl-C could not
        stop) and no O_NONBLOCK (which a terminal's stdin shares with its stdout)."""
        if self._lines is None:
            reader = self._lines = asyncio.StreamReader()
            loop = asyncio.get_running_loop()
            fd = sys.stdin.fileno()

            def readable() -> None:
                data = os.read(fd, 65536)
                if data:
                    reader.feed_data(data)
                else:
                    reader.feed_eof()
                    loop.remove_reader(fd)

            try:
                loop.add_reader(fd, readable)
                self._fd = fd
            except (OSError, ValueError, NotImplementedError):  # a regular file: read it whole, it will not grow
                reader.feed_data(sys.stdin.buffer.read())
                reader.feed_eof()
        return self._lines

    def close(self) -> None:
        """Stop reading stdin."""
        if self._fd is not None:
            asyncio.get_running_loop().remove_reader(self._fd)
            self._fd = None

    def _say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

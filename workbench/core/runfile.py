"""Run files: a whole run as JSON Lines (contract section 6).

The first line is a header, then one envelope per line in id order. Readers refuse an
unknown ``format`` or a newer ``version`` and name the line of anything malformed. Files are
written as version 2; a version-1 file reads as it was written, its ``message`` events taken as
``text`` (:func:`workbench.core.events.event_from_dict`). Event
types they do not know are kept as :class:`~workbench.core.events.UnknownEvent` (the reducer
ignores them), so ids stay 1..n and re-saving loses nothing.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from pydantic import ValidationError

from workbench.core import events as ev
from workbench.errors import RunFileError

__all__ = ["FORMAT", "VERSION", "RunHeader", "write_run_file", "read_run_file", "iter_run_file", "header_line"]

FORMAT = "workbench-run"
VERSION = 2
"""The version this workbench writes; it reads this one and every older one."""


@dataclass(frozen=True)
class RunHeader:
    """The first line of a run file."""

    run_id: str
    task: str
    model: str
    created_at: str
    parent_id: str | None = None
    """The run this one was forked from (contract section 7), or None."""
    forked_at: int | None = None
    """The event of the parent it was forked at, or None."""
    extra: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "runId": self.run_id,
            "task": self.task,
            "model": self.model,
            "createdAt": self.created_at,
            "parentId": self.parent_id,
            "forkedAt": self.forked_at,
            **(self.extra or {}),
        }


def header_line(header: RunHeader) -> str:
    return json.dumps(header.to_dict(), ensure_ascii=False, separators=(",", ":"))


def write_run_file(path: str | os.PathLike[str], header: RunHeader, events: Iterable[ev.Event]) -> Path:
    """Write a run file atomically: a reader never sees half a file, and a failed write keeps the old one."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Not mkstemp: its files are 0600; a run file gets the usual permissions (0666 less the umask).
    tmp = str(target.parent / f".{target.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(header_line(header) + "\n")
            for event in events:
                out.write(event.to_json() + "\n")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _parse_header(line: str, where: str) -> RunHeader:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise RunFileError(f"the header is not JSON ({exc.msg})", path=where, line=1) from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        found = obj.get("format") if isinstance(obj, dict) else None
        raise RunFileError(
            f"not a workbench run file: the first line must have format {FORMAT!r}, found {found!r}",
            path=where,
            line=1,
        )
    version = obj.get("version")
    if not isinstance(version, int) or version < 1:
        raise RunFileError(f"the header has no valid version (found {version!r})", path=where, line=1)
    if version > VERSION:
        raise RunFileError(
            f"this run file has version {version}, newer than this workbench reads ({VERSION}); "
            "upgrade agent-workbench to open it",
            path=where,
            line=1,
        )
    known = {"format", "version", "runId", "task", "model", "createdAt", "parentId", "forkedAt"}
    parent, forked_at = obj.get("parentId"), obj.get("forkedAt")
    return RunHeader(
        run_id=str(obj.get("runId", "")),
        task=str(obj.get("task", "")),
        model=str(obj.get("model", "")),
        created_at=str(obj.get("createdAt", "")),
        parent_id=parent if isinstance(parent, str) else None,
        forked_at=forked_at if isinstance(forked_at, int) and not isinstance(forked_at, bool) else None,
        extra={k: v for k, v in obj.items() if k not in known} or None,
    )


def iter_run_file(path: str | os.PathLike[str]) -> tuple[RunHeader, Iterator[ev.Event]]:
    """The header, and the events streamed one line at a time (constant memory)."""
    where = str(path)
    try:
        handle = open(path, encoding="utf-8")
    except FileNotFoundError:
        raise RunFileError("no such file", path=where) from None
    first = handle.readline()
    if not first.strip():
        handle.close()
        raise RunFileError("the file is empty; a run file starts with a header line", path=where, line=1)
    try:
        header = _parse_header(first, where)
    except BaseException:
        handle.close()
        raise

    def events() -> Iterator[ev.Event]:
        expected = 1
        with handle:
            for number, line in enumerate(handle, start=2):
                if not line.strip():
                    continue
                try:
                    event = ev.parse_event(line, keep_unknown=True)
                except json.JSONDecodeError as exc:
                    raise RunFileError(f"malformed JSON ({exc.msg})", path=where, line=number) from None
                except ValidationError as exc:
                    problem = exc.errors()[0]
                    field = ".".join(str(p) for p in problem["loc"])
                    raise RunFileError(f"invalid event: {field}: {problem['msg']}", path=where, line=number) from None
                except ValueError as exc:
                    raise RunFileError(f"invalid event: {exc}", path=where, line=number) from None
                assert event is not None
                if event.id != expected:
                    raise RunFileError(
                        f"event ids must run 1, 2, 3, … without gaps: expected {expected}, found {event.id}",
                        path=where,
                        line=number,
                    )
                expected += 1
                yield event

    return header, events()


def read_run_file(path: str | os.PathLike[str]) -> tuple[RunHeader, list[ev.Event]]:
    """The header and all events of a run file."""
    header, stream = iter_run_file(path)
    return header, list(stream)

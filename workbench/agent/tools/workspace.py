"""The built-in workspace tools: list, read and write files inside the run's workspace.

Every path the model gives is relative to ``current_context().workspace`` and must stay
inside it. A path is refused when it is absolute, when its ``..`` parts climb above the
workspace, or when a symbolic link anywhere along it (a folder or the file itself)
leads outside. Symbolic links that stay inside the workspace are followed.

The check resolves the path and then opens the final component with ``O_NOFOLLOW``; a
process that swaps a folder for a symlink between the check and the open could still win
that race, so the confinement guards against the model's paths, not against a hostile
process with write access to the workspace.

Errors name paths as the model gave them, relative to the workspace: an ``OSError``'s own
text holds the absolute path, so only its reason (``strerror``) is passed on.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path, PurePath, PureWindowsPath

from workbench.agent.tools._context import current_context
from workbench.agent.tools._decorator import tool
from workbench.agent.tools._output import valid_text
from workbench.errors import ToolError

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_LIST_ENTRIES",
    "list_files",
    "read_file",
    "write_file",
]

MAX_FILE_BYTES = 1_000_000
"""Largest file read_file reads and write_file writes, in bytes."""
MAX_LIST_ENTRIES = 500
"""Most entries list_files shows at once."""

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # So a FIFO cannot hang the tool at open().
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)


@tool
def list_files(path: str = ".") -> str:
    """List the files and folders in the workspace, recursively.

    Each line is one entry, with its path relative to the workspace (ready to pass to
    read_file or write_file): folders end with '/', files show their size in bytes. In a
    name that is not valid UTF-8, each undecodable byte shows as an escape such as \\xff.
    Entries are in tree order, sorted by name. At most 500 entries are shown; list a
    subfolder to see more of a large tree.

    Args:
        path: The folder to list, relative to the workspace; '.' (the default) is the whole workspace.
    """
    real, shown = _resolve(path)
    with _reported("list", shown):
        exists, is_dir = real.exists(), real.is_dir()
    if not exists:
        raise ToolError(
            f"Folder not found: {shown!r}. Use list_files('.') to see what the workspace holds."
        )
    if not is_dir:
        raise ToolError(f"{shown!r} is a file, not a folder; use read_file to read it.")

    prefix = "" if shown == "." else shown + "/"
    lines: list[str] = []
    for line in _walk(real, prefix):
        if len(lines) == MAX_LIST_ENTRIES:
            lines.append(
                f"… listing stopped after {MAX_LIST_ENTRIES} entries; "
                "list a subfolder, e.g. list_files('some/folder'), to see more."
            )
            break
        lines.append(line)
    if not lines:
        return (
            "The workspace is empty."
            if shown == "."
            else f"The folder {shown!r} is empty."
        )
    return "\n".join(lines)


@tool
def read_file(path: str) -> str:
    """Read a text file from the workspace and return its content.

    Files are decoded as UTF-8 (undecodable bytes are replaced). Binary files and
    files larger than 1 MB (1,000,000 bytes) cannot be read.

    Args:
        path: The file to read, relative to the workspace, e.g. 'notes/plan.md'.
    """
    real, shown = _resolve(path)
    try:
        fd = os.open(real, os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _CLOEXEC | _BINARY)
    except (FileNotFoundError, NotADirectoryError):
        raise ToolError(
            f"File not found: {shown!r}. Use list_files to see what the workspace holds."
        ) from None
    except OSError as exc:
        raise ToolError(f"Cannot read {shown!r}: {_reason(exc)}") from None
    try:
        with _reported("read", shown):
            info = os.fstat(fd)
            if stat.S_ISDIR(info.st_mode):
                raise ToolError(
                    f"{shown!r} is a folder, not a file; use list_files to see what it holds."
                )
            if not stat.S_ISREG(info.st_mode):
                raise ToolError(f"{shown!r} is not a regular file.")
            # +1: notice a file that grew since fstat.
            data = _read_at_most(fd, MAX_FILE_BYTES + 1)
    finally:
        os.close(fd)
    if info.st_size > MAX_FILE_BYTES or len(data) > MAX_FILE_BYTES:
        raise ToolError(
            f"{shown!r} is {max(info.st_size, len(data)):,} bytes; read_file reads files of at most "
            f"{MAX_FILE_BYTES:,} bytes (1 MB)."
        )
    if b"\x00" in data:
        raise ToolError(
            f"{shown!r} looks like a binary file; read_file reads text files only."
        )
    return data.decode("utf-8", errors="replace")


@tool
def write_file(path: str, content: str) -> str:
    """Write a text file in the workspace, replacing it if it exists.

    Missing parent folders are created. The content is written exactly as given, as
    UTF-8, and may be at most 1 MB (1,000,000 bytes). Returns a confirmation with the
    number of bytes written.

    Args:
        path: The file to write, relative to the workspace, e.g. 'notes/plan.md'.
        content: The complete new content of the file.
    """
    real, shown = _resolve(path)
    if shown == ".":
        raise ToolError(
            "write_file needs a file path such as 'notes/plan.md', not the workspace itself."
        )
    data = content.encode("utf-8")
    if len(data) > MAX_FILE_BYTES:
        raise ToolError(
            f"The content is {len(data):,} bytes; write_file writes at most {MAX_FILE_BYTES:,} bytes (1 MB). "
            "Split it into several smaller files."
        )
    try:
        real.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ToolError(
            f"Cannot create the folders for {shown!r}: a file is in the way."
        ) from None
    except OSError as exc:
        raise ToolError(f"Cannot create the folders for {shown!r}: {_reason(exc)}") from None
    flags = (
        os.O_WRONLY
        | os.O_CREAT
        | os.O_TRUNC
        | _NOFOLLOW
        | _NONBLOCK
        | _CLOEXEC
        | _BINARY
    )
    try:
        fd = os.open(real, flags, 0o666)
    except IsADirectoryError:
        raise ToolError(
            f"{shown!r} is a folder; give the path of a file inside it."
        ) from None
    except OSError as exc:
        raise ToolError(f"Cannot write {shown!r}: {_reason(exc)}") from None
    try:
        with _reported("write", shown):
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise ToolError(f"{shown!r} is not a regular file.")
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    return f"Wrote {len(data)} bytes to {shown}"


def _resolve(path: str) -> tuple[Path, str]:
    """The real path for a workspace-relative ``path``, and the path as shown to the model.

    Raises:
        ToolError: when the path is empty, absolute, or would lead outside the workspace.
    """
    if not isinstance(path, str) or not path.strip():
        raise ToolError(
            "The path is empty: give a path relative to the workspace, such as 'notes/plan.md'."
        )
    if "\x00" in path:
        raise ToolError(f"The path {path!r} contains a NUL character.")
    if (
        PurePath(path).is_absolute()
        or path.startswith(("/", "\\"))
        or PureWindowsPath(path).drive
    ):
        raise _outside(path, "is absolute")
    normal = os.path.normpath(
        path
    )  # Lexical: 'a/../b' -> 'b', './x' -> 'x', 'a/../..' -> '..'.
    if normal == os.pardir or normal.startswith(os.pardir + os.sep):
        raise _outside(path, "climbs out of the workspace")

    workspace = current_context().workspace
    try:
        workspace.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ToolError(f"Cannot create the workspace folder: {_reason(exc)}") from None
    root = os.path.realpath(workspace)
    # realpath follows every symlink along the way, the final component included.
    real = os.path.realpath(os.path.join(root, normal))
    if real != root and not real.startswith(root.rstrip(os.sep) + os.sep):
        raise _outside(path, "leads outside the workspace through a symbolic link")
    return Path(real), PurePath(normal).as_posix()


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    remaining = limit
    while remaining > 0:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _reason(exc: OSError) -> str:
    """Why an OS call failed, without the file name that ``str(exc)`` would add."""
    return exc.strerror or type(exc).__name__


@contextlib.contextmanager
def _reported(action: str, shown: str) -> Iterator[None]:
    """Any other ``OSError`` as "Cannot <action> <path>: <reason>", the path as the model gave it."""
    try:
        yield
    except OSError as exc:
        raise ToolError(f"Cannot {action} {shown!r}: {_reason(exc)}") from None


def _outside(path: str, why: str) -> ToolError:
    return ToolError(
        f"The path {path!r} {why}: the path must stay inside the workspace. "
        "Use a relative path such as 'notes/plan.md'."
    )


def _walk(folder: Path, prefix: str) -> Iterator[str]:
    """Lines for everything under ``folder``, depth first, sorted by name; links not followed."""
    try:
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
    except OSError as exc:
        yield f"{prefix or './'}  (cannot list: {_reason(exc)})"
        return
    for entry in entries:
        shown = prefix + valid_text(entry.name)  # b"bad\xff.txt" shows as 'bad\xff.txt'
        if entry.is_symlink():
            yield f"{shown}  (symbolic link)"
        elif entry.is_dir(follow_symlinks=False):
            yield shown + "/"
            yield from _walk(Path(entry.path), shown + "/")
        else:
            try:
                size = entry.stat(follow_symlinks=False).st_size
            except OSError:
                yield shown
            else:
                yield f"{shown}  ({size:,} bytes)"

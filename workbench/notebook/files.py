"""The workspace and the files a run wrote, as the view lists them and shows them inline.

The list comes from the run's events (:func:`workbench.core.outputs.written_paths`). A file is
read for the view only if the run wrote it and it still lies inside the workspace (a symbolic
link that leads out is refused), at most :data:`MAX_INLINE_BYTES` of it; Markdown files are
rendered and sanitized like the model's messages, other text is shown as it is. Credentials are
redacted as in the events (:func:`workbench.core.redact.scrub`): a file may repeat a key.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core.outputs import written_paths
from workbench.core.redact import scrub
from workbench.notebook.markdown import markdown_html

if TYPE_CHECKING:
    from workbench.core.handle import Run

__all__ = ["MAX_INLINE_BYTES", "MARKDOWN_SUFFIXES", "files_note", "file_content", "where"]

MAX_INLINE_BYTES = 100_000
"""Most bytes of one file shown inline; the rest is left for an editor."""
MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
_MARGIN = 4096  # bytes read past the limit, so that a credential at the cut is seen whole


def where(run: "Run") -> str:
    """``local`` (a workspace here), ``server`` (a run on a server) or ``unknown`` (e.g. read from a file)."""
    if run.workspace is not None:
        return "local"
    return "server" if hasattr(run, "connection") else "unknown"


def _home_form(path: str) -> str | None:
    """``path`` as Jupyter shows a root under the home folder (``~/…``), or None when it is not under it."""
    home = os.path.expanduser("~")
    if home in ("", "~", "/") or not (path == home or path.startswith(home.rstrip(os.sep) + os.sep)):
        return None
    return "~" + path[len(home.rstrip(os.sep)):].replace(os.sep, "/")


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size if path.is_file() else None
    except OSError:
        return None


def files_note(run: "Run") -> dict[str, Any]:
    """What the view says about the workspace: where it is and the files the run wrote (with their sizes)."""
    names = written_paths(run.events)
    if run.workspace is None:
        return {"where": where(run), "workspace": None, "workspaceHome": None,
                "files": [{"path": name, "size": None} for name in names]}
    root = os.path.abspath(run.workspace)
    return {"where": "local", "workspace": root.replace(os.sep, "/"), "workspaceHome": _home_form(root),
            "cwd": _cwd(), "files": [{"path": name, "size": _size(Path(root) / name)} for name in names]}


def _cwd() -> str | None:
    """The kernel's folder: in Jupyter, the notebook's, which lets a page without ``serverRoot``
    (Notebook 7) find the server's root from the notebook's path in its URL."""
    try:
        return os.getcwd().replace(os.sep, "/")
    except OSError:
        return None


def _inside(root: str, path: str) -> bool:
    real_root, real = os.path.realpath(root), os.path.realpath(path)
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def file_content(run: "Run", name: Any) -> dict[str, Any]:
    """One written file for the view: ``text`` (or ``html`` for Markdown), ``size`` and ``truncated``, or ``error``."""
    reply: dict[str, Any] = {"path": name if isinstance(name, str) else ""}
    if not isinstance(name, str) or name not in written_paths(run.events):
        return {**reply, "error": "this run did not write that file"}
    if run.workspace is None:
        return {**reply, "error": "the workspace of this run is not on this machine"}
    root = os.path.abspath(run.workspace)
    path = os.path.join(root, name)
    if not _inside(root, path):
        return {**reply, "error": "the file now leads outside the workspace"}
    try:
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            data = file.read(MAX_INLINE_BYTES + _MARGIN)
    except FileNotFoundError:
        return {**reply, "error": "the file is gone from the workspace"}
    except OSError as exc:
        return {**reply, "error": f"cannot read it: {exc.strerror or type(exc).__name__}"}
    if b"\x00" in data[:MAX_INLINE_BYTES]:
        return {**reply, "size": size, "error": "a binary file: open it in an editor"}
    # Redacted before it is cut, so that a key across the cut cannot leave its first half behind.
    text = scrub(data.decode("utf-8", errors="replace"))  # a model may have written a key into a file
    truncated = len(data) > MAX_INLINE_BYTES
    if truncated:
        text = text[:MAX_INLINE_BYTES]
    reply.update(size=size, truncated=truncated)
    html = markdown_html(text) if Path(name).suffix.lower() in MARKDOWN_SUFFIXES else None
    if html is not None:
        reply["html"] = html
    else:
        reply["text"] = text
    return reply

"""Where the workbench keeps its files on this machine."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["workbench_home"]


def workbench_home() -> Path:
    """Where runs keep their workspaces: ``$WORKBENCH_HOME``, default ``~/.workbench``."""
    return Path(os.environ.get("WORKBENCH_HOME") or Path.home() / ".workbench").expanduser()

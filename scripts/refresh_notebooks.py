"""Run the shipped notebooks top to bottom (offline, with the simulator) and save them with their outputs.

    python scripts/refresh_notebooks.py                 # every notebooks/*.ipynb
    python scripts/refresh_notebooks.py 01-quickstart   # or some of them

A notebook's saved outputs are what GitHub and nbviewer show, so they must be those of a
finished run: each run's summary is refreshed when the run ends (workbench/notebook/display.py)
and tests/test_shipped_notebooks.py fails on any summary that is not of a finished run. nbval's
comment markers (``# NBVAL_CHECK_OUTPUT``) become cell tags (``nbval-check-output``), which
nbval reads the same way and readers do not see. Widget state is not stored: viewers without
a kernel show the summary beside the widget. Run it with no API key set, as the tests do.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
MARKERS = {"NBVAL_CHECK_OUTPUT": "nbval-check-output", "NBVAL_IGNORE_OUTPUT": "nbval-ignore-output",
           "NBVAL_SKIP": "nbval-skip", "NBVAL_RAISES_EXCEPTION": "nbval-raises-exception"}
SECRETS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "WORKBENCH_TOKEN", "WORKBENCH_URL")


def markers_to_tags(cell: nbformat.NotebookNode) -> None:
    """Move nbval's comment markers at the top of a code cell into its tags."""
    lines = cell.source.splitlines()
    tags = list(cell.metadata.get("tags", []))
    while lines and lines[0].lstrip("#").strip() in MARKERS and lines[0].startswith("#"):
        tag = MARKERS[lines.pop(0).lstrip("#").strip()]
        if tag not in tags:
            tags.append(tag)
        while lines and not lines[0].strip():
            lines.pop(0)
    if tags:
        cell.metadata["tags"] = tags
    cell.source = "\n".join(lines)


def refresh(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            markers_to_tags(cell)
            cell.metadata.pop("execution", None)  # timings of an earlier run: noise in every diff
    began = time.monotonic()
    NotebookClient(notebook, timeout=600, kernel_name="python3", record_timing=False, store_widget_state=False,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    nbformat.write(notebook, path)
    print(f"{path.name}: {time.monotonic() - began:.1f} s")


def main(names: list[str]) -> None:
    for name in SECRETS:  # the shipped outputs are of the offline simulator, and carry no credential
        os.environ.pop(name, None)
    os.environ["WORKBENCH_HOME"] = tempfile.mkdtemp(prefix="workbench-home-")  # the runs' workspaces
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    if names:
        paths = [p for p in paths if any(p.stem.startswith(n.removesuffix(".ipynb")) for n in names)]
    for path in paths:
        refresh(path)


if __name__ == "__main__":
    main(sys.argv[1:])

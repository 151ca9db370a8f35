"""The shipped notebooks as GitHub and nbviewer show them: saved outputs of finished runs, no test markers.

Their saved outputs are what a person reads before running anything, so each run summary in
them must be of a run that ended (``scripts/refresh_notebooks.py`` saves them so), and nbval's
markers live in cell tags, not in the code a reader copies.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
FINISHED = {"complete", "error", "cancelled", "interrupted"}
SUMMARY = re.compile(r'<div class="workbench-run-summary" data-status="([a-z]+)"')


def outputs(path: Path) -> list[tuple[int, dict]]:
    cells = json.loads(path.read_text("utf-8"))["cells"]
    return [(i, out) for i, cell in enumerate(cells) if cell["cell_type"] == "code" for out in cell.get("outputs", [])]


def test_there_are_notebooks_with_runs_in_them() -> None:
    shown = [p.name for p in NOTEBOOKS for _, out in outputs(p)
             if SUMMARY.search("".join(out.get("data", {}).get("text/html", "")))]
    assert len(NOTEBOOKS) >= 6 and len(set(shown)) >= 4, shown


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_saved_run_summary_is_of_a_finished_run(path: Path) -> None:
    for index, out in outputs(path):
        html = "".join(out.get("data", {}).get("text/html", ""))
        if "workbench-run-summary" not in html:
            continue
        match = SUMMARY.search(html)
        assert match, f"cell {index}: a run summary without its status"
        assert match.group(1) in FINISHED, (
            f"{path.name}, cell {index}: the saved summary shows a run that is {match.group(1)!r}; "
            "run python scripts/refresh_notebooks.py to save the notebooks with finished runs")
        assert "(no task)" not in html, f"{path.name}, cell {index}: a summary of a run shown before it began"
        text = "".join(out["data"].get("text/plain", ""))
        assert f" {match.group(1)} " in text, f"cell {index}: the text says {text!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_test_markers_are_tags_not_code(path: Path) -> None:
    cells = json.loads(path.read_text("utf-8"))["cells"]
    for index, cell in enumerate(cells):
        source = "".join(cell["source"])
        assert "NBVAL_" not in source, f"{path.name}, cell {index}: an nbval marker in the code; use a tag"
        for tag in cell.get("metadata", {}).get("tags", []):
            assert not tag.startswith("nbval-") or tag in {"nbval-check-output", "nbval-skip", "nbval-ignore-output"}

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


def test_a_run_shown_before_its_first_event_names_itself() -> None:
    from workbench.core.handle import Run
    from workbench.notebook.display import mimebundle

    run = Run(run_id="r_0123456789abcdef", task="Write a haiku", model="simulated", strategy="plan", created_at="")
    html = mimebundle(run)["text/html"]
    assert "<strong>Write a haiku</strong>" in html and "run r_0123456789abcdef · simulated · plan" in html, html


def test_a_notebook_executed_by_nbclient_is_saved_with_the_finished_run(tmp_path: Path) -> None:
    """The display cell has long finished when the run ends; the cell running then carries the refresh."""
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('import workbench as wb\nrun = wb.run("Write a haiku", model="simulated", '
                                  'options={"pace": 400})\nrun'),
        nbformat.v4.new_code_cell("state = await run\nstate.status"),
    ])
    NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    shown = notebook.cells[0].outputs
    assert len(shown) == 1, shown
    html = "".join(shown[0]["data"]["text/html"])
    assert SUMMARY.search(html).group(1) == "complete", html[:400]
    assert notebook.cells[1].outputs[0]["data"]["text/plain"] == "'complete'"

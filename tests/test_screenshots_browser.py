"""The live view in JupyterLab and Notebook 7, light and dark: pictures for a person, saved to ``test-artifacts/``.

One JupyterLab server serves both front ends. Each picture is taken while a run goes on (see
``screenshots.py``); the test also checks that the view follows the theme: dark text on a light
background in the light theme, and the other way round in the dark one.

Skipped when /usr/bin/chromium is missing, unless WORKBENCH_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser import ARTIFACTS, chromium
from jupyter_process import Jupyter, start_jupyter, stop_jupyter
from screenshots import take


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def jupyter(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Jupyter]:
    pytest.importorskip("jupyterlab")
    pytest.importorskip("notebook", reason="Notebook 7 is not installed (pip install notebook)")
    server = start_jupyter(tmp_path_factory.mktemp("screenshots"), "lab")
    try:
        yield server
    finally:
        leftovers = stop_jupyter(server)
    assert not leftovers, f"kernel processes were still running after the server stopped: {leftovers}"


@pytest.mark.parametrize("front", ["lab", "notebook"])
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_live_view_in_each_front_end_and_theme(browser: Any, jupyter: Jupyter, front: Any, theme: Any) -> None:
    name = "jupyterlab" if front == "lab" else "notebook7"
    path = ARTIFACTS / f"{name}-{theme}-live.png"
    path.unlink(missing_ok=True)
    colours = take(browser, jupyter, front, theme, path)
    assert path.stat().st_size > 10_000, "a picture with something in it"
    if theme == "light":
        assert colours["background"] > 0.8 and colours["text"] < 0.4, colours
    else:
        assert colours["background"] < 0.3 and colours["text"] > 0.6, colours

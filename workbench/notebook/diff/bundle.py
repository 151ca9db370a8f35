"""The diff view's front end as one ES module, its CSS, and its exported page's bootstrap.

Its modules live in ``static/`` here; the DOM helpers and the stand-in model are the run view's
own (``workbench/notebook/widget/static``), joined in by the run view's joiner (``bundle.join_modules``).
"""

from __future__ import annotations

import functools
from pathlib import Path

from workbench.notebook.widget.bundle import STATIC as RUN_VIEW_STATIC
from workbench.notebook.widget.bundle import join_modules

__all__ = ["DIFF_STATIC", "diff_bootstrap", "diff_css", "diff_front_end"]

DIFF_STATIC = Path(__file__).parent / "static"
ENTRY = "diff_view.js"
BOOTSTRAP = "diff_bootstrap.js"
BORROWED = ("dom.js", "stand_in_model.js")
"""The run view's modules the diff view imports."""


def _sources() -> dict[str, str]:
    sources = {name: (RUN_VIEW_STATIC / name).read_text("utf-8") for name in BORROWED}
    sources.update({path.name: path.read_text("utf-8") for path in DIFF_STATIC.glob("*.js")})
    return sources


@functools.cache
def diff_front_end() -> str:
    """The widget's module: ``static/diff_view.js`` with everything it imports joined in."""
    return join_modules(_sources(), ENTRY)


@functools.cache
def diff_bootstrap() -> str:
    """The exported page's bootstrap, ``static/diff_bootstrap.js``, with the stand-in model joined in."""
    return join_modules(_sources(), BOOTSTRAP)


@functools.cache
def diff_css() -> str:
    """The run view's CSS (its variables, labels and badges), then the diff view's own."""
    return (RUN_VIEW_STATIC / "run_view.css").read_text("utf-8") + "\n" + (DIFF_STATIC / "diff_view.css").read_text("utf-8")

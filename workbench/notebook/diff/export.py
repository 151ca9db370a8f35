"""Two runs side by side as one self-contained HTML page (``wb.diff(a, b).to_html(path)``).

The page holds the diff's JSON and the widget's own module (``bundle.diff_front_end``); its
bootstrap answers the view's ``ready`` with the diff, as the kernel would. The page shell is the
run view's export's (``widget.export.page_html``).
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.notebook.diff.bundle import diff_bootstrap, diff_css, diff_front_end
from workbench.notebook.diff.compare import current_diff
from workbench.notebook.widget.export import inline_script, page_html

if TYPE_CHECKING:
    from workbench.core.handle import Run

__all__ = ["diff_html"]


def diff_html(a: Run, b: Run, path: str | os.PathLike[str] | None = None) -> str:
    """The page of ``a`` against ``b`` as they are now; written to ``path`` when given."""
    diff = current_diff(a, b)
    payload = {"diff": diff.to_dict(), "module": diff_front_end()}
    footer = f"Runs {html.escape(a.id)} and {html.escape(b.id)} compared · exported from Agent Workbench"
    page = page_html(title=f"{a.task} · two runs compared · Agent Workbench", css=diff_css(), payload=payload,
                     bootstrap=inline_script(diff_bootstrap()), footer=footer, shows="the two runs")
    if path is not None:
        Path(path).write_text(page, encoding="utf-8")
    return page

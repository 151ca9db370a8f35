"""The notebook widget of a run, and the same view exported as one offline HTML page."""

from workbench.notebook.widget.export import export_html
from workbench.notebook.widget.view import RunView

__all__ = ["RunView", "export_html"]

"""The notebook widget of a run, and the same view exported as one offline HTML page."""

from .export import export_html
from .view import RunView

__all__ = ["RunView", "export_html"]

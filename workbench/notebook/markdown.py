"""Model text as HTML: Markdown rendered in the kernel, then sanitized.

Results and assistant messages are Markdown written by a model, so untrusted: markdown-it-py
renders them with raw HTML turned off (a ``<script>`` in the text stays text), and nh3 (the
Ammonia sanitizer) then keeps only the tags and attributes Markdown makes and the link schemes
below, whatever slipped through. Links open in a new tab with ``rel="noopener noreferrer"``.
Images become links to their source: loading a model's image URL would tell a stranger that
the page was opened.
"""

from __future__ import annotations

import functools
from typing import Sequence

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

__all__ = ["markdown_html", "MAX_MARKDOWN_CHARS"]

MAX_MARKDOWN_CHARS = 200_000
"""Longer texts are not rendered (the view shows them as plain text)."""

_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "s", "del", "code", "pre",
    "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td",
}
_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
_SCHEMES = {"http", "https", "mailto"}


def _image_as_link(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env) or str(token.attrGet("src") or "image")
    src = str(token.attrGet("src") or "")
    return f'<a href="{escapeHtml(src)}">{escapeHtml(alt)}</a>' if src else escapeHtml(alt)


@functools.cache
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "typographer": False}).enable(["table", "strikethrough"])
    assert isinstance(md.renderer, RendererHTML)
    md.add_render_rule("image", _image_as_link)
    return md


@functools.lru_cache(maxsize=256)  # the same text is sent to every view, and again on each backlog
def markdown_html(text: str) -> str | None:
    """``text`` (Markdown) as sanitized HTML, or None when it is too long to render."""
    if len(text) > MAX_MARKDOWN_CHARS:
        return None
    rendered = _parser().render(text)
    return nh3.clean(
        rendered,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes=_SCHEMES,
        link_rel="noopener noreferrer",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
    )

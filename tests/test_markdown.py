"""Model text as HTML: rendered in the kernel, sanitized, sent beside the events it belongs to."""

from __future__ import annotations

import json
import re

import pytest

import workbench as wb
from workbench.core import events as ev
from workbench.notebook.markdown import MAX_MARKDOWN_CHARS, markdown_html
from workbench.notebook.widget import export_html
from workbench.notebook.widget.messages import merged_items

HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](vbscript:msgbox(1))",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](javascript:alert(1))",
    '<a href="javascript:alert(1)">raw link</a>',
    '<div onclick="alert(1)">raw block</div>\n\nafter',
    "<iframe src=https://example.com></iframe>",
    '<svg onload="alert(1)"></svg>',
    "<style>body{display:none}</style>",
    "[x](https://example.com \"title\" onmouseover=alert(1))",
    "<!-- a comment --> text",
]


def tags_and_attributes(html: str) -> set[str]:
    return {m.group(0).lower() for m in re.finditer(r"<[a-z][^>]*>", html, re.I)}


def test_markdown_becomes_headings_lists_code_and_tables():
    html = markdown_html("# Plan\n\n- one\n- *two*\n\n1. a\n2. b\n\n```python\nx = 1 < 2\n```\n\n"
                         "Some `code` and **bold**.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    assert html == (
        "<h1>Plan</h1>\n<ul>\n<li>one</li>\n<li><em>two</em></li>\n</ul>\n<ol>\n<li>a</li>\n<li>b</li>\n</ol>\n"
        "<pre><code>x = 1 &lt; 2\n</code></pre>\n<p>Some <code>code</code> and <strong>bold</strong>.</p>\n"
        "<table>\n<thead>\n<tr>\n<th>a</th>\n<th>b</th>\n</tr>\n</thead>\n<tbody>\n<tr>\n<td>1</td>\n<td>2</td>\n"
        "</tr>\n</tbody>\n</table>\n")


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_markdown_keeps_no_script_handler_or_dangerous_link(text):
    html = markdown_html(text)
    assert html is not None
    for tag in tags_and_attributes(html):
        assert not re.search(r"<(script|iframe|svg|style|img|div)\b", tag), html
        assert not re.search(r"\son\w+\s*=", tag), html
        assert not re.search(r"(javascript|vbscript|data):", tag, re.I), html
    assert "<!--" not in html


def test_links_open_in_a_new_tab_without_the_opener_and_images_become_links():
    html = markdown_html("[docs](https://example.com/a?b=1&c=2) and ![a cat](https://example.com/cat.png)")
    assert html == ('<p><a href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">docs</a>'
                    ' and <a href="https://example.com/cat.png" target="_blank" rel="noopener noreferrer">a cat</a></p>\n')


def test_raw_html_stays_visible_as_text():
    assert markdown_html("<b>bold?</b> <script>x</script>") == "<p>&lt;b&gt;bold?&lt;/b&gt; &lt;script&gt;x&lt;/script&gt;</p>\n"


def test_a_text_too_long_to_render_has_no_html():
    assert markdown_html("x" * (MAX_MARKDOWN_CHARS + 1)) is None


def markdown_run() -> wb.Run:
    run = wb.Run(run_id="r_md", task="Write it up", model="simulated", strategy="react",
                 created_at="2026-01-01T00:00:00.000Z")
    run.log.append(ev.ExecutionStartedData(task=run.task, started_at="2026-01-01T00:00:00.000Z", model="simulated",
                                           strategy="react"))
    run.log.append(ev.TextDeltaData(step_id="m1", delta="# Notes"))
    run.log.append(ev.TextDeltaData(step_id="m1", delta="\n\n- a"))
    run.log.append(ev.TextData(step_id="m1", text="# Notes\n\n- a"))
    run.log.append(ev.ExecutionCompleteData(result="## Done\n\n<script>alert(1)</script>", duration=5,
                                            tokens_used=ev.Usage()))
    run.log.close()
    return run


def test_the_widget_sends_html_with_whole_messages_and_the_result_only():
    run = markdown_run()
    items = merged_items(run.events)
    assert [(item["type"], "html" in item) for item in items] == [
        ("execution:started", False), ("text:delta", False), ("text", True), ("execution:complete", True)]
    assert items[2]["html"] == "<h1>Notes</h1>\n<ul>\n<li>a</li>\n</ul>\n"
    assert items[3]["html"] == "<h2>Done</h2>\n<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n"
    # The event's own fields are the contract's, untouched.
    assert {k: v for k, v in items[3].items() if k != "html"} == run.events[-1].to_dict()


def test_the_exported_page_embeds_the_same_html_by_event_id():
    run = markdown_run()
    page = export_html(run)
    data = re.search(r'<script type="application/json" id="wb-data">(.*?)</script>', page, re.S)
    assert data is not None
    payload = json.loads(data.group(1))
    items = merged_items(run.events)
    assert payload["html"] == {str(item["id"]): item["html"] for item in items if "html" in item}
    assert payload["events"] == [e.to_dict() for e in run.events]

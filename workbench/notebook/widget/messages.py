"""What the widget sends: event envelopes as JSON, with streamed deltas merged.

Consecutive ``thinking:delta`` (or ``text:delta``) events of one step travel as one envelope
whose ``data.delta`` is their concatenation, ``id`` and ``ts`` the last one's, ``firstId`` and
``firstTs`` the first one's (a model call's time to first token is timed from it).
Every other event travels as it is. Expanding the items of a message gives back the events.

Whole messages and the run's result also carry ``html``: their Markdown rendered and sanitized
in the kernel (:mod:`workbench.notebook.markdown`), beside the event's own fields, which stay
as the contract has them.
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

from workbench.core import events as ev
from workbench.notebook.markdown import markdown_html

__all__ = ["DELTA_TYPES", "merged_items", "markdown_of", "raw_envelopes", "chunked", "MAX_ITEMS", "MAX_ENVELOPES", "view_limits"]

DELTA_TYPES = frozenset({"thinking:delta", "text:delta"})
MAX_ITEMS = 2_000
"""Merged items in one ``events`` message; a longer backlog goes out in several."""
MAX_ENVELOPES = 5_000
"""Raw envelopes in one ``envelopes`` reply; the front end asks again for the rest."""


def _delta(event: ev.Event) -> ev.ThinkingDeltaData | ev.TextDeltaData | None:
    return event.data if isinstance(event, (ev.ThinkingDelta, ev.TextDelta)) else None


def markdown_of(event: ev.Event) -> str | None:
    """The sanitized HTML of a whole message's text or of the result; None for other events."""
    data = event.data
    if isinstance(data, ev.TextData):
        return markdown_html(data.text)
    if isinstance(data, ev.ExecutionCompleteData):
        return markdown_html(data.result)
    return None


def merged_items(events: Sequence[ev.Event]) -> list[dict[str, Any]]:
    """``events`` as envelopes, runs of deltas of one step merged into one."""
    items: list[dict[str, Any]] = []
    i, n = 0, len(events)
    while i < n:
        event = events[i]
        j = i + 1
        deltas: list[str] = []
        first = _delta(event)
        if first is not None:
            deltas.append(first.delta)
            while j < n and events[j].type == event.type:
                following = _delta(events[j])
                if following is None or following.step_id != first.step_id:
                    break
                deltas.append(following.delta)
                j += 1
        item = event.to_dict()
        if j > i + 1:
            last = events[j - 1]
            item["data"]["delta"] = "".join(deltas)
            item.update(id=last.id, ts=last.ts, firstId=event.id, firstTs=event.ts)
        else:
            html = markdown_of(event)
            if html is not None:
                item["html"] = html
        items.append(item)
        i = j
    return items


def raw_envelopes(events: Sequence[ev.Event], first: Any, last: Any) -> list[dict[str, Any]]:
    """The envelopes with ``first <= id <= last``, at most :data:`MAX_ENVELOPES` of them."""
    try:
        a, b = max(1, int(first)), min(len(events), int(last))
    except (TypeError, ValueError):
        return []
    b = min(b, a + MAX_ENVELOPES - 1)
    return [events[i].to_dict() for i in range(a - 1, b)]


def chunked(items: list[dict[str, Any]], size: int = MAX_ITEMS) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def view_limits() -> dict[str, Any]:
    """These constants as the browser reads them: the view's module and the exported page's stand-in kernel."""
    return {"deltaTypes": sorted(DELTA_TYPES), "maxItems": MAX_ITEMS, "maxEnvelopes": MAX_ENVELOPES}

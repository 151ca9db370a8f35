"""A tool the tool tests share: a typed, documented function for the decorator and the runner."""

from __future__ import annotations

from typing import Literal


def search_notes(
    query: str,
    limit: int = 10,
    lang: str | None = None,
    tags: list[str] = [],  # noqa: B006 - a default the schema must show
    mode: Literal["fast", "deep"] = "fast",
) -> list[str]:
    """Search the notes for a phrase.

    Matches are ranked by relevance.

    Args:
        query: What to look for.
        limit: How many hits at most.
        lang: Only notes in this language.
        tags: Only notes with all of these tags.
        mode: How hard to look.

    Returns:
        The matching note names.
    """
    return [query] * min(limit, 2)

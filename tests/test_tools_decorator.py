"""The ``@tool`` decorator: the schema and description a function gets, its forms, and its misuse."""

from __future__ import annotations

import asyncio
import inspect
import json

import pytest
from tool_examples import search_notes

from workbench.agent.tools import (
    Tool,
    tool,
)
from workbench.errors import UserError


def test_schema_and_description_come_from_hints_and_docstring() -> None:
    t = tool(search_notes)
    assert t.to_api() == {
        "name": "search_notes",
        "description": "Search the notes for a phrase.\n\nMatches are ranked by relevance.",
        "input_schema": {
            "additionalProperties": False,
            "properties": {
                "query": {
                    "description": "What to look for.",
                    "title": "Query",
                    "type": "string",
                },
                "limit": {
                    "default": 10,
                    "description": "How many hits at most.",
                    "title": "Limit",
                    "type": "integer",
                },
                "lang": {
                    "anyOf": [{"type": "string"}, {"type": "null"}],
                    "default": None,
                    "description": "Only notes in this language.",
                    "title": "Lang",
                },
                "tags": {
                    "default": [],
                    "description": "Only notes with all of these tags.",
                    "items": {"type": "string"},
                    "title": "Tags",
                    "type": "array",
                },
                "mode": {
                    "default": "fast",
                    "description": "How hard to look.",
                    "enum": ["fast", "deep"],
                    "title": "Mode",
                    "type": "string",
                },
            },
            "required": ["query"],
            "type": "object",
        },
    }
    assert json.loads(json.dumps(t.to_api())) == t.to_api()


def test_numpy_and_rest_docstrings_describe_parameters() -> None:
    @tool
    def numpy_style(a: int) -> int:
        """Double a number.

        Parameters
        ----------
        a : int
            The number to double.
        """
        return 2 * a

    @tool
    def rest_style(b: str) -> str:
        """Shout a word.

        :param b: The word to shout.
        """
        return b.upper()

    assert (
        numpy_style.input_schema["properties"]["a"]["description"]
        == "The number to double."
    )
    assert numpy_style.description == "Double a number."
    assert (
        rest_style.input_schema["properties"]["b"]["description"]
        == "The word to shout."
    )


def test_decorator_forms_and_plain_calls() -> None:
    @tool
    def bare(x: int) -> int:
        """Bare."""
        return x + 1

    @tool()
    def empty_parens(x: int) -> int:
        """Empty parentheses."""
        return x + 2

    @tool(name="renamed-tool", description="Custom words.", timeout=3)
    async def configured(x: int) -> int:
        """Ignored docstring."""
        return x + 3

    assert (
        isinstance(bare, Tool)
        and isinstance(empty_parens, Tool)
        and isinstance(configured, Tool)
    )
    assert (bare.name, bare.timeout, bare.is_async) == ("bare", None, False)
    assert empty_parens.name == "empty_parens"
    assert (configured.name, configured.description, configured.timeout) == (
        "renamed-tool",
        "Custom words.",
        3.0,
    )
    assert configured.is_async
    # Still the plain function.
    assert bare(1) == 2 and empty_parens(1) == 3
    assert asyncio.run(configured(1)) == 4
    assert bare.__name__ == "bare" and bare.__doc__ == "Bare."
    assert list(inspect.signature(bare).parameters) == ["x"]
    # Re-decorating keeps the tool, or rebuilds it with the overrides.
    assert tool(bare) is bare
    renamed = tool(configured, name="other")
    assert (renamed.name, renamed.description, renamed.timeout) == (
        "other",
        "Custom words.",
        3.0,
    )


def test_tool_without_docstring_has_no_description_in_api() -> None:
    @tool
    def nodoc(x: int) -> int:
        return x

    assert nodoc.description == ""
    assert nodoc.to_api() == {
        "name": "nodoc",
        "input_schema": {
            "additionalProperties": False,
            "properties": {"x": {"title": "X", "type": "integer"}},
            "required": ["x"],
            "type": "object",
        },
    }


@pytest.mark.parametrize(
    "bad", ["", "has space", "dot.name", "x" * 65, "ünïcode", "slash/name"]
)
def test_invalid_names_fail_at_decoration(bad: str) -> None:
    with pytest.raises(UserError, match="a tool name must be 1 to 64 characters"):
        tool(name=bad)(search_notes)


def test_lambda_needs_a_name_and_other_misuse_is_refused() -> None:
    with pytest.raises(UserError, match="Invalid tool name '<lambda>'"):
        tool(lambda x: x)
    assert tool(name="identity")(lambda x: x).name == "identity"
    assert tool(name="x" * 64)(search_notes).name == "x" * 64

    def positional(a: int, /) -> int:
        return a

    with pytest.raises(UserError, match="'a' cannot be passed by keyword"):
        tool(positional)

    def gen(n: int):
        yield n

    with pytest.raises(UserError, match="generator"):
        tool(gen)
    with pytest.raises(UserError, match="positive number"):
        tool(timeout=0)(search_notes)
    with pytest.raises(UserError, match="expects a function"):
        tool(42)  # type: ignore[call-overload]

    class Opaque:
        pass

    def untyped(thing: Opaque) -> None:
        pass

    with pytest.raises(
        UserError, match="Cannot build the input schema of tool 'untyped'"
    ):
        tool(untyped)

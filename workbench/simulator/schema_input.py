"""A tool input that is valid against the tool's JSON Schema, with values taken from the request.

:func:`input_for` walks an ``input_schema`` (types, ``required``, ``enum``/``const``, nested
objects and arrays, ``$ref`` into ``$defs``, ``anyOf``/``oneOf``/``allOf``, numeric bounds,
string lengths and the simple formats) and fills each property with what its name asks for:
a ``city`` gets the place the request names, a ``query`` the request itself, numbers the
request's numbers in order, an ``enum`` the member the request mentions. Deterministic.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["input_for", "RequestText"]

_PLACE_NAMES = ("city", "location", "place", "destination", "town", "country", "region", "where", "origin")
_TEXT_NAMES = ("query", "q", "search", "term", "question", "prompt", "text", "input", "message", "content", "topic")
_PATH_NAMES = ("path", "file", "filename", "filepath", "dir", "directory", "folder")
_EXPR_NAMES = ("expression", "expr", "formula", "equation", "calculation")
_SYNONYMS = {
    "multiply": ("times", "multiplied", "*", "\u00d7", "product"), "add": ("plus", "+", "sum", "added"),
    "subtract": ("minus", "-", "difference", "subtracted"), "divide": ("divided", "/", "\u00f7", "over", "quotient"),
    "fahrenheit": ("\u00b0f", "fahrenheit", "imperial"), "celsius": ("\u00b0c", "celsius", "metric"),
    "en": ("english",), "fr": ("french",), "de": ("german",), "es": ("spanish",), "it": ("italian",),
    "pt": ("portuguese",), "ja": ("japanese",), "zh": ("chinese",), "nl": ("dutch",),
}  # fmt: skip
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
                 "ten": 10, "eleven": 11, "twelve": 12, "twenty": 20, "hundred": 100}  # fmt: skip
_OPERATORS = {"plus": "+", "minus": "-", "times": "*", "multiplied by": "*", "divided by": "/", "over": "/", "x": "*",
              "\u00d7": "*", "\u00f7": "/"}  # fmt: skip


@dataclass
class RequestText:
    """The request a tool input is drawn from, and which of its numbers are used up."""

    text: str
    numbers: list[float] = field(default_factory=list)
    used: int = 0

    def __post_init__(self) -> None:
        found = re.findall(r"(?<![\w.])-?\d+(?:\.\d+)?|\b[a-z]+\b", self.text.lower())
        self.numbers = [float(t) if t[-1].isdigit() else float(_NUMBER_WORDS[t]) for t in found
                        if t[-1].isdigit() or t in _NUMBER_WORDS]  # fmt: skip

    def next_number(self) -> float | None:
        if self.used < len(self.numbers):
            self.used += 1
            return self.numbers[self.used - 1]
        return None

    def words(self) -> list[str]:
        return re.findall(r"[\w'-]+", self.text.lower())


def input_for(schema: Mapping[str, Any], text: str) -> dict[str, Any]:
    """An input for a tool whose ``input_schema`` is ``schema``, drawn from the request ``text``."""
    value = _value(dict(schema), "", RequestText(text), dict(schema))
    return value if isinstance(value, dict) else {}


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with ``$ref`` (into the root's ``$defs``/``definitions``) and ``allOf`` merged in."""
    seen = 0
    while "$ref" in schema and seen < 20:
        seen += 1
        target: Any = root
        for step in str(schema["$ref"]).lstrip("#/").split("/"):
            target = target.get(step, {}) if isinstance(target, dict) and step else target
        schema = {**{k: v for k, v in schema.items() if k != "$ref"}, **(target if isinstance(target, dict) else {})}
    if "allOf" in schema:
        merged = {k: v for k, v in schema.items() if k != "allOf"}
        for given in schema["allOf"]:
            part = _resolve(dict(given), root)
            merged["properties"] = {**merged.get("properties", {}), **part.get("properties", {})}
            merged["required"] = [*merged.get("required", []), *part.get("required", [])]
            merged.update({k: v for k, v in part.items() if k not in ("properties", "required")})
        schema = merged
    return schema


def _type(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if isinstance(kind, str):
        return kind
    if "properties" in schema or "required" in schema:
        return "object"
    if "items" in schema:
        return "array"
    if schema.get("enum"):
        return "enum"
    return "string"


def _value(schema: dict[str, Any], name: str, request: RequestText, root: dict[str, Any]) -> Any:
    schema = _resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return _choose(list(schema["enum"]), request)
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            options = [_resolve(dict(o), root) for o in schema[key]]
            option = next((o for o in options if _type(o) != "null"), options[0])
            return _value({**{k: v for k, v in schema.items() if k != key}, **option}, name, request, root)
    kind = _type(schema)
    if kind == "object":
        return _object(schema, request, root)
    if kind == "array":
        return _array(schema, name, request, root)
    if kind in ("integer", "number"):
        return _number(schema, name, request, integer=kind == "integer")
    if kind == "boolean":
        return bool(schema.get("default", False))
    if kind == "null":
        return None
    return _string(schema, name, request)


def _object(schema: dict[str, Any], request: RequestText, root: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = schema.get("properties") or {}
    required = [r for r in schema.get("required", []) if isinstance(r, str)]
    out: dict[str, Any] = {}
    for key in [*required, *(k for k in properties if k not in required)]:
        optional = key not in required
        sub = properties.get(key, {})
        if optional and not _wanted(key, sub, request, len(out), int(schema.get("minProperties", 0))):
            continue
        out[key] = _value(dict(sub) if isinstance(sub, dict) else {}, key, request, root)
    limit = schema.get("maxProperties")
    if isinstance(limit, int):
        keep = [*required, *(k for k in out if k not in required)][: max(limit, len(required))]
        out = {k: out[k] for k in keep if k in out}
    return out


def _wanted(key: str, schema: Any, request: RequestText, filled: int, min_properties: int) -> bool:
    """Whether to fill an optional property: the request mentions it, or the schema needs more keys."""
    if filled < min_properties:
        return True
    if not isinstance(schema, dict):
        return False
    words = set(request.words())
    if schema.get("enum") and any(_mentions(str(v), words) for v in schema["enum"]):
        return True
    return _is(key, _PLACE_NAMES) and bool(_place(request.text))


def _array(schema: dict[str, Any], name: str, request: RequestText, root: dict[str, Any]) -> list[Any]:
    given = schema.get("items")
    items: dict[str, Any] = dict(given) if isinstance(given, dict) else {}
    low = int(schema.get("minItems", 1 if name not in ("exclude", "skip") else 0))
    high = schema.get("maxItems")
    count = max(low, 1) if high is None else min(max(low, 1), int(high))
    item_schema = _resolve(dict(items), root)
    if _type(item_schema) == "string" and not item_schema.get("enum"):
        words = [w for w in request.words() if len(w) > 3 and not w.isdigit()] or ["example"]
        values: list[Any] = list(dict.fromkeys(words))[: max(count, min(3, len(words)))]
        if high is not None:
            values = values[: int(high)]
        while len(values) < count:
            values.append(f"item {len(values) + 1}")
        return [_fit_string(v, item_schema) for v in values]
    if item_schema.get("enum") and schema.get("uniqueItems"):
        return list(dict.fromkeys(item_schema["enum"]))[:count]
    out = [_value(dict(items), name, request, root) for _ in range(count)]
    if schema.get("uniqueItems"):
        out = [v for i, v in enumerate(out) if v not in out[:i]] or out[:1]
    return out


def _number(schema: dict[str, Any], name: str, request: RequestText, *, integer: bool) -> float | int:
    lo, hi = schema.get("minimum"), schema.get("maximum")
    xlo, xhi = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    step = schema.get("multipleOf")
    value = request.next_number()
    if value is None:
        value = schema.get("default", 5 if _is(name, ("limit", "count", "max_results", "n", "top_k", "k")) else 1)
    value = float(value)
    if integer and value != int(value):
        value = float(round(value))
    bump = 1.0 if integer else 0.5
    if isinstance(lo, (int, float)) and value < lo:
        value = float(lo)
    if isinstance(xlo, (int, float)) and not isinstance(xlo, bool) and value <= xlo:
        value = float(xlo) + bump
    if isinstance(hi, (int, float)) and value > hi:
        value = float(hi)
    if isinstance(xhi, (int, float)) and not isinstance(xhi, bool) and value >= xhi:
        value = float(xhi) - bump
    if isinstance(step, (int, float)) and step > 0:
        value = math.ceil(value / step) * step
        if (isinstance(hi, (int, float)) and value > hi) or (isinstance(xhi, (int, float)) and value >= xhi):
            value -= step
    if integer:
        value = math.ceil(value) if isinstance(lo, (int, float)) and value < lo else value
        return int(value)
    return int(value) if value == int(value) and abs(value) < 1e15 else value


def _string(schema: dict[str, Any], name: str, request: RequestText) -> str:
    fmt = schema.get("format")
    text = " ".join(request.text.split())
    if fmt in ("date", "date-time", "time"):
        day = re.search(r"\b\d{4}-\d{2}-\d{2}\b", text)
        date = day[0] if day else "2025-01-15"
        return {"date": date, "date-time": f"{date}T09:00:00Z", "time": "09:00:00"}[str(fmt)]
    if fmt == "email" or _is(name, ("email",)):
        found = re.search(r"[\w.+-]+@[\w-]+\.[\w.]+", text)
        value = found[0] if found else "someone@example.com"
    elif fmt in ("uri", "url") or _is(name, ("url", "link", "uri", "website")):
        found = re.search(r"https?://\S+", text)
        value = found[0].rstrip(".,;)") if found else "https://example.com"
    elif fmt == "uuid":
        value = "00000000-0000-4000-8000-000000000000"
    elif fmt == "ipv4":
        value = "127.0.0.1"
    elif fmt == "hostname":
        value = "example.com"
    elif _is(name, _PLACE_NAMES):
        value = _place(text) or "London"
    elif _is(name, _PATH_NAMES):
        found = re.search(r"(?:[\w.-]+/)*[\w-]+\.\w{1,5}\b|(?:[\w.-]+/)+[\w.-]*", text)
        value = found[0] if found else "."
    elif _is(name, _EXPR_NAMES):
        value = _expression(text)
    elif _is(name, _TEXT_NAMES):
        value = re.sub(r"^(?:please\s+)?(?:search(?: the web)? for|look up|find|google)\s+", "", text, flags=re.IGNORECASE)
        value = value.rstrip("?.! ") or text
    elif _is(name, ("language", "lang", "locale")):
        value = "en"
    else:
        words = [w for w in re.findall(r"[\w'-]+", text) if len(w) > 2]
        value = " ".join(words[:4]) or "example"
    return _fit_string(value, schema)


def _fit_string(value: str, schema: dict[str, Any]) -> str:
    low, high = int(schema.get("minLength", 0)), schema.get("maxLength")
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        for candidate in (value, value.lower(), re.sub(r"\W+", "_", value.lower()), "example", "a", "1", "A1", "x"):
            try:
                if re.search(pattern, candidate):
                    value = candidate
                    break
            except re.error:
                break
    if len(value) < low:
        value = (value + " " + "x" * low)[: max(low, len(value))] if value else "x" * low
    if isinstance(high, int) and len(value) > high:
        value = value[:high]
    return value


def _is(name: str, names: tuple[str, ...]) -> bool:
    parts = re.findall(r"[a-z]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower())
    return name.lower() in names or any(p in names for p in parts)


def _mentions(value: str, words: set[str]) -> bool:
    low = value.lower()
    if any(s.strip() in words for s in _SYNONYMS.get(low, ())):
        return True
    # a two-letter code ("it", "de") is an ordinary word too often: only its long name counts
    return len(low) > 2 and (low in words or low.rstrip("s") in words)


def _choose(options: list[Any], request: RequestText) -> Any:
    words = set(request.words()) | set(re.findall(r"[*+/\u00d7\u00f7-]|\u00b0[cf]", request.text.lower()))
    for option in options:
        if _mentions(str(option), words):
            return option
    return options[0]


def _place(text: str) -> str:
    """The place a request names: capitalised words after "in", "at", "to", "for" or "from"."""
    found = re.search(r"\b(?:in|at|to|for|from|of)\s+((?:[A-Z][\w'-]+)(?:\s+[A-Z][\w'-]+)*)", text)
    return found[1] if found else ""


def _expression(text: str) -> str:
    low = f" {text.lower()} "
    for word, symbol in _OPERATORS.items():
        low = re.sub(rf"(?<=[\d\s]){re.escape(word)}(?=[\s\d])", f" {symbol} ", low)
    found = re.findall(r"[-\d.\s+*/()^]+", low)
    best = max((f.strip() for f in found if re.search(r"\d\s*[-+*/^]\s*[\d(]", f)), key=len, default="")
    return " ".join(best.split()) or "1 + 1"

"""How the simulated model uses the tools of a request that is not the workbench's own.

A notebook that calls the SDK with tools of its own gets what a model would do: it picks the
tool that fits the request best (by the words of its name, description and properties), calls
it with an input valid against its ``input_schema`` (:mod:`.schema_input`) and stops with
``tool_use``; when the ``tool_result`` comes back it calls one more tool if another one fits,
else answers in text from the results and ends the turn. ``tool_choice`` is obeyed: ``auto``
calls only a tool that fits, ``any`` calls the best one (else the first), ``tool`` calls the one
named, ``none`` never calls. Deterministic: the same request gets the same answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from workbench.simulator.english import quoted
from workbench.simulator.generic import chat_turn
from workbench.simulator.scenario import ToolCall, Turn
from workbench.simulator.schema_input import input_for

__all__ = ["own_tools_turn"]

_STOP = set(
    "a an the and or of to in on for with by is are was be it this that what whats how who which when where why "
    "do does can could would should will me my i you your we our us please tool tools use using get given any some "
    "from as at into about returns return value values string number object list current".split()
)
# Words that say which kind of tool a request needs, though neither names the other.
_INTENTS = [
    ({"weather", "temperature", "forecast", "rain", "raining", "sunny", "degrees", "wind", "humid", "snow", "cold", "hot"},
     {"weather", "forecast", "temperature", "climate"}),
    ({"calculate", "compute", "sum", "plus", "minus", "times", "multiply", "divide", "divided", "multiplied", "+", "*",
      "/", "-", "math", "percent", "square", "root"},
     {"calculator", "calculate", "calc", "math", "arithmetic", "compute", "evaluate", "expression", "add", "multiply"}),
    ({"search", "find", "look", "lookup", "latest", "news", "papers", "articles", "information", "docs", "who", "research"},
     {"search", "lookup", "find", "query", "retrieve", "web", "documents", "knowledge"}),
    ({"file", "files", "read", "open", "folder", "directory", "save", "write"},
     {"file", "files", "read", "write", "directory", "path", "folder"}),
    ({"time", "date", "today", "clock", "now", "tomorrow"}, {"time", "date", "clock", "calendar", "timezone"}),
    ({"email", "mail", "send", "message"}, {"email", "mail", "send", "message"}),
]  # fmt: skip


def own_tools_turn(body: Mapping[str, Any], offered: Sequence[Mapping[str, Any]], seed: int) -> Turn:
    """The answer to a request that is not the workbench's own, with its tools (maybe none)."""
    messages: list[dict[str, Any]] = body["messages"]
    asked, since = _request(messages)
    tools = [t for t in offered if isinstance(t.get("input_schema"), dict) and t.get("type") in (None, "custom")]
    choice = body.get("tool_choice") or {"type": "auto"}
    results = _results(messages, since)
    if not tools or choice.get("type") == "none":
        return _after_results(asked, results) if results else chat_turn(asked, seed)
    used = [r["name"] for r in results]
    ranked = _ranked(tools, asked)
    tool: Mapping[str, Any] | None
    if choice.get("type") == "tool":
        tool = next((t for t in tools if t["name"] == choice.get("name")), None)  # None: a server tool
    elif choice.get("type") == "any":
        fits = [t for t, score in ranked if score > 0]
        tool = next((t for t in fits if t["name"] not in used), fits[0] if fits else tools[0])
    else:
        # auto: one tool that fits, then at most one more that fits and was not called yet
        fitting = [t for t, score in ranked if score > 0 and t["name"] not in used]
        tool = fitting[0] if fitting and len(used) < 2 else None
    if tool is None:
        return _after_results(asked, results) if results else chat_turn(asked, seed)
    return _call(tool, asked, results)


def _request(messages: list[dict[str, Any]]) -> tuple[str, int]:
    """The text of the last user message that says something (not only tool results), and its index."""
    for i in range(len(messages) - 1, -1, -1):
        message = messages[i]
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content, i
        blocks = content if isinstance(content, list) else []
        text = " ".join(b.get("text", "") for b in blocks if isinstance(b, dict) and b.get("type") == "text")
        if text.strip():
            return text, i
    return "", 0


def _results(messages: list[dict[str, Any]], since: int) -> list[dict[str, Any]]:
    """The tools called since the request and what they returned: ``{name, input, text, error}``."""
    calls: dict[str, dict[str, Any]] = {}
    out: list[dict[str, Any]] = []
    for message in messages[since + 1 :]:
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for block in content:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "tool_use":
                calls[str(block.get("id"))] = {"name": block.get("name", ""), "input": block.get("input", {})}
            elif block.get("type") == "tool_result" and str(block.get("tool_use_id")) in calls:
                call = calls[str(block.get("tool_use_id"))]
                out.append({**call, "text": _result_text(block.get("content")), "error": bool(block.get("is_error"))})
    return out


def _result_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")
    return "" if content is None else json.dumps(content, ensure_ascii=False)


def _words(text: str) -> set[str]:
    split = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    words = set(re.findall(r"[a-z]+|[+*/]|(?<=\d)\s*-\s*(?=\d)", split.lower().replace("_", " ")))
    words |= {w.rstrip("s") for w in words if len(w) > 4}
    return {w.strip() for w in words if w.strip() and w not in _STOP}


def _tool_words(tool: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    """The words of a tool's name, and of its description and properties."""
    schema = tool.get("input_schema") or {}
    described = [str(tool.get("description") or "")]
    for key, sub in (schema.get("properties") or {}).items():
        described += [key, str(sub.get("description", "")) if isinstance(sub, dict) else ""]
    return _words(str(tool["name"])), _words(" ".join(described))


def _ranked(tools: Sequence[Mapping[str, Any]], asked: str) -> list[tuple[Mapping[str, Any], int]]:
    """The tools with how well each fits the request, best first (ties keep the request's order)."""
    words = _words(asked)
    if re.search(r"\d\s*[-+*/x\u00d7\u00f7^]\s*\d", asked):
        words.add("+")  # "17*23" is arithmetic however it is written
    scored = []
    for index, tool in enumerate(tools):
        name, described = _tool_words(tool)
        score = 3 * len(words & name) + len(words & described)
        for needs, offers in _INTENTS:
            if words & needs and (name | described) & offers:
                score += 2
        scored.append((tool, score, index))
    scored.sort(key=lambda item: (-item[1], item[2]))
    return [(tool, score) for tool, score, _ in scored]


def _call(tool: Mapping[str, Any], asked: str, results: list[dict[str, Any]]) -> Turn:
    name = str(tool["name"])
    arguments = input_for(tool["input_schema"], asked)
    what = str(tool.get("description") or "").strip().split(". ")[0].rstrip(".")
    why = f" ({what})" if what else ""
    if results:
        last = results[-1]
        thinking = (f"{last['name']} returned: {_short(last['text'])}. Before answering I will also call {name}{why}, "
                    f"with {json.dumps(arguments, ensure_ascii=False)}.")  # fmt: skip
        text = f"Let me also check with `{name}`."
    else:
        thinking = (f"The user asks: {quoted(asked) if asked.strip() else '(nothing)'}. The {name} tool{why} fits, so I "
                    f"will call it with {json.dumps(arguments, ensure_ascii=False)}.")  # fmt: skip
        text = f"I'll use `{name}` for this."
    return Turn(thinking=thinking, text=text, tool_calls=[ToolCall(name=name, input=arguments)])


def _after_results(asked: str, results: list[dict[str, Any]]) -> Turn:
    """The answer once the tools have spoken: what each returned, in plain words."""
    lines = []
    for result in results:
        if result["error"]:
            lines.append(f"`{result['name']}` reported an error: {_short(result['text']) or 'no details'}.")
        else:
            lines.append(f"`{result['name']}` returned: {_short(result['text']) or '(nothing)'}.")
    lead = f"Here is what I found for {quoted(asked)}:" if asked.strip() else "Here is what the tools returned:"
    body = "\n".join(f"- {line}" for line in lines)
    text = f"{lead}\n\n{body}\n\n(Simulated answer: the offline simulator read the tool results back to you.)"
    thinking = f"The tools have answered ({', '.join(r['name'] for r in results)}); I can reply from their results now."
    return Turn(thinking=thinking, text=text)


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."

"""The Messages API's streaming wire format, encoding only.

A model *turn* is represented here as the ``Message`` object the API would return without
streaming (``{"id", "type": "message", "role", "model", "content": [...], "usage", ...}``);
:func:`message_frames` turns it into the server-sent events the API streams for it, in the
order the ``anthropic`` SDK expects. Nothing in this module knows about scenarios, requests
or faults, so the byte-exact reproduction of the recorded transcripts can be tested alone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Frame",
    "frame",
    "dumps",
    "encode_frames",
    "message_frames",
    "make_message",
    "split_words",
    "split_json",
    "sign_thinking",
    "verify_thinking",
    "redacted_data",
    "verify_redacted",
    "DELTA_EVENT",
]

DELTA_EVENT = "content_block_delta"

# A fixed key: signatures only need to be stable and unforgeable by accident, so the
# simulator can tell whether a client sent a thinking block back unchanged.
_SIGNING_KEY = b"agent-workbench simulator thinking signature v1"
_SIGNATURE_BYTES = 24  # 32 base64 characters, no padding
_REDACTED_MAC_BYTES = 12


def dumps(payload: Any) -> str:
    """Compact JSON as the API writes it: no spaces, non-ASCII kept as UTF-8."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def frame(event: str, payload: Mapping[str, Any]) -> bytes:
    """One server-sent event: ``event: X``, one ``data:`` line of compact JSON, a blank line."""
    return f"event: {event}\ndata: {dumps(payload)}\n\n".encode()


@dataclass(frozen=True)
class Frame:
    """One server-sent event before encoding; :attr:`is_delta` tells the pacer what to wait for."""

    event: str
    payload: Mapping[str, Any]

    @property
    def is_delta(self) -> bool:
        return self.event == DELTA_EVENT

    def encode(self) -> bytes:
        return frame(self.event, self.payload)


def encode_frames(frames: Iterable[Frame]) -> bytes:
    """The whole stream body for ``frames``."""
    return b"".join(f.encode() for f in frames)


_WORD = re.compile(r"\s*\S+|\s+")


def split_words(text: str) -> list[str]:
    """Split ``text`` into pieces of about one word, each carrying the whitespace before it.

    ``"".join(split_words(t)) == t`` always holds; an empty text gives no pieces.
    """
    return _WORD.findall(text)


def split_json(text: str, size: int = 24) -> list[str]:
    """Split the JSON text of a tool input into at least two pieces, as the API streams it."""
    if len(text) < 2:
        return [text]
    size = max(1, min(size, len(text) // 2))
    return [text[i : i + size] for i in range(0, len(text), size)]


def sign_thinking(thinking: str) -> str:
    """The signature the simulator gives a thinking block: an HMAC of its exact text."""
    digest = hmac.new(_SIGNING_KEY, thinking.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest[:_SIGNATURE_BYTES]).decode()


def verify_thinking(thinking: str, signature: str) -> bool:
    """Whether ``signature`` is the one :func:`sign_thinking` gave this exact text."""
    return hmac.compare_digest(sign_thinking(thinking), signature)


def redacted_data(seed: str) -> str:
    """Opaque ``data`` for a redacted thinking block, verifiable by :func:`verify_redacted`.

    Real redacted thinking is encrypted reasoning; here it is a hash of ``seed`` followed by
    a MAC of that hash, so tampering is detectable without keeping any state.
    """
    body = hashlib.sha256(seed.encode()).digest()[:24]
    mac = hmac.new(_SIGNING_KEY, b"redacted:" + body, hashlib.sha256).digest()[:_REDACTED_MAC_BYTES]
    return base64.b64encode(body + mac).decode()


def verify_redacted(data: str) -> bool:
    """Whether ``data`` came from :func:`redacted_data` unchanged."""
    try:
        raw = base64.b64decode(data.encode(), validate=True)
    except (ValueError, UnicodeError):
        return False
    if len(raw) <= _REDACTED_MAC_BYTES:
        return False
    body, mac = raw[:-_REDACTED_MAC_BYTES], raw[-_REDACTED_MAC_BYTES:]
    expected = hmac.new(_SIGNING_KEY, b"redacted:" + body, hashlib.sha256).digest()[:_REDACTED_MAC_BYTES]
    return hmac.compare_digest(mac, expected)


def make_message(
    *,
    message_id: str,
    model: str,
    content: Sequence[Mapping[str, Any]],
    input_tokens: int,
    output_tokens: int,
) -> dict[str, Any]:
    """The ``Message`` object of a finished turn (the non-streaming answer).

    ``stop_reason`` is ``tool_use`` when the turn calls a tool, else ``end_turn``.
    """
    calls_tool = any(block.get("type") == "tool_use" for block in content)
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [dict(block) for block in content],
        "stop_reason": "tool_use" if calls_tool else "end_turn",
        "stop_sequence": None,
        "usage": _usage(input_tokens, output_tokens),
    }


def _usage(input_tokens: int, output_tokens: int) -> dict[str, int]:
    return {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output_tokens,
    }


def message_frames(
    message: Mapping[str, Any],
    *,
    pieces: Mapping[int, Sequence[str]] | None = None,
    ping: bool = True,
) -> list[Frame]:
    """The ordered frames that stream ``message`` (a dict from :func:`make_message`).

    ``pieces`` optionally gives, per content block index, the exact delta pieces (thinking,
    text, or the tool input's JSON text); otherwise text is split with :func:`split_words`
    and tool input JSON with :func:`split_json`. ``ping`` puts a ``ping`` after the first
    ``content_block_start``, as the API usually does.
    """
    pieces = pieces or {}
    usage = message["usage"]
    start = {
        "id": message["id"],
        "type": "message",
        "role": "assistant",
        "model": message["model"],
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        # The API reports one output token at the start; the real count comes in message_delta.
        "usage": _usage(usage["input_tokens"], 1),
    }
    frames = [Frame("message_start", {"type": "message_start", "message": start})]
    for index, block in enumerate(message["content"]):
        frames += _block_frames(index, block, pieces.get(index))
        if index == 0 and ping:
            frames.insert(2, Frame("ping", {"type": "ping"}))
    frames.append(
        Frame(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": message.get("stop_sequence")},
                "usage": {"output_tokens": usage["output_tokens"]},
            },
        )
    )
    frames.append(Frame("message_stop", {"type": "message_stop"}))
    return frames


def _delta(index: int, delta: dict[str, Any]) -> Frame:
    return Frame(DELTA_EVENT, {"type": DELTA_EVENT, "index": index, "delta": delta})


def _block_frames(index: int, block: Mapping[str, Any], given: Sequence[str] | None) -> list[Frame]:
    kind = block["type"]
    deltas: list[Frame]
    if kind == "thinking":
        # The start carries empty text and signature; the text streams, then the signature.
        start: dict[str, Any] = {"type": "thinking", "thinking": "", "signature": ""}
        parts = split_words(block["thinking"]) if given is None else list(given)
        deltas = [_delta(index, {"type": "thinking_delta", "thinking": p}) for p in parts]
        deltas.append(_delta(index, {"type": "signature_delta", "signature": block["signature"]}))
    elif kind == "redacted_thinking":
        start = {"type": "redacted_thinking", "data": block["data"]}
        deltas = []  # redacted thinking arrives whole in its start event
    elif kind == "text":
        start = {"type": "text", "text": ""}
        parts = split_words(block["text"]) if given is None else list(given)
        deltas = [_delta(index, {"type": "text_delta", "text": p}) for p in parts]
    elif kind == "tool_use":
        start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        # The input streams as JSON text (with the default ", " / ": " separators), after
        # an empty first piece, exactly like the API.
        if given is None:
            text = json.dumps(block["input"], ensure_ascii=False)
            parts = split_json(text, size=max(24, -(-len(text) // 40)))  # at most ~40 pieces for long inputs
        else:
            parts = list(given)
        deltas = [_delta(index, {"type": "input_json_delta", "partial_json": p}) for p in ["", *parts]]
    else:
        raise ValueError(f"cannot stream a content block of type {kind!r}")
    return [
        Frame("content_block_start", {"type": "content_block_start", "index": index, "content_block": start}),
        *deltas,
        Frame("content_block_stop", {"type": "content_block_stop", "index": index}),
    ]

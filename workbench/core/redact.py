"""Keeping credentials out of everything a run writes.

Every event passes through :func:`scrub` as it enters its log (:meth:`RunLog.append`), so no
event, stream, run file, store or view can carry a credential the process knows: the values
of ``ANTHROPIC_API_KEY``, ``ANTHROPIC_AUTH_TOKEN`` and ``WORKBENCH_TOKEN``, every secret given
to :func:`register_secret` (server and client tokens are registered where they enter), and
anything shaped like an Anthropic key or an ``Authorization`` / ``x-api-key`` credential.
Log lines and error messages pass through :func:`redact` the same way.

Streamed text is scrubbed with a :class:`StreamScrubber` per step, so that a key split across
deltas is caught too and the deltas still add up to the scrubbed whole.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from typing import Any, TypeVar

from pydantic import BaseModel

__all__ = [
    "redact",
    "scrub",
    "register_secret",
    "StreamScrubber",
    "refresh_secrets",
    "REDACTED",
    "RedactingFilter",
    "get_logger",
]

REDACTED = "[redacted]"

T = TypeVar("T")

# Anthropic keys and tokens, and generic "Bearer …" / "x-api-key: …" forms. A labelled form
# keeps its label ("Bearer [redacted]"), so text redacts the same whole or in pieces.
_CREDENTIAL = r"[A-Za-z0-9_\-\.]"
_PATTERNS = (
    r"sk-ant-[A-Za-z0-9_\-]{8,}"
    r"|(?P<bearer>(?i:bearer)\s+)[A-Za-z0-9_\-\.=]{8,}"
    rf"|(?P<apikey>(?i:x-api-key)['\"]?\s*[:=]\s*['\"]?){_CREDENTIAL}{{8,}}"
)
# Lone surrogates ("\udfff"): JSON and Python strings allow them, UTF-8 cannot encode them.
_SURROGATE = r"[\ud800-\udfff]"
_SECRET_VARIABLES = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "WORKBENCH_TOKEN")
_MIN_SECRET_CHARS = 6  # shorter values would blank out ordinary words
_SHORTEST_PATTERN = 15  # "sk-ant-" or "Bearer " and 8 characters

# The end of a text that could still become a labelled credential once more text follows.
_LABEL_TAIL = re.compile(
    r"(?i:bearer)\s*[A-Za-z0-9_\-\.=]*\Z"
    rf"|(?i:x-api-key)['\"]?\s*(?:[:=]\s*['\"]?{_CREDENTIAL}*)?\Z"
)
_MAX_HOLD = 256
"""How much of a run of non-space characters a stream holds back at most, waiting for its end."""

_SURROGATES = re.compile(_SURROGATE)

_registered: set[str] = set()
_registry_lock = threading.Lock()


class _Rules:
    """What to scrub right now: the known secrets, compiled once per set of secrets."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        self.secrets = secrets
        self.shortest = min((_SHORTEST_PATTERN, *(len(s) for s in secrets)))
        """No ASCII text shorter than this can hold a credential (most ids and deltas are)."""
        literals = "".join(re.escape(s) + "|" for s in secrets)
        self.credentials = re.compile(literals + _PATTERNS)
        self.everything = re.compile(f"{literals}{_PATTERNS}|{_SURROGATE}")
        """Credentials and lone surrogates, for :func:`scrub`."""

    def hit(self, text: str) -> bool:
        """Whether :attr:`everything` may match ``text``; substring tests, several times faster than
        the regular expression on text that has nothing to scrub (nearly all of it)."""
        if text.isascii():
            if len(text) < self.shortest:
                return False
        elif _SURROGATES.search(text):
            return True
        if "sk-ant-" in text:
            return True
        for secret in self.secrets:
            if secret in text:
                return True
        lower = text.lower()
        return "bearer" in lower or "x-api-key" in lower


_rules: _Rules | None = None


def register_secret(value: str | None) -> None:
    """Make ``value`` (a token, a key given in code) a credential every event and log line is scrubbed of.

    Values shorter than six characters are ignored: scrubbing them would blank out ordinary words.
    So is one holding ``[redacted]``, which scrubbed text would match again.
    """
    if isinstance(value, str) and len(value) >= _MIN_SECRET_CHARS and REDACTED not in value:
        with _registry_lock:
            _registered.add(value)
        _current_rules(refresh=True)


def _current_rules(*, refresh: bool = False) -> _Rules:
    """The rules; with ``refresh``, first re-read the environment and the registry.

    Reading the environment costs more than scrubbing a typical event, so it is read when a log
    or a streamed block starts, when :func:`redact` is called and when a secret is registered,
    not for every event.
    """
    global _rules
    rules = _rules
    if rules is None or refresh:
        environment = tuple(os.environ.get(name) or "" for name in _SECRET_VARIABLES)
        with _registry_lock:
            found = {*environment, *_registered}
        usable = (s for s in found if len(s) >= _MIN_SECRET_CHARS and REDACTED not in s)
        secrets = tuple(sorted(usable, key=lambda s: (-len(s), s)))  # longest first: a secret inside another goes whole
        if rules is None or rules.secrets != secrets:
            rules = _rules = _Rules(secrets)
    return rules


def refresh_secrets() -> None:
    """Re-read the credentials in the environment now (a log and a streamed block do when they start)."""
    _current_rules(refresh=True)


def _replacement(match: re.Match[str]) -> str:
    text = match.group()
    if len(text) == 1 and "\ud800" <= text <= "\udfff":
        return "\ufffd"
    return (match.group("bearer") or match.group("apikey") or "") + REDACTED


def redact(text: str, *extra_secrets: str | None) -> str:
    """``text`` with every credential it may contain replaced by ``[redacted]``."""
    for secret in extra_secrets:
        if secret and len(secret) >= _MIN_SECRET_CHARS and secret in text:
            text = text.replace(secret, REDACTED)
    credentials = _current_rules(refresh=True).credentials
    return credentials.sub(_replacement, text) if credentials.search(text) else text


def scrub(value: T) -> T:
    """``value`` with every string in it (a pydantic model's fields, dict keys and values, list items)
    redacted and lone surrogates replaced by U+FFFD; the very same object when nothing changed."""
    return _scrub(value, _current_rules())  # type: ignore[no-any-return]  # _scrub keeps the type it is given


def _scrub(value: Any, rules: _Rules) -> Any:
    # Walks without copying: the common event has nothing to scrub and is kept as it is.
    if isinstance(value, str):
        return rules.everything.sub(_replacement, value) if rules.hit(value) else value
    if isinstance(value, BaseModel):
        changes: dict[str, Any] = {}
        extra = value.__pydantic_extra__
        for fields in (value.__dict__, extra) if extra else (value.__dict__,):
            for name, item in fields.items():
                if type(item) is str:  # most fields (ids, deltas): short ASCII, checked here without a call
                    if (len(item) >= rules.shortest or not item.isascii()) and rules.hit(item):
                        changes[name] = rules.everything.sub(_replacement, item)
                elif item is not None and not isinstance(item, (int, float)):
                    new = _scrub(item, rules)
                    if new is not item:
                        changes[name] = new
        return value.model_copy(update=changes) if changes else value
    if isinstance(value, dict):
        pairs = [(_scrub(k, rules), _scrub(v, rules)) for k, v in value.items()]
        if all(k is k0 and v is v0 for (k, v), (k0, v0) in zip(pairs, value.items())):
            return value
        return dict(pairs)
    if isinstance(value, (list, tuple)):
        items = [_scrub(item, rules) for item in value]
        if all(a is b for a, b in zip(items, value)):
            return value
        return type(value)(items) if isinstance(value, tuple) else items
    return value


class StreamScrubber:
    """Scrubs one streamed text (a thinking or text block) piece by piece.

    :meth:`feed` returns what can be released safely: text that no later piece can turn into
    part of a credential. It holds back the end that still could (a word not yet finished, a
    ``Bearer`` waiting for its token, the start of a known secret). :meth:`flush` releases the
    rest when the block ends. Joined, the released pieces are exactly :func:`scrub` of the whole
    text, and none of them carries a credential.
    """

    def __init__(self) -> None:
        self._pending = ""
        self._rules = _current_rules(refresh=True)

    def feed(self, piece: str) -> str:
        """The part of everything fed so far that can go out now, scrubbed (often all of it, or "")."""
        text, rules = self._pending + piece, self._rules
        hit = rules.hit(text)  # False: no part of the text holds anything to scrub either
        cut = _safe_cut(text, rules, hit)
        self._pending = text[cut:]
        if not cut:
            return ""
        return rules.everything.sub(_replacement, text[:cut]) if hit else text[:cut]

    def flush(self) -> str:
        """The rest, scrubbed: the block has ended."""
        text, self._pending = self._pending, ""
        return _scrub(text, self._rules) if text else ""


def _safe_cut(text: str, rules: _Rules, hit: bool) -> int:
    """The last position of ``text`` at which it can be cut and scrubbed in two parts, whatever follows."""
    end = len(text)
    # The trailing run of non-space characters may still grow into a key (bounded: past it,
    # a key already under way is caught below as a match that reaches the end).
    tail = text[-_MAX_HOLD:]  # held back for _MAX_HOLD characters at most
    cut = end if not tail or tail[-1].isspace() else end - len(tail.rsplit(None, 1)[-1])
    for secret in rules.secrets:  # the end of the text is the start of a known secret
        first, start = secret[0], max(0, end - len(secret) + 1)
        while (start := text.find(first, start, cut)) >= 0:
            if secret.startswith(text[start:]):
                cut = start
                break
            start += 1
    lower = text.lower()
    if "bearer" in lower or "x-api-key" in lower:  # a labelled credential may be under way
        label = _LABEL_TAIL.search(text)
        if label is not None:
            cut = min(cut, label.start())
    if not hit:  # nothing to scrub in the text, so no credential to cut through
        return cut
    for match in rules.everything.finditer(text):  # never cut through a credential
        if match.start() < cut < match.end() or (match.start() < cut and match.end() == end):
            cut = match.start()
            break
    return cut


class RedactingFilter(logging.Filter):
    """Scrubs credentials from a log record's message and traceback before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = ()
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def get_logger(name: str = "workbench") -> logging.Logger:
    """The logger ``name`` with a :class:`RedactingFilter` attached (once).

    Every workbench module logs through this: a logger's filters only see records logged
    to that very logger, not those propagated from its children, so each gets its own.
    """
    logger = logging.getLogger(name)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
    return logger

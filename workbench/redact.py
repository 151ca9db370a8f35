"""Keeping credentials out of everything a run writes.

Events, log lines, run files and error messages pass text through :func:`redact` wherever
text from outside the workbench (an exception, a tool's output) can enter them.
"""

from __future__ import annotations

import logging
import os
import re

__all__ = ["redact", "REDACTED", "RedactingFilter", "get_logger"]

REDACTED = "[redacted]"

# Anthropic keys and tokens, and generic "Bearer …" / "x-api-key: …" forms.
_PATTERNS = re.compile(
    r"sk-ant-[A-Za-z0-9_\-]{8,}"
    r"|(?i:bearer)\s+[A-Za-z0-9_\-\.=]{8,}"
    r"|(?i:x-api-key)['\"]?\s*[:=]\s*['\"]?[A-Za-z0-9_\-\.]{8,}"
)
_SECRET_VARIABLES = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "WORKBENCH_TOKEN")


def redact(text: str, *extra_secrets: str | None) -> str:
    """``text`` with every credential it may contain replaced by ``[redacted]``."""
    for secret in (*(os.environ.get(name) for name in _SECRET_VARIABLES), *extra_secrets):
        if secret and len(secret) >= 6 and secret in text:
            text = text.replace(secret, REDACTED)
    return _PATTERNS.sub(REDACTED, text)


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

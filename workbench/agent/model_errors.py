"""How a failed model call is read: worth retrying (and why), or failed for good (and what to tell the person)."""

from __future__ import annotations

import anthropic
import httpx2

__all__ = ["IncompleteStream", "RETRYABLE", "retry_reason", "api_error_type", "describe_api_error"]


class IncompleteStream(Exception):
    """The stream ended without ``message_stop``: the answer may be cut short."""


# What breaks a model call in a way worth trying again.
RETRYABLE = (anthropic.APIConnectionError, httpx2.TransportError, IncompleteStream)


def retry_reason(exc: BaseException) -> str | None:
    """Why a failed call is worth retrying, or ``None`` when retrying cannot help."""
    if isinstance(exc, IncompleteStream):
        return "stream ended without message_stop"
    if isinstance(exc, (httpx2.RemoteProtocolError, httpx2.ReadError)):
        return "connection dropped mid-stream"
    if isinstance(exc, anthropic.APITimeoutError):
        return "request timed out"
    if isinstance(exc, RETRYABLE):
        return f"connection error ({type(exc).__name__})"
    if isinstance(exc, anthropic.APIStatusError):
        error_type = api_error_type(exc)
        if exc.status_code == 200:  # an `error` event after the stream began
            return f"mid-stream {error_type or 'error'}"
        if exc.status_code in (408, 409, 429) or exc.status_code >= 500:
            return f"{exc.status_code} {error_type}".strip()
    return None


def api_error_type(exc: anthropic.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error_type := error.get("type"), str):
            return error_type
    return ""


def describe_api_error(exc: BaseException) -> tuple[str, str]:
    """An ``(error.type, message)`` a person can act on, for a model call that failed for good."""
    if isinstance(exc, anthropic.AuthenticationError):
        return "authentication_error", "the Anthropic API refused the credentials; check ANTHROPIC_API_KEY"
    if isinstance(exc, anthropic.PermissionDeniedError):
        return "permission_error", "the API key may not use this model or feature"
    if isinstance(exc, anthropic.NotFoundError):
        return "not_found_error", "the API does not know this model; check the model id"
    if isinstance(exc, anthropic.APIStatusError):
        error_type = api_error_type(exc) or "api_error"
        return error_type, f"the Anthropic API answered {exc.status_code} {error_type}: {exc.message}"
    return "connection_error", f"{type(exc).__name__}: {exc}"

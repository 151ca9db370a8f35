"""What the handlers need from the extension app, as a protocol.

The app (:mod:`workbench_server_ext.app`) builds the handlers; the handlers reach the app only
through this protocol, so the two modules do not import each other.
"""

from __future__ import annotations

from typing import Any, Protocol

from workbench.serving.service import Principal, RunService

__all__ = ["ServiceHost"]


class ServiceHost(Protocol):
    """The extension as its handlers see it."""

    heartbeat_seconds: float
    unavailable: str
    """Why :meth:`current_service` is ``None``, for the 503 answer."""

    @property
    def streams(self) -> set[Any]:
        """The event streams being served right now."""

    def current_service(self) -> RunService | None:
        """The run service, or ``None`` while its store cannot be opened."""

    def principal(self, user: Any) -> Principal:
        """The caller Jupyter authenticated, as the service's :class:`Principal`."""

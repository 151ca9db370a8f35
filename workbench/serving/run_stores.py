"""What a :class:`~workbench.serving.service.RunService` asks of the store its runs are in: the
SQLite :class:`~workbench.core.store.RunStore` of one server, or the Redis store that replicas
share (:class:`~workbench.serving.redis_store.RedisRunStore`)."""

from __future__ import annotations

from typing import Any, Protocol

from workbench.core.handle import Run

__all__ = ["Dispatcher", "Store", "TooManyRuns"]


class TooManyRuns(Exception):
    """A dispatcher's refusal of a new run: its owner has ``going`` runs going, the most allowed."""

    def __init__(self, going: int) -> None:
        super().__init__(f"{going} runs going")
        self.going = going


class Store(Protocol):
    """A service's runs: added, listed, read back, and their writes followed."""

    @property
    def problem(self) -> str | None: ...

    def add(self, run: Run, *, shared: bool = False) -> None: ...

    def unstored(self, run_id: str, total: int) -> int: ...

    def size(self, run_id: str) -> int: ...

    def forget_size(self, run_id: str) -> None: ...

    def set_shared(self, run_id: str, shared: bool) -> None: ...

    def summaries(self, owner: str | None = None, *, include_shared: bool = False, limit: int | None = None,
                  before: str | None = None) -> list[dict[str, Any]]: ...

    def owner_of(self, run_id: str) -> tuple[str | None, bool] | None: ...

    def status_counts(self) -> dict[str, int]: ...

    def is_shared(self, run_id: str) -> bool: ...

    def load(self, run_id: str) -> Run | None: ...

    def recover(self, message: str = ...) -> list[Run]: ...

    def flush(self, timeout: float | None = ...) -> bool: ...

    def close(self) -> None: ...


class Dispatcher(Protocol):
    """Hands new runs to the processes that execute them (workers)."""

    def submit(self, run: Run, request: dict[str, Any], *, shared: bool = False, limit: int | None = None) -> Run:
        """Queue ``run``; ``limit``: refuse it (:class:`TooManyRuns`) if its owner has that many runs going
        on every process the dispatcher serves."""

    def catch_up(self, run: Run) -> None: ...

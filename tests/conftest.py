"""Shared fixtures: every test gets its own workbench home (credentials are gone for the
whole session: see the root conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from redis_cluster import RedisServer

    from workbench.agent.tools import ToolContext


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("workbench-home")
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    # The SDK may also read credentials from a profile on disk; point it at an empty folder.
    monkeypatch.setenv("ANTHROPIC_CONFIG_DIR", str(home / "anthropic-config"))
    return home


def write_scenario(path: Path, **fields: Any) -> str:
    """Write a scenario file with the given fields (camelCase) and return its path."""
    body = {"format": "workbench-scenario", "version": 1, **fields}
    path.write_text(json.dumps(body))
    return str(path)


@pytest.fixture
def real_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A real redis-server for the test (see redis_cluster.py); skips when it is not installed."""
    from redis_cluster import RedisServer, skip_without_redis

    skip_without_redis()
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A run's workspace folder, for the tool tests."""
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


@pytest.fixture
def ctx(workspace: Path) -> ToolContext:
    """The tool context of a run whose workspace is :func:`workspace`."""
    from workbench.agent.tools import ToolContext

    return ToolContext(workspace=workspace, run_id="r_test")


@pytest.fixture(scope="module")
def browser() -> Any:
    """A headless Chromium for the module's browser tests (skipped when there is none; see browser.py)."""
    from browser import chromium

    with chromium() as browser:
        yield browser

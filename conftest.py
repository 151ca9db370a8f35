"""Session-wide test setup, for the tests and the notebooks alike: offline, no credentials, no start-up freeze."""

from __future__ import annotations

import os
import tempfile

import pytest

_CREDENTIALS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "WORKBENCH_MODEL",
                "WORKBENCH_URL", "WORKBENCH_TOKEN", "ANTHROPIC_PROFILE")


def pytest_configure(config: pytest.Config) -> None:
    """Notebook kernels inherit this environment: no keys, and a home of the session's own."""
    for name in _CREDENTIALS:
        os.environ.pop(name, None)
    home = tempfile.mkdtemp(prefix="workbench-test-home-")
    os.environ["WORKBENCH_HOME"] = home
    os.environ["ANTHROPIC_CONFIG_DIR"] = os.path.join(home, "anthropic-config")
    # Runs would freeze the session's objects out of garbage collection at the first run, and tests
    # that count frozen objects, or see objects freed, would depend on the order they run in.
    # tests/test_startup_freeze.py checks the freezing in fresh interpreters.
    os.environ["WORKBENCH_FREEZE_STARTUP_OBJECTS"] = "0"

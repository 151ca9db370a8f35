"""Session-wide test setup, for the tests and the notebooks alike: offline, no credentials."""

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

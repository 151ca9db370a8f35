"""Shared by the browser tests: Debian's Chromium driven by Playwright for Python.

Playwright never downloads a browser here (no ``playwright install``); it drives the
system's Chromium. :func:`chromium` skips the test when that browser or Playwright is
missing, unless ``WORKBENCH_REQUIRE_BROWSER=1`` (CI), where a missing browser is a failure.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
"""Screenshots for a person to look at (ignored by git)."""


def browser_problem() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (install Debian's chromium package)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install playwright)"
    return None


def skip_without_browser() -> None:
    """Skip the calling test (or fail it, under WORKBENCH_REQUIRE_BROWSER=1) when there is no browser."""
    problem = browser_problem()
    if problem:
        if os.environ.get("WORKBENCH_REQUIRE_BROWSER") == "1":
            pytest.fail(f"WORKBENCH_REQUIRE_BROWSER=1 but {problem}")
        pytest.skip(problem)


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (a Playwright ``Browser``), closed afterwards; skips when there is none."""
    skip_without_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@asynccontextmanager
async def async_chromium() -> AsyncIterator[Any]:
    """:func:`chromium` through Playwright's async API, for tests whose server runs on the test's own
    event loop (the sync API would block that loop, and the server with it)."""
    skip_without_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@contextmanager
def checked_page(browser: Any, width: int = 1000, height: int = 900) -> Iterator[Any]:
    """A new page of ``browser``; the test fails if the page threw or logged an error meanwhile."""
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    try:
        yield page
    finally:
        page.close()
    assert not errors, errors

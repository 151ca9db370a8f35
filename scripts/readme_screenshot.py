"""Refresh the README's picture of the live view: ``docs/live-view.png``.

    python scripts/readme_screenshot.py [--front lab|notebook] [--theme light|dark] [--out docs/live-view.png]

Starts a JupyterLab of its own (a temporary folder, a fresh token, no user settings), opens a
notebook in headless Chromium (Debian's ``/usr/bin/chromium``, driven by Playwright), runs a
task with the simulated model and saves the notebook cell while the run goes on. It takes the
picture exactly as ``tests/test_screenshots_browser.py`` takes its own (``tests/screenshots.py``),
in about 15 seconds. Needs the test dependencies (``pip install -e ".[test]"``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the browser tests' helpers: one way to take the picture

from browser import ARGS, CHROMIUM, browser_problem
from jupyter_process import start_jupyter, stop_jupyter
from screenshots import take


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--front", choices=["lab", "notebook"], default="lab")
    parser.add_argument("--theme", choices=["light", "dark"], default="light")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "live-view.png")
    args = parser.parse_args()
    problem = browser_problem()
    if problem:
        print(f"cannot take the picture: {problem}", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="wb-screenshot-") as tmp:
        jupyter = start_jupyter(Path(tmp), "lab")
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
                try:
                    take(browser, jupyter, args.front, args.theme, args.out)
                finally:
                    browser.close()
        finally:
            stop_jupyter(jupyter)
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes) in {time.monotonic() - began:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

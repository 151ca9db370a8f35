"""A small disk that a test can fill and free: a tmpfs of its own where one can be mounted
(as root on Linux), else a folder whose SQLite stores are capped with ``max_page_count``."""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
from pathlib import Path

from workbench.core.store import RunStore


class SmallDisk:
    """``path`` is the disk's folder; ``fill()`` leaves no space on it, ``free()`` gives it back."""

    def __init__(self, path: Path, size_kib: int = 16384) -> None:  # room for a WAL of 1,000 pages
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.mounted = _mount_tmpfs(path, size_kib)
        self._filler = path / "filler"
        self._capped: list[RunStore] = []

    @property
    def how(self) -> str:
        return "tmpfs" if self.mounted else "max_page_count"

    def cap(self, store: RunStore) -> None:
        """Without a tmpfs, ``fill()`` caps this store instead (with one, there is nothing to do)."""
        self._capped.append(store)

    def fill(self) -> None:
        if self.mounted:
            for size in (65536, 1):  # big pieces, then the last bytes of the last block
                try:
                    with open(self._filler, "ab", buffering=0) as out:
                        while True:
                            out.write(b"\0" * size)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc
        for store in self._capped:
            pages = _pragma(store, "page_count")
            _pragma(store, f"max_page_count = {pages}")

    def free(self) -> None:
        self._filler.unlink(missing_ok=True)
        for store in self._capped:
            try:
                _pragma(store, "max_page_count = 1073741823")
            except sqlite3.ProgrammingError:  # closed already
                pass

    def close(self) -> None:
        if self.mounted:
            if subprocess.run(["umount", str(self.path)], check=False, capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", str(self.path)], check=False, capture_output=True)
            self.mounted = False


def _mount_tmpfs(path: Path, size_kib: int) -> bool:
    if os.name != "posix" or os.geteuid() != 0:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(path)],
                          capture_output=True, check=False)
    return done.returncode == 0


def _pragma(store: RunStore, statement: str) -> int:
    # The store's own connection: a limit set on another connection would not bind it.
    with store._database.lock:
        row = store._database.connection.execute(f"PRAGMA {statement}").fetchone()
    return int(row[0]) if row else 0


"""``workbench.events`` is :mod:`workbench.core.events` under its public name.

``from workbench.events import TextDelta`` and ``import workbench.events`` give the very module
:mod:`workbench.core.events` (this file replaces itself with it), so the package root need not
import the events (and pydantic) until they are used.
"""

from __future__ import annotations

import sys

from workbench.core import events as _events
from workbench.core.events import *  # noqa: F403 - the names, for type checkers

sys.modules[__name__] = _events

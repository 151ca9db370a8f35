"""The Jupyter server extension: the workbench HTTP contract under ``{base_url}workbench/api``.

Enabled automatically when the package is installed (``jupyter server extension list``
shows ``workbench``); configure it with ``--WorkbenchApp.<trait>`` or in
``jupyter_server_config.py`` as ``c.WorkbenchApp.<trait>``.
"""

from __future__ import annotations

from typing import Any

from workbench_server_ext.app import WorkbenchApp

__all__ = ["WorkbenchApp"]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    return [{"module": "workbench_server_ext", "app": WorkbenchApp}]

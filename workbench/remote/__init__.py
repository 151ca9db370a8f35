"""A kernel's client of a workbench server: ``wb.connect()``, remote runs and following their streams.

:mod:`~workbench.remote.client` starts, lists and attaches to runs on a server (each a
:class:`~workbench.remote.remote_run.RemoteRun`); :mod:`~workbench.remote.connection` is where they go
(a server's API and credentials) and how that API is found from a URL;
:mod:`~workbench.remote.follow` follows one run's event stream into a local log, reconnecting
with ``Last-Event-ID``; :mod:`~workbench.remote.discovery` finds the Jupyter server a kernel
belongs to. It imports :mod:`workbench.core` (and the agent's tool names), never the servers
or the views.
"""

"""The HTTP contract both servers share, and the standalone server.

:class:`~workbench.serving.service.RunService` is every route's logic without a transport;
:mod:`~workbench.serving.sse` encodes event streams (:mod:`~workbench.serving.reference` in the
reference profile); the standalone aiohttp server sits on top:
its app and handlers (:mod:`~workbench.serving.standalone`), what requests pass first
(:mod:`~workbench.serving.middleware`), its connections (:mod:`~workbench.serving.connections`),
``workbench serve`` (:mod:`~workbench.serving.listener`), its tokens and workshop accounts. The Jupyter
extension (the top-level ``workbench_server_ext`` package) is the other transport. It imports
:mod:`workbench.core` and :mod:`workbench.agent`; never the remote client or the views.
"""

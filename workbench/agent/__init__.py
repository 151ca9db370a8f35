"""The agent: the orchestrator that drives a model through a plan, and what it needs.

The model clients (the ``anthropic`` SDK, or the simulator behind it), the prompts, run options,
:func:`~workbench.agent.launch.start_run`, the recorder for agents of one's own, and the tools
(:mod:`~workbench.agent.tools`). It imports :mod:`workbench.core` and :mod:`workbench.simulator`,
never the servers, the remote client or the views.
"""

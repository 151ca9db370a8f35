"""The run as an append-only event log, and everything that reads it.

The typed events (:mod:`~workbench.core.events`), the pure fold over them
(:mod:`~workbench.core.reducer`) with the times and tokens it derives from timestamps
(:mod:`~workbench.core.progress`), the price table (:mod:`~workbench.core.pricing`), the log with its gating (:mod:`~workbench.core.log`), run files,
the SQLite store, the contract's checker, credential scrubbing, replay and table views of events,
the :class:`~workbench.core.handle.Run` handle and the background loop that runs work for a
notebook. The bottom layer: it imports only :mod:`workbench.errors`, never the agent, the
servers or the views (a run learns how to display itself through
:func:`~workbench.core.presenting.register_presenter`).
"""

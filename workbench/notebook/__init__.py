"""What a notebook shows: the live run widget, its HTML export, the summary, the ``%%agent`` magic.

:mod:`~workbench.notebook.widget` is the anywidget view (its front end in ``widget/static``, no
build step); :mod:`~workbench.notebook.display` picks the widget or a static summary for
``display(run)``. It imports the layers below (core, agent, remote) and is registered with
:func:`workbench.core.presenting.register_presenter` by the package root, so that a run can display itself without the core knowing any view.
"""

"""The web view of runs: a page that lists a server's runs and shows one with the notebook's run view.

Both servers serve it (``workbench serve`` at ``/``, the Jupyter extension at
``{base_url}workbench/``) through :data:`~workbench.notebook.web.assets.WEB_VIEW`.
"""

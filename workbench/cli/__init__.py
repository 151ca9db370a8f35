"""The ``workbench`` command line: ``run``, ``replay`` and ``serve``, and the terminal view they print with.

The top layer: it may import every other layer of the package (it starts servers, runs and
replays), and nothing in the package imports it.
"""

"""The ``pgcheck`` command line: the only package that knows ``argv``, flags and exit codes.

It sits on top of everything else: :mod:`pgcheck` (the core), :mod:`agents` and :mod:`derivations`
never import it (``tests/test_layers.py``).
"""

"""The proof suite: every identity of the paper derived with sympy/z3 and cross-checked with autograd.

One module per claim of DESIGN.md §3 (``thm3_1`` … ``c2``); :mod:`derivations.registry` lists them in the
paper's order. Each module's docstring states the claim, its symbols and assumptions and what is proved;
its ``derive(ev)`` records the steps, the autograd cross-checks and any erratum in an
:class:`derivations.core.Evidence`. ``pgcheck prove`` (:mod:`pgcheck.prove`) runs them and writes the
certificates in ``proofs/``.
"""

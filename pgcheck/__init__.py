"""pgcheck: checked policy-optimisation update rules (form axis x scale axis, Gummadi et al., ICML 2022).

Text -> :mod:`pgcheck.expr` -> :func:`pgcheck.check.checked_scale` -> :mod:`pgcheck.updates` -> agents.
Heavy modules (torch, gymnasium) are imported lazily so that validation stays fast.
"""

__version__ = "0.1.0"

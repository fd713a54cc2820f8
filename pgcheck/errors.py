"""pgcheck's exceptions: one root, :class:`PgcheckError`, and below it the user errors.

- :class:`UserError`: bad input (text, a file, a value). Its ``str`` is one line that says what is wrong
  and what is allowed; the command line prints it and exits with 2. The library names values, never
  command-line flags: only the command line knows ``argv``.
  Subclasses: :class:`pgcheck.expr.ExprError` (a scale text that is not in the language),
  :class:`pgcheck.certificate.InvalidScaleError` (a refuted scale asked to become a ``CheckedScale``),
  :class:`pgcheck.certificate.UnprovedScaleError` (a proof was required and is missing).
- Everything else derived from :class:`PgcheckError` is pgcheck's own signalling (an undecided number,
  a time budget spent, a non-finite loss); the command line reports any other exception as an internal
  error of pgcheck's (exit 3), in one line.

Catching :class:`PgcheckError` catches everything pgcheck raises on purpose.
"""


class PgcheckError(Exception):
    """The root of every exception pgcheck raises on purpose."""


class UserError(PgcheckError):
    """Bad input from the user: its ``str`` is a single line that says what is wrong and what is allowed."""

"""The one exception type the CLI turns into a one-line message and exit code 2."""


class UserError(Exception):
    """Bad input from the user: its ``str`` is a single line that says what is wrong and what is allowed."""

"""The ``pgcheck`` command line: one console script, one module per subcommand.

Each subcommand lives in ``pgcheck_cli/commands/<name>.py`` and provides ``HELP: str``,
``configure(parser) -> None`` and ``run(args) -> int``. Modules import their heavy dependencies
(torch, gymnasium, matplotlib) inside ``run`` so that ``pgcheck validate`` starts fast.

Exit codes: 0 success, 1 a negative finding (e.g. INVALID, a failed proof check), 2 bad input,
3 an internal error of pgcheck (never a traceback), 130 interrupted, 141 the reader of the output went away.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from pgcheck import __version__
from pgcheck.errors import UserError

# (subcommand, module): add a line here to add a subcommand.
COMMANDS: list[tuple[str, str]] = [
    ("validate", "pgcheck_cli.commands.validate"),
    ("demo", "pgcheck_cli.commands.demo"),
    ("experiment", "pgcheck_cli.commands.experiment"),
    ("train", "pgcheck_cli.commands.train"),
    ("evaluate", "pgcheck_cli.commands.evaluate"),
    ("compare", "pgcheck_cli.commands.compare"),
    ("sweep", "pgcheck_cli.commands.sweep"),
    ("prove", "pgcheck_cli.commands.prove"),
]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse's usage dump is several lines; keep one
        hint = f" (see '{self.prog} --help')"
        self.exit(2, f"pgcheck: error: {message}{hint}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pgcheck", description="Checked policy-optimisation update rules "
                     "(form x scale, Gummadi et al., ICML 2022).")
    parser.add_argument("--version", action="version", version=f"pgcheck {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, module_name in COMMANDS:
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.configure(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        # 'pgcheck validate -y': argparse reads a leading minus as an option; an expression is meant
        if getattr(args, "command", None) == "validate" and args.function is None and len(extra) == 1 \
                and extra[0].startswith("-") and not extra[0].startswith("--"):
            args.function = extra[0]
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)} (an expression that starts with '-' "
                         "can also be given after --, e.g. pgcheck validate -- '-y')")
    if not hasattr(args, "_run"):
        parser.print_help()
        return 2
    try:
        code: int = args._run(args)
        return code
    except UserError as exc:
        print(f"pgcheck: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pgcheck: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # 'pgcheck validate f | head': the reader left; not an error of pgcheck's
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141   # 128 + SIGPIPE, what a shell reports for a writer whose reader went away
    except Exception as exc:  # a bug of pgcheck's: say so in one line, and never with 1 (which reads as INVALID)
        first = str(exc).splitlines()[0][:300] if str(exc) else ""
        print(f"pgcheck: internal error ({type(exc).__name__}: {first}); please report it", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())

"""``pgcheck demo``: the main jobs in one go, each step short and printed as it runs."""

from __future__ import annotations

import argparse

HELP = "run the main jobs: validate the paper's scale functions and a broken one"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help="skip the longer steps")


def validate_step() -> None:
    from pgcheck.check import Options, validate
    from pgcheck.report import render

    print("== pgcheck validate: the paper's named scale functions ==")
    for name in ("q", "sq", "ml", "sil", "huber", "mla", "mla_param", "ppo", "mla_ppo"):
        cert = validate(name, options=Options(use_cache=False))
        print(f"  {name:<10} {cert.overall:<15} "
              + "  ".join(f"{p.prop}:{p.verdict}" for p in cert.properties))
    print("\n== pgcheck validate 'y * max(1 + x + y / 2, 0)'  (f0 of Appendix A.1, before the fix) ==")
    print(render(validate("y * max(1 + x + y / 2, 0)", options=Options(use_cache=False))))


def run(args: argparse.Namespace) -> int:
    validate_step()
    return 0

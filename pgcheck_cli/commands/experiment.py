"""``pgcheck experiment``: the paper's 2-D bandit (sec. 6.1) and FourRoom (sec. 6.2) experiments.

Only the command line lives here (flags, their checks and their defaults' text); the experiments are
:class:`agents.bandit.BanditExperiment` and :class:`agents.fourroom.FourRoomExperiment`, both run by
:func:`agents.experiment.run`. Every rule gets its scale function through
:func:`pgcheck.check.checked_scale`, so a run configured with an INVALID scale stops before training (and
before ``--out`` is touched) with the validator's counterexample. Outputs (``results.json``, PNG figures,
``summary.md``) are staged and moved into place only when all of them exist, so a failed or killed run
leaves the previous outputs as they were.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pgcheck.errors import UserError

if TYPE_CHECKING:
    from agents.experiment import Experiment
    from pgcheck.certificate import CheckedScale

HELP = "run the paper's experiments: 'bandit' (sec. 6.1, 12 update rules) or 'fourroom' (sec. 6.2)"

EXPERIMENTS = ("bandit", "fourroom")

EPILOG = """\
examples:
  pgcheck experiment bandit --seeds 5 --out runs/bandit
  pgcheck experiment bandit --lr-sweep 0.001,0.003,0.03,0.1     # the learning-rate sensitivity
  pgcheck experiment fourroom --seeds 5 --out runs/fourroom
  pgcheck experiment bandit --scale sq --scale 'y * (1 + x)'      # an INVALID scale: stops, exit 2
--scale takes a named scale (optionally NAME:K=V,K=V, e.g. mla_param:ao=0,ar=0.5) or an expression in
x = ΔO and y = ΔR; for the bandit it replaces the four scales of Table 1, for FourRoom the f_MLA(0, αr)
family. Learning rates, batch sizes and step counts the paper does not give are documented in summary.md."""

_NAMED_WITH_PARAMS = re.compile(r"^\s*([A-Za-z_]\w*)\s*:\s*(\w+\s*=.*)$")


def configure(p: argparse.ArgumentParser) -> None:
    p.epilog = EPILOG
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("experiment", help="bandit or fourroom")
    p.add_argument("--seeds", type=int, default=5, help="independent runs per rule (default 5)")
    p.add_argument("--out", type=Path, default=None, help="output directory (default runs/<experiment>)")
    p.add_argument("--iterations", type=int, default=None,
                   help="updates per run (default: bandit 10000 as in the paper, fourroom 100000)")
    p.add_argument("--lr", type=float, default=None,
                   help="bandit: the SGD learning rate (default 0.01; the paper gives none)")
    p.add_argument("--lr-sweep", default="", metavar="LR,LR,...",
                   help="bandit: also run these learning rates (vectorised with the main run)")
    p.add_argument("--alpha-r", default=None, metavar="A,A,...",
                   help="fourroom: the αr values of f_MLA(0, αr) (default 0,0.1,0.2,0.5,1.0)")
    p.add_argument("--scale", action="append", default=[], metavar="SPEC",
                   help="replace the experiment's scale functions (repeatable; see below)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--quick", action="store_true",
                   help="bandit: smaller landscape grids and Monte Carlo check (a smoke test; same regrets)")


# ---------------------------------------------------------------------------------------------------
# input checking


def _floats(text: str, what: str, *, positive: bool) -> list[float]:
    out: list[float] = []
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        try:
            v = float(item)
        except ValueError:
            raise UserError(f"{what}: {item!r} is not a number (write e.g. 0.001,0.01)") from None
        if v != v or v in (float("inf"), float("-inf")) or (positive and v <= 0):
            raise UserError(f"{what}: {item!r} must be a finite{' positive' if positive else ''} number")
        out.append(v)
    return out


def _checked(spec: str) -> CheckedScale:
    """A scale through the validator; bad text or an INVALID function is a one-line UserError."""
    from pgcheck.check import checked_scale
    from pgcheck.expr import ExprError

    text, given = spec, {}
    m = _NAMED_WITH_PARAMS.match(spec)
    if m:
        text = m.group(1)
        for item in m.group(2).split(","):
            key, sep, value = item.partition("=")
            if not sep or not key.strip() or not value.strip():
                raise UserError(f"--scale {spec!r}: write NAME:K=V,K=V, e.g. mla_param:ao=0,ar=0.5")
            given[key.strip()] = value.strip()
    try:
        return checked_scale(text, given)   # an INVALID scale raises InvalidScaleError, a UserError
    except ExprError as exc:
        raise UserError(f"scale {spec!r}: {exc}") from None


def _prepare_out(out: Path) -> Path:
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".pgcheck-write-test.tmp{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"--out {out}: cannot write there ({exc.strerror or exc})") from None
    return out


class _Progress:
    """A tqdm bar over update steps, fed with the absolute step count."""

    def __init__(self, desc: str, total: int) -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=total, desc=desc, unit="it", file=sys.stderr, dynamic_ncols=True, mininterval=0.5)
        self._done = 0

    def __call__(self, done: int) -> None:
        self._bar.update(done - self._done)
        self._done = done

    def close(self) -> None:
        self._bar.close()


# ---------------------------------------------------------------------------------------------------
# the experiments


def _check_options(name: str, args: argparse.Namespace) -> None:
    """Options that do not apply to the experiment are refused, not silently ignored."""
    if name == "bandit":
        if args.alpha_r is not None:
            raise UserError("--alpha-r applies to fourroom only (the bandit's scales are those of Table 1 "
                            "or --scale)")
    else:
        for opt, given in (("--lr", args.lr is not None), ("--lr-sweep", bool(args.lr_sweep)),
                           ("--quick", args.quick)):
            if given:
                raise UserError(f"{opt} applies to bandit only (FourRoom uses the paper's learning rates, "
                                "0.1 for PG and 0.01 for Q-learning)")
        if args.scale and args.alpha_r is not None:
            raise UserError("--alpha-r and --scale both choose FourRoom's scales; give one of them")
    if args.lr is not None and not (math.isfinite(args.lr) and args.lr > 0):
        raise UserError(f"--lr must be a finite positive number (got {args.lr})")


def _scales(args: argparse.Namespace) -> list[tuple[str, CheckedScale]] | None:
    """The scales of --scale, each through the validator; None for the experiment's own."""
    return [(spec.strip(), _checked(spec)) for spec in args.scale] or None


def _experiment(name: str, args: argparse.Namespace) -> Experiment[Any, Any]:
    """The experiment the arguments set up (its scales validated before anything is written)."""
    if name == "bandit":
        from agents.bandit import BanditConfig, BanditExperiment

        config = BanditConfig(iterations=args.iterations or BanditConfig.iterations, seeds=args.seeds,
                              lr=args.lr or BanditConfig.lr,
                              lr_sweep=tuple(_floats(args.lr_sweep, "--lr-sweep", positive=True)))
        return BanditExperiment(config, _scales(args), quick=args.quick)
    from agents.fourroom import FourRoomConfig, FourRoomExperiment
    from agents.fourroom.experiment import mla_family

    scales = _scales(args)
    if scales is None and args.alpha_r is not None:
        alphas = _floats(args.alpha_r, "--alpha-r", positive=False)
        if not alphas:
            raise UserError("--alpha-r: give at least one value")
        scales = mla_family(alphas)
    return FourRoomExperiment(FourRoomConfig(steps=args.iterations or FourRoomConfig.steps, runs=args.seeds), scales)


def run(args: argparse.Namespace) -> int:
    from agents.experiment import no_progress, silent
    from agents.experiment import run as run_experiment

    name = str(args.experiment).strip().lower()
    if name not in EXPERIMENTS:
        raise UserError(f"unknown experiment {args.experiment!r}; choose one of {', '.join(EXPERIMENTS)}")
    if args.seeds < 1:
        raise UserError(f"--seeds must be at least 1 (got {args.seeds})")
    if args.iterations is not None and args.iterations < 1:
        raise UserError(f"--iterations must be at least 1 (got {args.iterations})")
    _check_options(name, args)
    experiment = _experiment(name, args)
    out = _prepare_out(args.out if args.out is not None else Path("runs") / name)
    written = run_experiment(experiment, out, _Progress if not args.no_progress else no_progress,
                             silent if args.no_progress else lambda m: print(f"  {m}", file=sys.stderr))
    print(f"pgcheck experiment {name}: wrote {written.results}, {written.summary} and "
          f"{len(written.figures)} figures in {written.seconds['total']:.1f} s")
    return 0

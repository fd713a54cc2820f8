"""``pgcheck experiment``: the paper's 2-D bandit (sec. 6.1) and FourRoom (sec. 6.2) experiments.

Every rule gets its scale function through :func:`pgcheck.check.checked_scale`, so a run configured
with an INVALID scale stops before training (and before ``--out`` is touched) with the validator's
counterexample. Outputs (``results.json``, PNG figures, ``summary.md``) are first written into a staging
directory inside ``--out`` and moved into place only when all of them exist, so a failed or killed run
leaves the previous outputs as they were.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pgcheck.errors import UserError
from pgcheck.files import atomic_write

if TYPE_CHECKING:
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


def _checked(spec: str, params: dict[str, str] | None = None) -> CheckedScale:
    """A scale through the validator; bad text or an INVALID function is a one-line UserError."""
    from pgcheck.check import checked_scale
    from pgcheck.expr import ExprError

    text, given = spec, dict(params or {})
    m = _NAMED_WITH_PARAMS.match(spec)
    if m and params is None:
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


def _scale_info(scales: list[tuple[str, CheckedScale]]) -> dict[str, dict[str, str]]:
    return {label: {"overall": s.certificate.overall, "input": s.certificate.input.get("text", ""),
                    "params": json.dumps(s.certificate.params, sort_keys=True),
                    "canonical_hash": s.certificate.canonical_hash} for label, s in scales}


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

    def __init__(self, total: int, desc: str, enabled: bool) -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=total, desc=desc, unit="it", disable=not enabled, file=sys.stderr,
                         dynamic_ncols=True, mininterval=0.5)
        self._done = 0

    def __call__(self, done: int) -> None:
        self._bar.update(done - self._done)
        self._done = done

    def close(self) -> None:
        self._bar.close()


# ---------------------------------------------------------------------------------------------------
# the experiments


DEFAULT_ALPHA_R = "0,0.1,0.2,0.5,1.0"


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


def _setup_bandit(args: argparse.Namespace) -> tuple[Any, list[tuple[str, CheckedScale]]]:
    from agents import bandit

    specs = args.scale or ["sq", "ml", "sil", "mla"]
    scales = [(spec.strip(), _checked(spec)) for spec in specs]
    if len({label for label, _ in scales}) != len(scales):
        raise UserError("--scale: each scale may be given once")
    config = bandit.BanditConfig(iterations=args.iterations or 10_000, seeds=args.seeds,
                                 lr=args.lr or 0.01,
                                 lr_sweep=tuple(_floats(args.lr_sweep, "--lr-sweep", positive=True)))
    return config, scales


def _run_bandit(args: argparse.Namespace, config: Any, scales: list[tuple[str, CheckedScale]],
                out: Path) -> dict[str, Any]:
    from agents import bandit

    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    bar = _Progress(config.iterations, "bandit", not args.no_progress)
    try:
        traj = bandit.train(config, scales, bar)
    finally:
        bar.close()
    seconds["train"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    results = bandit.analyse(traj, config, _scale_info(scales),
                             None if args.no_progress else lambda m: print(f"  {m}", file=sys.stderr),
                             quick=args.quick)
    seconds["analyse"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    figures = bandit.plot(results, out)
    seconds["plot"] = time.perf_counter() - t0
    results["seconds"] = seconds
    results["figures"] = [p.name for p in figures]
    atomic_write(out / "summary.md", bandit.summary(results, seconds))
    return results


def _setup_fourroom(args: argparse.Namespace) -> tuple[Any, list[tuple[str, CheckedScale]]]:
    from agents import fourroom

    if args.scale:
        scales = [(spec.strip(), _checked(spec)) for spec in args.scale]
    else:
        alphas = _floats(args.alpha_r or DEFAULT_ALPHA_R, "--alpha-r", positive=False)
        if not alphas:
            raise UserError("--alpha-r: give at least one value")
        scales = [(f"f_MLA(0,{a:g})", _checked("mla_param", {"ao": "0", "ar": repr(a)})) for a in alphas]
    if len({label for label, _ in scales}) != len(scales):
        raise UserError("each scale may be given once")
    config = fourroom.FourRoomConfig(steps=args.iterations or fourroom.FourRoomConfig.steps, runs=args.seeds)
    return config, scales


def _run_fourroom(args: argparse.Namespace, config: Any, scales: list[tuple[str, CheckedScale]],
                  out: Path) -> dict[str, Any]:
    from agents import fourroom

    critic = _checked("q")  # the critic's squared-error update UQ(identity) is a rule too
    seconds: dict[str, float] = {}
    curves = {}
    for algo in fourroom.ALGORITHMS:
        t0 = time.perf_counter()
        bar = _Progress(config.steps, algo, not args.no_progress)
        try:
            curves[algo] = fourroom.train(algo, config, scales, critic, bar)
        finally:
            bar.close()
        seconds[f"train_{algo}"] = time.perf_counter() - t0
    results = fourroom.analyse(curves, config, _scale_info([*scales, ("critic: f_Q", critic)]))
    t0 = time.perf_counter()
    figures = fourroom.plot(results, out)
    seconds["plot"] = time.perf_counter() - t0
    results["seconds"] = seconds
    results["figures"] = [p.name for p in figures]
    atomic_write(out / "summary.md", fourroom.summary(results, seconds))
    return results


def run(args: argparse.Namespace) -> int:
    name = str(args.experiment).strip().lower()
    if name not in EXPERIMENTS:
        raise UserError(f"unknown experiment {args.experiment!r}; choose one of {', '.join(EXPERIMENTS)}")
    if args.seeds < 1:
        raise UserError(f"--seeds must be at least 1 (got {args.seeds})")
    if args.iterations is not None and args.iterations < 1:
        raise UserError(f"--iterations must be at least 1 (got {args.iterations})")
    _check_options(name, args)
    config, scales = _setup_bandit(args) if name == "bandit" else _setup_fourroom(args)
    out = _prepare_out(args.out if args.out is not None else Path("runs") / name)
    staging = out / f".staging-{os.getpid()}"

    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small tensors: threads only add overhead, and the machine is shared
    t0 = time.perf_counter()
    try:
        staging.mkdir()
        experiment = _run_bandit if name == "bandit" else _run_fourroom
        results = experiment(args, config, scales, staging)
        results.setdefault("seconds", {})["total"] = time.perf_counter() - t0
        atomic_write(staging / "results.json",
                      json.dumps(results, indent=1, ensure_ascii=False, allow_nan=True))
        # results.json, the record every other file is drawn from, goes in last
        for path in sorted(staging.iterdir(), key=lambda p: (p.name == "results.json", p.name)):
            os.replace(path, out / path.name)
    finally:
        torch.set_num_threads(threads)  # run() may be called in-process (tests, notebooks)
        shutil.rmtree(staging, ignore_errors=True)
    print(f"pgcheck experiment {name}: wrote {out / 'results.json'}, {out / 'summary.md'} and "
          f"{len(results.get('figures', []))} figures in {results['seconds']['total']:.1f} s")
    return 0

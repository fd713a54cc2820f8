"""``pgcheck sweep``: the paper's search (sec. 6.3) over a grid of scale parameters and α, × seeds.

Only argv handling lives here; the sweep itself is :mod:`agents.sweep`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from pgcheck.errors import UserError
from pgcheck_cli.commands import train

if TYPE_CHECKING:   # the heavy import stays out of startup
    from agents.sweep import Plan

HELP = "search a grid of (αo, αr, α, ε) × seeds, validated point by point; re-run the best on fresh seeds"

EPILOG = """\
examples
  pgcheck sweep --env Hopper-v5 --grid ao=0.1,0.5,1 --grid ar=0.5,1 --seeds 0-4 --total-steps 1000000
  pgcheck sweep --grid ao=-0.5,0.1 --grid alpha=0,0.01 --seeds 0-9 --fresh-seeds 100-109
  pgcheck sweep --resume runs/hopper-sweep-20260101-120000       (continues where it stopped)
grid keys: a scale parameter (ao, ar, eps for mla_ppo) or a per-run config field (alpha, ent_coef, ...);
  every point's scale is validated first: an INVALID point is skipped and listed with its counterexample
seeds: the search trains every valid point on --seeds; the point with the highest IQM of final return is
  trained again on --fresh-seeds (default: as many seeds, after the largest search seed), and both IQMs
  are reported: the search's is biased upwards by the selection. Below 5 seeds: no interval.
outputs: OUT/{plan.json, search/LABEL/seed_K, selection.json, fresh/LABEL/seed_K, report.md, report.json,
  heatmap.png}; the runs are those of pgcheck train (compare, evaluate read them)
exit status: 0 done, 1 a run failed (NaN/inf loss), 2 bad input (every point INVALID included)"""

_PLAN_DEFINING = ("env", "preset", "scale", "alpha", "ent_coef", "total_steps", "seeds", "fresh_seeds",
                  "num_envs", "out")


def configure(p: argparse.ArgumentParser) -> None:
    p.epilog = EPILOG
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--env", help=f"Gymnasium id with Box actions (default {train.DEFAULT_ENV})")
    p.add_argument("--preset", help="the base configuration: ppo or mla-ppo (default mla-ppo, Table 2's row; "
                   "with --scale, ppo)")
    p.add_argument("--scale", help="override the preset's scale: a name or an expression in x = ΔO, y = ΔR")
    p.add_argument("--param", action="append", default=[], metavar="K=V", help="a fixed scale parameter")
    p.add_argument("--grid", action="append", default=[], metavar="K=V1,V2,..",
                   help="the values of one axis (ao, ar, eps, alpha, ...); repeatable, the axes are crossed")
    p.add_argument("--alpha", type=float, help="α of eq. 29 where the grid does not vary it")
    p.add_argument("--ent-coef", type=float, help="β, the entropy weight of eq. 30")
    p.add_argument("--total-steps", type=int, help="environment steps per run (default 1000000)")
    p.add_argument("--seeds", help="search seeds: 3, 0-4, 0,2,7 (default 0-4)")
    p.add_argument("--fresh-seeds", help="seeds for the best point's re-run, disjoint from --seeds "
                   "(default: as many, after the largest search seed)")
    p.add_argument("--num-envs", type=int, help="parallel environments per run (default 1)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], help="torch device (default auto)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="any other config field (see pgcheck train --help)")
    p.add_argument("--out", type=Path, help="sweep directory (default runs/ENV-sweep-TIME)")
    p.add_argument("--backend", choices=["local", "ray"], default="local", help="local processes or a Ray cluster")
    p.add_argument("--ray-address", help="Ray cluster address (default: start or join a local one)")
    p.add_argument("--workers", type=int,
                   help="parallel local processes (default: one per CPU with at least 4 lanes each, as pgcheck train)")
    p.add_argument("--resume", type=Path, metavar="SWEEP_DIR",
                   help="continue a stopped sweep with its recorded plan (finished runs are not trained again; only "
                   "--device, --workers, --backend, --ray-address and --no-progress may change)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from agents import sweep
    from agents.ppo import resolve_device

    train.check_launch_options(args)
    if args.resume is not None:
        given = [f"--{n.replace('_', '-')}" for n in _PLAN_DEFINING if getattr(args, n) is not None]
        given += [opt for opt, vs in (("--param", args.param), ("--set", args.set), ("--grid", args.grid)) if vs]
        if given:
            raise UserError(f"--resume continues a sweep with its recorded plan; {', '.join(given)} cannot "
                            "change it (start a new sweep instead)")
        if not args.resume.is_dir():
            raise UserError(f"--resume {args.resume}: no such directory")
        plan = sweep.read_plan(args.resume)
        if args.device is not None:
            plan = plan.on_device(args.device)
        resolve_device(plan.base.device)   # an unavailable device is refused before any run moves to it
        print(f"pgcheck sweep: resuming {args.resume}")
    else:
        plan = _new_plan(args)
    from agents.rundir import provenance

    launch = sweep.local_launcher(args.workers, args.backend, args.ray_address, not args.no_progress)
    report, results = sweep.run_sweep(plan, launch, origin=provenance(sys.argv, plan.base.device))
    failed = [r for r in results if r.status == "failed"]
    for r in failed:
        print(f"pgcheck: error: {r.run}: {r.message}", file=sys.stderr)
    print()
    print(report.markdown, end="")
    print(f"\ntable: {report.table}  data: {report.data}  heat map: {report.heatmap}")
    return 1 if failed else 0


def _new_plan(args: argparse.Namespace) -> Plan:
    from agents import sweep
    from agents.envs import make_env
    from agents.ppo import resolve_device

    if not args.grid:
        raise UserError("give the grid: --grid K=V1,V2,... (e.g. --grid ao=0.1,1 --grid ar=0.5,1)")
    axes = train.parse_grid(args.grid)
    seeds = train.parse_seeds(args.seeds or "0-4")
    if args.fresh_seeds is not None:
        fresh = train.parse_seeds(args.fresh_seeds)
    else:
        fresh = list(range(max(seeds) + 1, max(seeds) + 1 + len(seeds)))
    if set(seeds) & set(fresh):
        raise UserError(f"--fresh-seeds {args.fresh_seeds}: must be disjoint from --seeds {args.seeds}")
    # with --scale the preset gives only the machinery (train's default, ppo, exists for every task)
    preset = args.preset or (train.DEFAULT_PRESET if args.scale is not None else "mla-ppo")
    ns = argparse.Namespace(**{**vars(args), "preset": [preset]})
    base = train.build_config(ns, preset_name=preset)
    (variant,) = train.whole_rollouts([train.Variant(None, preset, {}, base)])
    base = variant.config
    resolve_device(base.device)   # an unavailable device is refused before the sweep directory exists
    make_env(base.env_id).close()
    out: Path = args.out if args.out is not None else (
        Path("runs") / f"{base.env_id.split('-v')[0].lower()}-sweep-{time.strftime('%Y%m%d-%H%M%S')}")
    if out.exists() and any(out.iterdir()):
        raise UserError(f"{out} exists and is not empty; choose another --out or use --resume {out}")
    plan = sweep.create_plan(out, base, axes, seeds, fresh, command=sys.argv[1:])
    print(f"pgcheck sweep: {base.env_id}, f = {base.scale} {base.scale_params}, α = {base.alpha}, "
          f"{base.total_steps} steps per run, {len(plan.points)} grid point(s)")
    for p in plan.points:
        print(f"  {p.label}: {p.verdict}" + (f", skipped: {p.counterexample}" if not p.valid else ""))
    return plan


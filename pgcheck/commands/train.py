"""``pgcheck train``: PPO-family training on a Gymnasium task with a checked scale function.

The scale goes through :func:`pgcheck.check.checked_scale` first; an INVALID scale stops here, with
its counterexample, before any environment exists.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.util
import os
import sys
import time
from pathlib import Path
from typing import Any

from pgcheck.commands.validate import parse_params
from pgcheck.errors import UserError

DEFAULT_ENV = "Hopper-v5"
DEFAULT_PRESET = "ppo"
# options that define a run; --resume takes the run's recorded values and refuses these
_RUN_DEFINING = ("env", "preset", "scale", "alpha", "ent_coef", "total_steps", "seeds", "num_envs", "out")

HELP = "train PPO or MLA-PPO (update Uπ(f) with a checked scale f) on a Gymnasium/MuJoCo task"

EPILOG = """\
examples
  pgcheck train --env Hopper-v5 --preset mla-ppo --seeds 0-2 --total-steps 1000000
  pgcheck train --env Hopper-v5 --scale mla_ppo --param ao=0.1 --param ar=1 --alpha 0.01
  pgcheck train --env Walker2d-v5 --scale 'exp(x) * y if y > 0 and x < 0.2 else 0'
  pgcheck train --resume runs/hopper-mla-ppo      (continues every unfinished seed)
outputs: RUN/seed_K/{config.json, certificate.json, metrics.csv, episodes.csv, checkpoint.pt, tb/}
exit status: 0 trained, 1 a run stopped (NaN/inf loss), 2 bad input (including an INVALID scale)"""


def configure(p: argparse.ArgumentParser) -> None:
    p.epilog = EPILOG
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--env", help=f"Gymnasium id with Box actions (default {DEFAULT_ENV})")
    p.add_argument("--preset", help=f"ppo or mla-ppo (Table 2 of the paper); default {DEFAULT_PRESET}")
    p.add_argument("--scale", help="override the preset's scale: a name (ppo, mla_ppo, ...) or an expression "
                   "in x = ΔO, y = ΔR")
    p.add_argument("--param", action="append", default=[], metavar="K=V",
                   help="a scale parameter (e.g. eps=0.2); repeatable")
    p.add_argument("--alpha", type=float, help="α of eq. 29 (ΔR = Â − α(log π + H))")
    p.add_argument("--ent-coef", type=float, help="β, the entropy weight of eq. 30")
    p.add_argument("--total-steps", type=int, help="environment steps per seed (default 1000000)")
    p.add_argument("--seeds", help="a seed, range or list: 3, 0-4, 0,2,7 (default 0)")
    p.add_argument("--num-envs", type=int, help="parallel environments per run (default 1)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], help="torch device (default auto)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="any other config field, e.g. --set learning_rate=1e-4 --set clip_vloss=false")
    p.add_argument("--out", type=Path, help="run directory (default runs/ENV-PRESET-TIME)")
    p.add_argument("--backend", choices=["local", "ray"], default="local",
                   help="local processes (default) or a Ray cluster")
    p.add_argument("--ray-address", help="Ray cluster address (default: start or join a local one)")
    p.add_argument("--workers", type=int, help="parallel local processes: the seeds of a batched MuJoCo task train "
                   "as lanes of one process by default, split over N processes with --workers N (other "
                   "environments: one process per seed, default min(seeds, CPUs))")
    p.add_argument("--resume", type=Path, metavar="RUN_DIR",
                   help="continue the unfinished runs in RUN_DIR with their recorded configuration "
                   "(only --device, --workers, --backend and --no-progress may change)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


# ---------------------------------------------------------------------------------------------------


def _convert(field: dataclasses.Field[Any], text: str) -> Any:
    kind = str(field.type)
    t = text.strip()
    try:
        if kind == "bool":
            if t.lower() in ("1", "true", "yes", "on"):
                return True
            if t.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(t)
        if kind == "int":
            return int(t)
        if kind == "float":
            return float(t)
        if kind == "float | None":
            return None if t.lower() == "none" else float(t)
        if kind == "str":
            return t
        if kind.startswith("tuple"):
            return tuple(int(v) for v in t.split(",") if v.strip())
    except ValueError:
        raise UserError(f"--set {field.name}={text}: not a valid {kind}") from None
    raise UserError(f"--set cannot set {field.name} (use the dedicated option)")


def build_config(args: argparse.Namespace) -> Any:
    """The resolved PPOConfig (seed 0) from the preset and the options; raises UserError."""
    from agents.ppo import PPOConfig
    from agents.presets import preset

    env_id = args.env or DEFAULT_ENV
    values: dict[str, Any] = dict(preset(args.preset or DEFAULT_PRESET, env_id))
    values["env_id"] = env_id
    params = parse_params(args.param)
    if args.scale is not None:
        values["scale"] = args.scale
        values["scale_params"] = params
        if args.alpha is None:
            values["alpha"] = 0.0
    elif params:
        values["scale_params"] = {**values["scale_params"], **params}
    for opt, name in (("alpha", "alpha"), ("ent_coef", "ent_coef"), ("total_steps", "total_steps"),
                      ("num_envs", "num_envs"), ("device", "device")):
        if getattr(args, opt) is not None:
            values[name] = getattr(args, opt)
    by_name = {f.name: f for f in dataclasses.fields(PPOConfig)}
    for item in args.set:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in by_name:
            raise UserError(f"--set {item!r}: write FIELD=VALUE with a config field "
                            f"({', '.join(sorted(by_name))})")
        if key in ("scale", "scale_params", "seed", "env_id"):
            raise UserError(f"--set {key}: use --scale/--param, --seeds or --env")
        values[key] = _convert(by_name[key], value)
    if "eps" in values.get("scale_params", {}):
        from pgcheck.expr import ExprError, parse_number

        with contextlib.suppress(ExprError, ValueError):
            values.setdefault("clip_eps_diagnostic", float(parse_number(values["scale_params"]["eps"])))
    config = PPOConfig(**values)
    problems = config.problems()
    if problems:
        raise UserError("bad configuration: " + "; ".join(problems))
    return config


def checked(scale: str, params: dict[str, str]) -> Any:
    """The CheckedScale, or a UserError that carries the counterexample."""
    from pgcheck.certificate import InvalidScaleError
    from pgcheck.check import checked_scale
    from pgcheck.expr import ExprError

    try:
        return checked_scale(scale, params)
    except InvalidScaleError as exc:
        raise UserError(f"{exc}; training refused (no environment was created)") from None
    except ExprError as exc:
        raise UserError(f"--scale {scale!r}: {exc}") from None


def _default_out(config: Any, preset: str | None) -> Path:
    label = preset if preset else "custom"
    return Path("runs") / f"{config.env_id.split('-v')[0].lower()}-{label}-{time.strftime('%Y%m%d-%H%M%S')}"


def run(args: argparse.Namespace) -> int:
    if args.backend == "ray" and importlib.util.find_spec("ray") is None:
        raise UserError("install ray to use --backend ray (pip install 'ray[default]')")
    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers must be at least 1 (got {args.workers})")
    if args.resume is not None:
        return _resume(args)
    from agents.ppo import resolve_device
    from agents.runner import parse_seeds

    seeds = parse_seeds(args.seeds or "0")
    config = build_config(args)
    scale = checked(config.scale, config.scale_params)  # before any environment exists
    resolve_device(config.device)  # an unavailable device is refused before any run directory exists
    from agents.envs import make_env
    from agents.runner import create_run

    preset_name = None if args.scale is not None else args.preset or DEFAULT_PRESET
    make_env(config.env_id).close()
    out: Path = args.out if args.out is not None else _default_out(config, preset_name)
    if out.exists() and any(out.iterdir()):
        raise UserError(f"{out} exists and is not empty; choose another --out or use --resume {out}")
    label = preset_name or f"scale {config.scale}"
    print(f"pgcheck train: {config.env_id}, {label}: f = {scale.name} "
          f"{config.scale_params or ''} [{scale.certificate.overall}], α = {config.alpha}, "
          f"{config.total_steps} steps × {len(seeds)} seed(s)")
    jobs = []
    for s in seeds:
        run_dir = out / f"seed_{s}"
        create_run(run_dir, dataclasses.replace(config, seed=s), scale.certificate.to_json(),
                   {"label": out.name, "preset": preset_name,
                    "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "argv": sys.argv[1:]})
        jobs.append((str(run_dir), False))
    return _launch(args, jobs, out)


def _resume(args: argparse.Namespace) -> int:
    from agents.ppo import resolve_device
    from agents.rundir import read_config, write_json
    from agents.runner import pending_jobs

    root: Path = args.resume
    if not root.exists():
        raise UserError(f"--resume {root}: no such directory")
    given = [f"--{name.replace('_', '-')}" for name in _RUN_DEFINING if getattr(args, name) is not None]
    given += [opt for opt, values in (("--param", args.param), ("--set", args.set)) if values]
    if given:
        raise UserError(f"--resume continues a run with its recorded configuration; {', '.join(given)} "
                        "cannot change it (start a new run instead)")
    jobs = pending_jobs(root)
    if not jobs:
        print(f"pgcheck train: every run under {root} has finished")
        return 0
    for run_dir, _ in jobs:
        config = read_config(Path(run_dir))
        resolve_device(args.device or config.device)
        if args.device is not None and args.device != config.device:
            # the device is machinery, not a hyperparameter: a run may move, e.g. from a GPU box to a CPU
            write_json(Path(run_dir) / "config.json",
                       dataclasses.replace(config, device=args.device).to_dict())
    print(f"pgcheck train: resuming {len(jobs)} run(s) under {root}")
    return _launch(args, jobs, root)


def _launch(args: argparse.Namespace, jobs: list[tuple[str, bool]], out: Path) -> int:
    from agents.lanerun import lane_groups, run_groups_local, run_groups_ray
    from agents.runner import run_local, run_ray

    # runs of a batched MuJoCo task train as lanes of one trainer (one process by default; --workers N
    # splits them over N processes, --backend ray makes each group a Ray task); others one run per process
    results = []
    for resume in sorted({r for _, r in jobs}):
        these = [j for j in jobs if j[1] == resume]
        groups, single = lane_groups(these, args.workers or 1)
        if groups:
            results += (run_groups_ray(groups, resume, args.ray_address) if args.backend == "ray"
                        else run_groups_local(groups, resume, args.workers or 1, progress=not args.no_progress))
        if single:
            if args.backend == "ray":
                results += run_ray(single, args.ray_address)
            else:
                workers = args.workers or min(len(single), os.cpu_count() or 1)
                results += run_local(single, workers, progress=not args.no_progress)
    failed = 0
    for r in results:
        ret = "-" if r.recent_return != r.recent_return else f"{r.recent_return:.1f}"
        print(f"  {r.run}: {r.status} at step {r.global_step}, mean return of the last 20 episodes {ret}")
        if r.status == "failed":
            failed += 1
            print(f"pgcheck: error: {r.run}: {r.message}", file=sys.stderr)
    print(f"runs in {out}  (metrics: RUN/metrics.csv, episodes: RUN/episodes.csv; "
          f"compare: pgcheck compare {out})")
    return 1 if failed else 0


def demo_step(total_steps: int = 6144, out: Path | None = None) -> None:
    """A short MLA-PPO training on Hopper-v5 (Table 2's Hopper setting), then its plot; prints paths."""
    from agents.compare import compare_runs

    out = out if out is not None else Path("runs") / f"demo-hopper-mla-ppo-{time.strftime('%Y%m%d-%H%M%S')}"
    print(f"== pgcheck train --env Hopper-v5 --preset mla-ppo --total-steps {total_steps} --out {out} ==")
    args = configure_defaults(["--env", "Hopper-v5", "--preset", "mla-ppo", "--total-steps", str(total_steps),
                               "--out", str(out), "--no-progress"])
    code = run(args)
    if code != 0:
        raise UserError(f"the demo training run failed (exit {code}); see {out}")
    report = compare_runs([out], out / "compare")
    run_dir = out / "seed_0"
    print(f"run directory: {run_dir}")
    print(f"metrics:       {run_dir / 'metrics.csv'}  (per update), {run_dir / 'episodes.csv'} (per episode)")
    print(f"certificate:   {run_dir / 'certificate.json'}")
    print(f"plot:          {report['plot']}")


def configure_defaults(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="pgcheck train")
    configure(p)
    return p.parse_args(argv)

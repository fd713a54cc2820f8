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
import re
import sys
import time
from pathlib import Path
from typing import Any

from agents.config import ALGOS
from agents.presets import S001, preset_family, preset_names
from pgcheck.errors import UserError
from pgcheck_cli.commands.validate import parse_params

DEFAULT_ENV = "Hopper-v5"
DEFAULT_PRESET = "ppo"
# options that define a run; --resume takes the run's recorded values and refuses these
_RUN_DEFINING = ("env", "preset", "algo", "scale", "alpha", "ent_coef", "total_steps", "seeds", "num_envs", "out")
# what a --grid may not vary besides agents.lanes.SHARED_FIELDS (the fields the lanes of one trainer share)
_RUN_IDENTITY = ("scale", "scale_params", "seed", "env")

HELP = ("train PPO, MLA-PPO or another update family of seed 001 (update Uπ(f) with a checked scale f) on a "
        "Gymnasium/MuJoCo task")

EPILOG = """\
examples
  pgcheck train --env Hopper-v5 --preset mla-ppo --seeds 0-2 --total-steps 1000000
  pgcheck train --env Hopper-v5 --scale mla_ppo --param ao=0.1 --param ar=1 --alpha 0.01
  pgcheck train --env Walker2d-v5 --scale 'exp(x) * y if y > 0 and x < 0.2 else 0'
  pgcheck train --resume runs/hopper-mla-ppo      (continues every unfinished seed)
  pgcheck train --preset ppo --preset mla-ppo --seeds 0-7          (16 lanes; 2 processes of 8 on 2 CPUs)
  pgcheck train --preset mla-ppo --grid ao=0.5,1 --grid ar=0,0.5 --seeds 0-4   (a 2 x 2 grid x 5 seeds)
  pgcheck train --algo a2c --seeds 0-2          (seed 001's A2C with its Table 2 settings: preset s001-a2c)
algorithms (--algo NAME; alone it trains preset s001-NAME, seed 001's Appendix A / Table 2 settings, see
  agents/presets.py): ppo (Uπ(f) over minibatch epochs; --algo ppo is s001-ppo, while the default without
  --algo stays --preset ppo, CleanRL's settings), a2c (Uπ(q), ΔR = GAE Â, one epoch, entropy 0.1), reinforce
  (Uπ(q), ΔR = the Monte Carlo return, one env, one minibatch), ppo-kl (Uπ(sq) plus seed 003's adaptive KL
  penalty, outside the class; batched MuJoCo tasks only), and the other families of agents.algos; every run
  logs policy_kl, the KL between consecutive policies (seed 001 §6, Figure 5)
configurations: every --preset (repeatable) times every point of the --grid product is one configuration,
  trained for every seed; on a batched MuJoCo task they are lanes: one process per CPU with at least 4
  lanes each by default, N processes with --workers N (--workers 1: all in one)
outputs: one configuration: RUN/seed_K/{config.json, certificate.json, run.json (provenance), status.json,
  metrics.csv, episodes.csv, checkpoint.pt, tb/, lock (while a process trains it)}; several:
  RUN/LABEL/seed_K/..., LABEL = preset and grid values (mla-ppo_ao=0.5_ar=0);
  pgcheck compare RUN compares the configurations, pgcheck train --resume RUN continues them all
exit status: 0 trained, 1 a run stopped (NaN/inf loss), 2 bad input (including an INVALID scale)"""


def parse_seeds(text: str) -> list[int]:
    """``"3"``, ``"0-4"``, ``"0,2,7"`` or a mix (``"0-2,9"``) → sorted distinct seeds."""
    seeds: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise UserError(f"--seeds {text!r}: write a seed (3), a range (0-4) or a list (0,2,7)")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        if hi < lo:
            raise UserError(f"--seeds {text!r}: the range {part} is empty")
        if hi - lo > 10_000:
            raise UserError(f"--seeds {text!r}: more than 10000 seeds")
        seeds.update(range(lo, hi + 1))
    return sorted(seeds)


def configure(p: argparse.ArgumentParser) -> None:
    p.epilog = EPILOG + "\n" + _set_help()
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--env", help=f"Gymnasium id with Box actions (default {DEFAULT_ENV})")
    p.add_argument("--preset", action="append", metavar="NAME",
                   help=f"one of {', '.join(preset_names())} (mla-ppo*: Table 2 of the paper; *acme-2021: ACME's PPO "
                   f"of 2021 as far as pgcheck expresses it; s001-*: seed 001's Table 2 per update family; see "
                   f"agents/presets.py); default {DEFAULT_PRESET}; repeatable: each preset is a configuration of "
                   "its own (RUN/PRESET/seed_K)")
    p.add_argument("--algo", metavar="NAME",
                   help=f"the update family, one of {', '.join(ALGOS)} (seed 001 Table 1): alone, seed 001's preset "
                   f"{S001}NAME (--algo ppo is {S001}ppo; without --algo the default stays {DEFAULT_PRESET}, "
                   "CleanRL's); with --preset, every preset must be of that family")
    p.add_argument("--grid", action="append", default=[], metavar="K=V1,V2,..",
                   help="train every value: K a scale parameter (ao, ar, eps, ...) or a per-run config field "
                   "(alpha, ent_coef, learning_rate, ...); repeatable, the grids are crossed")
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
                   help="any other config field, e.g. --set learning_rate=1e-4 --set clip_vloss=false "
                   "(the fields are listed below)")
    p.add_argument("--out", type=Path, help="run directory (default runs/ENV-PRESET-TIME)")
    p.add_argument("--backend", choices=["local", "ray"], default="local",
                   help="local processes (default) or a Ray cluster")
    p.add_argument("--ray-address", help="Ray cluster address (default: start or join a local one)")
    p.add_argument("--workers", type=int, help="parallel local processes: the seeds of a batched MuJoCo task train "
                   "as lanes, by default one process per CPU with at least 4 lanes each (16 seeds on 2 CPUs: "
                   "2 processes of 8), over N processes with --workers N (other "
                   "environments: one process per seed, default min(seeds, CPUs))")
    p.add_argument("--resume", type=Path, metavar="RUN_DIR",
                   help="continue the unfinished runs in RUN_DIR with their recorded configuration "
                   "(only --device, --workers, --backend and --no-progress may change)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


# ---------------------------------------------------------------------------------------------------


def _convert(name: str, text: str, option: str = "--set") -> Any:
    """``text`` as the value of config field ``name``, by the field's type (:meth:`PPOConfig.parse`)."""
    from agents.config import PPOConfig

    kinds = {n: kind for n, kind, _, _ in PPOConfig.field_docs()}
    try:
        return PPOConfig.parse(name, text)
    except KeyError:
        raise UserError(f"{option} cannot set {name} (use the dedicated option)") from None
    except ValueError:
        raise UserError(f"{option} {name}={text}: not a valid {kinds.get(name, 'value')}") from None


def _set_help() -> str:
    """The --set section of the epilog: every config field with its type, default and help (from the
    dataclass's field metadata)."""
    from agents.config import PPOConfig

    rows = [(n, k, d, h) for n, k, d, h in PPOConfig.field_docs() if n not in ("scale", "seed", "env_id")]
    width = max(len(f"{n}={k}") for n, k, _, _ in rows)
    lines = [f"  {f'{n}={k}'.ljust(width)}  {h} (default {d})" for n, k, d, h in rows]
    return "config fields for --set FIELD=VALUE (bool: true/false):\n" + "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class Variant:
    """One configuration of a ``train`` command: a preset (None with --scale) and one point of the --grid
    product; ``label`` names its directory under RUN (None when the command has only this configuration)."""

    label: str | None
    preset: str | None
    grid: dict[str, str]
    config: Any            # PPOConfig with seed 0
    requested_steps: int | None = None   # the total steps asked for, when config.total_steps was cut down


def parse_grid(items: list[str]) -> list[tuple[str, list[str]]]:
    """``["ao=0.5,1", "ar=0"]`` → ``[("ao", ["0.5", "1"]), ("ar", ["0"])]`` (values kept as written)."""
    from agents.lanes import SHARED_FIELDS

    out: list[tuple[str, list[str]]] = []
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        values = [v.strip() for v in text.split(",")]
        if not sep or not key or not all(values):
            raise UserError(f"--grid {item!r}: write KEY=V1,V2,..., e.g. --grid ao=0.5,1")
        if key in (k for k, _ in out):
            raise UserError(f"--grid {key} given twice (write all its values in one --grid)")
        if len(set(values)) < len(values):
            raise UserError(f"--grid {item!r}: a value is repeated")
        if key in _RUN_IDENTITY or key in SHARED_FIELDS:
            raise UserError(f"--grid {key}: only a scale parameter or a per-run field (alpha, ent_coef, "
                            f"learning_rate, ...) can vary; {key} is shared by every run of the command")
        out.append((key, values))
    return out


def _label_part(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._=+-" else "_" for ch in text)


def given_presets(args: argparse.Namespace) -> list[str]:
    """The command's presets: --preset, else seed 001's ``s001-NAME`` for --algo NAME, else the default; a
    --preset of another family than --algo is a UserError."""
    algo: str | None = getattr(args, "algo", None)
    if algo is None:
        return list(args.preset or [DEFAULT_PRESET])
    if algo not in ALGOS:
        raise UserError(f"--algo {algo!r}: choose one of {', '.join(ALGOS)}")
    for name in args.preset or []:
        if preset_family(name) != algo:
            raise UserError(f"--algo {algo} with --preset {name}: {name} is a preset of algorithm "
                            f"{preset_family(name)}, not {algo} (drop one of them)")
    return list(args.preset or [S001 + algo])


def build_configs(args: argparse.Namespace) -> list[Variant]:
    """Every configuration of the command: each --preset (or the one --scale) times each --grid point."""
    presets = given_presets(args)
    if len(set(presets)) < len(presets):
        raise UserError("--preset: a preset is given twice")
    if args.scale is not None and args.preset and len(args.preset) > 1:
        raise UserError("--scale replaces a preset's scale: give at most one --preset with it")
    grid = parse_grid(getattr(args, "grid", []))
    points: list[dict[str, str]] = [{}]
    for key, values in grid:
        points = [{**pt, key: v} for pt in points for v in values]
    heads: list[str | None] = [None] if args.scale is not None else list(presets)
    several = len(heads) * len(points) > 1
    out: list[Variant] = []
    for head in heads:
        for pt in points:
            config = build_config(args, preset_name=head, point=pt)
            label = None
            if several:
                first = head if head is not None else (args.scale if args.scale.isidentifier() else "custom")
                label = _label_part("_".join([first, *(f"{k}={v}" for k, v in pt.items())]))
            out.append(Variant(label, head, pt, config))
    algos = sorted({v.config.algo for v in out})
    if len(algos) > 1:
        raise UserError(f"the presets train different algorithms ({', '.join(algos)}): one command trains one "
                        "(give one --algo, or run one command per algorithm)")
    labels = [v.label for v in out]
    if len(set(labels)) < len(labels):
        raise UserError("two configurations would share a directory name; write the --grid values differently")
    return out


def build_config(args: argparse.Namespace, preset_name: str | None = None,
                 point: dict[str, str] | None = None) -> Any:
    """The resolved PPOConfig (seed 0) from a preset (default: the one --preset) and the options, with the
    --grid values ``point``; raises UserError."""
    from agents.ppo import PPOConfig
    from agents.presets import preset

    if preset_name is None:
        given = given_presets(args)
        if len(given) > 1:
            raise UserError("several --preset: use build_configs")
        preset_name = given[0]
    env_id = args.env or DEFAULT_ENV
    values: dict[str, Any] = dict(preset(preset_name, env_id))
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
        values[key] = _convert(key, value)
    for key, value in (point or {}).items():
        if key in by_name:
            values[key] = _convert(key, value, "--grid")
        else:  # a scale parameter; checked_scale refuses one the scale does not have
            values["scale_params"] = {**values["scale_params"], key: value}
    if "eps" in values.get("scale_params", {}):
        from pgcheck.expr import ExprError, parse_number

        with contextlib.suppress(ExprError, ValueError):
            values.setdefault("clip_eps_diagnostic", float(parse_number(values["scale_params"]["eps"])))
    config = PPOConfig(**values)
    problems = config.problems()
    if problems:
        raise UserError("bad configuration: " + "; ".join(problems))
    return config


def whole_rollouts(variants: list[Variant]) -> list[Variant]:
    """The configurations with ``total_steps`` cut down to whole rollouts (a run trains ``num_updates``
    rollouts of ``num_steps × num_envs``), keeping the steps asked for; says so in one line where they differ."""
    out, said = [], set()
    for v in variants:
        c = v.config
        trained = c.num_updates * c.batch_size
        if trained != c.total_steps:
            line = (f"pgcheck train: {c.total_steps} steps is not a whole number of rollouts of {c.batch_size} "
                    f"(num_steps {c.num_steps} × num_envs {c.num_envs}): each run trains {trained} steps "
                    f"({c.num_updates} updates); config.json records both")
            if line not in said:
                said.add(line)
                print(line)
            v = dataclasses.replace(v, config=dataclasses.replace(c, total_steps=trained),
                                    requested_steps=c.total_steps)
        out.append(v)
    return out


def checked(scale: str, params: dict[str, str]) -> Any:
    """The CheckedScale, or a UserError that carries the counterexample."""
    from pgcheck.check import checked_scale
    from pgcheck.expr import ExprError

    try:
        return checked_scale(scale, params)
    except ExprError as exc:
        raise UserError(f"--scale {scale!r}: {exc}") from None


def _default_out(config: Any, preset: str | None) -> Path:
    label = preset if preset else "custom"
    return Path("runs") / f"{config.env_id.split('-v')[0].lower()}-{label}-{time.strftime('%Y%m%d-%H%M%S')}"


def require_trainer(config: Any) -> None:
    """An algorithm with its own update (PPO-KL, ...) and an engine other than mujoco run on the lane trainer
    only: refused on another task before any run directory exists (the single-run trainer would refuse them only
    once the run is created)."""
    from agents.algos import registry
    from agents.tasks import TASKS

    if config.algo != "ppo" and registry()[config.algo].build is not None and config.env_id not in TASKS:
        raise UserError(f"--algo {config.algo} has its own update, which runs on the lane trainer only: use a "
                        f"batched MuJoCo task ({', '.join(TASKS)}), not {config.env_id}")
    if config.engine != "mujoco" and config.env_id not in TASKS:
        raise UserError(f"engine {config.engine} steps the lanes of a batched MuJoCo task only: use one of "
                        f"{', '.join(TASKS)}, not {config.env_id}")


def check_launch_options(args: argparse.Namespace) -> None:
    """--backend ray needs ray installed; --workers is at least 1 (train and sweep take both)."""
    if args.backend == "ray" and importlib.util.find_spec("ray") is None:
        raise UserError("install ray to use --backend ray (pip install 'pgcheck[ray]')")
    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers must be at least 1 (got {args.workers})")


def run(args: argparse.Namespace) -> int:
    check_launch_options(args)
    if args.resume is not None:
        return _resume(args)
    from agents.ppo import resolve_device

    seeds = parse_seeds(args.seeds or "0")
    variants = whole_rollouts(build_configs(args))
    scales = [checked(v.config.scale, v.config.scale_params) for v in variants]  # before any environment exists
    config = variants[0].config
    resolve_device(config.device)  # an unavailable device is refused before any run directory exists
    from agents.envs import make_env
    from agents.rundir import provenance, require_writable
    from agents.runner import create_run

    make_env(config.env_id).close()
    require_trainer(config)
    if len(variants) == 1:
        name = variants[0].preset
    else:
        name = "-".join(dict.fromkeys(v.preset or "custom" for v in variants)) + ("-grid" if args.grid else "")
    out: Path = args.out if args.out is not None else _default_out(config, name)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file, not a directory; choose another --out")
    if out.exists() and any(out.iterdir()):
        raise UserError(f"{out} exists and is not empty; choose another --out or use --resume {out}")
    require_writable(out)   # a read-only or immutable --out fails here, before any run directory
    origin = provenance(sys.argv, config.device)
    total = len(variants) * len(seeds)
    if len(variants) > 1:
        print(f"pgcheck train: {config.env_id}, {len(variants)} configurations × {len(seeds)} seed(s) = "
              f"{total} runs of {config.total_steps} steps")
    jobs = []
    for v, scale in zip(variants, scales, strict=True):
        c = v.config
        label = v.preset or f"scale {c.scale}"
        where = "" if v.label is None else f"{v.label}: "
        print(f"{'  ' if v.label else 'pgcheck train: '}{where}{c.env_id}, {label}: f = {scale.name} "
              f"{c.scale_params or ''} [{scale.certificate.overall}], α = {c.alpha}, "
              f"{c.total_steps} steps × {len(seeds)} seed(s)")
        base = out if v.label is None else out / v.label
        for s in seeds:
            run_dir = base / f"seed_{s}"
            create_run(run_dir, dataclasses.replace(c, seed=s), scale.certificate.to_json(),
                       {"label": out.name if v.label is None else f"{out.name}/{v.label}", "preset": v.preset,
                        "grid": v.grid, "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "argv": sys.argv[1:]},
                       requested_total_steps=v.requested_steps, origin=origin)
            jobs.append((str(run_dir), False))
    return _launch(args, jobs, out)


def _resume(args: argparse.Namespace) -> int:
    from agents.runner import pending_jobs

    root: Path = args.resume
    if not root.exists():
        raise UserError(f"--resume {root}: no such directory")
    given = [f"--{name.replace('_', '-')}" for name in _RUN_DEFINING if getattr(args, name) is not None]
    given += [opt for opt, values in (("--param", args.param), ("--set", args.set), ("--grid", args.grid))
              if values]
    if given:
        raise UserError(f"--resume continues a run with its recorded configuration; {', '.join(given)} "
                        "cannot change it (start a new run instead)")
    jobs = pending_jobs(root)
    if not jobs:
        print(f"pgcheck train: every run under {root} has finished")
        return 0
    print(f"pgcheck train: resuming {len(jobs)} run(s) under {root}")
    return _launch(args, jobs, root)


def _prepare_resume(args: argparse.Namespace, runs: list[Path]) -> None:
    """Under the runs' locks, before they train again: move them to --device, say which start afresh, and
    add this resume's provenance to run.json."""
    from agents.ppo import resolve_device
    from agents.rundir import CHECKPOINT, provenance, read_config, read_json, write_config, write_json

    origin = None
    for run in runs:
        config = read_config(run)
        resolve_device(args.device or config.device)
        if args.device is not None and args.device != config.device:
            # the device is machinery, not a hyperparameter: a run may move, e.g. from a GPU box to a CPU
            config = dataclasses.replace(config, device=args.device)
            write_config(run, config)
        if not (run / CHECKPOINT).is_file():
            print(f"pgcheck train: {run} has no checkpoint (it ended before its first one was saved): "
                  f"starting seed {config.seed} afresh")
        origin = origin or provenance(sys.argv, config.device)
        meta = read_json(run / "run.json") if (run / "run.json").is_file() else {}
        if isinstance(meta, dict):
            write_json(run / "run.json", {**meta, "resumes": [*meta.get("resumes", []), origin]})


def _launch(args: argparse.Namespace, jobs: list[tuple[str, bool]], out: Path) -> int:
    from agents.lanerun import lane_groups, run_groups_local, run_groups_ray
    from agents.rundir import locked
    from agents.runner import run_local, run_ray

    # runs of a batched MuJoCo task train as lanes of one trainer (one process per CPU with at least 4 lanes
    # each by default, agents.lanerun.default_lane_workers; --workers N
    # splits them over N processes, --backend ray makes each group a Ray task); others one run per process.
    # Runs to resume are locked while they are prepared and grouped (a second writer stops here, before
    # anything changes); each job then locks its runs again while it trains.
    progress = not args.no_progress
    plan = []
    resumed = [Path(r) for r, resume in jobs if resume]
    with locked(resumed):
        if resumed:
            _prepare_resume(args, resumed)
        for resume in sorted({r for _, r in jobs}):
            these = [j for j in jobs if j[1] == resume]
            plan.append((resume, *lane_groups(these, args.workers)))
    results = []
    for resume, groups, single in plan:
        if groups:
            results += (run_groups_ray(groups, resume, args.ray_address, progress) if args.backend == "ray"
                        else run_groups_local(groups, resume, args.workers, progress=progress))
        if single:
            if args.backend == "ray":
                results += run_ray(single, args.ray_address, progress)
            else:
                workers = args.workers or min(len(single), os.cpu_count() or 1)
                results += run_local(single, workers, progress=progress)
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

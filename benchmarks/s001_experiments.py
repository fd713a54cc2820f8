"""Seed 001's experiments (Lehmann, "The Definitive Guide to Policy Gradients", §6 and Appendix B), one command
each, resumable: run it again and unfinished runs continue from their checkpoints.

    .venv/bin/python benchmarks/s001_experiments.py figure4 [--tasks Hopper-v5,HalfCheetah-v5] [--seeds 5]
        [--steps 1000000] [--algos reinforce,a2c,trpo,ppo,vmpo] [--out runs/s001]
    .venv/bin/python benchmarks/s001_experiments.py b2 [--task HalfCheetah-v5] [--entropy 0,0.01,0.1]
    .venv/bin/python benchmarks/s001_experiments.py b3 [--task HalfCheetah-v5] [--algos a2c,reinforce]
        [--epochs 1,5]

* ``figure4``: every update family of seed 001's Table 1 (``pgcheck train --algo NAME``: its preset ``s001-NAME``,
  Appendix A) on each task; ``pgcheck compare`` of the families per task (Figure 4: returns, with rliable's
  IQM, stratified-bootstrap intervals, probability of improvement and performance profiles), Figure 5 (the KL
  between consecutive policies, ``policy_kl``: the unbiased estimator E[(r − 1) − log r], median and
  interquartile range over seeds, log scale) as ``OUT/figure4/TASK-kl.png``, and Table 3's comparison: our
  ``s001-ppo`` at the last step against the seed's PPO at 1M steps (its Table 3); with several tasks, also
  ``OUT/figure4/pooled-compare``: every family over all tasks at once (normalised scores, P(X > Y) per task).
* ``b2`` (Appendix B.2, Figure 6): A2C on HalfCheetah with entropy coefficients 0, 0.01 and 0.1 (``--grid
  ent_coef=...``: lanes of one process); returns and ``policy_kl``.
* ``b3`` (Appendix B.3, Figure 7): A2C and REINFORCE on HalfCheetah with 1 and 5 update epochs per batch (one
  ``pgcheck train`` each: the epochs are shared by the lanes of a trainer); returns and ``policy_kl``. A
  one-epoch group is the family's own preset, so where ``figure4`` trained it on the task with the same seeds
  and steps, b3 links to those runs instead of training them again (and says so).

Each prints its results as Markdown tables (also written beside the runs) for ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# seed 001, Appendix B.1, Table 3: mean returns of PPO at 1M steps as reported — the seed's own (MuJoCo v4) and
# the frameworks it lists at 1M (CleanRL v4, OpenAI Baselines v1, Stable-Baselines3 v3); None: not reported
TABLE3_AT_1M: dict[str, dict[str, float | None]] = {
    "seed 001": {"HalfCheetah-v5": 4332.0, "Hopper-v5": 895.0, "Humanoid-v5": 700.0, "Ant-v5": 1258.0},
    "CleanRL": {"HalfCheetah-v5": 2906.0, "Hopper-v5": 2052.0, "Humanoid-v5": 742.0, "Ant-v5": None},
    "Baselines": {"HalfCheetah-v5": 1669.0, "Hopper-v5": 2316.0, "Humanoid-v5": None, "Ant-v5": None},
    "SB3": {"HalfCheetah-v5": 5819.0, "Hopper-v5": 2410.0, "Humanoid-v5": None, "Ant-v5": 1327.0},
}


def pgcheck(*args: str) -> int:
    print("$ pgcheck " + " ".join(args), flush=True)
    return subprocess.call([sys.executable, "-m", "pgcheck_cli.main", *args], cwd=ROOT)


def status(run: Path) -> str:
    try:
        return str(json.loads((run / "status.json").read_text())["status"])
    except (OSError, ValueError, KeyError):
        return "new"


def train(out: Path, args: list[str]) -> int:
    """``pgcheck train ARGS --out OUT``, or ``--resume OUT`` where runs exist and are not all finished."""
    runs = sorted(p.parent for p in out.glob("**/seed_*/config.json"))
    if runs and all(status(r) == "finished" for r in runs):
        return 0
    if runs:
        return pgcheck("train", "--resume", str(out), "--no-progress")
    return pgcheck("train", *args, "--out", str(out), "--no-progress")


def metric_curves(group: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values (seeds, steps)) of one metrics.csv column over a group's seed runs, on the common steps."""
    series = []
    for run in sorted(group.glob("seed_*")):
        with (run / "metrics.csv").open(encoding="utf-8") as fh:
            rows = [(float(r["global_step"]), float(r[name])) for r in csv.DictReader(fh) if r.get(name)]
        if rows:
            series.append(np.array(rows))
    if not series:
        return np.zeros(0), np.zeros((0, 0))
    n = min(len(s) for s in series)
    return series[0][:n, 0], np.stack([s[:n, 1] for s in series])


def plot_kl(task_dir: Path, algos: list[str], out: Path) -> None:
    """Figure 5: ``policy_kl`` per family, median and interquartile range over seeds, log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for algo in algos:
        steps, values = metric_curves(task_dir / algo, "policy_kl")
        if not steps.size:
            continue
        values = np.clip(values, 1e-12, None)   # the k3 estimate is ≥ 0 up to rounding; log scale
        ax.plot(steps, np.median(values, 0), label=f"{algo} ({values.shape[0]} seeds)")
        ax.fill_between(steps, np.percentile(values, 25, 0), np.percentile(values, 75, 0), alpha=0.2)
    ax.set_yscale("log")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("KL(π_old ‖ π_new), k3 estimate")
    ax.set_title(f"{task_dir.name}: KL between consecutive policies")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def kl_table(task_dir: Path, groups: list[str], bound: float = 0.01) -> str:
    """Figure 5 in numbers: per group, ``policy_kl`` over the second half of training (after the initial
    movement the seed describes), pooled over seeds: median, interquartile range, maximum over the whole run,
    and the fraction of updates above ``bound`` (TRPO's δ and V-MPO's ε_μ in seed 001's Appendix A)."""
    lines = [f"| {task_dir.name} | updates | median KL, 2nd half | IQR | max | updates > {bound} |",
             "|---|---|---|---|---|---|"]
    for name in groups:
        steps, values = metric_curves(task_dir / name, "policy_kl")
        if not steps.size:
            continue
        half = values[:, steps.size // 2:]
        q1, q3 = np.percentile(half, [25, 75])
        lines.append(f"| {name} | {steps.size} | {np.median(half):.2e} | [{q1:.2e}, {q3:.2e}] | "
                     f"{values.max():.2e} | {np.mean(values > bound):.0%} |")
    return "\n".join(lines) + "\n"


def report_kl(runs: Path, groups: list[str], prefix: Path) -> None:
    """Figure 5 for ``groups`` under ``runs``: the plot ``PREFIX-kl.png`` and :func:`kl_table` as
    ``PREFIX-kl.md``, printed."""
    plot_kl(runs, groups, prefix.with_name(prefix.name + "-kl.png"))
    text = kl_table(runs, groups)
    prefix.with_name(prefix.name + "-kl.md").write_text(text, encoding="utf-8")
    print(text)


def final_returns(group: Path) -> list[float]:
    """Each seed run's mean training return over its last 5% of steps (agents.compare's final return)."""
    from agents.compare import load_run

    return [load_run(r).final_return() for r in sorted(group.glob("seed_*"))]


def figure4(args: argparse.Namespace) -> int:
    from agents import stats

    out = args.out / "figure4"
    algos = [a for a in args.algos.split(",") if a]
    failed = 0
    refs = list(TABLE3_AT_1M)
    table3 = ["| task | our s001-ppo: IQM of final returns [95% CI] | mean | seeds | "
              + " | ".join(f"{r} (Table 3, 1M)" for r in refs) + " |", "|---" * (4 + len(refs)) + "|"]
    tasks = [t for t in args.tasks.split(",") if t]
    for task in tasks:
        for algo in algos:
            failed |= train(out / task / algo, ["--env", task, "--algo", algo, "--seeds", f"0-{args.seeds - 1}",
                                                "--total-steps", str(args.steps)])
        failed |= pgcheck("compare", str(out / task), "--out", str(out / f"{task}-compare"))
        report_kl(out / task, algos, out / task)
        if "ppo" in algos:
            finals = np.array(final_returns(out / task / "ppo"))
            e, m = stats.estimate(finals), stats.estimate(finals, stats.mean)
            ci = f" [{e.lo:.0f}, {e.hi:.0f}]" if e.lo is not None and e.hi is not None else f" ({e.reason})"
            cells = [f"{v:.0f}" if (v := TABLE3_AT_1M[r].get(task)) is not None else "—" for r in refs]
            table3.append(f"| {task} | {e.value:.0f}{ci} | {m.value:.0f} | {e.n[0]} | " + " | ".join(cells) + " |")
    if len(tasks) > 1:   # rliable's aggregate view over the tasks (agents.compare.pooled_table)
        failed |= pgcheck("compare", *(str(out / t) for t in tasks), "--out", str(out / "pooled-compare"))
    text = "\n".join(table3) + "\n"
    (out / "table3.md").write_text(text, encoding="utf-8")
    print(text)
    return failed


def b2(args: argparse.Namespace) -> int:
    out = args.out / "b2" / args.task
    failed = train(out, ["--env", args.task, "--algo", "a2c", "--grid", f"ent_coef={args.entropy}",
                         "--seeds", f"0-{args.seeds - 1}", "--total-steps", str(args.steps)])
    failed |= pgcheck("compare", str(out), "--out", str(args.out / "b2" / f"{args.task}-compare"))
    report_kl(out, sorted(p.name for p in out.iterdir() if p.is_dir()), args.out / "b2" / args.task)
    return failed


def same_runs(group: Path, seeds: int, steps: int) -> bool:
    """Whether ``group`` holds exactly seeds 0..seeds-1, each asked for ``steps`` steps."""
    configs = sorted(group.glob("seed_*/config.json"))
    if len(configs) != seeds:
        return False
    found = [json.loads(c.read_text()) for c in configs]
    return (sorted(int(c["seed"]) for c in found) == list(range(seeds))
            and all(int(c.get("requested_total_steps", c["total_steps"])) == steps for c in found))


def b3(args: argparse.Namespace) -> int:
    from agents.presets import s001_preset

    base = args.out / "b3" / args.task
    base.mkdir(parents=True, exist_ok=True)
    failed = 0
    for algo in [a for a in args.algos.split(",") if a]:
        for epochs in [int(e) for e in args.epochs.split(",") if e]:
            group = base / f"{algo}-epochs={epochs}"
            shared = args.out / "figure4" / args.task / algo
            if (epochs == s001_preset(algo)["update_epochs"] and not group.exists()
                    and same_runs(shared, args.seeds, args.steps)):
                print(f"b3: {group.name} is figure4's {shared} (the same preset, seeds and steps): linked", flush=True)
                group.symlink_to(Path("..", "..", "figure4", args.task, algo))
            failed |= train(group, ["--env", args.task, "--algo", algo, "--set", f"update_epochs={epochs}",
                                    "--seeds", f"0-{args.seeds - 1}", "--total-steps", str(args.steps)])
    failed |= pgcheck("compare", str(base), "--out", str(args.out / "b3" / f"{args.task}-compare"))
    report_kl(base, sorted(p.name for p in base.iterdir() if p.is_dir()), args.out / "b3" / args.task)
    return failed


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="experiment", required=True)
    for name in ("figure4", "b2", "b3"):
        q = sub.add_parser(name)
        q.add_argument("--seeds", type=int, default=5)
        q.add_argument("--steps", type=int, default=1_000_000)
        q.add_argument("--out", type=Path, default=ROOT / "runs" / "s001")
        if name == "figure4":
            q.add_argument("--tasks", default="Hopper-v5,HalfCheetah-v5")
            q.add_argument("--algos", default="reinforce,a2c,trpo,ppo,vmpo")
        else:
            q.add_argument("--task", default="HalfCheetah-v5")
        if name == "b2":
            q.add_argument("--entropy", default="0,0.01,0.1")
        if name == "b3":
            q.add_argument("--algos", default="a2c,reinforce")
            q.add_argument("--epochs", default="1,5")
    args = p.parse_args()
    sys.path.insert(0, str(ROOT))
    return {"figure4": figure4, "b2": b2, "b3": b3}[args.experiment](args)


if __name__ == "__main__":
    raise SystemExit(main())

"""Compare groups of runs: learning curves with confidence bands, and a final-return table.

A *group* is a directory of seed runs (``RUN/seed_K``); a run given on its own joins the group of its
parent directory; a directory of such directories (``pgcheck train`` with several configurations:
``RUN/LABEL/seed_K``) gives one group per ``LABEL``. Per run:

* the learning curve at step g is the mean return of the last 10 training episodes finished by g;
* the final return is the mean return of the training episodes that finished in the last 5% of the
  run's steps (or of its last 10 episodes if that window holds fewer).

Per group: mean and interquartile mean (IQM) of the final returns, and of the deterministic evaluation
returns where runs have an ``evaluation.json`` (``pgcheck evaluate``), with 95% stratified-bootstrap intervals
over seeds (``agents.stats``, through rliable) only from 5 seeds per group: below that the table gives the
point value and says why there is no interval. Each further group is compared with the first: the IQM
difference and the probability of improvement P(group > first), with intervals when both have 5 seeds.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agents import stats
from agents.rundir import get_status, read_json, require_writable, run_groups, write_json
from pgcheck.errors import UserError
from pgcheck.files import atomic_save, atomic_write

CURVE_EPISODES = 10
FINAL_FRACTION = 0.05


@dataclass
class Run:
    path: Path
    config: dict[str, Any]
    steps: np.ndarray
    returns: np.ndarray
    status: str
    evaluation: float | None
    trained_steps: int = 0  # environment steps the run has taken (status.json), not its last episode's end
    evaluation_step: int | None = None  # the checkpoint step evaluation.json evaluated

    @property
    def last_step(self) -> int:
        return int(self.steps[-1]) if self.steps.size else 0

    def final_return(self) -> float:
        if self.returns.size == 0:
            return float("nan")
        window = self.returns[self.steps > self.last_step * (1.0 - FINAL_FRACTION)]
        if window.size < CURVE_EPISODES:
            window = self.returns[-CURVE_EPISODES:]
        return float(window.mean())

    def curve(self, grid: np.ndarray) -> np.ndarray:
        out = np.full(grid.shape, np.nan)
        ends = np.searchsorted(self.steps, grid, side="right")
        for k, e in enumerate(ends):
            if e > 0:
                out[k] = self.returns[max(0, e - CURVE_EPISODES):e].mean()
        return out


@dataclass
class Group:
    """Seed runs of one configuration on one task: a label given on several tasks is one group per task."""

    name: str
    env: str = ""
    runs: list[Run] = field(default_factory=list)

    def finals(self) -> np.ndarray:
        return np.array([r.final_return() for r in self.runs])


def load_run(path: Path) -> Run:
    steps: list[float] = []
    returns: list[float] = []
    ep = path / "episodes.csv"
    if ep.is_file():
        with open(ep, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                try:
                    s, r = float(row["global_step"]), float(row["episodic_return"])
                except (KeyError, TypeError, ValueError):
                    continue
                steps.append(s)
                returns.append(r)
    evaluation, evaluation_step = None, None
    if (path / "evaluation.json").is_file():
        try:
            ev = read_json(path / "evaluation.json")
            evaluation, step = float(ev["mean_return"]), ev.get("checkpoint_step")
            evaluation_step = int(step) if isinstance(step, int | float) else None
        except (UserError, ValueError, KeyError, TypeError):  # an unreadable evaluation is left out
            evaluation, evaluation_step = None, None
    order = np.argsort(np.array(steps), kind="stable")
    status = get_status(path)
    s_sorted = np.array(steps)[order]
    try:
        trained = int(status.get("global_step", 0))
    except (TypeError, ValueError):
        trained = 0
    return Run(path, read_json(path / "config.json"), s_sorted, np.array(returns)[order],
               str(status.get("status")), evaluation,
               trained_steps=max(trained, int(s_sorted[-1]) if s_sorted.size else 0), evaluation_step=evaluation_step)


def find_groups(paths: list[Path]) -> list[Group]:
    """The groups ``paths`` stand for, in order of first appearance, keyed by (label, task): runs of one label
    on different tasks are never pooled into one sample (their returns are not comparable)."""
    groups: dict[tuple[str, str], Group] = {}
    seen: set[tuple[str, Path]] = set()   # a run named twice under one label counts once (and is read once)
    for p in paths:
        if not p.exists():
            raise UserError(f"{p}: no such run directory")
        found = run_groups(p)
        if not found:
            raise UserError(f"{p} is not a run directory (no config.json) and holds none")
        for name, runs in found:
            for path in runs:
                if (name, path.resolve()) in seen:
                    continue
                seen.add((name, path.resolve()))
                run = load_run(path)
                env = str(run.config.get("env_id"))
                groups.setdefault((name, env), Group(name, env)).runs.append(run)
    return list(groups.values())


def tasks(groups: list[Group]) -> list[str]:
    """The tasks of ``groups``, in order of first appearance."""
    return list(dict.fromkeys(g.env for g in groups))


def _fmt(v: float | None) -> str:
    return "-" if v is None or v != v else f"{v:.1f}"


def _cell(e: stats.Estimate, fmt: Callable[[float | None], str] = _fmt) -> str:
    """``value [lo, hi]``, or ``value (why there is no interval)``."""
    return f"{fmt(e.value)} [{fmt(e.lo)}, {fmt(e.hi)}]" if e.has_interval else f"{fmt(e.value)} ({e.reason})"


def _prob(v: float | None) -> str:
    return "-" if v is None or v != v else f"{v:.2f}"


def _evaluations(g: Group) -> np.ndarray:
    """Deterministic evaluation return per run of ``g`` (NaN where a run has no evaluation.json)."""
    return np.array([np.nan if r.evaluation is None else r.evaluation for r in g.runs], dtype=np.float64)


def _ci(e: stats.Estimate) -> list[float] | None:
    return [float(e.lo), float(e.hi)] if e.lo is not None and e.hi is not None else None


def table(groups: list[Group]) -> tuple[str, list[dict[str, Any]]]:
    """Markdown table of final (and evaluation) returns per group, then each group against the first."""
    rows: list[dict[str, Any]] = []
    evaluated = any(r.evaluation is not None for g in groups for r in g.runs)
    head = "| group | env | seeds | steps | final return per seed | mean [95% CI] | IQM [95% CI] |"
    if evaluated:
        head += " evaluation return per seed | evaluation IQM [95% CI] |"
    lines = [head, "|---" * head.count(" | ") + "|---|"]
    for g in groups:
        f, ev = g.finals(), _evaluations(g)
        m, q = stats.estimate(f, stats.mean), stats.estimate(f, stats.iqm)
        envs = sorted({str(r.config.get("env_id")) for r in g.runs})
        steps = min(r.trained_steps for r in g.runs)
        per_seed = ", ".join(f"{r.config.get('seed')}: {_fmt(v)}" for r, v in zip(g.runs, f, strict=True))
        line = f"| {g.name} | {', '.join(envs)} | {len(g.runs)} | {steps} | {per_seed} | {_cell(m)} | {_cell(q)} |"
        eq = stats.estimate(ev, stats.iqm)
        if evaluated:
            per_eval = ", ".join(f"{r.config.get('seed')}: {_fmt(v)}" for r, v in zip(g.runs, ev, strict=True))
            line += f" {per_eval} | {_cell(eq) if eq.n[0] else '- (not evaluated)'} |"
        lines.append(line)
        rows.append({"group": g.name, "env": envs, "seeds": [r.config.get("seed") for r in g.runs],
                     "min_steps": steps, "final_returns": [float(v) for v in f], "mean": m.value, "mean_ci": _ci(m),
                     "iqm": q.value, "iqm_ci": _ci(q), "interval": q.reason or "stratified bootstrap",
                     "status": [r.status for r in g.runs], "evaluation": [r.evaluation for r in g.runs],
                     "evaluation_step": [r.evaluation_step for r in g.runs],
                     "evaluation_iqm": eq.value, "evaluation_iqm_ci": _ci(eq),
                     "scale": sorted({f"{r.config.get('scale')} {r.config.get('scale_params')} "
                                      f"alpha={r.config.get('alpha')}" for r in g.runs})})
    if len(groups) > 1:
        base = groups[0]
        lines += ["", f"| against {base.name} | return | IQM difference [95% CI] | P(group > {base.name}) [95% CI] |",
                  "|---|---|---|---|"]
        measures: list[tuple[str, Callable[[Group], np.ndarray]]] = [("training", Group.finals)]
        if evaluated:
            measures.append(("evaluation", _evaluations))
        for g in groups[1:]:
            for what, values in measures:
                x, y = values(g), values(base)
                if what == "evaluation" and not (np.isfinite(x).any() and np.isfinite(y).any()):
                    continue  # a group that was not evaluated is compared on training returns only
                d, p = stats.difference(x, y, stats.iqm), stats.improvement(x, y)
                lines.append(f"| {g.name} | {what} | {_cell(d)} | {_cell(p, _prob)} |")
                rows.append({"comparison": f"{g.name} vs {base.name}", "return": what,
                             "iqm_difference": d.to_json(), "probability_of_improvement": p.to_json()})
    note = (f"final return: mean training-episode return over the last {FINAL_FRACTION:.0%} of each run's steps "
            f"(at least its last {CURVE_EPISODES} episodes)"
            + ("; evaluation return: deterministic policy, mean over the episodes of the run's evaluation.json "
               "(pgcheck evaluate)" if evaluated else "")
            + f". CIs: 95% percentile intervals of rliable's stratified bootstrap over seeds, {stats.REPS} "
            f"resamples, only where every group involved has at least {stats.MIN_RUNS} seeds (fewer make a "
            "percentile bootstrap degenerate); IQM: interquartile mean with fractional weights (agents/stats.py); "
            "P(X > Y): probability that a run of X beats a run of Y, ties counting 1/2")
    return "\n".join(lines) + "\n\n" + note + "\n", rows


def pooled_table(groups: list[Group]) -> tuple[str, list[dict[str, Any]]]:
    """Labels trained on every task of ``groups``, over all tasks at once (rliable's aggregate view).

    * Aggregate IQM of **min-max normalised** final returns: on each task, 0 is the lowest final return of any
      run in the comparison and 1 the highest (a normalisation relative to the runs compared, said in the
      table; MuJoCo has no human or reference scores), with stratified-bootstrap intervals over runs per task;
      the IQM difference against the first label.
    * The average over tasks of P(label > first label): needs no normalisation.

    Every label contributes the same number of runs per task, the smallest any (label, task) has: the first
    runs by seed when some have more (said in the table).
    """
    names = list(dict.fromkeys(g.name for g in groups))
    envs = tasks(groups)
    by = {(g.name, g.env): g for g in groups}
    pooled = [n for n in names if all((n, t) in by for t in envs)]
    left_out = [n for n in names if n not in pooled]
    lines: list[str] = []
    rows: list[dict[str, Any]] = []
    finals = {(n, t): stats.finite(np.array([r.final_return() for r in
                                             sorted(by[n, t].runs, key=lambda r: _seed_key(r.config))]))
              for n in pooled for t in envs}
    k = min((v.size for v in finals.values()), default=0)
    if len(pooled) < 1 or k == 0:
        return "no label has runs with a return on every task: nothing to pool\n", rows
    span = {}
    for t in envs:
        every = np.concatenate([finals[n, t][:k] for n in pooled])
        span[t] = (float(every.min()), float(every.max()))
    flat = [t for t in envs if span[t][1] <= span[t][0]]
    if flat:
        return (f"every pooled run has the same final return on {', '.join(flat)}: no normalisation, nothing "
                "pooled\n"), rows
    norm = {n: np.stack([(finals[n, t][:k] - span[t][0]) / (span[t][1] - span[t][0]) for t in envs], axis=1)
            for n in pooled}
    lines += ["| label | tasks | runs per task | aggregate IQM of normalised final returns [95% CI] |",
              "|---|---|---|---|"]
    for n in pooled:
        e = stats.pooled_estimate(norm[n])
        lines.append(f"| {n} | {len(envs)} | {k} | {_cell(e, _prob)} |")
        rows.append({"pooled": n, "tasks": envs, "runs_per_task": k, "aggregate_iqm": e.to_json()})
    if len(pooled) > 1:
        base = pooled[0]
        lines += ["", f"| against {base} | IQM difference, normalised [95% CI] | "
                  f"P(label > {base}), mean over tasks [95% CI] |", "|---|---|---|"]
        for n in pooled[1:]:
            d, p = stats.pooled_difference(norm[n], norm[base]), stats.pooled_improvement(norm[n], norm[base])
            lines.append(f"| {n} | {_cell(d, _prob)} | {_cell(p, _prob)} |")
            rows.append({"comparison": f"{n} vs {base}", "pooled": True, "iqm_difference": d.to_json(),
                         "probability_of_improvement": p.to_json()})
    cut = [f"{n} on {t} ({finals[n, t].size})" for n in pooled for t in envs if finals[n, t].size > k]
    note = ("normalised final return: (x − lo) / (hi − lo) per task, lo and hi the lowest and highest final return "
            "of the pooled runs on it (" + "; ".join(f"{t}: {lo:.1f} to {hi:.1f}" for t, (lo, hi) in span.items())
            + "): relative to the runs compared, not an absolute scale. Intervals: rliable's stratified bootstrap, "
            "runs resampled within each task.")
    if cut:
        note += f" Each label contributes its first {k} runs by seed per task; left out beyond: {', '.join(cut)}."
    if left_out:
        note += f" Not on every task, so not pooled: {', '.join(left_out)}."
    return "\n".join(lines) + "\n\n" + note + "\n", rows


def _seed_key(config: dict[str, Any]) -> tuple[int, str]:
    seed = config.get("seed")
    return (int(seed), "") if isinstance(seed, int) else (0, str(seed))


def _seeds(n: int) -> str:
    return f"{n} seed{'' if n == 1 else 's'}"


def plot(groups: list[Group], out: Path, points: int = 100) -> None:
    """Learning curves (bands from ``stats.MIN_RUNS`` seeds), deterministic evaluations at their checkpoint step,
    and, when a group has enough seeds, the performance profile of the final training returns."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    finals = [stats.finite(g.finals()) for g in groups]
    profiled = any(f.size >= stats.MIN_RUNS for f in finals)
    fig, axes = plt.subplots(1, 2 if profiled else 1, figsize=(12 if profiled else 7, 4.5), squeeze=False)
    ax = axes[0, 0]
    last = max((r.last_step for g in groups for r in g.runs), default=0)
    grid = np.linspace(0, max(last, 1), points)
    colors: list[Any] = []
    for g in groups:
        b = stats.band(np.array([r.curve(grid) for r in g.runs]))
        label = f"{g.name} ({_seeds(len(g.runs))}{'' if b.lo is not None else ', no band: < ' + str(stats.MIN_RUNS)})"
        line = ax.plot(grid, b.value, label=label)[0]
        colors.append(line.get_color())
        if b.lo is not None and b.hi is not None:
            ax.fill_between(grid, b.lo, b.hi, color=line.get_color(), alpha=0.2, linewidth=0)
        evals = [(r.evaluation_step, r.evaluation) for r in g.runs
                 if r.evaluation is not None and r.evaluation_step is not None]
        if evals:
            xs, ys = np.array(evals, dtype=np.float64).T
            ax.scatter(xs, ys, marker="x", color=line.get_color(), s=25, zorder=3,
                       label=f"{g.name}: deterministic evaluation ({_seeds(len(evals))})")
            e = stats.estimate(ys, stats.iqm)
            if e.lo is not None and e.hi is not None:
                ax.errorbar([float(np.median(xs))], [e.value], yerr=[[e.value - e.lo], [e.hi - e.value]],
                            fmt="D", color=line.get_color(), capsize=4, zorder=4)
    envs = sorted({str(r.config.get("env_id")) for g in groups for r in g.runs})
    ax.set_title(", ".join(envs))
    ax.set_xlabel("environment steps")
    ax.set_ylabel(f"return (training: mean of last {CURVE_EPISODES} episodes)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.text(0.99, 0.01, f"band: 95% pointwise stratified bootstrap CI of the mean (≥ {stats.MIN_RUNS} seeds)\n"
            "x: deterministic evaluation per seed, ◆: its IQM [95% CI]", transform=ax.transAxes,
            ha="right", va="bottom", fontsize=6, alpha=0.7)
    if profiled:
        pax = axes[0, 1]
        pooled = np.concatenate(finals)
        taus = np.linspace(float(pooled.min()), float(pooled.max()), 60)
        for g, f, color in zip(groups, finals, colors, strict=True):
            p = stats.performance_profile(f, taus)
            pax.plot(taus, p.value, color=color,
                     label=f"{g.name} ({_seeds(p.n)}{'' if p.lo is not None else ', no band'})")
            if p.lo is not None and p.hi is not None:
                pax.fill_between(taus, p.lo, p.hi, color=color, alpha=0.2, linewidth=0)
        pax.set_xlabel("final training return τ")
        pax.set_ylabel("fraction of runs with final return > τ")
        pax.set_title("performance profile (band: 95% CI, ≥ 5 seeds)")
        pax.grid(alpha=0.3)
        pax.legend(fontsize=7)
    fig.tight_layout()
    atomic_save(out, lambda tmp: fig.savefig(tmp, dpi=120, format="png"), suffix=".png")
    plt.close(fig)


def compare_runs(paths: list[Path], out_prefix: Path) -> dict[str, Any]:
    """Write ``<out_prefix>.png`` (one per task, ``<out_prefix>-TASK.png``, when the groups span several tasks),
    ``.md`` and ``.json``; return the table text, rows and paths. Several tasks: a table per task, then
    :func:`pooled_table` over the labels trained on all of them."""
    groups = find_groups(paths)
    require_writable(out_prefix.parent)   # before the work: a read-only place is one line, not a lost table
    envs = tasks(groups)
    if len(envs) == 1:
        text, rows = table(groups)
        plots = [out_prefix.with_name(out_prefix.name + ".png")]
        plot(groups, plots[0])
    else:
        parts, rows, plots = [], [], []
        for env in envs:
            on = [g for g in groups if g.env == env]
            t, r = table(on)
            parts.append(f"## {env}\n\n{t}")
            rows += [{**row, "task": env} for row in r]
            plots.append(out_prefix.with_name(f"{out_prefix.name}-{env}.png"))
            plot(on, plots[-1])
        t, r = pooled_table(groups)
        parts.append(f"## pooled over {len(envs)} tasks: {', '.join(envs)}\n\n{t}")
        rows += r
        text = "\n".join(parts)
    md = out_prefix.with_name(out_prefix.name + ".md")
    atomic_write(md, text)
    js = out_prefix.with_name(out_prefix.name + ".json")
    write_json(js, json.loads(json.dumps(rows, default=float)))
    return {"text": text, "rows": rows, "plot": plots[0], "plots": plots, "table": md, "json": js}

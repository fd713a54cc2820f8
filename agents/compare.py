"""Compare groups of runs: learning curves with confidence bands, and a final-return table.

A *group* is a directory of seed runs (``RUN/seed_K``); a run given on its own joins the group of its
parent directory; a directory of such directories (``pgcheck train`` with several configurations:
``RUN/LABEL/seed_K``) gives one group per ``LABEL``. Per run:

* the learning curve at step g is the mean return of the last 10 training episodes finished by g;
* the final return is the mean return of the training episodes that finished in the last 5% of the
  run's steps (or of its last 10 episodes if that window holds fewer).

Per group: mean and interquartile mean (IQM) of the final returns with 95% percentile-bootstrap
intervals over seeds; with two groups, the interval of the difference (second − first) as well.
"""

from __future__ import annotations

import csv
import json
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
    name: str
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
    evaluation = None
    if (path / "evaluation.json").is_file():
        try:
            evaluation = float(read_json(path / "evaluation.json")["mean_return"])
        except (UserError, ValueError, KeyError, TypeError):  # an unreadable evaluation is left out
            evaluation = None
    order = np.argsort(np.array(steps), kind="stable")
    status = get_status(path)
    s_sorted = np.array(steps)[order]
    try:
        trained = int(status.get("global_step", 0))
    except (TypeError, ValueError):
        trained = 0
    return Run(path, read_json(path / "config.json"), s_sorted, np.array(returns)[order],
               str(status.get("status")), evaluation,
               trained_steps=max(trained, int(s_sorted[-1]) if s_sorted.size else 0))


def find_groups(paths: list[Path]) -> list[Group]:
    groups: dict[str, Group] = {}
    for p in paths:
        if not p.exists():
            raise UserError(f"{p}: no such run directory")
        found = run_groups(p)
        if not found:
            raise UserError(f"{p} is not a run directory (no config.json) and holds none")
        for name, runs in found:
            g = groups.setdefault(name, Group(name))
            known = {r.path.resolve() for r in g.runs}
            g.runs.extend(load_run(r) for r in runs if r.resolve() not in known)
    return list(groups.values())


def _fmt(v: float) -> str:
    return "-" if v != v else f"{v:.1f}"


def table(groups: list[Group]) -> tuple[str, list[dict[str, Any]]]:
    rows: list[dict[str, Any]] = []
    lines = ["| group | env | seeds | steps | final return per seed | mean [95% CI] | IQM [95% CI] |",
             "|---|---|---|---|---|---|---|"]
    for g in groups:
        f = g.finals()
        ok = f[~np.isnan(f)]
        m, q = (float(np.mean(ok)), float(stats.iqm(ok))) if ok.size else (float("nan"), float("nan"))
        mci, qci = stats.bootstrap_ci(ok, stats.mean), stats.bootstrap_ci(ok, stats.iqm)
        envs = sorted({str(r.config.get("env_id")) for r in g.runs})
        steps = min(r.trained_steps for r in g.runs)
        per_seed = ", ".join(f"{r.config.get('seed')}: {_fmt(v)}" for r, v in zip(g.runs, f, strict=True))
        lines.append(f"| {g.name} | {', '.join(envs)} | {len(g.runs)} | {steps} | {per_seed} | "
                     f"{_fmt(m)} [{_fmt(mci[0])}, {_fmt(mci[1])}] | {_fmt(q)} [{_fmt(qci[0])}, {_fmt(qci[1])}] |")
        rows.append({"group": g.name, "env": envs, "seeds": [r.config.get("seed") for r in g.runs],
                     "min_steps": steps, "final_returns": [float(v) for v in f], "mean": m, "mean_ci": mci,
                     "iqm": q, "iqm_ci": qci, "status": [r.status for r in g.runs],
                     "evaluation": [r.evaluation for r in g.runs],
                     "scale": sorted({f"{r.config.get('scale')} {r.config.get('scale_params')} "
                                      f"alpha={r.config.get('alpha')}" for r in g.runs})})
    if len(groups) == 2:
        a, b = (g.finals()[~np.isnan(g.finals())] for g in groups)
        if a.size and b.size:
            d_mean = float(np.mean(b) - np.mean(a))
            d_iqm = float(stats.iqm(b) - stats.iqm(a))
            ci_m = stats.bootstrap_diff_ci(a, b, stats.mean)
            ci_q = stats.bootstrap_diff_ci(a, b, stats.iqm)
            lines.append("")
            lines.append(f"{groups[1].name} − {groups[0].name}: mean {_fmt(d_mean)} [{_fmt(ci_m[0])}, "
                         f"{_fmt(ci_m[1])}], IQM {_fmt(d_iqm)} [{_fmt(ci_q[0])}, {_fmt(ci_q[1])}] "
                         "(95% bootstrap over seeds)")
            rows.append({"difference": f"{groups[1].name} - {groups[0].name}", "mean": d_mean,
                         "mean_ci": ci_m, "iqm": d_iqm, "iqm_ci": ci_q})
    note = (f"final return: mean training-episode return over the last {FINAL_FRACTION:.0%} of each run's steps "
            f"(at least its last {CURVE_EPISODES} episodes); CIs: percentile bootstrap over seeds, 10000 resamples")
    return "\n".join(lines) + "\n\n" + note + "\n", rows


def plot(groups: list[Group], out: Path, points: int = 100) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    last = max((r.last_step for g in groups for r in g.runs), default=0)
    grid = np.linspace(0, max(last, 1), points)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for g in groups:
        curves = np.array([r.curve(grid) for r in g.runs])
        m, lo, hi = stats.band(curves)
        line = ax.plot(grid, m, label=f"{g.name} ({len(g.runs)} seed{'' if len(g.runs) == 1 else 's'})")[0]
        ax.fill_between(grid, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)
    envs = sorted({str(r.config.get("env_id")) for g in groups for r in g.runs})
    ax.set_title(", ".join(envs))
    ax.set_xlabel("environment steps")
    ax.set_ylabel(f"training return (mean of last {CURVE_EPISODES} episodes)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.text(0.99, 0.01, "band: 95% bootstrap CI of the mean over seeds", transform=ax.transAxes,
            ha="right", va="bottom", fontsize=7, alpha=0.7)
    fig.tight_layout()
    atomic_save(out, lambda tmp: fig.savefig(tmp, dpi=120, format="png"), suffix=".png")
    plt.close(fig)


def compare_runs(paths: list[Path], out_prefix: Path) -> dict[str, Any]:
    """Write ``<out_prefix>.png``, ``.md`` and ``.json``; return the table text, rows and paths."""
    groups = find_groups(paths)
    require_writable(out_prefix.parent)   # before the work: a read-only place is one line, not a lost table
    text, rows = table(groups)
    png = out_prefix.with_name(out_prefix.name + ".png")
    plot(groups, png)
    md = out_prefix.with_name(out_prefix.name + ".md")
    atomic_write(md, text)
    js = out_prefix.with_name(out_prefix.name + ".json")
    write_json(js, json.loads(json.dumps(rows, default=float)))
    return {"text": text, "rows": rows, "plot": png, "table": md, "json": js}

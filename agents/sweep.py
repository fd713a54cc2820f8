"""The paper's search over the scaling-function space (sec. 6.3), as run directories: a grid × seeds.

A sweep directory ``OUT`` holds:

* ``plan.json``: the base configuration, the grid (named values: scale parameters such as ``ao``, ``ar``,
  ``eps`` or per-run config fields such as ``alpha``), the search seeds, the fresh seeds, and every point's
  verdict from the validator. It is written before any training, so a stopped sweep resumes from it.
* ``search/LABEL/seed_K``: one run per valid point and search seed (the layout of ``pgcheck train`` with
  several configurations, so ``compare``, ``evaluate`` and ``train --resume`` read it too).
* ``selection.json``: the point with the highest IQM of final return over the search seeds.
* ``fresh/LABEL/seed_K``: that point trained again on seeds disjoint from the search's. The search's IQM of
  the best point is biased upwards (it is the maximum of several noisy estimates); the fresh seeds' is not.
* ``report.md``, ``report.json`` and ``heatmap.png``: the table, its data and the heat map of the IQM.

Every point's scale goes through :func:`pgcheck.check.checked_scale` before any run exists: an INVALID point
gets no run and is listed with its counterexample. Final returns, IQM and intervals are those of
``pgcheck compare`` (:mod:`agents.compare`, :mod:`agents.stats`): below ``stats.MIN_RUNS`` seeds there is
no interval, and the table says so.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agents import stats
from agents.compare import load_run
from agents.config import PPOConfig
from agents.rundir import get_status, is_run, locked, read_json, require_writable, write_json
from agents.runner import JobResult, create_run
from pgcheck.certificate import InvalidScaleError
from pgcheck.errors import UserError
from pgcheck.files import atomic_save, atomic_write

PLAN = "plan.json"
SELECTION = "selection.json"
SEARCH = "search"
FRESH = "fresh"
KIND = "pgcheck sweep"

Axes = list[tuple[str, list[str]]]
Launcher = Callable[[list[tuple[str, bool]]], list[JobResult]]


@dataclass(frozen=True)
class Point:
    """One grid point: its values (as written), directory label, configuration (seed 0) and verdict."""

    values: dict[str, str]
    label: str
    config: PPOConfig
    verdict: str                 # the certificate's overall verdict: VALID, TESTED, ..., or INVALID
    counterexample: str | None   # INVALID only: the refuted property and its counterexample, one line
    certificate: str | None      # the certificate's JSON (valid points only)

    @property
    def valid(self) -> bool:
        return self.verdict != "INVALID"


@dataclass(frozen=True)
class PointResult:
    """A valid point's final returns over a set of seeds, and their IQM with its interval (or the reason
    there is none)."""

    point: Point
    seeds: list[int]
    finals: list[float]
    iqm: stats.Estimate
    status: list[str]


@dataclass(frozen=True)
class Report:
    points: list[Point]
    search: list[PointResult]          # the valid points, in grid order
    best: PointResult | None           # the search's best point (its IQM is biased upwards)
    fresh: PointResult | None          # the best point on the fresh seeds
    markdown: str
    heatmap: Path | None
    table: Path
    data: Path


@dataclass(frozen=True)
class Plan:
    out: Path
    base: PPOConfig
    axes: Axes
    seeds: list[int]
    fresh_seeds: list[int]
    points: list[Point]

    def on_device(self, device: str) -> Plan:
        """The plan with every configuration on ``device`` (machinery, not a hyperparameter: a sweep may move)."""
        points = [dataclasses.replace(p, config=dataclasses.replace(p.config, device=device)) for p in self.points]
        return dataclasses.replace(self, base=dataclasses.replace(self.base, device=device), points=points)

    def search_dir(self, p: Point) -> Path:
        return self.out / SEARCH / p.label

    def fresh_dir(self, p: Point) -> Path:
        return self.out / FRESH / p.label


# ------------------------------------------------------------------------------------------------ the grid
def label(values: dict[str, str]) -> str:
    text = "_".join(f"{k}={v}" for k, v in values.items()) or "base"
    return "".join(ch if ch.isalnum() or ch in "._=+-" else "_" for ch in text)


def grid_points(axes: Axes) -> list[dict[str, str]]:
    """The product of the axes, in order (the last axis varies fastest)."""
    keys = [k for k, _ in axes]
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(vs for _, vs in axes))]


def point_config(base: PPOConfig, values: dict[str, str]) -> PPOConfig:
    """``base`` with ``values``: a config field takes its value (converted by the field's type), any other
    name is a scale parameter (the validator refuses one the scale does not have)."""
    fields = {f.name for f in dataclasses.fields(PPOConfig)}
    changes: dict[str, Any] = {}
    params = dict(base.scale_params)
    for key, text in values.items():
        if key in fields:
            try:
                changes[key] = PPOConfig.parse(key, text)
            except KeyError:
                raise UserError(f"the grid cannot vary {key}") from None
            except ValueError:
                raise UserError(f"grid value {key}={text}: not a valid value of {key}") from None
        else:
            params[key] = text
    if "eps" in values and "clip_eps_diagnostic" not in values:
        from pgcheck.expr import ExprError, parse_number

        with contextlib.suppress(ExprError, ValueError):   # a bad eps text is the validator's to refuse
            changes["clip_eps_diagnostic"] = float(parse_number(values["eps"]))
    config = dataclasses.replace(base, scale_params=params, **changes)
    problems = config.problems()
    if problems:
        raise UserError(f"grid point {label(values)}: " + "; ".join(problems))
    return config


def validate_point(base: PPOConfig, values: dict[str, str]) -> Point:
    """The point with its validator verdict; an INVALID scale is kept with its counterexample, not raised.
    A scale text that is not in the language (or an unknown parameter) is a UserError."""
    from pgcheck.check import checked_scale

    config = point_config(base, values)
    try:
        scale = checked_scale(config.scale, config.scale_params)
    except InvalidScaleError as exc:
        return Point(values, label(values), config, "INVALID", _counterexample(exc), None)
    cert = scale.certificate
    return Point(values, label(values), config, cert.overall, None, cert.to_json())


def _counterexample(exc: InvalidScaleError) -> str:
    refuted = [p for p in exc.certificate.properties if p.verdict == "refuted"]
    if not refuted:
        return str(exc)
    first = refuted[0]
    summary = (first.counterexample or {}).get("summary", "")
    return f"property {first.prop} refuted: {summary}"


# ---------------------------------------------------------------------------------------------------- plans
def create_plan(out: Path, base: PPOConfig, axes: Axes, seeds: Sequence[int], fresh_seeds: Sequence[int],
                command: Sequence[str] = ()) -> Plan:
    """Validate every point and write ``plan.json`` in the empty directory ``out`` (no run yet)."""
    if not axes:
        raise UserError("a sweep needs at least one grid axis")
    if not seeds or not fresh_seeds:
        raise UserError("a sweep needs search seeds and fresh seeds")
    overlap = sorted(set(seeds) & set(fresh_seeds))
    if overlap:
        raise UserError(f"the fresh seeds must be disjoint from the search seeds (both have "
                        f"{', '.join(map(str, overlap))})")
    if out.exists() and any(out.iterdir()):
        raise UserError(f"{out} exists and is not empty; choose another output directory or resume it")
    points = [validate_point(base, v) for v in grid_points(axes)]
    if len({p.label for p in points}) < len(points):
        raise UserError("two grid points would share a directory name; write the grid values differently")
    if not any(p.valid for p in points):
        raise UserError("every grid point is INVALID: " + "; ".join(f"{p.label}: {p.counterexample}" for p in points))
    require_writable(out)
    plan = Plan(out, base, [(k, list(vs)) for k, vs in axes], sorted(seeds), sorted(fresh_seeds), points)
    write_json(out / PLAN, {
        "kind": KIND, "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "command": list(command),
        "base_config": base.to_dict(), "axes": [[k, vs] for k, vs in plan.axes], "seeds": plan.seeds,
        "fresh_seeds": plan.fresh_seeds,
        "points": [{"values": p.values, "label": p.label, "verdict": p.verdict,
                    "counterexample": p.counterexample} for p in points]})
    return plan


def read_plan(out: Path) -> Plan:
    """The plan of the sweep in ``out``, its points validated again (the certificate cache makes it quick)."""
    if not (out / PLAN).is_file():
        raise UserError(f"{out} is not a sweep directory (no {PLAN})")
    d = read_json(out / PLAN)
    try:
        if not isinstance(d, dict) or d.get("kind") != KIND:
            raise ValueError("not a sweep plan")
        base = PPOConfig.from_dict(d["base_config"])
        axes: Axes = [(str(k), [str(v) for v in vs]) for k, vs in d["axes"]]
        seeds, fresh = [int(s) for s in d["seeds"]], [int(s) for s in d["fresh_seeds"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{out / PLAN}: not a pgcheck sweep plan ({exc})") from None
    points = [validate_point(base, v) for v in grid_points(axes)]
    recorded = {label(dict(p["values"])): p.get("verdict") for p in d.get("points", [])}
    for p in points:
        if (recorded.get(p.label) == "INVALID") != (not p.valid):
            raise UserError(f"{out}: the verdict of grid point {p.label} changed since the sweep was planned "
                            f"(now {p.verdict}); start a new sweep")
    return Plan(out, base, axes, seeds, fresh, points)


def _ensure_runs(plan: Plan, point: Point, root: Path, seeds: Sequence[int], role: str,
                 origin: dict[str, Any] | None) -> None:
    """Create the point's run directories under ``root`` that do not exist yet (a sweep stopped while creating
    them resumes here)."""
    assert point.certificate is not None
    for s in seeds:
        run = root / f"seed_{s}"
        if is_run(run):
            continue
        create_run(run, dataclasses.replace(point.config, seed=s), point.certificate,
                   {"label": f"{plan.out.name}/{root.parent.name}/{point.label}", "preset": None,
                    "grid": point.values, "sweep": role, "created": time.strftime("%Y-%m-%dT%H:%M:%S")},
                   origin=origin)


def _prepare(jobs: Sequence[tuple[str, bool]], device: str, origin: dict[str, Any] | None) -> None:
    """Under the runs' locks: every unfinished run on ``device``, and each resumed one's run.json records this
    resume's ``origin`` (as ``pgcheck train --resume`` does)."""
    from agents.rundir import read_config, write_config

    runs = [Path(r) for r, _ in jobs]
    with locked(runs):
        for (_, resume), run in zip(jobs, runs, strict=True):
            config = read_config(run)
            if config.device != device:
                write_config(run, dataclasses.replace(config, device=device))
            if resume and origin is not None and (run / "run.json").is_file():
                meta = read_json(run / "run.json")
                if isinstance(meta, dict):
                    write_json(run / "run.json", {**meta, "resumes": [*meta.get("resumes", []), origin]})


def _jobs(roots: Sequence[Path], seeds: Sequence[int]) -> list[tuple[str, bool]]:
    """The unfinished runs of ``roots`` × ``seeds`` as (run, resume) jobs: resume where a checkpoint exists."""
    jobs = []
    for root in roots:
        for s in seeds:
            run = root / f"seed_{s}"
            if get_status(run).get("status") != "finished":
                jobs.append((str(run), (run / "checkpoint.pt").is_file() or
                             (run / "checkpoint.next.pt").is_file()))
    return jobs


# ---------------------------------------------------------------------------------------------- training
def local_launcher(workers: int | None = None, backend: str = "local", address: str | None = None,
                   progress: bool = False) -> Launcher:
    """Train jobs as ``pgcheck train`` does: runs of a batched MuJoCo task as lanes of one trainer (``workers``
    processes, None: :func:`agents.lanerun.default_lane_workers`; or one Ray task per group), others one run per
    process (or Ray task)."""
    from agents.lanerun import lane_groups, run_groups_local, run_groups_ray
    from agents.runner import run_local, run_ray

    def launch(jobs: list[tuple[str, bool]]) -> list[JobResult]:
        results: list[JobResult] = []
        for resume in sorted({r for _, r in jobs}):
            these = [j for j in jobs if j[1] == resume]
            with locked([Path(r) for r, _ in these if resume]):   # grouping recovers checkpoint sets
                groups, single = lane_groups(these, workers)
            if groups:
                results += (run_groups_ray(groups, resume, address, progress) if backend == "ray"
                            else run_groups_local(groups, resume, workers, progress=progress))
            if single:
                results += (run_ray(single, address, progress) if backend == "ray" else
                            run_local(single, min(workers or len(single), len(single), os.cpu_count() or 1),
                                      progress=progress))
        return results

    return launch


def run_sweep(plan: Plan, launch: Launcher, origin: dict[str, Any] | None = None,
              say: Callable[[str], None] = print) -> tuple[Report, list[JobResult]]:
    """Train every unfinished search run, select the best point, train it on the fresh seeds, write the
    report. Finished runs are not trained again, so calling this on a stopped sweep continues it; unfinished
    runs move to the plan's device (:meth:`Plan.on_device`)."""
    valid = [p for p in plan.points if p.valid]
    for p in valid:
        _ensure_runs(plan, p, plan.search_dir(p), plan.seeds, "search", origin)
    jobs = _jobs([plan.search_dir(p) for p in valid], plan.seeds)
    _prepare(jobs, plan.base.device, origin)
    done = len(valid) * len(plan.seeds) - len(jobs)
    say(f"sweep: search: {len(valid)} valid point(s) × {len(plan.seeds)} seed(s); {len(jobs)} run(s) to train"
        + (f", {done} already finished" if done else ""))
    results = launch(jobs) if jobs else []
    search = [point_result(p, plan.search_dir(p), plan.seeds) for p in valid]
    # a failed run (NaN/inf loss) is an outcome: its point is not selectable, and the selection need not wait
    ended = all(s in ("finished", "failed") for r in search for s in r.status)
    best = select([r for r in search if all(s == "finished" for s in r.status)]) if ended else None
    fresh = None
    if best is not None:
        chosen = _record_selection(plan, best)
        best = next(r for r in search if r.point.label == chosen.label)   # the recorded choice, on a resume too
        _ensure_runs(plan, chosen, plan.fresh_dir(chosen), plan.fresh_seeds, "fresh", origin)
        jobs = _jobs([plan.fresh_dir(chosen)], plan.fresh_seeds)
        _prepare(jobs, plan.base.device, origin)
        say(f"sweep: best point {chosen.label} (search IQM {best.iqm.value:.1f}); re-running it on fresh seeds "
            f"{_seeds(plan.fresh_seeds)}: {len(jobs)} run(s) to train")
        fresh_results = launch(jobs) if jobs else []
        results += fresh_results
        fresh = point_result(chosen, plan.fresh_dir(chosen), plan.fresh_seeds)
    elif not ended:
        say("sweep: some search runs did not finish; no selection (resume the sweep)")
    else:
        say("sweep: no point has every search run finished with a return; no selection")
    return write_report(plan, search, best, fresh), results


def point_result(point: Point, root: Path, seeds: Sequence[int]) -> PointResult:
    runs = [load_run(root / f"seed_{s}") for s in seeds]
    finals = [r.final_return() for r in runs]
    return PointResult(point, list(seeds), finals, stats.estimate(np.array(finals), stats.iqm),
                       [r.status for r in runs])


def select(results: Sequence[PointResult]) -> PointResult | None:
    """The point with the highest IQM of final return (the first of equals, in grid order); None if no point
    has a return."""
    scored = [r for r in results if r.iqm.value == r.iqm.value]
    return max(scored, key=lambda r: r.iqm.value) if scored else None


def _record_selection(plan: Plan, best: PointResult) -> Point:
    """The selected point: the one ``selection.json`` records (written the first time), so a resumed sweep
    re-runs the point it chose before."""
    path = plan.out / SELECTION
    if path.is_file():
        chosen = read_json(path).get("label")
        for p in plan.points:
            if p.label == chosen and p.valid:
                return p
        raise UserError(f"{path}: names no valid point of the plan ({chosen!r})")
    write_json(path, {"label": best.point.label, "values": best.point.values, "search_iqm": best.iqm.value,
                      "search_seeds": best.seeds, "fresh_seeds": plan.fresh_seeds})
    return best.point


# ------------------------------------------------------------------------------------------------- report
def _fmt(v: float | None) -> str:
    return "-" if v is None or v != v else f"{v:.1f}"


def _cell(e: stats.Estimate) -> str:
    return f"{_fmt(e.value)} [{_fmt(e.lo)}, {_fmt(e.hi)}]" if e.has_interval else f"{_fmt(e.value)} ({e.reason})"


def _seeds(seeds: Sequence[int]) -> str:
    return ", ".join(map(str, seeds))


def _result_json(r: PointResult | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {"label": r.point.label, "values": r.point.values, "seeds": r.seeds, "final_returns": r.finals,
            "status": r.status, "iqm": r.iqm.to_json()}


def write_report(plan: Plan, search: list[PointResult], best: PointResult | None,
                 fresh: PointResult | None) -> Report:
    by_label = {r.point.label: r for r in search}
    keys = [k for k, _ in plan.axes]
    c = plan.base
    head = "| " + " | ".join(keys) + " | verdict | seeds | final return per seed | IQM [95% CI] |"
    lines = [f"# sweep {plan.out.name}: {c.env_id}, f = {c.scale}, grid over {', '.join(keys)} (elsewhere "
             f"{c.scale_params}, α = {c.alpha}), {c.total_steps} steps per run", "", head,
             "|---" * (len(keys) + 4) + "|"]
    for p in plan.points:
        vals = " | ".join(p.values[k] for k in keys)
        r = by_label.get(p.label)
        if r is None:
            cx = str(p.counterexample).replace("|", "\\|")   # a |f| in the counterexample is not a column
            lines.append(f"| {vals} | INVALID | - | skipped: {cx} | - |")
            continue
        per = ", ".join(f"{s}: {_fmt(v)}" for s, v in zip(r.seeds, r.finals, strict=True))
        unfinished = [f"{s}: {st}" for s, st in zip(r.seeds, r.status, strict=True) if st != "finished"]
        if unfinished:
            per += f" (not finished: {', '.join(unfinished)})"
        lines.append(f"| {vals} | {p.verdict} | {len(r.seeds)} | {per} | {_cell(r.iqm)} |")
    lines.append("")
    invalid = [p for p in plan.points if not p.valid]
    if invalid:
        lines.append(f"{len(invalid)} INVALID point(s) skipped (no run): "
                     + "; ".join(f"{p.label}: {p.counterexample}" for p in invalid))
        lines.append("")
    if best is None:
        lines.append("best point: none (a point is selectable when all its search runs have finished with a "
                     "return; a failed run's point is not)")
    else:
        lines += [f"best point: {best.point.label}",
                  f"- search seeds {_seeds(best.seeds)}: IQM {_cell(best.iqm)} (selected as the maximum over "
                  f"{len(search)} point(s): biased upwards)"]
        if fresh is not None:
            lines.append(f"- fresh seeds {_seeds(fresh.seeds)}: IQM {_cell(fresh.iqm)} (an estimate free of the "
                         "selection)" + ("" if all(s == "finished" for s in fresh.status) else
                                         " (some fresh runs have not finished)"))
    lines += ["", "final return: mean training-episode return over the last 5% of each run's steps (at least its "
              f"last 10 episodes), as in pgcheck compare. IQM: interquartile mean (agents/stats.py); CIs: 95% "
              f"percentile intervals of rliable's stratified bootstrap over seeds, only from {stats.MIN_RUNS} seeds."]
    text = "\n".join(lines) + "\n"
    table = plan.out / "report.md"
    atomic_write(table, text)
    data = plan.out / "report.json"
    write_json(data, json.loads(json.dumps({
        "axes": [[k, vs] for k, vs in plan.axes],
        "points": [{"values": p.values, "label": p.label, "verdict": p.verdict, "counterexample": p.counterexample,
                    "result": _result_json(by_label.get(p.label))} for p in plan.points],
        "best_search": _result_json(best), "best_fresh": _result_json(fresh)}, default=float)))
    heatmap = plan.out / "heatmap.png"
    plot_heatmap(plan, by_label, heatmap, best.point.label if best is not None else None)
    return Report(plan.points, search, best, fresh, text, heatmap, table, data)


def plot_heatmap(plan: Plan, by_label: dict[str, PointResult], out: Path, best: str | None = None) -> None:
    """The IQM of final return over the grid: rows are the combinations of all axes but the last, columns the
    last axis' values; INVALID points grey, each cell annotated with its IQM (and interval, where there is one),
    the ``best`` point's cell framed in red."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.patches
    import matplotlib.pyplot as plt

    *row_axes, (col_key, col_values) = plan.axes
    rows = grid_points(row_axes)
    values = np.full((len(rows), len(col_values)), np.nan)
    notes = [["" for _ in col_values] for _ in rows]
    for i, rv in enumerate(rows):
        for j, cv in enumerate(col_values):
            r = by_label.get(label({**rv, col_key: cv}))
            if r is None:
                notes[i][j] = "INVALID"
                continue
            values[i, j] = r.iqm.value
            notes[i][j] = _fmt(r.iqm.value) + (f"\n[{_fmt(r.iqm.lo)}, {_fmt(r.iqm.hi)}]" if r.iqm.has_interval
                                                else f"\n(n={r.iqm.n[0]}, no CI)")
    fig, ax = plt.subplots(figsize=(1.6 + 1.4 * len(col_values), 1.4 + 0.8 * len(rows)))
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="lightgrey")
    im = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, aspect="auto")
    finite = values[np.isfinite(values)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    for i in range(len(rows)):
        for j in range(len(col_values)):
            bright = not np.isfinite(values[i, j]) or (hi > lo and (values[i, j] - lo) / (hi - lo) > 0.6)
            ax.text(j, i, notes[i][j], ha="center", va="center", fontsize=7, color="black" if bright else "white")
    if best is not None:
        i, j = next((i, j) for i, rv in enumerate(rows) for j, cv in enumerate(col_values)
                    if label({**rv, col_key: cv}) == best)
        ax.add_patch(matplotlib.patches.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red",
                                                  linewidth=2))
    ax.set_xticks(range(len(col_values)), [f"{col_key}={v}" for v in col_values])
    ax.set_yticks(range(len(rows)), [", ".join(f"{k}={v}" for k, v in rv.items()) or "-" for rv in rows])
    fig.colorbar(im, ax=ax, label="IQM of final return")
    ax.set_title(f"{plan.base.env_id}: {plan.base.scale}, IQM over {len(plan.seeds)} seed(s)", fontsize=9)
    fig.tight_layout()
    atomic_save(out, lambda tmp: fig.savefig(tmp, dpi=110, format="png"), suffix=".png")
    plt.close(fig)

"""``agents.compare``'s statistics on synthetic run directories: no interval below 5 seeds (and one from 5),
the probability of improvement against the first group, deterministic evaluations in the table and the plot,
and several tasks: a group per (label, task), never one sample across tasks, and rliable's aggregate view."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from agents import compare, stats


def make_group(root: Path, finals: list[float], *, evals: list[float] | None = None, steps: int = 1000,
               env: str = "Hopper-v5") -> Path:
    """Seed runs whose every training episode returns the run's final return (so it is exact)."""
    for seed, ret in enumerate(finals):
        run = root / f"seed_{seed}"
        run.mkdir(parents=True)
        (run / "config.json").write_text(json.dumps({"env_id": env, "seed": seed, "scale": "ppo"}))
        (run / "status.json").write_text(json.dumps({"status": "finished", "global_step": steps}))
        rows = ["global_step,episodic_return"] + [f"{s},{ret}" for s in range(50, steps + 1, 50)]
        (run / "episodes.csv").write_text("\n".join(rows) + "\n")
        if evals is not None:
            (run / "evaluation.json").write_text(json.dumps({"mean_return": evals[seed], "checkpoint_step": steps,
                                                             "deterministic": True}))
    return root


def test_two_seeds_get_no_interval_and_say_why(tmp_path: Path) -> None:
    a = make_group(tmp_path / "a", [10.0, 20.0])
    b = make_group(tmp_path / "b", [30.0, 40.0])
    text, rows = compare.table(compare.find_groups([a, b]))
    assert "| a | Hopper-v5 | 2 | 1000 | 0: 10.0, 1: 20.0 | 15.0 (n = 2 < 5 seeds: no interval) |" in text
    assert "[" not in text.split("\n\n")[0].replace("[95% CI]", "")  # no interval anywhere in the tables
    assert rows[0]["iqm_ci"] is None and rows[0]["mean_ci"] is None
    assert "| b | training | 20.0 (n = 2, 2: 2 < 5 seeds: no interval) | 1.00 (n = 2, 2: 2 < 5 seeds: no interval) |" \
        in text
    assert rows[2]["probability_of_improvement"] == {"value": 1.0, "ci": None, "n": [2, 2],
                                                     "reason": "n = 2, 2: 2 < 5 seeds: no interval"}


def test_five_seeds_get_intervals_and_the_probability_of_improvement(tmp_path: Path) -> None:
    base = [10.0, 12.0, 14.0, 16.0, 18.0]
    a = make_group(tmp_path / "a", base, evals=[20.0, 21.0, 22.0, 23.0, 24.0])
    b = make_group(tmp_path / "b", [v + 3.0 for v in base] + [13.0], evals=[20.0, 21.0, 22.0, 23.0, 24.0, 25.0])
    text, rows = compare.table(compare.find_groups([a, b]))
    iqm_a = stats.estimate(np.array(base))
    assert rows[0]["iqm"] == pytest.approx(float(stats.iqm(np.array(base)))) == pytest.approx(14.0)
    assert iqm_a.lo is not None and iqm_a.hi is not None
    assert rows[0]["iqm_ci"] == [iqm_a.lo, iqm_a.hi] and iqm_a.lo < 14.0 < iqm_a.hi
    assert f"| 14.0 [{iqm_a.lo:.1f}, {iqm_a.hi:.1f}] |" in text and "no interval" not in text
    assert "evaluation return per seed" in text and rows[0]["evaluation_iqm"] == pytest.approx(22.0)
    train = next(r for r in rows if r.get("return") == "training")
    p = train["probability_of_improvement"]
    # P(b > a) by counting pairs of the 6 × 5 runs
    expected = np.mean([[1.0 if x > y else 0.5 if x == y else 0.0 for y in base] for x in [*[v + 3 for v in base], 13]])
    assert p["value"] == pytest.approx(expected) and p["ci"] is not None and p["ci"][0] <= expected <= p["ci"][1]
    assert any(r.get("return") == "evaluation" for r in rows)
    assert "| b | evaluation |" in text


def test_plot_has_evaluations_and_a_profile_from_five_seeds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib.axes

    drawn: list[str] = []
    for name in ("scatter", "errorbar", "fill_between"):
        original = getattr(matplotlib.axes.Axes, name)

        def spy(self: matplotlib.axes.Axes, *args: object, _name: str = name, _original: object = original,
                **kwargs: object) -> object:
            drawn.append(_name)
            return _original(self, *args, **kwargs)  # type: ignore[operator]

        monkeypatch.setattr(matplotlib.axes.Axes, name, spy)
    few = make_group(tmp_path / "few", [1.0, 2.0], evals=[3.0, 4.0])
    compare.plot(compare.find_groups([few]), tmp_path / "few.png")
    assert drawn == ["scatter"]  # evaluations drawn; no band, no IQM bar, no profile with 2 seeds
    drawn.clear()
    many = make_group(tmp_path / "many", [1.0, 2.0, 3.0, 4.0, 5.0], evals=[3.0, 4.0, 5.0, 6.0, 7.0])
    compare.plot(compare.find_groups([many]), tmp_path / "many.png")
    assert sorted(drawn) == ["errorbar", "fill_between", "fill_between", "scatter"]  # band, profile band
    assert (tmp_path / "many.png").stat().st_size > 10_000


def test_a_label_on_two_tasks_is_two_groups_and_pooled_after_normalising(tmp_path: Path) -> None:
    # b beats a on both tasks; the tasks' returns differ by a factor of 100, so pooling raw returns would let
    # HalfCheetah decide alone (and one group mixing both tasks would be a meaningless sample)
    for task, scale in (("Hopper-v5", 1.0), ("HalfCheetah-v5", 100.0)):
        make_group(tmp_path / task / "a", [scale * v for v in (1, 2, 3, 4, 5)], env=task)
        make_group(tmp_path / task / "b", [scale * v for v in (6, 7, 8, 9, 10)], env=task)
    groups = compare.find_groups([tmp_path / "Hopper-v5", tmp_path / "HalfCheetah-v5"])
    assert [(g.name, g.env, len(g.runs)) for g in groups] == [
        ("a", "Hopper-v5", 5), ("b", "Hopper-v5", 5), ("a", "HalfCheetah-v5", 5), ("b", "HalfCheetah-v5", 5)]
    report = compare.compare_runs([tmp_path / "Hopper-v5", tmp_path / "HalfCheetah-v5"], tmp_path / "cmp")
    assert [p.name for p in report["plots"]] == ["cmp-Hopper-v5.png", "cmp-HalfCheetah-v5.png"]
    assert all(p.is_file() for p in report["plots"])
    assert "## Hopper-v5" in report["text"] and "## pooled over 2 tasks: Hopper-v5, HalfCheetah-v5" in report["text"]
    pooled = {r["pooled"]: r for r in report["rows"] if "aggregate_iqm" in r}
    # normalised per task to (x - 1) / 9: a = 0, 1/9, .., 4/9 and b = 5/9, .., 1 on both tasks
    assert pooled["a"]["aggregate_iqm"]["value"] == pytest.approx(float(stats.iqm(np.arange(5) / 9)))
    assert pooled["b"]["aggregate_iqm"]["value"] == pytest.approx(float(stats.iqm(np.arange(5, 10) / 9)))
    vs = next(r for r in report["rows"] if r.get("pooled") is True)
    assert vs["probability_of_improvement"]["value"] == 1.0 and vs["probability_of_improvement"]["ci"] == [1.0, 1.0]
    assert vs["iqm_difference"]["value"] == pytest.approx(5 / 9)


def test_pooled_improvement_averages_tasks_and_says_what_it_left_out(tmp_path: Path) -> None:
    # negative control: b wins on one task and loses on the other by the same margins: P = 1/2, difference 0
    make_group(tmp_path / "T1" / "a", [1, 2, 3, 4, 5], env="Hopper-v5")
    make_group(tmp_path / "T1" / "b", [6, 7, 8, 9, 10, 11], env="Hopper-v5")   # a sixth seed: cut
    make_group(tmp_path / "T2" / "a", [6, 7, 8, 9, 10], env="Walker2d-v5")
    make_group(tmp_path / "T2" / "b", [1, 2, 3, 4, 5], env="Walker2d-v5")
    make_group(tmp_path / "T2" / "c", [1, 2, 3, 4, 5], env="Walker2d-v5")   # on one task only
    text, rows = compare.pooled_table(compare.find_groups([tmp_path / "T1", tmp_path / "T2"]))
    vs = next(r for r in rows if r.get("pooled") is True)
    assert vs["probability_of_improvement"]["value"] == 0.5
    assert "first 5 runs by seed per task; left out beyond: b on Hopper-v5 (6)" in text
    assert "Not on every task, so not pooled: c" in text
    assert [r["pooled"] for r in rows if "aggregate_iqm" in r] == ["a", "b"]


def test_pooled_statistics_of_one_task_are_the_one_group_statistics() -> None:
    x = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0])
    y = np.array([2.0, 7.0, 1.0, 8.0, 2.0])
    assert stats.pooled_estimate(x[:, None]) == stats.estimate(x)
    assert stats.pooled_difference(x[:, None], y[:, None]) == stats.difference(x, y)
    assert stats.pooled_improvement(x[:, None], y[:, None]) == stats.improvement(x, y)
    with pytest.raises(ValueError, match="finite"):
        stats.pooled_estimate(np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match="tasks"):
        stats.pooled_difference(np.ones((5, 2)), np.ones((5, 3)))

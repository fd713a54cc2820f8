"""FourRoom: the gridworld, the data, exact returns, the tabular updates against pgcheck.updates'
gradients, and ``pgcheck experiment fourroom`` end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.experiment import MeanStd, Verdict
from agents.fourroom import model as fr
from agents.fourroom import rules
from agents.fourroom.analysis import (
    AlgorithmResult,
    RunStats,
    ScaleResult,
    VsFirstScale,
    check_improvement,
    check_speed,
)
from agents.fourroom.train import ALGORITHMS, FourRoomConfig, train
from pgcheck import updates
from pgcheck.certificate import CheckedScale
from pgcheck.check import checked_scale
from pgcheck_cli.main import main

GRID = fr.make_grid()
ALPHAS = ("0", "0.5", "1")
_SCALES: list[CheckedScale] = []


def scales() -> list[CheckedScale]:
    if not _SCALES:
        _SCALES.extend(checked_scale("mla_param", {"ao": "0", "ar": a}) for a in ALPHAS)
    return _SCALES


def test_grid_layout() -> None:
    assert GRID.n_states == 104 and GRID.cells[GRID.goal] == (11, 11)
    up, down, left, right = range(4)
    corner = GRID.cells.index((1, 1))
    assert GRID.next_state[corner, up] == corner and GRID.next_state[corner, left] == corner  # walls
    assert GRID.cells[GRID.next_state[corner, right]] == (1, 2)
    assert GRID.cells[GRID.next_state[corner, down]] == (2, 1)
    # every cell reaches the goal: the optimal return is positive from everywhere
    V = np.zeros(GRID.n_states)
    for _ in range(200):
        V = np.where(GRID.next_state == GRID.goal, 10.0, 0.9 * V[GRID.next_state]).max(1)
    assert np.all(V > 0)


def test_dataset_covers_every_pair_and_is_consistent() -> None:
    data = fr.make_datasets(GRID, [0, 1], 5000)
    for r in range(2):
        seen = np.zeros((GRID.n_states, 4), dtype=bool)
        seen[data.s[r], data.a[r]] = True
        assert seen[GRID.starts].all()
        np.testing.assert_array_equal(GRID.next_state[data.s[r], data.a[r]], data.s2[r])
        np.testing.assert_array_equal(data.done[r], (data.s2[r] == GRID.goal).astype(float))
        np.testing.assert_array_equal(data.r[r], 10.0 * data.done[r])
        assert not (data.s[r] == GRID.goal).any()


def test_policy_returns_match_iterative_evaluation() -> None:
    rng = np.random.default_rng(0)
    pi = rng.dirichlet(np.ones(4), size=(2, GRID.n_states))
    exact = fr.policy_returns(GRID, pi)
    for i in range(2):
        V = np.zeros(GRID.n_states)
        for _ in range(3000):  # V = Σ_a π (r + γ V(s')), goal terminal
            nxt = np.where(GRID.next_state == GRID.goal, 10.0, 0.9 * V[GRID.next_state])
            V = (pi[i] * nxt).sum(1)
            V[GRID.goal] = 0.0
        assert abs(V[GRID.starts].mean() - exact[i]) < 1e-9
    q_star = fr.optimal_q(GRID)
    assert abs(float(fr.policy_returns(GRID, fr.greedy(q_star))) - fr.optimal_return(GRID)) < 1e-9


def _batch(seed: int, R: int, B: int) -> fr.Minibatch:
    rng = np.random.default_rng(seed)
    s = rng.choice(GRID.starts, size=(R, B))
    a = rng.integers(0, 4, (R, B))
    s2 = GRID.next_state[s, a]
    done = (s2 == GRID.goal).astype(float)
    return fr.Minibatch(s, a, 10.0 * done, s2, done)


def _table(seed: int, R: int, K: int, spread: float) -> np.ndarray:
    out: np.ndarray = np.random.default_rng(seed).normal(scale=spread, size=(R, K, GRID.n_states, 4))
    return out


@settings(max_examples=10)
@given(st.integers(0, 2**31 - 1), st.integers(1, 12), st.floats(0.1, 5.0))
def test_ql_direction_equals_uq_loss_gradient(seed: int, B: int, spread: float) -> None:
    """Tabular Q-learning: −∇ uq_loss on the gathered rows, per run and scale, equals ql_direction."""
    R, K = 2, len(ALPHAS)
    q = _table(seed, R, K, spread)
    batch = _batch(seed, R, B)
    fast = rules.ql_direction(q, batch, scales())
    for r in range(R):
        for k, sc in enumerate(scales()):
            table = torch.tensor(q[r, k], requires_grad=True)
            s, a = torch.tensor(batch.s[r]), torch.tensor(batch.a[r])
            rows = table[s]
            with torch.no_grad():
                target = torch.tensor(batch.r[r]) + 0.9 * (1 - torch.tensor(batch.done[r])) * table[
                    torch.tensor(batch.s2[r])].max(-1).values
            logp = torch.log_softmax(rows, -1).gather(-1, a[:, None])[:, 0]
            d_o = updates.delta_o(logp, torch.full_like(logp, math.log(0.25)))
            d_r = updates.delta_r_q(target, rows.gather(-1, a[:, None])[:, 0])
            (g,) = torch.autograd.grad(updates.uq_loss(sc, rows, a, d_o, d_r), table)
            np.testing.assert_allclose(fast[r, k], -g.numpy(), rtol=1e-9, atol=1e-12)


@settings(max_examples=10)
@given(st.integers(0, 2**31 - 1), st.integers(1, 12), st.floats(0.1, 5.0))
def test_pg_directions_equal_up_and_uq_loss_gradients(seed: int, B: int, spread: float) -> None:
    """Actor: −∇ up_loss with T̂ = Q_w(s,a); critic: −∇ uq_loss(f_Q) with the expected-SARSA target."""
    R, K = 2, len(ALPHAS)
    theta, critic = _table(seed, R, K, spread), _table(seed + 1, R, K, 3 * spread)
    batch = _batch(seed, R, B)
    ident = checked_scale("q")
    d_actor, d_critic = rules.pg_directions(theta, critic, batch, scales(), ident)
    for r in range(R):
        for k, sc in enumerate(scales()):
            th = torch.tensor(theta[r, k], requires_grad=True)
            cr = torch.tensor(critic[r, k], requires_grad=True)
            s, a, s2 = torch.tensor(batch.s[r]), torch.tensor(batch.a[r]), torch.tensor(batch.s2[r])
            rows, c_rows = th[s], cr[s]
            logp = torch.log_softmax(rows, -1).gather(-1, a[:, None])[:, 0]
            d_o = updates.delta_o(logp, torch.full_like(logp, math.log(0.25)))
            t_hat = c_rows.gather(-1, a[:, None])[:, 0]
            d_r = updates.delta_r_q(t_hat, rows.gather(-1, a[:, None])[:, 0])
            (g_actor,) = torch.autograd.grad(updates.up_loss(sc, rows, a, d_o, d_r), th)
            with torch.no_grad():
                v_next = (torch.softmax(th[s2], -1) * cr[s2]).sum(-1)
                target = torch.tensor(batch.r[r]) + 0.9 * (1 - torch.tensor(batch.done[r])) * v_next
            (g_critic,) = torch.autograd.grad(updates.uq_loss(ident, c_rows, a, d_o,
                                                              updates.delta_r_q(target, t_hat)), cr)
            np.testing.assert_allclose(d_actor[r, k], -g_actor.numpy(), rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(d_critic[r, k], -g_critic.numpy(), rtol=1e-9, atol=1e-12)


def test_training_short_runs() -> None:
    cfg = FourRoomConfig(steps=300, runs=2, eval_every=100, dataset_size=3000)
    named = [(a, s) for a, s in zip(ALPHAS, scales(), strict=True)]
    for algo in ALGORITHMS:
        c = train(algo, cfg, named, checked_scale("q"))
        assert c.softmax_return.shape == (4, 2, 3) and list(c.steps) == [0, 100, 200, 300]
        assert np.all(c.softmax_return > 0) and np.all(c.softmax_return <= fr.optimal_return(GRID) + 1e-9)
        np.testing.assert_allclose(c.softmax_return[0], 0.28234813114998, atol=1e-9)  # uniform policy at start
        assert not c.diverged.any()
        again = train(algo, cfg, named, checked_scale("q"))
        np.testing.assert_array_equal(c.softmax_return, again.softmax_return)
    with pytest.raises(TypeError, match="CheckedScale"):
        train("ql", cfg, [("raw", lambda x, y: y)], checked_scale("q"))  # type: ignore


def _speeds(speed: list[float], final_diff: float = 1.0) -> AlgorithmResult:
    """An algorithm whose scales have these mean returns over training (and final paired differences)."""
    labels = tuple(f"f_MLA(0,{i})" for i in range(len(speed)))
    one = RunStats(0.0, 0.0, (0.0,))
    per = {lb: ScaleResult(one, RunStats(v, 0.0, (v,)), v, None,
                           VsFirstScale(v - speed[0], int(v > speed[0]), final_diff, int(final_diff > 0)),
                           MeanStd(0.0, 0.0), 0) for lb, v in zip(labels, speed, strict=True)}
    empty = np.zeros((len(speed), 1, 1))
    return AlgorithmResult("pg", 0.1, labels, np.zeros(1, dtype=np.int64), empty, empty, "", 0.0, per)


@pytest.mark.parametrize("speed, final_diff, improves, faster", [
    ([1.0, 2.0, 3.0], 1.0, "agrees", "agrees"),
    ([1.0, 3.0, 2.0], 1.0, "agrees", "partly"),  # every αr > 0 beats αr = 0, not in order
    ([1.0, 3.0, 2.0], -1.0, "partly", "partly"),  # better over training, worse at the end
    ([3.0, 1.0, 2.0], -1.0, "disagrees", "disagrees"),
])
def test_fourroom_verdicts(speed: list[float], final_diff: float, improves: str, faster: str) -> None:
    a = _speeds(speed, final_diff)
    assert [check_improvement(a, 1).verdict, check_speed(a).verdict] == [Verdict(improves), Verdict(faster)]


def test_cli_fourroom_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "fr"
    code = main(["experiment", "fourroom", "--seeds", "2", "--iterations", "400", "--alpha-r", "0,1",
                 "--out", str(out), "--no-progress"])
    assert code == 0, capsys.readouterr().err
    res = json.loads((out / "results.json").read_text())
    assert set(res["algorithms"]) == {"pg", "ql"}
    for a in res["algorithms"].values():
        assert a["labels"] == ["f_MLA(0,0)", "f_MLA(0,1)"]
        assert np.asarray(a["softmax_return"]).shape == (2, 2, len(a["steps"]))
    assert res["scales"]["critic: f_Q"]["overall"] == "VALID"
    for name in res["figures"]:
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    text = (out / "summary.md").read_text()
    assert "paper's findings" in text
    assert list(res["seconds"]) == ["train", "train_pg", "train_ql", "analyse", "plot", "total"]
    assert [c["case"] for c in res["claims"]] == [res["algorithms"][a]["name"] for a in ("pg", "pg", "ql", "ql")]
    for c in res["claims"]:
        assert c["verdict"] in {"agrees", "partly", "disagrees"} and c["source"] == "sec. 6.2, Figure 2"
        assert f"| {c['case']} | {c['paper']} ({c['source']}) | **{c['verdict']}** |" in text
    assert main(["experiment", "fourroom", "--alpha-r", "0,x", "--out", str(out), "--no-progress"]) == 2
    assert "--alpha-r" in capsys.readouterr().err

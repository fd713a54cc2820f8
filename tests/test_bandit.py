"""The 2-D bandit: the vectorised rules equal pgcheck.updates' gradients, J is computed accurately,
training is reproducible, and ``pgcheck experiment`` runs end to end and rejects bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.bandit import BanditExperiment, model, returns, rules
from agents.bandit.analysis import analyse
from agents.bandit.train import BanditConfig, train
from agents.experiment import Verdict, scale_records
from pgcheck import updates
from pgcheck.certificate import CheckedScale
from pgcheck.check import checked_scale
from pgcheck_cli.main import main

NAMES = ("sq", "ml", "sil", "mla")
_SCALES: list[tuple[str, CheckedScale]] = []


def scales() -> list[tuple[str, CheckedScale]]:
    if not _SCALES:
        _SCALES.extend((n, checked_scale(n)) for n in NAMES)
    return _SCALES


LOSSES = (updates.uq_loss, updates.uv_loss, updates.up_loss)  # in rules.FORMS order


def _torch_update(theta: np.ndarray, batch: model.Batch, s: int, form: int, sc: CheckedScale) -> np.ndarray:
    """−∇θ of pgcheck.updates' loss for one rule and one seed, built from the model of sec. 6.1."""
    th = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    x = torch.tensor(batch.x[:, s, :].T)  # (B, 2)
    a = torch.tensor(batch.a[s])
    v = th * (1 + x) - 1
    q = v[:, 0:1] * torch.tensor(model.COS) + v[:, 1:2] * torch.tensor(model.SIN)  # q_θ(x, ·)
    logp = torch.log_softmax(q, -1).gather(-1, a[:, None])[:, 0]
    d_o = updates.delta_o(logp, torch.full_like(logp, -math.log(8)))
    d_r = updates.delta_r_q(torch.tensor(batch.r[s]), q.gather(-1, a[:, None])[:, 0])
    (g,) = torch.autograd.grad(LOSSES[form](sc, q, a, d_o, d_r), th)
    out: np.ndarray = -g.numpy()
    return out


@settings(max_examples=15)
@given(st.integers(0, 2**31 - 1), st.integers(1, 9), st.floats(0.05, 4.0))
def test_rule_updates_equal_pgcheck_gradients(seed: int, B: int, spread: float) -> None:
    """Every rule's closed-form batch update equals −∇ of the matching pgcheck.updates loss."""
    rng = np.random.default_rng(seed)
    S, L = 2, 2
    theta = rng.normal(scale=spread, size=(2, L, 3, len(NAMES), S))
    stream = model.DataStream(list(range(seed % 7, seed % 7 + S)), B)
    batch = stream.next()
    fast = rules.rule_updates(theta, batch, [sc for _, sc in scales()])
    for li in range(L):
        for f in range(3):
            for k, (_, sc) in enumerate(scales()):
                for s in range(S):
                    expected = _torch_update(theta[:, li, f, k, s], batch, s, f, sc)
                    np.testing.assert_allclose(fast[:, li, f, k, s], expected, rtol=1e-9, atol=1e-12)


def test_model_pieces() -> None:
    x = np.array([[0.3, -1.2], [2.0, 0.5]])
    theta = np.array([0.7, 1.9])
    q = model.logits(theta, x)
    manual = np.array([[(0.7 * 1.3 - 1) * math.cos(2 * math.pi * a / 8) + (1.9 * (-0.2) - 1) * math.sin(
        2 * math.pi * a / 8) for a in range(8)], [(0.7 * 3 - 1) * math.cos(2 * math.pi * a / 8)
                                                  + (1.9 * 1.5 - 1) * math.sin(2 * math.pi * a / 8)
                                                  for a in range(8)]])
    np.testing.assert_allclose(q, manual, atol=1e-12)
    np.testing.assert_allclose(np.einsum("bud,d->bu", model.features(x), theta) - (model.COS + model.SIN), q,
                               atol=1e-12)  # q is affine in θ with gradient `features`
    r = model.rewards(x)
    assert np.all((r > 0) & (r < 1))
    np.testing.assert_allclose(r[0, 0], 1 / (1 + math.exp(-0.3)))


def _mc(theta: tuple[float, float], policy: str, n: int = 400_000) -> tuple[float, float]:
    return returns.monte_carlo_return(theta, policy, n=n, seed=11)


@pytest.mark.parametrize("theta", [(1.0, 1.0), (2.5, 2.5), (0.4, 1.7), (-1.0, 3.0), (12.0, 12.0), (0.0, 2.0)])
@pytest.mark.parametrize("policy", ["softmax", "greedy"])
def test_expected_return_agrees_with_monte_carlo(theta: tuple[float, float], policy: str) -> None:
    j = float(returns.expected_return(np.asarray([theta]), policy)[0])
    mean, se = _mc(theta, policy)
    assert abs(j - mean) < 5 * se, (j, mean, se)


def test_expected_return_exact_values_and_convergence() -> None:
    # θ = (0, 0): every context gets the same action (q does not depend on x) and E σ(⟨x, Ψ⟩) = 1/2.
    for p in ("softmax", "greedy"):
        assert abs(returns.expected_return(np.zeros((1, 2)), p)[0] - 0.5) < 1e-6
    # Symmetry θ0 <-> θ1 (reflection a -> 2 - a), and agreement between resolutions.
    pts = np.array([[0.3, 1.4], [1.4, 0.3], [3.0, 0.8], [0.8, 3.0], [7.0, -2.0], [-2.0, 7.0]])
    for p in ("softmax", "greedy"):
        lo = returns.expected_return(pts, p, 24, 32)
        hi = returns.expected_return(pts, p, 48, 64)
        np.testing.assert_allclose(lo, hi, atol=1e-6)
        np.testing.assert_allclose(hi[0::2], hi[1::2], atol=1e-10)
    # Cartesian Gauss-Hermite is accurate for the smooth softmax case with moderate θ.
    z, w = np.polynomial.hermite_e.hermegauss(80)
    w = w / w.sum()
    x = np.stack(np.meshgrid(z, z, indexing="ij"), -1).reshape(-1, 2)
    ww = np.outer(w, w).ravel()
    for th in ([1.0, 1.0], [2.0, 0.5]):
        q = model.logits(np.asarray(th), x)
        pi = np.exp(q - q.max(-1, keepdims=True))
        pi /= pi.sum(-1, keepdims=True)
        gh = float(((pi * model.rewards(x)).sum(-1) * ww).sum())
        assert abs(gh - returns.expected_return(np.asarray([th]), "softmax")[0]) < 1e-8


def test_greedy_optimum_is_the_papers_theta_and_softmax_optimum_is_not() -> None:
    (t0, t1), j = returns.maximise("greedy", (1.3, 0.7), n_phi=24, n_rho=32)
    assert abs(t0 - 1) < 1e-3 and abs(t1 - 1) < 1e-3
    # J_greedy(1, 1) = E max_a r(x, a): no policy can do better
    rng = np.random.default_rng(3)
    x = rng.standard_normal((200_000, 2))
    best = model.rewards(x).max(-1)
    assert abs(j - best.mean()) < 5 * best.std() / math.sqrt(len(best))
    soft = returns.expected_return(np.array([[1.0, 1.0], [2.5, 2.5]]), "softmax")
    assert soft[1] > soft[0] + 0.03  # the softmax landscape peaks near (2.5, 2.5), not at (1, 1)


def test_training_is_reproducible_and_per_seed() -> None:
    cfg2 = BanditConfig(iterations=60, seeds=2, lr=0.05)
    a = train(cfg2, scales())
    b = train(cfg2, scales())
    np.testing.assert_array_equal(a.theta, b.theta)
    one = train(BanditConfig(iterations=60, seeds=1, lr=0.05), scales())
    np.testing.assert_array_equal(one.theta[..., 0], a.theta[..., 0])  # seed 0's data ignore seed 1
    assert a.theta.shape == (len(cfg2.record_at()), 2, 1, 3, 4, 2)
    assert a.iterations[0] == 0 and a.iterations[-1] == 60
    assert not a.diverged.any()
    np.testing.assert_array_equal(a.theta[0], 0.0)  # every rule starts at θ = (0, 0)


def test_train_accepts_only_checked_scales() -> None:
    with pytest.raises(TypeError, match="CheckedScale"):
        train(BanditConfig(iterations=2, seeds=1), [("raw", lambda x, y: y)])  # type: ignore


def test_lr_sweep_is_one_vectorised_run() -> None:
    cfg = BanditConfig(iterations=30, seeds=1, lr=0.01, lr_sweep=(0.1, 0.01))
    t = train(cfg, scales())
    assert t.lrs == (0.01, 0.1)
    alone = train(BanditConfig(iterations=30, seeds=1, lr=0.1), scales())
    np.testing.assert_allclose(t.theta[:, :, 1], alone.theta[:, :, 0], rtol=1e-12)


def test_findings_about_rules_not_in_the_run_are_not_tested() -> None:
    """Without f_MLA and f_SQ the findings naming UP(f_MLA), UQ(f_SQ) and UP(f_SQ) decide nothing; the
    per-form finding is still decided, for both return definitions."""
    named = [(n, checked_scale(n)) for n in ("ml", "sil")]
    cfg = BanditConfig(iterations=30, seeds=1)
    res = analyse(train(cfg, named), cfg, scale_records(named), quick=True)
    assert [c.case for c in res.claims] == ["softmax policy"] * 4 + ["greedy policy"] * 4
    assert [c.verdict is Verdict.NOT_TESTED for c in res.claims] == [True, False, True, True] * 2
    assert all(c.source.startswith("sec. 6.1") for c in res.claims)
    assert res.rules == ("UQ(f_ML)", "UQ(f_SIL)", "UV(f_ML)", "UV(f_SIL)", "UP(f_ML)", "UP(f_SIL)")


# ---------------------------------------------------------------------------------------------------
# the command line


def test_cli_bandit_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bandit"
    code = main(["experiment", "bandit", "--seeds", "2", "--iterations", "40", "--lr-sweep", "0.05", "--quick",
                 "--out", str(out), "--no-progress"])
    assert code == 0, capsys.readouterr().err
    res = json.loads((out / "results.json").read_text())
    assert res["experiment"] == "bandit" and len(res["rules"]) == 12
    assert res["config"]["iterations"] == 40 and res["config"]["seeds"] == [0, 1]
    assert res["lr_sweep"]["lrs"] == [0.01, 0.05]
    assert all(v["overall"] == "VALID" for v in res["scales"].values())
    curves = np.asarray(res["curves"]["regret_softmax"])
    assert curves.shape == (12, 2, len(res["curves"]["iterations"])) and np.all(curves >= -1e-9)
    for name in res["figures"]:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = (out / "summary.md").read_text()
    assert "θ* = (1, 1)" in text and "paper's findings" in text
    # Table 1's scales: all four findings are decided, for both return definitions, and each verdict
    # is in the summary's table too
    assert len(res["claims"]) == 8
    assert {c["verdict"] for c in res["claims"]} <= {"agrees", "partly", "disagrees"}
    for c in res["claims"]:
        assert f"| {c['case']} | {c['paper']} ({c['source']}) | **{c['verdict']}** | {c['measured']} |" in text
    assert not list(out.glob("*.tmp*")) and not list(out.glob(".*tmp*"))


@pytest.mark.parametrize("argv, message", [
    (["experiment", "bandit", "--seeds", "0"], "--seeds must be at least 1"),
    (["experiment", "cartpole"], "unknown experiment 'cartpole'"),
    (["experiment", "bandit", "--iterations", "0"], "--iterations must be at least 1"),
    (["experiment", "bandit", "--lr-sweep", "0.1,abc"], "not a number"),
    (["experiment", "bandit", "--scale", "nosuchname(x)"], "scale 'nosuchname(x)'"),
    (["experiment", "bandit", "--lr", "inf"], "--lr must be a finite positive number"),
    (["experiment", "bandit", "--alpha-r", "0.1"], "--alpha-r applies to fourroom only"),
    (["experiment", "fourroom", "--lr", "0.5"], "--lr applies to bandit only"),
    (["experiment", "fourroom", "--quick"], "--quick applies to bandit only"),
    (["experiment", "fourroom", "--scale", "q", "--alpha-r", "0.1"], "--alpha-r and --scale both choose"),
])
def test_cli_bad_input_is_one_line(argv: list[str], message: str, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*argv, "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_cli_unwritable_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["experiment", "bandit", "--out", str(blocker / "sub"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "cannot write there" in err and err.count("\n") == 1


def test_cli_invalid_scale_stops_with_counterexample(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o"
    code = main(["experiment", "bandit", "--scale", "sq", "--scale", "y * (1 + x)", "--out", str(out),
                 "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err
    assert "INVALID" in err and "refuted" in err and " > f(" in err and err.count("\n") == 1
    assert not out.exists()  # refused before --out is touched


def test_cli_failed_run_keeps_previous_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Outputs are staged and moved in only when all exist: a run that fails while drawing its figures
    leaves the previous run's files as they were, and no staging directory behind."""
    out = tmp_path / "o"
    argv = ["experiment", "bandit", "--seeds", "1", "--iterations", "20", "--quick", "--out", str(out),
            "--no-progress"]
    assert main(argv) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken_figures(self: BanditExperiment, results: Any, out_dir: Path) -> list[Path]:
        (out_dir / "fig1_final_regret.png").write_bytes(b"half-written")
        raise RuntimeError("disk full")

    monkeypatch.setattr(BanditExperiment, "figures", broken_figures)
    capsys.readouterr()
    assert main([*argv[:5], "40", *argv[6:]]) == 3  # an internal failure: one line, exit 3, never a traceback
    assert "internal error (RuntimeError: disk full)" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_huge_learning_rate_is_flagged_as_diverged_not_a_crash(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o"
    assert main(["experiment", "bandit", "--seeds", "1", "--iterations", "30", "--quick", "--lr", "1e300",
                 "--out", str(out), "--no-progress"]) == 0, capsys.readouterr().err
    res = json.loads((out / "results.json").read_text())
    assert all(v["diverged_seeds"] == 1 for v in res["final"].values())

"""V-MPO on the lane trainer (agents.algos.vmpo): the checked rule is VALID and its uncentred variant refused; on a
tie-free on-policy minibatch its policy gradient is eq. (20)'s up to the stated centring term; the temperature
loss is eq. (21); the multipliers stay at or above their minimums; a lane that overflows fails alone; a killed
run resumes bitwise; a tiny Hopper run logs the V-MPO metrics."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from agents.algos.vmpo import ALGORITHMS, METRICS, VMPO, VMPO_RULE, temperature_loss, vmpo_policy_loss
from agents.config import PPOConfig
from agents.lanerun import run_lanes_job
from agents.lanes import LaneTrainer
from agents.rundir import checkpoint_bytes, from_plain, load_checkpoint
from agents.runner import create_run
from pgcheck.certificate import CheckedScale, InvalidScaleError
from pgcheck.check import checked_scale
from pgcheck.errors import UserError

TINY: dict[str, Any] = {"env_id": "Hopper-v5", "algo": "vmpo", "scale": VMPO_RULE, "scale_params": {},
                        "total_steps": 192, "num_steps": 64, "minibatch_size": 32, "update_epochs": 2,
                        "adv_norm": "none", "clip_vloss": False, "checkpoint_every": 1}
ETA = 0.5


def _lanes(configs: list[PPOConfig]) -> list[tuple[PPOConfig, CheckedScale]]:
    return [(c, checked_scale(c.scale, c.scale_params)) for c in configs]


def test_the_rule_is_valid_and_its_uncentred_variant_cannot_build_an_agent() -> None:
    rule = checked_scale(VMPO_RULE)
    assert rule.certificate.overall == "VALID"
    assert ALGORITHMS["vmpo"].preset["scale"] == VMPO_RULE and ALGORITHMS["vmpo"].metrics == METRICS
    for uncentred in ("exp(x) * exp(y)", "exp(y)"):   # V-MPO's weight before the −1: f(x, 0) = 1 ≠ 0
        with pytest.raises(InvalidScaleError, match="INVALID"):
            checked_scale(uncentred)
    # a VALID rule that is not V-MPO's (f_ML: no selection) is refused by the algorithm, in one line
    c = PPOConfig(**{**TINY, "scale": "ml"})
    with pytest.raises(UserError, match="V-MPO's policy loss is the checked rule"):
        LaneTrainer([(c, checked_scale("ml"))])


def _policy(seed: int, n: int) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
    """A float64 Gaussian MLP policy's log π(a_i|s_i) on n samples, its parameters and tie-free advantages."""
    g = torch.Generator().manual_seed(seed)
    w1 = torch.randn(3, 8, generator=g, dtype=torch.float64).requires_grad_(True)
    w2 = torch.randn(8, 2, generator=g, dtype=torch.float64).requires_grad_(True)
    log_std = (0.1 * torch.randn(2, generator=g, dtype=torch.float64)).requires_grad_(True)
    obs = torch.randn(n, 3, generator=g, dtype=torch.float64)
    mu = torch.tanh(obs @ w1) @ w2
    actions = (mu + torch.randn(n, 2, generator=g, dtype=torch.float64)).detach()
    log_prob = (-0.5 * ((actions - mu) / log_std.exp()) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
    adv = torch.randn(n, generator=g, dtype=torch.float64)
    assert len(set(adv.tolist())) == n      # tie-free
    return log_prob, [w1, w2, log_std], adv


def _grad(loss: torch.Tensor, wrt: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
    """−∇loss, flat. With respect to the per-sample log π it is each sample's coefficient (divided by |B|):
    stronger than the parameter gradient, which the same linear map (the Jacobian of log π) gives."""
    grads = torch.autograd.grad(-loss, wrt, retain_graph=True)
    return torch.cat([g.reshape(-1) for g in grads])


# η = 0.01: ΔR up to ~300, beyond float32's e^88 (the weights are then nearly one-hot, so whole-batch and
# top-half normalisation agree there: the negative controls are run at η = 0.5)
@pytest.mark.parametrize(("eta", "controls"), [(ETA, True), (0.01, False)])
def test_on_policy_gradient_is_eq20_minus_the_centring_term(eta: float, controls: bool) -> None:
    n = 16
    log_prob, params, adv = _policy(3, n)
    rule = checked_scale(VMPO_RULE)
    entropy = torch.zeros(n, dtype=torch.float64)
    loss, parts = vmpo_policy_loss(rule, log_prob[None], entropy[None], log_prob.detach()[None], adv[None],
                                   torch.tensor([eta], dtype=torch.float64))
    ours = _grad(loss.sum(), log_prob)
    # eq. (20) with the weights from the definition: softmax of Â/η over the top half D̃
    top = torch.topk(adv, n // 2).indices
    in_top = torch.zeros(n, dtype=torch.bool)
    in_top[top] = True
    w = torch.zeros(n, dtype=torch.float64)
    w[top] = torch.softmax(adv[top] / eta, 0)
    eq20 = _grad(-(w * log_prob).sum(), log_prob)
    # the stated difference: the centring −1 subtracts e^{t_B/η}/Σ_{D̃}e^{Â/η} per selected sample, t_B the
    # largest Â outside D̃
    t_b = adv[~in_top].max()
    centring = torch.exp((t_b - adv[top].max()) / eta) / torch.exp((adv[top] - adv[top].max()) / eta).sum()
    expected = eq20 - centring * in_top.double()
    assert torch.isfinite(ours).all()
    assert torch.allclose(ours, expected, rtol=0, atol=1e-12), (ours - expected).abs().max()
    assert parts["selected"].item() == 0.5 and parts["threshold"].item() == t_b.item()
    assert torch.allclose(parts["coefficient"][0], n * w - n * centring * in_top.double(), rtol=0, atol=1e-11)
    # the policy gradient in the parameters: eq. (20)'s minus the centring term's
    theirs = _grad(-(w * log_prob).sum(), params) - _grad(-(centring * in_top * log_prob).sum(), params)
    assert torch.allclose(_grad(loss.sum(), params), theirs, rtol=0, atol=1e-11)
    if not controls:
        return
    # negative control: normalising over the whole batch D instead of D̃
    whole = _grad(-(torch.softmax(adv / eta, 0) * log_prob).sum(), log_prob) - centring * in_top.double()
    assert (whole - ours).abs().max() > 1e-3
    # negative control: the stated difference is not zero (the centring does change this batch's update)
    assert (eq20 - ours).abs().max() > 1e-3


def test_temperature_loss_gradient_is_autograd_of_eq21() -> None:
    g = torch.Generator().manual_seed(5)
    adv = torch.randn(2, 32, generator=g, dtype=torch.float64)
    eps = torch.tensor([0.01, 0.2], dtype=torch.float64)
    eta = torch.tensor([0.7, 1.3], dtype=torch.float64, requires_grad=True)
    (ours,) = torch.autograd.grad(temperature_loss(eta, adv, eps).sum(), eta)
    # the seed's formula as printed, naively: η ε_η + η log((1/|D̃|) Σ_{D̃} exp(Â/η))
    ref_eta = eta.detach().clone().requires_grad_(True)
    top = adv.topk(16, -1).values
    seed = ref_eta * eps + ref_eta * torch.log(torch.exp(top / ref_eta[:, None]).mean(-1))
    (ref,) = torch.autograd.grad(seed.sum(), ref_eta)
    assert torch.allclose(ours, ref, rtol=0, atol=1e-12)
    # and it is ε_η − KL(w ‖ uniform on D̃), the dual's well-known gradient (η falls while the weights are flatter)
    w = torch.softmax(top / eta.detach()[:, None], -1)
    assert torch.allclose(ours, eps - (w * torch.log(w * 16)).sum(-1), rtol=0, atol=1e-12)
    # negative control: the same formula over the whole batch D
    whole_eta = eta.detach().clone().requires_grad_(True)
    whole = whole_eta * eps + whole_eta * torch.log(torch.exp(adv / whole_eta[:, None]).mean(-1))
    (ctrl,) = torch.autograd.grad(whole.sum(), whole_eta)
    assert (ctrl - ours).abs().max() > 1e-3
    # finite where the naive formula overflows (η = 1e-3: e^{Â/η} = inf)
    tiny = torch.tensor([1e-3, 1e-3], dtype=torch.float64, requires_grad=True)
    (small,) = torch.autograd.grad(temperature_loss(tiny, adv, eps).sum(), tiny)
    assert torch.isfinite(small).all() and not torch.isfinite(torch.exp(top / 1e-3)).all()


def test_multipliers_are_projected_to_their_minimums() -> None:
    # ε_η and ε_ν far above any KL: every gradient step lowers η and ν, which the projection holds at the floor
    c = PPOConfig(**{**TINY, "learning_rate": 0.05, "anneal_lr": False, "vmpo_eps_eta": 5.0, "vmpo_eps_nu_mu": 5.0,
                     "vmpo_eps_nu_sigma": 5.0, "vmpo_eta_init": 0.2, "vmpo_eta_min": 0.1,
                     "vmpo_nu_mu_init": 0.2, "vmpo_nu_sigma_init": 0.2, "vmpo_nu_min": 0.1})
    trainer = LaneTrainer(_lanes([c]))
    assert isinstance(trainer.algorithm, VMPO)
    m = trainer.train_one_update()[0]
    floor = torch.tensor([0.1, 0.1, 0.1])
    assert torch.equal(trainer.algorithm.dual[0], floor)       # the projection was active (Adam alone: < 0)
    assert m["vmpo_eta"] == m["vmpo_nu_mu"] == m["vmpo_nu_sigma"] == floor[0].item()
    bad = PPOConfig(**{**TINY, "vmpo_eta_init": 1e-9})
    with pytest.raises(UserError, match="vmpo_eta_init 1e-09"):
        LaneTrainer(_lanes([bad]))


def test_a_lane_whose_exponent_overflows_fails_alone() -> None:
    configs = [PPOConfig(**TINY, seed=0), PPOConfig(**{**TINY, "vmpo_eta_init": 1e-8}, seed=1)]  # ΔR/η ≈ 1e7
    trainer = LaneTrainer(_lanes(configs))
    results = trainer.train_one_update()
    assert list(results) == [0] and list(trainer.failed) == [1]
    assert "overflows float64" in trainer.failed[1] and "η = 1e-08" in trainer.failed[1]
    assert all(math.isfinite(results[0][k]) for k in METRICS)


def _make_runs(root: Path, configs: list[PPOConfig]) -> list[str]:
    runs = []
    for k, c in enumerate(configs):
        run = root / f"lane_{k}"
        create_run(run, c, checked_scale(c.scale, c.scale_params).certificate.to_json(), {"label": root.name})
        runs.append(str(run))
    return runs


def test_a_tiny_hopper_run_trains_logs_its_metrics_and_resumes_bitwise(tmp_path: Path) -> None:
    configs = [PPOConfig(**TINY, seed=0), PPOConfig(**TINY, seed=1)]
    ref = run_lanes_job(_make_runs(tmp_path / "ref", configs), resume=False)
    assert [r.status for r in ref] == ["finished", "finished"]
    for r in ref:
        rows = list(csv.DictReader((Path(r.run) / "metrics.csv").open()))
        assert len(rows) == 3
        for row in rows:
            assert all(math.isfinite(float(row[k])) for k in METRICS)
            assert float(row["vmpo_selected"]) == 0.5                   # the top half, exactly (no ties)
            assert float(row["vmpo_eta"]) >= 1e-8 and float(row["vmpo_nu_sigma"]) >= 1e-8
        assert rows[0]["vmpo_eta"] != rows[-1]["vmpo_eta"]             # η is learned
    cut = _make_runs(tmp_path / "cut", configs)
    assert [r.status for r in run_lanes_job(cut, resume=False, stop_after_updates=1)] == ["stopped", "stopped"]
    assert [r.status for r in run_lanes_job(cut, resume=True)] == ["finished", "finished"]
    for a, b in zip([r.run for r in ref], cut, strict=True):
        sa, sb = load_checkpoint(Path(a)), load_checkpoint(Path(b))
        assert sa is not None and sb is not None and sa["global_step"] == sb["global_step"] == 192
        for k, v in sa["policy"].items():
            assert torch.equal(v, sb["policy"][k]), k
        for k in ("eta", "nu_mu", "nu_sigma"):
            assert torch.equal(sa["algorithm"][k], sb["algorithm"][k]), k
        assert torch.equal(sa["algorithm"]["optimizer"]["exp_avg_sq"], sb["algorithm"]["optimizer"]["exp_avg_sq"])
        assert (Path(a) / "metrics.csv").read_text().count("\n") == (Path(b) / "metrics.csv").read_text().count("\n")


def test_the_algorithm_state_is_what_makes_the_resume_bitwise() -> None:
    configs = [PPOConfig(**TINY, seed=2)]
    ref = LaneTrainer(_lanes(configs))
    ref.learn(max_updates=1)
    state = from_plain(torch.load(io.BytesIO(checkpoint_bytes(ref.lane_state_dict(0))), weights_only=True))
    ref.learn(max_updates=1)
    resumed, control = LaneTrainer(_lanes(configs)), LaneTrainer(_lanes(configs))
    resumed.load_lane_state_dict(0, state)
    fresh_dual = {**state, "algorithm": _fresh_algorithm_state(control)}
    control.load_lane_state_dict(0, fresh_dual)
    resumed.learn(max_updates=1)
    control.learn(max_updates=1)
    assert torch.equal(resumed.stack.flat, ref.stack.flat)
    assert isinstance(resumed.algorithm, VMPO) and isinstance(ref.algorithm, VMPO)
    assert torch.equal(resumed.algorithm.dual, ref.algorithm.dual)
    # negative control: the same checkpoint with the multipliers of a fresh lane does not give the same run
    assert not torch.equal(control.stack.flat, ref.stack.flat)


def _fresh_algorithm_state(trainer: LaneTrainer) -> dict[str, Any]:
    assert trainer.algorithm is not None
    return trainer.algorithm.lane_state(0)

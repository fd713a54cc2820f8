"""TRPO on the lane trainer (agents.algos.trpo, seed 001 §4.3, Algorithm 5): the conjugate gradient solves each
lane's damped Fisher system, the Fisher-vector products are the explicit Hessian of the analytic KL times v, the
line search keeps KL ≤ δ and shrinks when a step violates it, g is the surrogate's gradient, lanes are
independent, a NaN lane fails alone, the critic's Adam never moves the policy, and a run trains, logs and
resumes bitwise."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from agents.algos.trpo import (
    ALGORITHMS,
    TRPO,
    conjugate_gradient,
    fisher_vector_product,
    flat_grad,
    gaussian_kl,
    line_search,
    surrogate,
)
from agents.config import PPOConfig
from agents.lanerun import run_lanes_job
from agents.lanes import LaneTrainer
from agents.ppo import PPO
from agents.rundir import load_checkpoint
from agents.runner import create_run
from pgcheck.certificate import CheckedScale
from pgcheck.check import checked_scale
from pgcheck.errors import UserError

TINY: dict[str, Any] = {**ALGORITHMS["trpo"].preset, "num_envs": 1, "num_steps": 64, "minibatch_size": 32,
                        "update_epochs": 2, "total_steps": 192, "checkpoint_every": 1}
# a lane with another lane added or removed, default batched GEMM (exact_lanes false): measured max |Δθ| 6.0e-8
# after 2 updates (7e-8 after 3), float32 rounding of the other blocking; seeds differ by 0.95. With exact_lanes
# the lane is bitwise the same (checked too).
LANE_TOLERANCE = 1e-5


def _lanes(configs: list[PPOConfig]) -> list[tuple[PPOConfig, CheckedScale]]:
    return [(c, checked_scale(c.scale, c.scale_params)) for c in configs]


def _trainer(seeds: tuple[int, ...], **over: Any) -> LaneTrainer:
    return LaneTrainer(_lanes([PPOConfig(**{**TINY, **over}, seed=s) for s in seeds]))


def _algorithm(trainer: LaneTrainer) -> TRPO:
    assert isinstance(trainer.algorithm, TRPO)
    return trainer.algorithm


# ---------------------------------------------------------------------------------------------------
# a tiny stacked Gaussian policy in float64: μ_l(s) = tanh(s W1_l + b1_l) W2_l + b2_l, log σ_l


class Tiny:
    def __init__(self, lanes: int, seed: int, n: int = 12, obs: int = 3, hidden: int = 4, act: int = 2) -> None:
        g = torch.Generator().manual_seed(seed)
        shapes = [(obs, hidden), (hidden,), (hidden, act), (act,), (act,)]
        scales = [0.8, 0.3, 0.8, 0.3, 0.3]
        self.params = [(s * torch.randn(lanes, *sh, generator=g, dtype=torch.float64)).requires_grad_(True)
                       for sh, s in zip(shapes, scales, strict=True)]
        self.shapes = shapes
        self.obs = torch.randn(lanes, n, obs, generator=g, dtype=torch.float64)
        self.actions = torch.randn(lanes, n, act, generator=g, dtype=torch.float64)
        self.adv = torch.randn(lanes, n, generator=g, dtype=torch.float64)
        self.lanes = lanes

    @staticmethod
    def mean(params: list[torch.Tensor], obs: torch.Tensor) -> torch.Tensor:
        w1, b1, w2, b2, _ = params
        return torch.tanh(obs @ w1 + b1.unsqueeze(-2)) @ w2 + b2.unsqueeze(-2)

    def log_prob(self, params: list[torch.Tensor]) -> torch.Tensor:
        mu, log_std = self.mean(params, self.obs), params[4]
        z = (self.actions - mu) / log_std.exp().unsqueeze(1)
        return (-0.5 * z ** 2 - log_std.unsqueeze(1) - 0.5 * math.log(2 * math.pi)).sum(-1)

    def kl(self) -> torch.Tensor:
        mu = self.mean(self.params, self.obs)
        return gaussian_kl(mu.detach(), self.params[4].detach(), mu, self.params[4])

    def fisher(self, lane: int) -> torch.Tensor:
        """The explicit Hessian of lane ``lane``'s KL̄ at its parameters, by torch.autograd.functional."""
        mu_old = self.mean(self.params, self.obs)[lane:lane + 1].detach()
        log_std_old = self.params[4][lane:lane + 1].detach()
        theta = torch.cat([p[lane].detach().reshape(-1) for p in self.params])

        def kl_of(flat: torch.Tensor) -> torch.Tensor:
            parts, k = [], 0
            for sh in self.shapes:
                size = math.prod(sh)
                parts.append(flat[k:k + size].reshape(1, *sh))
                k += size
            return gaussian_kl(mu_old, log_std_old, self.mean(parts, self.obs[lane:lane + 1]), parts[4]).sum()

        hessian = torch.autograd.functional.hessian(kl_of, theta)  # type: ignore[no-untyped-call]  # torch: unannotated
        assert isinstance(hessian, torch.Tensor)
        return hessian


def test_gaussian_kl_is_the_analytic_kl_of_the_policies_in_the_right_direction() -> None:
    tiny = Tiny(2, 0)
    mu = Tiny.mean(tiny.params, tiny.obs).detach()
    other = mu + 0.3 * torch.randn_like(mu)
    log_std, log_std_other = tiny.params[4].detach(), tiny.params[4].detach() + 0.2
    ours = gaussian_kl(mu, log_std, other, log_std_other)

    def dist(m: torch.Tensor, s: torch.Tensor) -> torch.distributions.Normal:
        return torch.distributions.Normal(m, s.exp().unsqueeze(1).expand_as(m))

    reference = torch.distributions.kl_divergence(dist(mu, log_std), dist(other, log_std_other)).sum(-1).mean(-1)
    assert torch.allclose(ours, reference, rtol=1e-12, atol=0)
    # negative control: KL(πθ ‖ π_old), the other direction, is another number
    reverse = torch.distributions.kl_divergence(dist(other, log_std_other), dist(mu, log_std)).sum(-1).mean(-1)
    assert (ours - reverse).abs().min() > 1e-3


def test_fvp_is_the_explicit_fisher_times_v_on_every_lane() -> None:
    tiny = Tiny(3, 1)
    damping = torch.tensor([0.1, 0.5, 0.0], dtype=torch.float64)
    fvp = fisher_vector_product(tiny.kl(), tiny.params, damping)
    v = torch.randn(3, sum(math.prod(s) for s in tiny.shapes), dtype=torch.float64,
                    generator=torch.Generator().manual_seed(5))
    out = fvp(v)
    undamped = fisher_vector_product(tiny.kl(), tiny.params, torch.zeros(3, dtype=torch.float64))(v)
    for lane in range(3):
        F = tiny.fisher(lane)
        assert torch.allclose(F, F.T, atol=1e-12)
        expected = F @ v[lane] + damping[lane] * v[lane]
        assert (out[lane] - expected).abs().max() < 1e-12, lane
        # negative control: without damping the product misses exactly λv (a real difference where λ > 0)
        assert (undamped[lane] - F @ v[lane]).abs().max() < 1e-12
        miss = (undamped[lane] - expected).abs().max()
        assert miss > 1e-3 if damping[lane] > 0 else miss < 1e-12


def test_conjugate_gradient_solves_each_lanes_damped_fisher_system() -> None:
    tiny = Tiny(3, 2)
    damping = torch.tensor([0.1, 0.03, 1.0], dtype=torch.float64)
    fvp = fisher_vector_product(tiny.kl(), tiny.params, damping)
    log_prob = tiny.log_prob(tiny.params)
    loss, _ = surrogate(checked_scale("sq", {}), log_prob, torch.zeros_like(log_prob), log_prob.detach(),
                        tiny.adv, 0.0)
    g = -flat_grad(loss.sum(), tiny.params)
    P = g.shape[1]
    x = conjugate_gradient(fvp, g, 3 * P, residual_tol=1e-30)
    short = conjugate_gradient(fvp, g, torch.tensor([2, 3 * P, 3 * P]), residual_tol=1e-30)
    for lane in range(3):
        A = tiny.fisher(lane) + damping[lane] * torch.eye(P, dtype=torch.float64)
        solved = torch.linalg.solve(A, g[lane])
        assert (x[lane] - solved).abs().max() < 1e-8 * solved.abs().max(), lane
    # per-row iteration counts: lane 0 stopped after 2 iterations (far from the solution, the negative control),
    # the other lanes are what the full run gave them
    assert (short[0] - torch.linalg.solve(tiny.fisher(0) + 0.1 * torch.eye(P, dtype=torch.float64),
                                          g[0])).abs().max() > 1e-3
    assert torch.equal(short[1:], x[1:])


def test_g_is_the_gradient_of_mean_ratio_times_advantage_at_theta_old() -> None:
    tiny = Tiny(2, 3)
    old = [p.detach().clone() for p in tiny.params]
    away = [(p.detach() + 0.2 * torch.randn_like(p)).requires_grad_(True) for p in tiny.params]
    log_prob_old = tiny.log_prob(old)

    def reference(params: list[torch.Tensor]) -> torch.Tensor:
        ratio = torch.exp(tiny.log_prob(params) - log_prob_old)
        return flat_grad((ratio * tiny.adv).mean(-1).sum(), params)

    def ours(params: list[torch.Tensor], scale: str) -> tuple[torch.Tensor, torch.Tensor]:
        log_prob = tiny.log_prob(params)
        loss, value = surrogate(checked_scale(scale, {}), log_prob, torch.zeros_like(log_prob), log_prob_old,
                                tiny.adv, 0.0)
        return -flat_grad(loss.sum(), params), value

    at = tiny.params
    g, value = ours(at, "sq")
    assert (g - reference(at)).abs().max() < 1e-12
    assert torch.allclose(value, tiny.adv.mean(-1), rtol=0, atol=1e-15)      # J(θ_old) = mean Â
    g_away, value_away = ours(away, "sq")
    assert (g_away - reference(away)).abs().max() < 1e-12
    ratio = torch.exp(tiny.log_prob(away) - log_prob_old).detach()
    assert torch.allclose(value_away, (ratio * tiny.adv).mean(-1), rtol=1e-12)
    # negative control: q (f = y) gives the same g at θ_old but another gradient at θ ≠ θ_old, where the line
    # search evaluates the surrogate
    assert (ours(at, "q")[0] - reference(at)).abs().max() < 1e-12
    assert (ours(away, "q")[0] - reference(away)).abs().max() > 1e-2


def test_the_trainers_g_is_the_gradient_of_its_surrogate_and_only_the_actor_is_in_it() -> None:
    trainer = _trainer((0, 1))
    algo = _algorithm(trainer)
    trainer.collect_rollout()
    batches = {i: trainer.evaluate_lane(i) for i in range(2)}
    b = type(batches[0])(*(torch.stack([batches[i][k] for i in range(2)]) for k in range(6)))
    b = b._replace(advantages=torch.stack([algo.advantages(i, batches[i]) for i in range(2)]))
    loss, _, _, log_prob = algo.evaluate(b)
    g = -flat_grad(loss.sum(), algo.params)
    ratio = torch.exp(log_prob - b.log_prob)
    reference = flat_grad((ratio * b.advantages).mean(-1).sum(), algo.params)
    assert (g - reference).abs().max() < 1e-6 * reference.abs().max()
    assert {s.name for s in algo.slots} == {n for n, _ in trainer.lanes[0].policy.named_parameters()
                                            if not n.startswith("critic.")}


# ---------------------------------------------------------------------------------------------------
# the line search


def test_line_search_shrinks_a_step_that_violates_kl_and_keeps_every_accepted_kl_within_delta() -> None:
    tiny = Tiny(3, 4)
    log_prob_old = tiny.log_prob(tiny.params).detach()
    mu_old = Tiny.mean(tiny.params, tiny.obs).detach()
    log_std_old = tiny.params[4].detach()
    theta_old = torch.cat([p.detach().reshape(3, -1) for p in tiny.params], 1)
    sq = checked_scale("sq", {})

    def unflatten(theta: torch.Tensor) -> list[torch.Tensor]:
        parts, k = [], 0
        for sh in tiny.shapes:
            parts.append(theta[:, k:k + math.prod(sh)].reshape(3, *sh))
            k += math.prod(sh)
        return parts

    def evaluate(theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        params = unflatten(theta)
        log_prob = tiny.log_prob(params)
        _, value = surrogate(sq, log_prob, torch.zeros_like(log_prob), log_prob_old, tiny.adv, 0.0)
        return gaussian_kl(mu_old, log_std_old, Tiny.mean(params, tiny.obs), params[4]), value

    loss, value_old = surrogate(sq, tiny.log_prob(tiny.params), torch.zeros_like(log_prob_old), log_prob_old,
                                tiny.adv, 0.0)
    g = -flat_grad(loss.sum(), tiny.params)
    direction = g / g.norm(dim=1, keepdim=True)
    delta = torch.full((3,), 0.01, dtype=torch.float64)
    # lane 0: a step far too long (KL ≫ δ at fraction 1); lane 1: a short step that fits; lane 2: downhill
    # (−g: no fraction improves the surrogate)
    full = torch.stack([3.0 * direction[0], 0.02 * direction[1], -0.05 * direction[2]])
    kl_full, _ = evaluate(theta_old + full)
    assert kl_full[0] > 10 * delta[0] and kl_full[1] < delta[1]
    shrink = torch.full((3,), 0.8, dtype=torch.float64)
    found = line_search(evaluate, theta_old, full, value_old.detach(), delta, shrink, torch.full((3,), 30),
                        torch.ones(3, dtype=torch.bool))
    kl, value = evaluate(found.theta)
    assert found.steps[0] > 1 and 0 < found.fraction[0] < 1                 # it shrank
    assert found.fraction[0] == pytest.approx(0.8 ** (int(found.steps[0]) - 1))
    assert kl[0] <= delta[0] and kl[0] == pytest.approx(float(found.kl[0]))
    prev = evaluate(theta_old + found.fraction[0] / 0.8 * full)[0][0]     # the fraction before it violated δ
    assert prev > delta[0]
    assert found.steps[1] == 1 and found.fraction[1] == 1 and torch.equal(found.theta[1], theta_old[1] + full[1])
    assert found.steps[2] == 30 and found.fraction[2] == 0 and torch.equal(found.theta[2], theta_old[2])
    assert found.gain[2] == 0 and bool((value[:2] - value_old[:2] > 0).all())
    assert bool((kl <= delta).all())


def test_the_trainers_accepted_steps_keep_the_analytic_kl_within_delta_on_every_lane() -> None:
    trainer = _trainer((0, 1, 2), trpo_max_kl=0.002)
    for _ in range(2):
        before = [{k: v.clone() for k, v in ln.policy.state_dict().items()} for ln in trainer.lanes]
        trainer.collect_rollout()
        batches = {i: trainer.evaluate_lane(i) for i in range(3)}
        metrics = trainer.algorithm.update(batches)  # type: ignore[union-attr]
        for i, lane in enumerate(trainer.lanes):
            obs, old = batches[i].obs, before[i]
            mu_new = lane.policy.mean(obs).detach()
            w = [old[f"actor.{k}.weight"] for k in (0, 2, 4)]
            bias = [old[f"actor.{k}.bias"] for k in (0, 2, 4)]
            h = obs
            for k in range(3):
                h = h @ w[k].T + bias[k]
                h = torch.tanh(h) if k < 2 else h
            s_old, s_new = old["log_std"].exp(), lane.policy.log_std.detach().exp()
            kl_each = torch.distributions.kl_divergence(torch.distributions.Normal(h, s_old.expand_as(h)),
                                                        torch.distributions.Normal(mu_new, s_new.expand_as(h)))
            kl = kl_each.sum(-1).mean().item()
            assert kl <= 0.002 * (1 + 1e-4), i
            assert metrics[i]["trpo_kl"] == pytest.approx(kl, rel=1e-3, abs=1e-7), i
            assert metrics[i]["line_search_steps"] >= 1 and 0 <= metrics[i]["step_size"] <= 1


# ---------------------------------------------------------------------------------------------------
# lanes


@pytest.mark.parametrize("exact", [False, True])
def test_lanes_are_independent_when_a_lane_is_added_or_removed(exact: bool) -> None:
    pair, alone = _trainer((0, 1), exact_lanes=exact), _trainer((0,), exact_lanes=exact)
    for _ in range(2):
        pair.train_one_update()
        alone.train_one_update()
    if exact:
        assert torch.equal(pair.stack.flat[0], alone.stack.flat[0])
    diff = (pair.stack.flat[0] - alone.stack.flat[0]).abs().max().item()
    assert diff <= LANE_TOLERANCE
    # negative control: the tolerance is far below the difference between two seeds
    assert (pair.stack.flat[1] - alone.stack.flat[0]).abs().max().item() > 1000 * LANE_TOLERANCE


def test_a_lane_whose_step_is_not_finite_fails_alone() -> None:
    poisoned, clean = _trainer((0, 1)), _trainer((0, 1))
    for trainer in (poisoned, clean):
        trainer.collect_rollout()
    with torch.no_grad():
        poisoned.stack.params["actor.0.weight"][1, 0, 0] = float("nan")
    # the same rollout (same seeds), evaluated with the clean parameters
    batches = {i: clean.evaluate_lane(i) for i in range(2)}
    out = poisoned.algorithm.update(batches)  # type: ignore[union-attr]
    assert list(out) == [0]
    assert "the TRPO step of update 1 is not finite" in poisoned.failed[1]
    ref = clean.algorithm.update(batches)  # type: ignore[union-attr]
    assert (poisoned.stack.flat[0] - clean.stack.flat[0]).abs().max().item() <= LANE_TOLERANCE
    assert out[0]["trpo_kl"] == pytest.approx(ref[0]["trpo_kl"], rel=1e-4)
    assert math.isnan(poisoned.stack.params["actor.0.weight"][1, 0, 0].item())  # never stepped again


def test_the_critic_adam_never_moves_the_policy() -> None:
    trainer = _trainer((0, 1))
    algo = _algorithm(trainer)
    trainer.collect_rollout()
    batches = {i: trainer.evaluate_lane(i) for i in range(2)}
    b = type(batches[0])(*(torch.stack([batches[i][k] for i in range(2)]) for k in range(6)))
    theta = algo.policy_rows()
    critic = [s for s in trainer.stack.slots if s.name.startswith("critic.")]
    critic_before = torch.cat([trainer.stack.flat[:, s.offset:s.offset + s.numel] for s in critic], 1).clone()
    algo.critic_epochs(b, [0, 1])
    assert torch.equal(algo.policy_rows(), theta)
    for s in algo.slots:
        assert not trainer.optimizer.exp_avg[:, s.offset:s.offset + s.numel].any(), s.name
        assert not trainer.optimizer.exp_avg_sq[:, s.offset:s.offset + s.numel].any(), s.name
    critic_after = torch.cat([trainer.stack.flat[:, s.offset:s.offset + s.numel] for s in critic], 1)
    assert not torch.equal(critic_after, critic_before)              # negative control: the critic did move
    # and the policy step moves only the policy
    trainer.collect_rollout()
    batches = {i: trainer.evaluate_lane(i) for i in range(2)}
    b = type(batches[0])(*(torch.stack([batches[i][k] for i in range(2)]) for k in range(6)))
    algo.policy_step(b, [0, 1])
    assert torch.equal(torch.cat([trainer.stack.flat[:, s.offset:s.offset + s.numel] for s in critic], 1),
                       critic_after)
    assert not torch.equal(algo.policy_rows(), theta)


# ---------------------------------------------------------------------------------------------------
# settings and runs


@pytest.mark.parametrize(("over", "message"), [
    ({"trpo_backtrack": 1.5}, "trpo_backtrack must be in (0, 1), not 1.5"),
    ({"trpo_max_kl": 0.0}, "trpo_max_kl must be a positive number, not 0.0"),
    ({"trpo_cg_iters": 0}, "trpo_cg_iters must be at least 1, not 0"),
    ({"alpha": 0.1}, "alpha must be 0, not 0.1"),
    ({"scale": "ppo", "scale_params": {"eps": "0.2"}}, "algo trpo needs the scale sq"),
])
def test_settings_trpo_cannot_run_with_are_one_line_user_errors(over: dict[str, Any], message: str) -> None:
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _trainer((0,), **over)


def test_the_single_run_trainer_refuses_trpo() -> None:
    with pytest.raises(UserError, match="runs on the lane trainer only"):
        PPO(PPOConfig(**TINY), checked_scale("sq", {}))


def _make_runs(root: Path, configs: list[PPOConfig]) -> list[str]:
    runs = []
    for k, c in enumerate(configs):
        run = root / f"lane_{k}"
        create_run(run, c, checked_scale(c.scale, c.scale_params).certificate.to_json(), {"label": root.name})
        runs.append(str(run))
    return runs


def test_a_trpo_run_trains_logs_its_metrics_and_resumes_bitwise(tmp_path: Path) -> None:
    configs = [PPOConfig(**TINY, seed=0), PPOConfig(**{**TINY, "trpo_max_kl": 0.02}, seed=1)]
    ref = run_lanes_job(_make_runs(tmp_path / "ref", configs), resume=False)
    assert [r.status for r in ref] == ["finished", "finished"]
    runs = _make_runs(tmp_path / "cut", configs)
    assert [r.status for r in run_lanes_job(runs, resume=False, stop_after_updates=2)] == ["stopped", "stopped"]
    assert [r.status for r in run_lanes_job(runs, resume=True)] == ["finished", "finished"]
    for k, (a, b) in enumerate(zip([r.run for r in ref], runs, strict=True)):
        sa, sb = load_checkpoint(Path(a)), load_checkpoint(Path(b))
        assert sa is not None and sb is not None and sa["global_step"] == sb["global_step"] == 192
        assert sa["algorithm"] == {}                                  # TRPO keeps no state of its own
        for key, v in sa["policy"].items():
            assert torch.equal(v, sb["policy"][key]), key
        assert torch.equal(sa["optimizer"]["exp_avg_sq"], sb["optimizer"]["exp_avg_sq"])
        with open(Path(a) / "metrics.csv") as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == 3
        for row in rows:
            for name in ("trpo_kl", "line_search_steps", "step_size", "surrogate_gain", "policy_kl", "value_loss"):
                assert math.isfinite(float(row[name])), name
            assert 0 <= float(row["trpo_kl"]) <= configs[k].trpo_max_kl
            assert float(row["surrogate_gain"]) >= 0
        assert any(float(row["step_size"]) > 0 for row in rows)      # it did train
        init = LaneTrainer(_lanes([configs[k]])).stack.flat[0]
        trained = torch.cat([sa["policy"][n].reshape(-1) for n in sa["policy"]])
        assert not torch.equal(init, trained)


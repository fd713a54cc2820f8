"""Lanes: several PPO runs of one task trained together in one process, each as :class:`agents.ppo.PPO` would
train it alone.

A lane is one run — its :class:`~agents.ppo.PPOConfig` (scale function and parameters, α, β, seed, ...) and
its :class:`~pgcheck.certificate.CheckedScale` — with its own worlds, parameters, Adam state, normalisation
statistics and RNG streams. :class:`LaneTrainer` runs the single-run loop (rollout, evaluation, epochs of
minibatches) once for all lanes, with a lane axis in front of every array:

1. rollout: the worlds of all lanes are stepped in one :class:`~agents.tasks.BatchedTask` call; observation
   normalisation, the actor, the action noise, reward scaling and the buffers work on (L, ...) arrays
   (:class:`~agents.normalize.LaneObsNormalizer`, :class:`~agents.normalize.LaneRewardScaler`,
   :class:`~agents.buffer.LaneBuffers`);
2. evaluation: :func:`agents.ppo.evaluate_rollout` on each lane's own network and buffer, then the rollout's
   scale of Â (``adv_norm``, shared by the lanes) by :func:`agents.ppo.rollout_advantages` on each lane's own
   advantages, with the lane's own running :class:`~agents.ppo.AdvantageScale` (checkpointed per lane);
3. update: per minibatch index one forward pass over the lane axis, one loss call per :class:`LossGroup`
   (lanes sharing the scale function and the loss fields: :func:`agents.ppo.ppo_loss` on their (G, B) rows, so
   f is evaluated once per group and the loss — and the proof suite's ``ppo-trainer`` claim on it — is the
   single-run trainer's), one backward pass, one per-row gradient clip and one Adam step for all lanes.

The default forward pass (``exact_lanes = False``) is one ``baddbmm`` per layer for all lanes: other GEMM
blocking than the single run's ``addmm``, so a lane stays within float32 rounding of the single-run
trajectory (``tests/test_lanes.py`` states and checks the tolerance after several updates). With
``exact_lanes`` (``LaneTrainer(exact=True)``) a lane follows the single-run trainer bitwise on CPU, because:

* world ``j`` of lane ``l`` is reset with seed ``seed_l · 1000 + j``, as ``PPO`` resets its vector env, and
  :class:`~agents.tasks.BatchedTask` is bitwise Gymnasium per world;
* lane ``l`` initialises its network after ``torch.manual_seed(seed_l)`` and draws its action noise (a
  rollout's worth at once: the same numbers in the same order) and minibatch permutations from
  ``SeedSequence(seed_l).spawn(2)``, in the single-run order;
* every stacked operation of the rollout is elementwise, or a per-lane product/reduction over the same axis
  in the same order as the single run's; the rollout's values and log-probabilities are the single-run code
  on the lane's own :class:`~agents.policy.ActorCritic` (whose parameters are views into the stacked tensor);
* the batched forward calls the single-run ``addmm`` per lane, each lane's parameter row and buffer row
  starts 64-byte aligned (BLAS picks kernels by alignment), and Adam and the gradient-norm clip
  (``torch.nn.utils.clip_grad_norm_``'s rule) are elementwise or per-row reductions.

Both modes are deterministic, so a stopped or killed run resumes bitwise.

A lane whose advantages, loss or gradient norm is not finite stops alone (:attr:`LaneTrainer.failed`); its
parameters are no longer stepped and its worlds get zero actions, while the other lanes go on.

Per-lane hyperparameters are CleanRL's ``ppo_continuous_action.py`` defaults (via :class:`PPOConfig`), so a
lane's result is comparable with published single runs; the update is the paper's ``Uπ(f)`` (eq. 30) with ΔR
of eq. 29, as in :mod:`agents.ppo`.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from agents.algos import LaneAlgorithm
from agents.algos import build as build_algorithm
from agents.buffer import LaneBuffers, RolloutBuffer
from agents.normalize import LaneObsNormalizer, LaneRewardScaler
from agents.policy import LOG_2PI, ActorCritic
from agents.ppo import (
    AdvantageScale,
    Callback,
    PPOConfig,
    RolloutBatch,
    evaluate_rollout,
    non_finite,
    normalize_advantages,
    policy_kl,
    ppo_loss,
    resolve_device,
    rollout_advantages,
)
from agents.tasks import BatchedTask, Engine
from pgcheck.certificate import CheckedScale

# fields every lane of one trainer shares (they fix the shapes of the stacked tensors and the loop)
SHARED_FIELDS = ("env_id", "algo", "total_steps", "num_envs", "num_steps", "update_epochs", "minibatch_size",
                 "hidden_sizes", "adv_norm", "device", "engine", "torch_threads", "checkpoint_every", "exact_lanes")
# the fields agents.ppo.ppo_loss reads: lanes that share them (and the scale) share one loss call
LOSS_FIELDS = ("alpha", "ent_coef", "vf_coef", "clip_vloss", "value_clip")
ADAM_BETAS = (0.9, 0.999)   # FlatAdam's (and torch.optim.Adam's) defaults
# The leaves of StackedActorCritic have their .grad as views into one flat (L, P) gradient, on purpose (the
# backward pass accumulates into it in place, as it does into flatten_parameters' views for the single run);
# autograd warns about that layout once. Only that warning is silenced.
warnings.filterwarnings("ignore", message="grad and param do not obey the gradient layout contract")
ROW_ALIGN = 16              # floats: 64 bytes, the alignment of torch's CPU allocations
# a per-lane loss term outside the class Uπ(f): (minibatch, its sample indices (L, mb)) -> (L,), differentiable
ExtraLoss = Callable[[RolloutBatch, torch.Tensor], torch.Tensor]


def lane_problems(configs: Sequence[PPOConfig]) -> list[str]:
    """Why these configurations cannot be lanes of one trainer (empty when they can)."""
    out: list[str] = []
    if not configs:
        return ["no lanes"]
    for name in SHARED_FIELDS:
        values = {repr(getattr(c, name)) for c in configs}
        if len(values) > 1:
            out.append(f"lanes must share {name} (got {', '.join(sorted(values))})")
    for c in configs:
        out += [f"seed {c.seed}: {p}" for p in c.problems()]
    return out


class _LaneHeads:
    """One lane's outputs of the lane-batched forward pass, as :func:`ppo_loss` asks a policy for them."""

    def __init__(self, log_prob: torch.Tensor, entropy: torch.Tensor, value: torch.Tensor) -> None:
        self._log_prob, self._entropy, self._value = log_prob, entropy, value

    def log_prob_entropy(self, obs: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._log_prob, self._entropy

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self._value


@dataclass(frozen=True)
class _Slot:
    name: str
    shape: tuple[int, ...]
    offset: int
    numel: int


class StackedActorCritic:
    """The parameters of L :class:`ActorCritic` networks stacked along a lane axis, with a forward pass over
    all lanes at once.

    Storage is one ``(L, P)`` tensor (each row the lane's :func:`agents.policy.flatten_parameters` vector) and
    its gradient, another; Adam and the gradient clip run on those. Autograd sees one leaf per parameter,
    ``(L, *shape)``, whose data and ``.grad`` are views into the two, so the backward pass accumulates into the
    flat gradient in place (a leaf that were a slice of the flat tensor would make autograd build and add a
    full ``(L, P)`` zero tensor per parameter: measured 58% of a 16-lane minibatch step).

    ``policies[l]`` is an ordinary ``ActorCritic`` whose parameters are views into row ``l``: it serves
    acting, the rollout's values, checkpoints and evaluation with the single-run code."""

    def __init__(self, policies: list[ActorCritic], exact: bool = True) -> None:
        self.policies = policies
        self.exact = exact
        names = [n for n, _ in policies[0].named_parameters()]
        self.slots: list[_Slot] = []
        offset = 0
        for name, p in policies[0].named_parameters():
            self.slots.append(_Slot(name, tuple(p.shape), offset, p.numel()))
            offset += p.numel()
        rows = [torch.cat([p.detach().reshape(-1) for p in pol.parameters()]) for pol in policies]
        # Rows are padded to a multiple of ROW_ALIGN floats so that every row starts 64-byte aligned, as the
        # single-run flat tensor does: BLAS picks its kernel by alignment, and a parameter at another
        # alignment gives other bits (measured: matrix-vector products of the value head).
        L = len(rows)
        self.num_params = offset
        padded = -(-offset // ROW_ALIGN) * ROW_ALIGN
        self.storage = torch.zeros(L, padded, device=rows[0].device)
        self.storage[:, :offset] = torch.stack(rows)
        self.grad_storage = torch.zeros(L, padded, device=rows[0].device)
        self.flat = self.storage[:, :offset]             # (L, P) views, row stride `padded`
        self.grad = self.grad_storage[:, :offset]
        self.params: dict[str, torch.Tensor] = {}
        for slot in self.slots:
            leaf = torch.empty(0, requires_grad=True)
            leaf.data = self.storage[:, slot.offset:slot.offset + slot.numel].view(L, *slot.shape)
            leaf.grad = self.grad_storage[:, slot.offset:slot.offset + slot.numel].view(L, *slot.shape)
            self.params[slot.name] = leaf
        for lane, pol in enumerate(policies):
            if [n for n, _ in pol.named_parameters()] != names:
                raise ValueError("the lanes' networks differ in structure")
            for slot, p in zip(self.slots, pol.parameters(), strict=True):
                p.data = self.storage[lane, slot.offset:slot.offset + slot.numel].view(slot.shape)
        n_actor = sum(1 for n in names if n.startswith("actor.") and n.endswith(".weight"))
        self._actor = [(f"actor.{2 * i}.weight", f"actor.{2 * i}.bias") for i in range(n_actor)]
        n_critic = sum(1 for n in names if n.startswith("critic.") and n.endswith(".weight"))
        self._critic = [(f"critic.{2 * i}.weight", f"critic.{2 * i}.bias") for i in range(n_critic)]

    @property
    def num_lanes(self) -> int:
        return int(self.flat.shape[0])

    def zero_grad(self) -> None:
        self.grad_storage.zero_()      # in place: the leaves' .grad are views (never set them to None)

    def _mlp(self, layers: list[tuple[str, str]], x: torch.Tensor) -> torch.Tensor:
        # ActorCritic._forward with a lane axis. exact: the single-run addmm per lane (same GEMM calls, same
        # bits, forward and backward); otherwise one baddbmm per layer (one GEMM call for all lanes)
        p = self.params
        last = len(layers) - 1
        for i, (w, b) in enumerate(layers):
            if self.exact:
                x = torch.stack([torch.addmm(bl, xl, wl.t())
                                 for bl, xl, wl in zip(p[b].unbind(0), x.unbind(0), p[w].unbind(0), strict=True)])
            else:
                x = torch.baddbmm(p[b].unsqueeze(1), x, p[w].transpose(1, 2))
            if i < last:
                x = torch.tanh(x)
        return x

    def actor_mean(self, obs: torch.Tensor) -> torch.Tensor:
        """``μ_θ(s)`` per lane and sample, (L, B, act_dim), differentiable: :meth:`ActorCritic.mean` with a lane
        axis in front (σ is the parameter ``params["log_std"]``, (L, act_dim))."""
        return self._mlp(self._actor, obs)

    def heads(self, obs: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``log π_θ(a|s)``, ``H(π_θ(·|s))`` and ``V(s)`` per lane and sample, (L, B) each, differentiable:
        :meth:`ActorCritic.log_prob_entropy` and :meth:`ActorCritic.value` with a lane axis in front."""
        _, log_prob, entropy = self.policy(obs, actions)
        return log_prob, entropy, self.value(obs)

    def policy(self, obs: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The actor's part of :meth:`heads`: ``μ_θ(s)`` (L, B, act_dim), ``log π_θ(a|s)`` and ``H`` (L, B)."""
        mu = self.actor_mean(obs)
        log_std = self.params["log_std"]
        act_dim = mu.shape[-1]
        z = (actions - mu) * torch.exp(-log_std).unsqueeze(1)
        log_prob = -0.5 * (z * z).sum(-1) - log_std.sum(-1, keepdim=True) - 0.5 * LOG_2PI * act_dim
        entropy = (log_std.sum(-1, keepdim=True) + 0.5 * (1.0 + LOG_2PI) * act_dim).expand(mu.shape[0], mu.shape[1])
        return mu, log_prob, entropy

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """The critic's part of :meth:`heads`: ``V(s)`` per lane and sample, (L, B)."""
        return self._mlp(self._critic, obs).squeeze(-1)

    def heads_with_mean(self, obs: torch.Tensor,
                        actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """:meth:`heads` and the Gaussian's mean μ_θ(s), (L, B, act_dim), from the same forward pass (its log σ
        is ``params["log_std"]``, (L, act_dim)): what a KL between Gaussians needs (V-MPO, seed 001 §4.5)."""
        mu, log_prob, entropy = self.policy(obs, actions)
        return log_prob, entropy, self.value(obs), mu


class LaneAdam:
    """:class:`agents.optim.FlatAdam` for each row of an (L, P) tensor, with its own step count, rate and eps
    per row. The rows stepped together that share (step, rate, eps) are one group, stepped by FlatAdam's five
    whole-tensor operations (elementwise: the same bits per row); a group that is not every row is gathered
    first and scattered back, in the same padded row layout (so each row is iterated as FlatAdam's tensor)."""

    def __init__(self, param: torch.Tensor, grad: torch.Tensor, lrs: Sequence[float], eps: Sequence[float]) -> None:
        self.param, self.grad = param, grad
        L, P = param.shape
        self.lr = [float(v) for v in lrs]
        self.eps = [float(v) for v in eps]
        self.step_count = [0] * L
        # padded like the parameters (see StackedActorCritic), so each row is laid out as FlatAdam's tensor
        self.exp_avg = torch.zeros(L, param.stride(0), dtype=param.dtype, device=param.device)[:, :P]
        self.exp_avg_sq = torch.zeros(L, param.stride(0), dtype=param.dtype, device=param.device)[:, :P]

    @torch.no_grad()
    def step(self, lanes: Sequence[int]) -> None:
        """Step the rows ``lanes`` (the others are left exactly as they are)."""
        L, P = self.param.shape
        for i in lanes:
            self.step_count[i] += 1
        groups: dict[tuple[int, float, float], list[int]] = {}
        for i in lanes:
            groups.setdefault((self.step_count[i], self.lr[i], self.eps[i]), []).append(i)
        tensors = (self.grad, self.exp_avg, self.exp_avg_sq, self.param)
        for (step, lr, eps), rows in groups.items():
            if len(rows) == L:
                _adam(*tensors, step, lr, eps)
                continue
            idx = torch.tensor(rows)
            g, m, v, p = (t.as_strided((L, t.stride(0)), (t.stride(0), 1)).index_select(0, idx)[:, :P] for t in tensors)
            _adam(g, m, v, p, step, lr, eps)
            gathered = (m, v, p)
            for t, new in zip(tensors[1:], gathered, strict=True):
                t.index_copy_(0, idx, new)

    def lane_state(self, i: int) -> dict[str, Any]:
        """Row ``i``'s state in :meth:`FlatAdam.state_dict`'s format."""
        return {"lr": self.lr[i], "betas": ADAM_BETAS, "eps": self.eps[i], "step": self.step_count[i],
                "exp_avg": self.exp_avg[i].clone(), "exp_avg_sq": self.exp_avg_sq[i].clone()}

    def load_lane_state(self, i: int, state: dict[str, Any]) -> None:
        if tuple(float(b) for b in state["betas"]) != ADAM_BETAS:
            raise ValueError(f"lane {i}: Adam betas {state['betas']} differ from {ADAM_BETAS}")
        self.lr[i], self.eps[i] = float(state["lr"]), float(state["eps"])
        self.step_count[i] = int(state["step"])
        self.exp_avg[i].copy_(state["exp_avg"])
        self.exp_avg_sq[i].copy_(state["exp_avg_sq"])


def _adam(g: torch.Tensor, m: torch.Tensor, v: torch.Tensor, p: torch.Tensor, step: int, lr: float,
          eps: float) -> None:
    # FlatAdam.step's operations, in its order
    b1, b2 = ADAM_BETAS
    m.lerp_(g, 1.0 - b1)
    v.mul_(b2).addcmul_(g, g, value=1.0 - b2)
    bias1 = 1.0 - b1 ** step
    bias2 = 1.0 - b2 ** step
    denom = (v.sqrt() / math.sqrt(bias2)).add_(eps)
    p.addcdiv_(m, denom, value=-lr / bias1)


@torch.no_grad()
def clip_grad_norm_rows(grad: torch.Tensor, max_norms: torch.Tensor) -> torch.Tensor:
    """Per row of ``grad`` (L, P): :func:`agents.optim.clip_grad_norm` (coefficient
    ``min(1, max_norm / (norm + 1e-6))``); returns the (L,) norms before clipping."""
    norms: torch.Tensor = torch.linalg.vector_norm(grad, dim=1)
    grad.mul_(torch.clamp(max_norms / (norms + 1e-6), max=1.0).unsqueeze(1))
    return norms


@dataclass
class Lane:
    """One run inside a :class:`LaneTrainer`: the state :class:`agents.ppo.PPO` keeps for itself (its
    observation and reward statistics are row ``index`` of the trainer's :class:`LaneObsNormalizer` and
    :class:`LaneRewardScaler`; ``buffer``, ``obs``, ``ep_return`` and ``ep_length`` are views into the
    trainer's stacked arrays)."""

    index: int
    config: PPOConfig
    scale: CheckedScale
    policy: ActorCritic
    act_rng: np.random.Generator
    mb_rng: np.random.Generator
    buffer: RolloutBuffer
    obs: np.ndarray
    ep_return: np.ndarray
    ep_length: np.ndarray
    recent_returns: deque[float]
    torch_rng: torch.Tensor
    global_step: int = 0
    update_index: int = 0
    elapsed: float = 0.0
    failed: str | None = None                # why the lane stopped (non-finite loss), None while it trains
    exact_env_state: bool = True
    adv_scale: AdvantageScale = field(default_factory=lambda: AdvantageScale(0.995))  # adv_norm = "scale"


@dataclass
class LossGroup:
    """Lanes whose minibatch losses are one :func:`ppo_loss` call: they share the scale function (the same
    checked expression and parameters) and every config field the loss reads (:data:`LOSS_FIELDS`), so f is
    evaluated once on the group's (G, B) signals."""

    lanes: list[int]
    rows: slice | torch.Tensor          # the group's rows of the lane axis (a slice when they are consecutive)
    scale: CheckedScale
    config: PPOConfig


def loss_groups(lanes: Sequence[tuple[PPOConfig, CheckedScale]]) -> list[LossGroup]:
    """The lanes grouped by (scale, loss fields), in order of first appearance."""
    keyed: dict[str, list[int]] = {}
    for i, (c, scale) in enumerate(lanes):
        key = json.dumps([scale.certificate.input, scale.certificate.params,
                          [getattr(c, f) for f in LOSS_FIELDS]], sort_keys=True)
        keyed.setdefault(key, []).append(i)
    out = []
    for ids in keyed.values():
        consecutive = ids == list(range(ids[0], ids[-1] + 1))
        rows: slice | torch.Tensor = slice(ids[0], ids[-1] + 1) if consecutive else torch.tensor(ids)
        out.append(LossGroup(ids, rows, lanes[ids[0]][1], lanes[ids[0]][0]))
    return out


class _LaneActor:
    """The lanes' :class:`~agents.policy.NumpyActor` for one rollout, as one: per layer one stacked matrix
    product over the lane axis (``numpy.matmul`` runs the same product per lane as the single-run
    ``h @ w``: the same bits, checked by the bitwise tests), then the bias and tanh, elementwise."""

    def __init__(self, policies: Sequence[ActorCritic]) -> None:
        actors = [p.numpy_actor() for p in policies]
        self.weights = [np.stack([a.weights[k] for a in actors]) for k in range(len(actors[0].weights))]
        self.biases = [np.stack([a.biases[k] for a in actors])[:, None] for k in range(len(actors[0].biases))]
        self.std = np.stack([a.std for a in actors])[:, None]          # (L, 1, act_dim)

    def mean(self, obs: np.ndarray) -> np.ndarray:
        """μ(s) of lane l's policy for ``obs[l]``, (L, n, obs_dim) float32."""
        h = obs
        last = len(self.weights) - 1
        for k, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = np.matmul(h, w) + b
            if k < last:
                np.tanh(h, out=h)
        return h


class LaneView:
    """What the run-directory callbacks see of one lane (the attributes of :class:`PPO` they read)."""

    def __init__(self, trainer: LaneTrainer, lane: Lane) -> None:
        self.trainer, self.lane = trainer, lane

    @property
    def config(self) -> PPOConfig:
        return self.lane.config

    @property
    def update_index(self) -> int:
        return self.lane.update_index

    @property
    def global_step(self) -> int:
        return self.lane.global_step

    @property
    def recent_returns(self) -> deque[float]:
        return self.lane.recent_returns

    def state_dict(self) -> dict[str, Any]:
        return self.trainer.lane_state_dict(self.lane.index)


class LaneTrainer:
    """L lanes of one environment id. ``learn()`` runs updates until ``total_steps`` (shared by the lanes)."""

    def __init__(self, lanes: Sequence[tuple[PPOConfig, CheckedScale]], nthread: int = 1,
                 exact: bool | None = None, engine: Engine | str | None = None) -> None:
        """``nthread``: physics threads of the :class:`BatchedTask`. ``exact`` (default: the configs'
        ``exact_lanes``): per-lane ``addmm`` in the batched forward, bitwise the single-run trainer; False: one
        ``baddbmm`` per layer for all lanes (measured ~1.6× faster updates at 16 lanes; other GEMM blocking, so
        a lane drifts from the single run by float32 rounding: ``tests/test_lanes.py`` states and checks the
        tolerance). Either way a run is deterministic, so it resumes bitwise. ``engine``: the physics of the
        worlds, as :class:`BatchedTask` takes it (default: the configs' ``engine``; ``"mujoco"``: MuJoCo's
        ``mujoco.batch``, bitwise Gymnasium; ``"mjx"``: MJX on JAX's default device, float32, not bitwise). The
        lanes' networks, Adam state and updates live on the shared ``config.device``."""
        configs = [c for c, _ in lanes]
        problems = lane_problems(configs)
        if problems:
            raise ValueError("; ".join(problems))
        for _, scale in lanes:
            if not isinstance(scale, CheckedScale):
                raise TypeError("lanes take their scale only as a CheckedScale from pgcheck.check.checked_scale")
        c0 = configs[0]
        self.config = c0                       # the shared fields (SHARED_FIELDS) are c0's
        self.device = resolve_device(c0.device)
        torch.set_num_threads(c0.torch_threads)
        L, n_envs = len(lanes), c0.num_envs
        engine = c0.engine if engine is None else engine
        self.task = BatchedTask(c0.env_id, L * n_envs, nthread=nthread, engine=engine)
        act_space: Any = self.task.single_action_space
        obs_space: Any = self.task.single_observation_space
        self.obs_dim = int(np.prod(obs_space.shape))
        self.act_dim = int(np.prod(act_space.shape))
        self.act_low = act_space.low.astype(np.float32)
        self.act_high = act_space.high.astype(np.float32)
        seeds = [s for c in configs for s in range(c.seed * 1000, c.seed * 1000 + n_envs)]
        obs_all, _ = self.task.reset(seed=seeds)       # lane l, world j: seed_l·1000 + j, as PPO's vector env

        # per-lane state, stacked along the lane axis: row l is what PPO keeps for lane l's run
        self.obs = np.asarray(obs_all, dtype=np.float64).reshape(L, n_envs, self.obs_dim)
        self.ep_return = np.zeros((L, n_envs), dtype=np.float64)
        self.ep_length = np.zeros((L, n_envs), dtype=np.int64)
        self.obs_norm = LaneObsNormalizer(L, (self.obs_dim,), [c.obs_clip for c in configs],
                                          [c.norm_obs for c in configs])
        self.rew_scale = LaneRewardScaler(L, n_envs, [c.gamma for c in configs], [c.reward_clip for c in configs],
                                          [c.norm_reward for c in configs])
        self.buffers = LaneBuffers(L, c0.num_steps, n_envs, self.obs_dim, self.act_dim)
        policies: list[ActorCritic] = []
        self.lanes: list[Lane] = []
        for i, (c, scale) in enumerate(lanes):
            torch.manual_seed(c.seed)                  # the single-run trainer's initialisation, per lane
            policy = ActorCritic(self.obs_dim, self.act_dim, c.hidden_sizes, c.log_std_init).to(self.device)
            policies.append(policy)
            streams = np.random.SeedSequence(c.seed).spawn(2)
            self.lanes.append(Lane(
                index=i, config=c, scale=scale, policy=policy,
                act_rng=np.random.Generator(np.random.PCG64(streams[0])),
                mb_rng=np.random.Generator(np.random.PCG64(streams[1])),
                buffer=self.buffers.lanes[i], obs=self.obs[i], ep_return=self.ep_return[i],
                ep_length=self.ep_length[i], recent_returns=deque(maxlen=20), torch_rng=torch.get_rng_state(),
                adv_scale=AdvantageScale(c.adv_scale_tau)))
        self.stack = StackedActorCritic(policies, exact=c0.exact_lanes if exact is None else exact)
        self.groups = loss_groups(lanes)
        self.optimizer = LaneAdam(self.stack.flat, self.stack.grad, [c.learning_rate for c in configs],
                                  [c.adam_eps for c in configs])
        self.max_grad_norm = torch.tensor([c.max_grad_norm for c in configs], dtype=torch.float32,
                                          device=self.device)
        self.clip_eps_diagnostic = torch.tensor([[c.clip_eps_diagnostic] for c in configs], device=self.device)
        # wall seconds summed over updates: physics = BatchedTask.step; acting = the rest of the rollout
        # (normalisation, action sampling, buffers, episode bookkeeping); update = values, GAE and the epochs.
        # Each update's share is in its metrics as physics_seconds, acting_seconds, update_seconds.
        self.timing = {"physics": 0.0, "acting": 0.0, "update": 0.0}
        # step 3 of another update family of seed 001's Table 1 (config.algo); None: PPO's update below
        self.algorithm: LaneAlgorithm | None = build_algorithm(self)

    # -----------------------------------------------------------------------------------------------

    @property
    def num_lanes(self) -> int:
        return len(self.lanes)

    @property
    def active(self) -> list[int]:
        return [ln.index for ln in self.lanes if ln.failed is None]

    @property
    def failed(self) -> dict[int, str]:
        return {ln.index: ln.failed for ln in self.lanes if ln.failed is not None}

    def _rows(self, i: int) -> slice:
        n = self.config.num_envs
        return slice(i * n, (i + 1) * n)

    def _fail(self, i: int, reason: str) -> None:
        self.lanes[i].failed = reason

    # -----------------------------------------------------------------------------------------------
    # 1. rollout: PPO.collect_rollout for every lane at once, the worlds of all lanes stepped in one call

    def collect_rollout(self, callbacks: Sequence[Sequence[Callback]] = ()) -> list[list[tuple[int, float, int]]]:
        L, n_envs, T = self.num_lanes, self.config.num_envs, self.config.num_steps
        active = self.active
        failed = [i for i in range(L) if i not in active]
        actor = _LaneActor([ln.policy for ln in self.lanes])
        # each lane's action noise for the whole rollout, drawn at once from its stream: the same numbers, in
        # the same order, as PPO's one draw per step
        noise = np.zeros((L, T, n_envs, self.act_dim), dtype=np.float32)
        for i in active:
            noise[i] = self.lanes[i].act_rng.standard_normal((T, n_envs, self.act_dim), dtype=np.float32)
        bufs = self.buffers
        bufs.reset()
        start = [ln.global_step for ln in self.lanes]
        finished: list[list[tuple[int, float, int]]] = [[] for _ in self.lanes]
        clipped = np.zeros((L, n_envs, self.act_dim), dtype=np.float32)
        t_phys = 0.0
        t0 = time.perf_counter()
        for t in range(T):
            obs_n = self.obs_norm(self.obs)
            bufs.obs[:, t] = obs_n
            action = actor.mean(obs_n)
            action += actor.std * noise[:, t]
            bufs.actions[:, t] = action
            np.clip(action, self.act_low, self.act_high, out=clipped)
            clipped[failed] = 0.0                                   # a failed lane's worlds get zero actions
            tp = time.perf_counter()
            obs, reward, terminated, truncated, info = self.task.step(clipped.reshape(L * n_envs, self.act_dim))
            t_phys += time.perf_counter() - tp
            reward = reward.reshape(L, n_envs)
            term, trunc = terminated.reshape(L, n_envs), truncated.reshape(L, n_envs)
            done = term | trunc
            self.ep_return += reward
            self.ep_length += 1
            bufs.rewards[:, t] = self.rew_scale(reward, done)
            bufs.terminated[:, t] = term
            bufs.dones[:, t] = done
            if done.any():
                for k in np.flatnonzero(done):
                    i, j = divmod(int(k), n_envs)
                    lane = self.lanes[i]
                    if lane.failed is None:
                        lane.global_step = start[i] + (t + 1) * n_envs
                        if trunc[i, j] and not term[i, j]:
                            final = np.asarray(info["final_obs"][k], dtype=np.float64)[None]
                            lane.buffer.truncations.append((t, j, self.obs_norm.lane(i, final)[0]))
                        episode = (lane.global_step, float(self.ep_return[i, j]), int(self.ep_length[i, j]))
                        finished[i].append(episode)
                        lane.recent_returns.append(episode[1])
                        for cb in (callbacks[i] if callbacks else ()):
                            cb.on_episode(LaneView(self, lane), *episode)  # type: ignore[arg-type]
                    self.ep_return[i, j], self.ep_length[i, j] = 0.0, 0
            self.obs[:] = obs.reshape(L, n_envs, self.obs_dim)
        for i in active:
            self.lanes[i].global_step = start[i] + T * n_envs
            bufs.last_obs[i] = self.obs_norm.lane(i, self.obs[i])
        self.timing["physics"] += t_phys
        self.timing["acting"] += time.perf_counter() - t0 - t_phys
        return finished

    # -----------------------------------------------------------------------------------------------
    # 2. values, behaviour log-probabilities, advantages: PPO.evaluate_rollout on each lane's own network

    def evaluate_lane(self, i: int) -> RolloutBatch:
        lane = self.lanes[i]
        return evaluate_rollout(lane.policy, lane.buffer, lane.config, self.obs_dim, self.act_dim, self.device)

    # -----------------------------------------------------------------------------------------------
    # 3. the update: PPO.update for all lanes, one forward, backward and Adam step per minibatch index

    def update(self, batches: dict[int, RolloutBatch],
               extra_loss: ExtraLoss | None = None) -> dict[int, dict[str, float]]:
        """PPO's update of the lanes of ``batches``. ``extra_loss``: a term outside the class Uπ(f) that an
        algorithm adds to every lane's minibatch loss (PPO-KL's penalty, :mod:`agents.algos.onpolicy`), called
        with the minibatch and its sample indices into each lane's rollout, (L, mb); it returns (L,)."""
        c = self.config
        n, mb, L = c.batch_size, c.minibatch_size, self.num_lanes
        for i, batch in batches.items():
            if self.lanes[i].failed is None and (why := non_finite(self.lanes[i].update_index + 1,
                                                                   batch=batch)) is not None:
                self._fail(i, why)
        lanes = [i for i in self.active if i in batches]
        if not lanes:
            return {}
        # the rollout's scale of Â (adv_norm), per lane on its own (n,) advantages: PPO.update's call, same bits
        batches = {i: b._replace(advantages=rollout_advantages(b.advantages, c.adv_norm, self.lanes[i].adv_scale))
                   if i in lanes else b for i, b in batches.items()}
        # lanes that are not trained (failed) get a copy of a trained lane's data: computed, never applied
        stacked = RolloutBatch(*(torch.stack([batches[i if i in lanes else lanes[0]][k] for i in range(L)])
                                 for k in range(len(RolloutBatch._fields))))
        # per lane and minibatch: (policy loss, value loss, grad norm); per lane and epoch: KL, clip fraction
        record = torch.zeros(L, c.update_epochs * (n // mb), 3, device=self.device)
        kls = torch.zeros(L, c.update_epochs, device=self.device)
        clip_fracs = torch.zeros(L, c.update_epochs, device=self.device)
        count = dict.fromkeys(lanes, 0)                # minibatches recorded per lane
        epochs = dict.fromkeys(lanes, 0)
        training = list(lanes)                         # lanes still in their epochs (target_kl stops one alone)
        new_log_prob = torch.empty(L, n, device=self.device)
        lane_loss = torch.empty(L, device=self.device)
        policy_loss = torch.empty(L, device=self.device)
        value_loss = torch.empty(L, device=self.device)
        arange = torch.arange(L, device=self.device).unsqueeze(1)
        k = 0
        for epoch in range(c.update_epochs):
            # shuffle once per epoch, each lane with its own stream; minibatches are then contiguous slices
            perm = np.tile(np.arange(n), (L, 1))
            for i in training:
                perm[i] = self.lanes[i].mb_rng.permutation(n)
            index = torch.from_numpy(perm).to(self.device)
            b = stacked.take((arange, index))
            if c.adv_norm == "minibatch":  # per minibatch; a block never straddles two lanes (n % mb == 0)
                b = b._replace(advantages=normalize_advantages(b.advantages.reshape(-1), mb).view(L, n))
            for start in range(0, n, mb):
                sl = slice(start, start + mb)
                mbs = b.take((slice(None), sl))
                log_prob, entropy, value = self.stack.heads(mbs.obs, mbs.actions)
                total = torch.zeros((), device=self.device)
                for g in self.groups:      # each group's loss: ppo_loss on its (G, mb) rows, one loss per lane
                    loss, parts = ppo_loss(_LaneHeads(log_prob[g.rows], entropy[g.rows], value[g.rows]),
                                           g.scale, g.config, mbs.take(g.rows))
                    total = total + loss.sum()
                    lane_loss[g.rows] = loss.detach()
                    policy_loss[g.rows] = parts["policy_loss"]
                    value_loss[g.rows] = parts["value_loss"]
                    new_log_prob[g.rows, sl] = parts["log_prob"]
                if extra_loss is not None:
                    extra = extra_loss(mbs, index[:, sl])
                    total = total + extra.sum()
                    lane_loss += extra.detach()    # a non-finite term fails its lane in the check below
                self._check(training, epoch, loss=lane_loss, parts=(policy_loss, value_loss))
                if not training:
                    break
                norms = self.backward_and_step(total, training, epoch)
                if not training:
                    break
                record[:, k] = torch.stack([policy_loss, value_loss, norms], 1)
                k += 1
                for i in training:
                    count[i] = k
            self.end_epoch(training, epoch, epochs, new_log_prob, b.log_prob, kls, clip_fracs)
            if not training:
                break
        out: dict[int, dict[str, float]] = {}
        for i in lanes:
            if self.lanes[i].failed is not None:
                continue
            mean_losses = record[i, :count[i]].mean(0).tolist()
            out[i] = {"policy_loss": mean_losses[0], "value_loss": mean_losses[1], "grad_norm": mean_losses[2],
                      **self.epoch_metrics(i, batches[i], kls, clip_fracs, epochs[i])}
        return out

    def backward_and_step(self, total: torch.Tensor, training: list[int], epoch: int) -> torch.Tensor:
        """One minibatch's step for all lanes: the backward pass of ``total`` (the sum of the lanes' losses) into
        the flat gradient, each lane's gradient-norm clip, the non-finite check (a lane that fails leaves
        ``training``) and one Adam step of the lanes still training. Returns the (L,) norms before clipping."""
        self.stack.zero_grad()
        total.backward()  # type: ignore[no-untyped-call]
        norms = clip_grad_norm_rows(self.stack.grad, self.max_grad_norm)
        self._check(training, epoch, grad_norm=norms)
        self.optimizer.step(training)     # no lane left: nothing is stepped
        return norms

    @torch.no_grad()
    def end_epoch(self, training: list[int], epoch: int, epochs: dict[int, int], new_log_prob: torch.Tensor,
                  old_log_prob: torch.Tensor, kls: torch.Tensor, clip_fracs: torch.Tensor) -> None:
        """After epoch ``epoch`` of an update: per lane the k3 estimate of KL(π_old ‖ π_θ) and the clip fraction
        over the epoch's log π_θ (each minibatch's, before its step) into ``kls[:, epoch]`` and
        ``clip_fracs[:, epoch]``; each training lane counts the epoch, and leaves ``training`` above its
        ``target_kl``."""
        log_ratio = new_log_prob - old_log_prob
        ratio = log_ratio.exp()
        kls[:, epoch] = ((ratio - 1.0) - log_ratio).mean(-1)   # k3 estimator of KL(π_old ‖ π_θ)
        clip_fracs[:, epoch] = ((ratio - 1.0).abs() > self.clip_eps_diagnostic).float().mean(-1)
        for i in list(training):
            epochs[i] += 1
            target = self.lanes[i].config.target_kl
            if target is not None and kls[i, epoch].item() > target:
                training.remove(i)

    @torch.no_grad()
    def epoch_metrics(self, i: int, batch: RolloutBatch, kls: torch.Tensor, clip_fracs: torch.Tensor,
                      epochs: int) -> dict[str, float]:
        """Lane ``i``'s metrics of an update that every family reports besides its losses: the entropy after it,
        the KL and clip fraction averaged over its ``epochs`` epochs, the critic's explained variance of the
        rollout's targets (before the update), and the epochs."""
        entropy_now = self.lanes[i].policy.log_prob_entropy(batch.obs[:1], batch.actions[:1])[1].item()
        var_t = batch.targets.var().item()
        explained = float("nan") if var_t == 0 else 1.0 - (batch.targets - batch.values).var().item() / var_t
        return {"entropy": entropy_now, "approx_kl": kls[i, :epochs].mean().item(),
                "clip_fraction": clip_fracs[i, :epochs].mean().item(), "explained_variance": explained,
                "epochs": float(epochs)}

    def _check(self, training: list[int], epoch: int, *, loss: torch.Tensor | None = None,
               parts: tuple[torch.Tensor, torch.Tensor] | None = None, grad_norm: torch.Tensor | None = None) -> None:
        """:func:`non_finite` per training lane of this minibatch's (L,) losses or gradient norms: a lane that
        is not finite fails and leaves ``training`` (one whole-tensor test first; lanes only when it fails)."""
        values = loss if loss is not None else grad_norm
        assert values is not None
        if bool(torch.isfinite(values[training]).all()):
            return
        for i in list(training):
            u = self.lanes[i].update_index + 1
            why = non_finite(u, epoch + 1, loss=None if loss is None else loss[i],
                             parts=None if parts is None else {"policy_loss": parts[0][i], "value_loss": parts[1][i]},
                             grad_norm=None if grad_norm is None else grad_norm[i])
            if why is not None:
                self._fail(i, why)
                training.remove(i)

    # -----------------------------------------------------------------------------------------------
    # the loop

    def learning_rate(self, i: int) -> float:
        """Lane ``i``'s rate for its next update, as :meth:`PPO.learning_rate`."""
        lane = self.lanes[i]
        c = lane.config
        if not c.anneal_lr:
            return c.learning_rate
        return c.learning_rate * (1.0 - lane.update_index / c.num_updates)

    def train_one_update(self, callbacks: Sequence[Sequence[Callback]] = ()) -> dict[int, dict[str, float]]:
        t0 = time.perf_counter()
        active = self.active
        lrs = {i: self.learning_rate(i) for i in active}
        for i, lr in lrs.items():
            self.optimizer.lr[i] = lr
        start = {i: self.lanes[i].global_step for i in active}
        before = dict(self.timing)
        finished = self.collect_rollout(callbacks)
        tu = time.perf_counter()
        batches = {i: self.evaluate_lane(i) for i in active}
        results = (self.update if self.algorithm is None else self.algorithm.update)(batches)
        for i, metrics in results.items():
            metrics["policy_kl"] = policy_kl(self.lanes[i].policy, batches[i])
        self.timing["update"] += time.perf_counter() - tu
        seconds = time.perf_counter() - t0
        for i in active:
            lane = self.lanes[i]
            lane.update_index += 1
            lane.elapsed += seconds
        for i, metrics in results.items():
            lane = self.lanes[i]
            returns = [r for _, r, _ in finished[i]]
            metrics.update({
                "global_step": float(lane.global_step), "update": float(lane.update_index),
                "time": lane.elapsed, "sps": (lane.global_step - start[i]) / seconds,
                "episodes": float(len(finished[i])),
                "episodic_return": float(np.mean(returns)) if returns else math.nan,
                "episodic_length": float(np.mean([k for _, _, k in finished[i]])) if finished[i] else math.nan,
                "recent_return": float(np.mean(lane.recent_returns)) if lane.recent_returns else math.nan,
                "learning_rate": lrs[i], "log_std": float(lane.policy.log_std.mean().item()),
                # this cycle's wall seconds, shared by all lanes (see LaneTrainer.timing)
                **{f"{k}_seconds": self.timing[k] - before[k] for k in self.timing},
            })
            for cb in (callbacks[i] if callbacks else ()):
                cb.on_update(LaneView(self, lane), metrics)  # type: ignore[arg-type]
        return results

    @property
    def update_index(self) -> int:
        return max((ln.update_index for ln in self.lanes if ln.failed is None), default=self.config.num_updates)

    def learn(self, callbacks: Sequence[Sequence[Callback]] = (), max_updates: int | None = None) -> None:
        """Train until ``total_steps`` or until every lane failed (or ``max_updates`` more updates)."""
        done = 0
        while self.active and self.update_index < self.config.num_updates and (
                max_updates is None or done < max_updates):
            self.train_one_update(callbacks)
            done += 1

    # -----------------------------------------------------------------------------------------------
    # state for checkpoints: each lane's in PPO.state_dict's format, plus its worlds' batched state

    def lane_state_dict(self, i: int) -> dict[str, Any]:
        lane = self.lanes[i]
        return {
            "global_step": lane.global_step, "update_index": lane.update_index, "elapsed": lane.elapsed,
            "policy": {k: v.clone() for k, v in lane.policy.state_dict().items()},
            "optimizer": self.optimizer.lane_state(i),
            "obs_norm": self.obs_norm.lane_state(i), "rew_scale": self.rew_scale.lane_state(i),
            "act_rng": lane.act_rng.bit_generator.state, "mb_rng": lane.mb_rng.bit_generator.state,
            "torch_rng": lane.torch_rng.clone(), "obs": lane.obs.copy(), "ep_return": lane.ep_return.copy(),
            "ep_length": lane.ep_length.copy(), "recent_returns": list(lane.recent_returns),
            # PPO.load_state_dict reads env_states=None as "start fresh episodes"; lanes restore their worlds
            "env_states": None, "adv_scale": lane.adv_scale.state_dict(),
            # None where the engine keeps no exact state (MJX): a resume then starts fresh episodes
            "batched_env_states": self.task.get_world_states(range(self._rows(i).start, self._rows(i).stop))
            if self.task.saves_state else None,
            **({} if self.algorithm is None else {"algorithm": self.algorithm.lane_state(i)}),
        }

    def load_lane_state_dict(self, i: int, state: dict[str, Any]) -> None:
        lane = self.lanes[i]
        lane.global_step = int(state["global_step"])
        lane.update_index = int(state["update_index"])
        lane.elapsed = float(state["elapsed"])
        with torch.no_grad():
            lane.policy.load_state_dict(state["policy"])        # copies into the stacked rows (views)
        self.optimizer.load_lane_state(i, state["optimizer"])
        self.obs_norm.load_lane_state(i, state["obs_norm"])
        self.rew_scale.load_lane_state(i, state["rew_scale"])
        if "adv_scale" in state:   # checkpoints from before adv_norm had no scale mode, so no state
            lane.adv_scale.load_state_dict(state["adv_scale"])
        if self.algorithm is not None:
            if "algorithm" not in state:
                raise ValueError(f"lane {i}: the checkpoint has no state of algorithm {lane.config.algo!r}")
            self.algorithm.load_lane_state(i, state["algorithm"])
        lane.act_rng.bit_generator.state = state["act_rng"]
        lane.mb_rng.bit_generator.state = state["mb_rng"]
        lane.torch_rng = state["torch_rng"].clone()
        lane.recent_returns = deque((float(r) for r in state["recent_returns"]), maxlen=20)
        worlds = state.get("batched_env_states")
        rows = range(self._rows(i).start, self._rows(i).stop)
        if worlds is not None:
            self.task.set_world_states(rows, worlds)
            lane.obs[:] = np.asarray(state["obs"], dtype=np.float64)        # in place: views of the stacked rows
            lane.ep_return[:] = np.asarray(state["ep_return"], dtype=np.float64)
            lane.ep_length[:] = np.asarray(state["ep_length"], dtype=np.int64)
        else:  # a single-run or MJX checkpoint: no worlds to restore here; fresh episodes (no longer bitwise)
            lane.exact_env_state = False
            self.rew_scale.returns[i] = 0.0

    def close(self) -> None:
        self.task.close()

"""Presets: vanilla PPO and the paper's MLA-PPO with Table 2's setting per environment, in two flavours of
PPO machinery.

**CleanRL-style** (``ppo``, ``mla-ppo``): the defaults of :class:`agents.config.PPOConfig` — CleanRL's
``ppo_continuous_action.py`` (2048 steps per rollout, minibatches of 64, 10 epochs, Adam 3e-4 annealed,
γ = 0.99, λ = 0.95, gradient-norm clip 0.5, value clipping, observation and reward normalisation, β = 0) —
with ``adv_norm = "minibatch"``: Â z-scored per minibatch, CleanRL's ``norm_adv``. These are the presets
of a well-tuned modern PPO, not the paper's baseline.

**ACME, 2021** (``acme-2021``, ``mla-ppo-acme-2021``): the paper ran "the single process agent baseline of
PPO in the open source ACME framework" (sec. 6.3). The version it most plausibly ran is ACME's JAX PPO of
its release (93a6a15, 2021-10-18) until 949d503 (2022-03-24, new defaults), checked at 93a6a15 and
4e0af14 (2022-01-31): ``acme/agents/jax/ppo/{config,learning}.py`` and the Gym example
``examples/gym/run_ppo.py``. These presets set what pgcheck's trainer can express of it:

* ``adv_norm = "minibatch"``: its learner z-scores each minibatch's Â (``(A − mean) / (std + 1e-8)`` in
  ``model_update_minibatch``). Its ``normalize_advantage`` option (divide by a running mean of |Â|, no
  centring: ``adv_norm = "scale"``) arrived only with 300c780 (2022-08-03), after the paper;
* 2048 samples per update (unroll 16 × batch 128), 32 minibatches of 64, 10 epochs;
* Adam at a constant 1e-3 (``anneal_lr = false``), ε 1e-5; gradient-norm clip 0.5; γ 0.99, λ 0.95, ε 0.2;
* no value clipping (``clip_value=False``); its value loss is ``value_cost · mean (V − target)²`` with
  ``value_cost = 1`` and no ½, so ``vf_coef = 2`` here (pgcheck's value loss has the ½);
* entropy cost 0.01 (``ent_coef``, β of eq. 30);
* no observation normalisation and no reward scaling or clipping (``max_abs_reward = inf``; input
  normalisation arrived with c893f71, 2022-08-22);
* the initial policy std 0.3 (``log_std_init = log 0.3``): its ``MultivariateNormalDiagHead`` starts at
  ``softplus(b) · 0.3 / softplus(0) + 1e-6`` with near-zero weights (``VarianceScaling(1e-4)``).

What pgcheck's trainer cannot express (so ``acme-2021`` is ACME's baseline only as far as these allow):

* the **state-dependent** std ``softplus(W h + b)`` (pgcheck's σ is a state-independent parameter);
* the networks' initialisation (ACME/haiku's defaults and ``VarianceScaling(1e-4)`` on the heads;
  pgcheck initialises orthogonally, as CleanRL);
* GAE over sequences of 17 steps (unroll 16 + 1 bootstrap), bootstrapping at each sequence's end; pgcheck
  runs GAE over the whole 2048-step rollout of one environment (ACME ran 128 sequences in parallel);
* the minibatch z-score's biased std (``jnp.std``, n) against pgcheck's unbiased (n − 1): a factor
  √(63/64) ≈ 0.992 on minibatches of 64;
* the float32 environment wrapper (``SinglePrecisionWrapper``; pgcheck keeps observations in float64 until
  the network) and MuJoCo **v2** tasks (gym with mujoco-py): pgcheck runs Gymnasium's v5.

The MLA-PPO presets use Table 2 (Appendix C.2), f = ``mla_ppo(αo, αr, ε)`` with ΔR from eq. 29:

  ============  =====  =====  =====  =====
  environment    αr     αo     α      ε
  ============  =====  =====  =====  =====
  Walker2d       0.05   0.1    0.0    0.2
  Hopper         1.0    0.1    0.01   0.2
  HalfCheetah    0.5    0.1    0.1    0.2
  Humanoid       1.0    1.0    0.0    0.3
  ============  =====  =====  =====  =====

``ppo`` and ``acme-2021`` use f = ``ppo(ε)`` (Theorem 4.3: the clipped surrogate), α = 0, with the ε of the
environment's Table 2 row (0.3 on Humanoid, 0.2 elsewhere), so that each PPO preset and its MLA-PPO
partner differ only in f and α. Table 2 has no row for Ant, so the MLA-PPO presets on Ant need an explicit
``--scale``/``--param``/``--alpha``.

Every preset sets ``adv_norm`` explicitly: f is not invariant to rescaling ΔR, so the scale of Â is part of
the update rule (it is recorded in every run's ``config.json``).

**Seed 001** (``s001-ppo``, ``s001-a2c``, ``s001-reinforce``, ``s001-ppo-kl``, and ``s001-NAME`` for every other
update family with an :class:`~agents.algos.AlgorithmSpec` preset; ``pgcheck train --algo NAME``): Lehmann's
hyperparameters (seed 001, Appendix A, Table 2), the same on every environment, with ``algo`` set to the family.
Table 2 is garbled in the text; read with the seed's code (github.com/Matt00n/PolicyGradientsJax, c89044a:
``Config`` of ``a2c.py``, ``ppo.py``, ``reinforce.py``; read, not copied):

* **"unroll length 2048" and "8 minibatches" with 8 envs**: per environment, and one unroll per minibatch.
  Its ``Config`` has ``num_envs = 8``, ``unroll_length = 2048``, ``batch_size = 1`` ("number of unrolls per
  minibatch"), ``num_minibatches = 8``; a training step collects ``batch_size · num_minibatches / num_envs = 1``
  round of 2048 steps in each of the 8 envs (16384 transitions) and splits them into 8 minibatches of one unroll
  each. Here: ``num_steps = 2048``, ``num_envs = 8``, ``minibatch_size = 2048`` (8 minibatches of the 16384).
  Sure (the code says so); the seed's minibatch is one env's contiguous unroll, ours a random 2048 of the batch
  (a deviation, below).
* lr 3e-4 with "a slight linear decay" (Appendix A): ``optax.linear_schedule(3e-4, 3e-6, transition_steps =
  total_timesteps)`` counts optimiser steps against environment steps (8e6), so over a run it decays by well
  under 1% at its ``total_timesteps = 8e6`` (A2C: ~3900 steps, 0.05%; PPO: ~39000 steps, 0.5%). Here
  ``anneal_lr = false`` (constant 3e-4), the closest PPOConfig expresses. Fairly sure (read from the code; the
  text does not restate the schedule or the run length behind Figure 4).
* Adam's ε 1e-8 (optax's default, the code passes none); gradient-norm clip 0.5; value loss ``0.5 · ½ mean
  (V − target)²`` without clipping (``vf_cost = 0.5``; ``clip_vloss = false``); observation and reward
  normalisation by running statistics, clipped to ±10 (Appendix A: as pgcheck's, the reward by the std of the
  discounted return); advantages z-scored per minibatch where Table 2 says True (A2C, PPO: inside the loss,
  over the minibatch, ``adv_norm = "minibatch"``); entropy cost 0.1 for A2C, 0 otherwise.
* **REINFORCE**: one env, one minibatch, one epoch, entropy 0, no advantage normalisation; γ = 0.99 for the
  return (Table 2's "—" for γ and λ: its code discounts with γ = 0.99 and has no λ). Its code collects whole
  episodes (from a reset, until at least 2000 steps), so a batch never cuts an episode; here a rollout is
  ``num_steps = 2048`` steps and G stops at the rollout's end (:func:`agents.buffer.monte_carlo_returns`: no
  critic to bootstrap from). At a time-limit truncation its code, like ours, ends the sum (no bootstrap).
  ``vf_coef = 0``: the critic is neither trained nor used (the code has no value network in REINFORCE's loss;
  a critic trained on the side would change the policy's step through the global gradient-norm clip).
* **PPO-KL** is not in seed 001's experiments: seed 001's PPO settings with f_SQ (``sq``) and seed 003's
  adaptive KL penalty, ``kl_beta_init = 1`` (Schulman et al. 2017, §4: the initial β; seed 003 gives no value)
  and ``kl_target = 0.01`` (seed 001 Table 2's KL bound δ of TRPO, and one of Schulman et al.'s d_targ).

What PPOConfig cannot express (so these presets are seed 001's settings only as far as these allow): the
policy network of 4 × 32 and the value network of 5 × 256 units with swish activations (here both 64 × 64
tanh, CleanRL's); tanh-squashed Gaussian actions with a state-dependent std ``softplus(·) + 0.001`` and, for
the entropy bonus, a one-sample estimate of the squashed entropy (here an unsquashed Gaussian with a
state-independent σ, clipped to the box, and its exact entropy); GAE computed
inside the loss with the current value network, per minibatch (here once per rollout with the rollout's);
minibatches of one env's contiguous unroll (here random samples of the rollout); the biased std of the
minibatch z-score (n against n − 1, a factor √(2047/2048)); REINFORCE's whole-episode batches (above).
"""

from __future__ import annotations

import math
from typing import Any

from pgcheck.errors import UserError

PRESETS = ("ppo", "mla-ppo", "acme-2021", "mla-ppo-acme-2021")
S001 = "s001-"    # the prefix of seed 001's presets: s001-NAME for the update family NAME (PPOConfig.algo)

# seed 001's settings shared by its A2C, PPO and (with the changes below) REINFORCE; see the module docstring
S001_COMMON: dict[str, Any] = {
    "num_envs": 8, "num_steps": 2048, "minibatch_size": 2048, "learning_rate": 3e-4, "anneal_lr": False,
    "adam_eps": 1e-8, "max_grad_norm": 0.5, "gamma": 0.99, "gae_lambda": 0.95, "adv_norm": "minibatch",
    "ent_coef": 0.0, "vf_coef": 0.5, "clip_vloss": False, "norm_obs": True, "obs_clip": 10.0, "norm_reward": True,
    "reward_clip": 10.0, "target_kl": None, "alpha": 0.0, "advantage": "gae",
}
S001_PPO: dict[str, Any] = {**S001_COMMON, "update_epochs": 10, "scale": "ppo", "scale_params": {"eps": "0.2"},
                            "clip_eps_diagnostic": 0.2}
S001_A2C: dict[str, Any] = {**S001_COMMON, "update_epochs": 1, "ent_coef": 0.1, "scale": "q", "scale_params": {}}
S001_REINFORCE: dict[str, Any] = {
    **S001_COMMON, "num_envs": 1, "update_epochs": 1, "adv_norm": "none", "vf_coef": 0.0, "scale": "q",
    "scale_params": {}, "advantage": "return",
}
S001_PPO_KL: dict[str, Any] = {**S001_COMMON, "update_epochs": 10, "scale": "sq", "scale_params": {},
                               "kl_beta_init": 1.0, "kl_target": 0.01}


def s001_preset(algo: str) -> dict[str, Any]:
    """Seed 001's settings for the update family ``algo`` (the fields of ``s001-ALGO``), with ``algo`` set:
    :data:`S001_PPO` for ``ppo``, the family's :attr:`~agents.algos.AlgorithmSpec.preset` otherwise."""
    from agents.algos import registry
    from agents.config import ALGOS

    if algo not in ALGOS:
        raise UserError(f"unknown algorithm {algo!r}; choose one of {', '.join(ALGOS)}")
    fields = S001_PPO if algo == "ppo" else registry()[algo].preset
    if not fields:
        raise UserError(f"algorithm {algo!r} has no seed 001 preset")
    return {**fields, "algo": algo}


def preset_names() -> tuple[str, ...]:
    """Every preset: :data:`PRESETS`, then seed 001's ``s001-NAME`` for every update family NAME."""
    from agents.config import ALGOS

    return PRESETS + tuple(S001 + a for a in ALGOS)


def preset_family(name: str) -> str:
    """The update family (``PPOConfig.algo``) a preset trains: ``ppo`` for :data:`PRESETS`."""
    return name[len(S001):] if name.startswith(S001) else "ppo"

# the PPO machinery of ACME's JAX PPO of 93a6a15 / 4e0af14 (Oct 2021 – Mar 2022) that PPOConfig can express;
# see the module docstring for each value's source and for what is not expressed
ACME_2021: dict[str, Any] = {
    "adv_norm": "minibatch", "num_envs": 1, "num_steps": 2048, "minibatch_size": 64, "update_epochs": 10,
    "learning_rate": 1e-3, "anneal_lr": False, "adam_eps": 1e-5, "max_grad_norm": 0.5, "gamma": 0.99,
    "gae_lambda": 0.95, "clip_vloss": False, "vf_coef": 2.0, "ent_coef": 0.01, "norm_obs": False,
    "norm_reward": False, "hidden_sizes": (64, 64), "log_std_init": math.log(0.3),
}

# (αr, αo, α, ε) from Table 2 of the paper, exactly as printed (decimal text is read exactly).
TABLE2: dict[str, tuple[str, str, float, str]] = {
    "Walker2d": ("0.05", "0.1", 0.0, "0.2"),
    "Hopper": ("1.0", "0.1", 0.01, "0.2"),
    "HalfCheetah": ("0.5", "0.1", 0.1, "0.2"),
    "Humanoid": ("1.0", "1.0", 0.0, "0.3"),
}


def env_family(env_id: str) -> str:
    """``"Hopper-v5"`` → ``"Hopper"``."""
    return env_id.split("-v")[0]


def preset(name: str, env_id: str) -> dict[str, Any]:
    """The config fields a preset sets for ``env_id``: scale, scale_params, alpha and adv_norm, and for the
    ``*acme-2021`` presets the PPO machinery of :data:`ACME_2021`; for ``s001-NAME``, :func:`s001_preset` (the
    same on every environment). The value clip is not set here: it follows
    the scale's ε (:attr:`PPOConfig.value_clip`), so a ``--grid eps=`` or ``--param eps=`` moves it too."""
    if name.startswith(S001):
        return s001_preset(name[len(S001):])
    family = env_family(env_id)
    machinery: dict[str, Any] = {"adv_norm": "minibatch"}
    base = name
    if name in ("acme-2021", "mla-ppo-acme-2021"):
        machinery = dict(ACME_2021)
        base = "ppo" if name == "acme-2021" else "mla-ppo"
    if base == "ppo":
        # the same ε as the environment's MLA-PPO row, so that the two presets differ only in f
        eps = TABLE2[family][3] if family in TABLE2 else "0.2"
        return {**machinery, "scale": "ppo", "scale_params": {"eps": eps}, "alpha": 0.0}
    if base == "mla-ppo":
        if family not in TABLE2:
            raise UserError(f"Table 2 of the paper has no MLA-PPO setting for {family} (it has "
                            f"{', '.join(TABLE2)}); pass --scale mla_ppo --param ao=.. --param ar=.. "
                            "--param eps=.. --alpha .. yourself")
        ar, ao, alpha, eps = TABLE2[family]
        return {**machinery, "scale": "mla_ppo", "scale_params": {"ao": ao, "ar": ar, "eps": eps}, "alpha": alpha}
    raise UserError(f"unknown preset {name!r}; choose one of {', '.join(preset_names())}")

"""The configuration of a training run, :class:`PPOConfig`, with every field documented in its metadata.

The help of a field (``field(metadata={"help": ...})``) and its annotated type are the only description of
it: ``pgcheck train --set FIELD=VALUE`` takes its help text and its type conversion (:meth:`PPOConfig.parse`)
from here. This module imports no torch or Gymnasium, so the command line can read it cheaply.

Defaults are CleanRL's ``ppo_continuous_action.py`` (Huang et al., "The 37 implementation details of PPO",
ICLR blog track 2022) for MuJoCo; the scale function and α, β are the paper's (eqs. 29–30).
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field, fields
from fractions import Fraction
from typing import Any

DEFAULT_CLIP = 0.2       # CleanRL's clip_coef
ADV_NORMS = ("minibatch", "batch", "scale", "none")   # the values of PPOConfig.adv_norm
# the values of PPOConfig.algo: the update families of seed 001's Table 1 (§4.6) that the lane trainer runs;
# "ppo" is the paper's Uπ(f) with minibatch epochs (agents.ppo, agents.lanes), the others are in agents.algos
ALGOS = ("ppo", "a2c", "reinforce", "ppo-kl", "trpo", "vmpo")
ADVANTAGES = ("gae", "return")   # the values of PPOConfig.advantage: the source of ΔR's Â
ENGINES = ("mujoco", "mjx")   # agents.tasks.engine.ENGINES (not imported: this module stays free of MuJoCo)


def _f(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass
class PPOConfig:
    """Everything that defines a run. Saved as ``config.json`` in the run directory."""

    env_id: str = _f("Hopper-v5", "Gymnasium id; Box actions, flat Box observations")
    algo: str = _f("ppo", "the update family (seed 001 Table 1): ppo = Uπ(f) over minibatch epochs (eq. 30); "
                   "the others run on batched MuJoCo tasks only (agents.algos)")
    total_steps: int = _f(1_000_000, "environment steps of the run (summed over its parallel envs)")
    seed: int = _f(0, "seeds the network initialisation, action noise, minibatch order and env resets")
    # the scale function f(ΔO, ΔR): a registry name or expression and its parameters (exact text)
    scale: str = _f("ppo", "the scale function f(ΔO, ΔR): a registry name or an expression in x, y")
    scale_params: dict[str, str] = field(default_factory=lambda: {"eps": "0.2"},
                                         metadata={"help": "parameters of the scale, as exact decimal text"})
    alpha: float = _f(0.0, "α of eq. 29: ΔR = Â − α (log π + H)")
    ent_coef: float = _f(0.0, "β of eq. 30: the weight of ∇H")
    # rollout
    num_envs: int = _f(1, "parallel environments of the run")
    num_steps: int = _f(2048, "vector steps per rollout (batch = num_steps × num_envs)")
    vector_env: str = _f("inline", "inline | sync | async (all same-step autoreset)")
    gamma: float = _f(0.99, "discount γ")
    gae_lambda: float = _f(0.95, "λ of generalised advantage estimation")
    norm_obs: bool = _f(True, "normalise observations by running mean and std")
    obs_clip: float = _f(10.0, "clip normalised observations to ±this")
    norm_reward: bool = _f(True, "divide rewards by the std of the discounted return")
    reward_clip: float = _f(10.0, "clip scaled rewards to ±this")
    # update
    update_epochs: int = _f(10, "passes over the rollout per update")
    minibatch_size: int = _f(64, "samples per minibatch (must divide the batch)")
    learning_rate: float = _f(3e-4, "Adam's step size (start of the schedule)")
    anneal_lr: bool = _f(True, "decay the step size linearly to 0 over the run")
    adam_eps: float = _f(1e-5, "Adam's ε")
    adv_norm: str = _f("minibatch", "the scale of Â (hence of ΔR, eq. 29) fed to the loss: minibatch (z-score per "
                       "minibatch, unbiased std + 1e-8: CleanRL; ACME's PPO of 93a6a15, Oct 2021, with the biased "
                       "std) | batch (z-score over the whole rollout, once per update) | scale (divide by a "
                       "zero-debiased running mean of mean|Â| over rollouts, no centring: ACME's normalize_advantage "
                       "since 300c780, Aug 2022) | none (raw GAE Â)")
    adv_scale_tau: float = _f(0.995, "decay of the running mean of mean|Â| of adv_norm=scale (ACME's "
                              "normalization_ema_tau)")
    clip_vloss: bool = _f(True, "clip V around its rollout value (CleanRL's clip_vloss)")
    vf_clip: float | None = _f(None, "the value-clip range; none: the scale's parameter eps where it has one, "
                               "else 0.2 (CleanRL's one clip coefficient for policy and value)")
    vf_coef: float = _f(0.5, "weight of the value loss")
    max_grad_norm: float = _f(0.5, "global gradient-norm clip")
    target_kl: float | None = _f(None, "stop an update's epochs early above this KL (none: never)")
    clip_eps_diagnostic: float = _f(0.2, "ε of the clip-fraction diagnostic only")
    # seed 001's A2C / REINFORCE / PPO-KL
    advantage: str = _f("gae", "the Â in ΔR (eq. 29): gae (generalised advantage estimation, seed 001 eq. 19) | return "
                        "(the Monte Carlo return-to-go G_t, no baseline: REINFORCE, seed 001 §4.1; cut at every "
                        "episode end and at the rollout's end, never bootstrapped)")
    kl_beta_init: float = _f(1.0, "ppo-kl: initial β of the KL penalty (Schulman et al. 2017's; seed 003's rule "
                             "adapts it)")
    kl_target: float = _f(0.01, "ppo-kl: d_targ of seed 003's adaptive rule (β/2 below d_targ/1.5, 2β above "
                          "1.5 d_targ)")
    # seed 001's TRPO (§4.3, Algorithm 5; Appendix A, Table 2), read by agents.algos.trpo when algo = trpo; its
    # critic trains for update_epochs passes of minibatch_size minibatches (Table 2's footnote: 10 for the value net)
    trpo_max_kl: float = _f(0.01, "TRPO: δ of the trust region mean_s KL(π_old ‖ πθ) ≤ δ (seed 001 eq. 17)")
    trpo_cg_damping: float = _f(0.1, "TRPO: λ of the damped Fisher-vector products (F + λI)v")
    trpo_cg_iters: int = _f(10, "TRPO: conjugate-gradient iterations for the direction x ≈ (F + λI)⁻¹g")
    trpo_line_search_steps: int = _f(10, "TRPO: most step sizes its backtracking line search tries (K of "
                                     "Algorithm 5)")
    trpo_backtrack: float = _f(0.8, "TRPO: the line search's shrink factor b: fractions 1, b, b², ... of the step")
    # seed 001's V-MPO (§4.5, eqs. 20-22, Algorithm 8; agents.algos.vmpo): per-lane multipliers, Table 2's values
    vmpo_eta_init: float = _f(1.0, "V-MPO: initial temperature η (the scale of ΔR = (Â − median Â)/η)")
    vmpo_eta_min: float = _f(1e-8, "V-MPO: η is projected to at least this after each step")
    vmpo_eps_eta: float = _f(0.01, "V-MPO: ε_η of the temperature loss L_η = η ε_η + η log mean_{D̃} e^{Â/η}")
    vmpo_nu_mu_init: float = _f(1.0, "V-MPO: initial Lagrange multiplier ν_μ of the KL of the policy's mean")
    vmpo_nu_sigma_init: float = _f(1.0, "V-MPO: initial Lagrange multiplier ν_σ of the KL of the policy's std")
    vmpo_nu_min: float = _f(1e-8, "V-MPO: ν_μ and ν_σ are projected to at least this after each step")
    vmpo_eps_nu_mu: float = _f(0.01, "V-MPO: the bound ε_νμ on the mean's KL(π_old ‖ π_θ)")
    vmpo_eps_nu_sigma: float = _f(5e-5, "V-MPO: the bound ε_νσ on the std's KL(π_old ‖ π_θ)")
    # model
    hidden_sizes: tuple[int, ...] = _f((64, 64), "tanh hidden layers of actor and critic, e.g. 64,64")
    log_std_init: float = _f(0.0, "initial log σ of the Gaussian policy")
    # machinery
    device: str = _f("auto", "auto | cpu | cuda")
    engine: str = _f("mujoco", "the physics of the lanes: mujoco (mujoco.batch, bitwise Gymnasium) | mjx (MuJoCo in "
                     "JAX on its default device, e.g. a GPU: float32, not bitwise; a resumed run starts fresh "
                     "episodes, as MJX's world state is not saved)")
    torch_threads: int = _f(1, "torch intra-op threads")
    exact_lanes: bool = _f(False, "lanes (several runs of a batched task in one process): one GEMM per lane, bitwise "
                           "the single-run trainer; false: one batched GEMM for all lanes (faster, within float32 "
                           "rounding of it)")
    checkpoint_every: int = _f(5, "updates between checkpoints (and always at the end)")

    @property
    def batch_size(self) -> int:
        return self.num_steps * self.num_envs

    @property
    def num_updates(self) -> int:
        return self.total_steps // self.batch_size

    @property
    def value_clip(self) -> float:
        """The range of the value clip (``clip_vloss``): ``vf_clip`` if set, else the scale's ``eps`` where it
        has one, else 0.2. CleanRL's ``ppo_continuous_action.py`` clips the value with the policy's
        ``clip_coef``, and Table 2 of the paper gives one ε per environment (0.3 on Humanoid), so a run that
        changes ε (``--param eps=``, ``--grid eps=``) moves its value clip with it."""
        if self.vf_clip is not None:
            return float(self.vf_clip)
        eps = self.scale_params.get("eps")
        if eps is None:
            return DEFAULT_CLIP
        try:
            return float(Fraction(eps.strip()))
        except (ValueError, ZeroDivisionError):
            return DEFAULT_CLIP   # not plain decimal text: checked_scale reads it; the value clip keeps 0.2

    def problems(self) -> list[str]:
        """What is wrong with this configuration, in words (empty when it is usable)."""
        out = []
        for name in ("total_steps", "num_envs", "num_steps", "update_epochs", "minibatch_size",
                     "checkpoint_every", "torch_threads"):
            if getattr(self, name) < 1:
                out.append(f"{name} must be at least 1")
        if self.minibatch_size < 2 or self.batch_size % self.minibatch_size:
            out.append(f"minibatch_size ({self.minibatch_size}) must be at least 2 and divide the batch "
                       f"num_steps × num_envs = {self.batch_size}")
        if self.total_steps < self.batch_size:
            out.append(f"total_steps ({self.total_steps}) is less than one rollout ({self.batch_size})")
        if not (0 < self.gamma <= 1 and 0 <= self.gae_lambda <= 1):
            out.append("gamma must be in (0, 1] and gae_lambda in [0, 1]")
        if self.vf_clip is not None and not self.vf_clip > 0:
            out.append(f"vf_clip must be positive (or none), not {self.vf_clip}")
        if self.learning_rate <= 0 or self.max_grad_norm <= 0:
            out.append("learning_rate and max_grad_norm must be positive")
        if self.algo not in ALGOS:
            out.append(f"algo must be one of {', '.join(ALGOS)}, not {self.algo!r}")
        if self.advantage not in ADVANTAGES:
            out.append(f"advantage must be one of {', '.join(ADVANTAGES)}, not {self.advantage!r}")
        if not (self.kl_beta_init > 0 and self.kl_target > 0):
            out.append(f"kl_beta_init and kl_target must be positive, not {self.kl_beta_init} and {self.kl_target}")
        if self.adv_norm not in ADV_NORMS:
            out.append(f"adv_norm must be one of {', '.join(ADV_NORMS)}, not {self.adv_norm!r}")
        if not 0 < self.adv_scale_tau < 1:
            out.append(f"adv_scale_tau must be in (0, 1), not {self.adv_scale_tau}")
        if self.engine not in ENGINES:
            out.append(f"engine must be one of {', '.join(ENGINES)}, not {self.engine!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            out.append(f"device must be auto, cpu or cuda, not {self.device!r}")
        if self.vector_env not in ("inline", "sync", "async"):
            out.append(f"vector_env must be inline, sync or async, not {self.vector_env!r}")
        return out

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["hidden_sizes"] = list(self.hidden_sizes)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PPOConfig:
        known = {f.name for f in fields(cls)} | {"norm_adv"}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown config keys: {', '.join(unknown)}")
        d = dict(d)
        if "norm_adv" in d:  # before adv_norm: a bool, true = per-minibatch z-score, false = raw Â
            old = d.pop("norm_adv")
            if not isinstance(old, bool):
                raise ValueError(f"norm_adv must be true or false, not {old!r}")
            meant = "minibatch" if old else "none"
            if d.setdefault("adv_norm", meant) != meant:
                raise ValueError(f"norm_adv={str(old).lower()} contradicts adv_norm={d['adv_norm']!r}")
        if "hidden_sizes" in d:
            d["hidden_sizes"] = tuple(int(h) for h in d["hidden_sizes"])
        if "scale_params" in d:
            d["scale_params"] = {str(k): str(v) for k, v in d["scale_params"].items()}
        return cls(**d)

    # -----------------------------------------------------------------------------------------------
    # the fields as text (the command line)

    @classmethod
    def field_docs(cls) -> list[tuple[str, str, str, str]]:
        """(name, type, default, help) of every field that :meth:`parse` converts from text."""
        out = []
        for f in fields(cls):
            kind = str(f.type)
            if kind not in _PARSERS:
                continue
            default = f.default if f.default is not dataclasses.MISSING else None
            shown = ",".join(map(str, default)) if isinstance(default, tuple) else str(default).lower() \
                if isinstance(default, bool) else str(default)
            out.append((f.name, _TYPE_NAMES[kind], shown, str(f.metadata["help"])))
        return out

    @classmethod
    def parse(cls, name: str, text: str) -> Any:
        """The value of field ``name`` written as ``text``, converted by the field's annotated type.
        Raises ``KeyError`` for a field that is not converted from text, ``ValueError`` for bad text."""
        kind = str(next(f for f in fields(cls) if f.name == name).type)
        return _PARSERS[kind](text.strip())


def _parse_bool(t: str) -> bool:
    if t.lower() in ("1", "true", "yes", "on"):
        return True
    if t.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(t)


_PARSERS: dict[str, Any] = {
    "bool": _parse_bool, "int": int, "float": float, "str": str,
    "float | None": lambda t: None if t.lower() == "none" else float(t),
    "tuple[int, ...]": lambda t: tuple(int(v) for v in t.split(",") if v.strip()),
}
_TYPE_NAMES = {"bool": "bool", "int": "int", "float": "float", "str": "str", "float | None": "float or none",
               "tuple[int, ...]": "ints"}

"""Presets: vanilla PPO and the paper's MLA-PPO with Table 2's setting per environment.

Both presets share the same PPO machinery and hyperparameters (the defaults of
:class:`agents.ppo.PPOConfig`: 2048 steps per rollout, minibatches of 64, 10 epochs, Adam 3e-4 annealed,
γ = 0.99, λ = 0.95, gradient-norm clip 0.5, value clipping, observation and reward normalisation), so a
comparison between them changes only the update rule:

* ``ppo``: ``f = ppo(ε)`` (Theorem 4.3: the clipped surrogate), α = 0, with the ε of the environment's
  Table 2 row (0.3 on Humanoid, 0.2 elsewhere), so that ``ppo`` and ``mla-ppo`` differ only in f and α.
* ``mla-ppo``: ``f = mla_ppo(αo, αr, ε)`` (Appendix C.2) with ΔR from eq. 29 and Table 2's (αr, αo, α, ε):

  ============  =====  =====  =====  =====
  environment    αr     αo     α      ε
  ============  =====  =====  =====  =====
  Walker2d       0.05   0.1    0.0    0.2
  Hopper         1.0    0.1    0.01   0.2
  HalfCheetah    0.5    0.1    0.1    0.2
  Humanoid       1.0    1.0    0.0    0.3
  ============  =====  =====  =====  =====

The paper ran MuJoCo v2 tasks in ACME's PPO; these presets apply its numbers to the v5 tasks. Table 2
has no row for Ant, so ``mla-ppo`` on Ant needs an explicit ``--scale``/``--param``/``--alpha``.
"""

from __future__ import annotations

from typing import Any

from pgcheck.errors import UserError

PRESETS = ("ppo", "mla-ppo")

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
    """The config fields a preset sets for ``env_id``: scale, scale_params and alpha. The value clip is not
    set here: it follows the scale's ε (:attr:`PPOConfig.value_clip`), so a ``--grid eps=`` or ``--param eps=``
    moves it too."""
    family = env_family(env_id)
    if name == "ppo":
        # the same ε as the environment's MLA-PPO row, so that the two presets differ only in f
        eps = TABLE2[family][3] if family in TABLE2 else "0.2"
        return {"scale": "ppo", "scale_params": {"eps": eps}, "alpha": 0.0}
    if name == "mla-ppo":
        if family not in TABLE2:
            raise UserError(f"Table 2 of the paper has no MLA-PPO setting for {family} (it has "
                            f"{', '.join(TABLE2)}); pass --scale mla_ppo --param ao=.. --param ar=.. "
                            "--param eps=.. --alpha .. yourself")
        ar, ao, alpha, eps = TABLE2[family]
        return {"scale": "mla_ppo", "scale_params": {"ao": ao, "ar": ar, "eps": eps}, "alpha": alpha}
    raise UserError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")

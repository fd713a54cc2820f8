"""A :class:`agents.tasks.BatchedTask` on any engine against Gymnasium, world by world, with the errors
measured rather than asserted bitwise: the check of an engine that computes in float32 (MJX on a GPU or
on JAX's CPU), shared by ``tests/test_mjx.py`` and ``benchmarks/gpu_check.py`` (the GPU machine has no
pytest).

The reference is :class:`agents.envs.InlineVectorEnv` over ``gymnasium.make(env_id)`` (same-step
autoreset; ``reset(seed)`` seeds env ``i`` with ``seed + i``), driven with the same random actions, so
resets, their noise, the time limit and the final observations are compared along with the physics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from agents.envs import InlineVectorEnv
from agents.tasks.batched import BatchedTask


@dataclass
class Agreement:
    """Largest absolute differences over all steps and worlds, and the steps whose episode ends differ."""

    steps: int
    worlds: int
    qpos: float = 0.0          # data.qpos of each world after each step
    qvel: float = 0.0
    obs: float = 0.0           # returned observations (after autoreset) and final observations
    reward: float = 0.0
    terminated: int = 0        # reference episode ends
    truncated: int = 0
    end_mismatches: list[tuple[int, int]] = field(default_factory=list)   # (step, world)

    def row(self) -> dict[str, Any]:
        return {"steps": self.steps, "worlds": self.worlds, "max_abs_qpos": self.qpos, "max_abs_qvel": self.qvel,
                "max_abs_obs": self.obs, "max_abs_reward": self.reward, "terminated": self.terminated,
                "truncated": self.truncated, "episode_end_mismatches": len(self.end_mismatches)}


def _gap(a: Any, b: Any) -> float:
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)), initial=0.0))


def compare_to_gymnasium(env_id: str, make: Callable[[int], BatchedTask], *, n: int = 4, steps: int = 100,
                         seed: int = 11, max_episode_steps: int | None = None,
                         perturb_action: float = 0.0) -> Agreement:
    """Step ``make(n)`` (a BatchedTask of ``n`` worlds, on the engine under test) and Gymnasium's envs
    with the same uniform random float32 actions (``perturb_action`` is added on the batched side only: a
    negative control) and measure their differences. After a step whose episode ends differ in some world,
    that world's later differences are not meaningful; the step is listed in ``end_mismatches``."""
    extra: dict[str, Any] = {} if max_episode_steps is None else {"max_episode_steps": max_episode_steps}
    ref = InlineVectorEnv([lambda: gym.make(env_id, **extra) for _ in range(n)])
    ours = make(n)
    out = Agreement(steps=steps, worlds=n)
    try:
        ref_obs, _ = ref.reset(seed=seed)
        obs, _ = ours.reset(seed=seed)
        out.obs = _gap(ref_obs, obs)
        rng = np.random.default_rng(seed)
        nu = ours.model.nu
        for t in range(steps):
            action = rng.uniform(-1, 1, (n, nu)).astype(np.float32)
            r_obs, r_rew, r_term, r_trunc, r_info = ref.step(action)
            o_obs, o_rew, o_term, o_trunc, o_info = ours.step(action + np.float32(perturb_action))
            for i in np.flatnonzero((r_term != o_term) | (r_trunc != o_trunc)):
                out.end_mismatches.append((t, int(i)))
            out.terminated += int(np.sum(r_term))
            out.truncated += int(np.sum(r_trunc))
            out.obs = max(out.obs, _gap(r_obs, o_obs))
            out.reward = max(out.reward, _gap(r_rew, o_rew))
            if "final_obs" in r_info and "final_obs" in o_info:
                for i in np.flatnonzero(r_info["_final_obs"] & o_info["_final_obs"]):
                    out.obs = max(out.obs, _gap(r_info["final_obs"][i], o_info["final_obs"][i]))
            env_data = [e.unwrapped.data for e in ref.envs]   # type: ignore[attr-defined]
            out.qpos = max(out.qpos, _gap(np.stack([d.qpos for d in env_data]), ours.engine.field("qpos")))
            out.qvel = max(out.qvel, _gap(np.stack([d.qvel for d in env_data]), ours.engine.field("qvel")))
    finally:
        ref.close()
    return out

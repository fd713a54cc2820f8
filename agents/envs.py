"""Environments: creation with a clear error, a light vector env, and exact save/restore of env state.

The trainer speaks the Gymnasium 1.x vector API with **same-step autoreset**
(``AutoresetMode.SAME_STEP``): when sub-environment ``i`` ends an episode at a step, that step returns
the *reset* observation for ``i`` and puts the episode's last observation in ``info["final_obs"][i]``
(with ``info["_final_obs"][i]`` set). The trainer bootstraps a time-limit truncation from that final
observation. Gymnasium's own default, next-step autoreset, instead returns the last observation and
resets on the *following* call (whose reward is 0 and must be skipped); the trainer refuses vector
envs in that mode rather than silently mixing episodes.

``InlineVectorEnv`` implements same-step autoreset over a list of ordinary envs with no copying and
no per-step checks (Gymnasium's ``SyncVectorEnv`` costs ~30 µs per step on Hopper, a quarter of a
MuJoCo step); ``kind="sync"``/``"async"`` give Gymnasium's own vector envs in same-step mode.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

from pgcheck.errors import UserError

VECTOR_KINDS = ("inline", "sync", "async")


def make_env(env_id: str) -> gym.Env[Any, Any]:
    """``gym.make(env_id)`` with a one-line :class:`UserError` for unknown ids and non-Box actions."""
    try:
        env = gym.make(env_id)
    except gym.error.Error as exc:
        raise UserError(f"unknown environment {env_id!r}: {exc} (e.g. Hopper-v5, HalfCheetah-v5, "
                        "Walker2d-v5, Ant-v5, Humanoid-v5)") from None
    except (ImportError, ModuleNotFoundError) as exc:
        raise UserError(f"environment {env_id!r} needs a missing package: {exc}") from None
    if not isinstance(env.action_space, gym.spaces.Box):
        env.close()
        raise UserError(f"{env_id} has action space {env.action_space}; the PPO trainer needs a Box "
                        "(continuous) action space")
    if not isinstance(env.observation_space, gym.spaces.Box) or len(env.observation_space.shape) != 1:
        env.close()
        raise UserError(f"{env_id} has observation space {env.observation_space}; the trainer needs a "
                        "flat Box observation")
    return env


class InlineVectorEnv(gym.vector.VectorEnv):
    """Sub-environments stepped in this process, with same-step autoreset (see the module docstring)."""

    def __init__(self, env_fns: list[Callable[[], gym.Env[Any, Any]]]) -> None:
        self.envs = [fn() for fn in env_fns]
        self.num_envs = len(self.envs)
        first: Any = self.envs[0]
        self.single_observation_space = first.observation_space
        self.single_action_space = first.action_space
        self.observation_space = gym.vector.utils.batch_space(first.observation_space, self.num_envs)
        self.action_space = gym.vector.utils.batch_space(first.action_space, self.num_envs)
        self.metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}
        self._obs = np.zeros((self.num_envs, *first.observation_space.shape), dtype=np.float64)

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        for i, env in enumerate(self.envs):
            self._obs[i], _ = env.reset(seed=None if seed is None else seed + i)
        return self._obs.copy(), {}

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                                 dict[str, Any]]:
        n = self.num_envs
        rewards = np.zeros(n, dtype=np.float64)
        terminated = np.zeros(n, dtype=bool)
        truncated = np.zeros(n, dtype=bool)
        info: dict[str, Any] = {}
        for i, env in enumerate(self.envs):
            obs, r, term, trunc, _ = env.step(actions[i])
            rewards[i], terminated[i], truncated[i] = r, term, trunc
            if term or trunc:
                if "final_obs" not in info:
                    info["final_obs"] = np.empty(n, dtype=object)
                    info["_final_obs"] = np.zeros(n, dtype=bool)
                info["final_obs"][i] = obs
                info["_final_obs"][i] = True
                obs, _ = env.reset()
            self._obs[i] = obs
        return self._obs.copy(), rewards, terminated, truncated, info

    def close_extras(self, **kwargs: Any) -> None:
        for env in self.envs:
            env.close()


def make_vector_env(env_id: str, num_envs: int, kind: str = "inline") -> gym.vector.VectorEnv:
    """``num_envs`` copies of ``env_id`` (validated first) as a same-step-autoreset vector env."""
    make_env(env_id).close()
    fns: list[Callable[[], gym.Env[Any, Any]]] = [lambda: gym.make(env_id) for _ in range(num_envs)]
    if kind == "inline":
        return InlineVectorEnv(fns)
    if kind == "sync":
        return gym.vector.SyncVectorEnv(fns, autoreset_mode=AutoresetMode.SAME_STEP)
    if kind == "async":
        return gym.vector.AsyncVectorEnv(fns, autoreset_mode=AutoresetMode.SAME_STEP)
    raise UserError(f"unknown vector env kind {kind!r}; choose one of {', '.join(VECTOR_KINDS)}")


def require_same_step(envs: gym.vector.VectorEnv) -> None:
    mode = getattr(envs, "metadata", {}).get("autoreset_mode")
    if mode != AutoresetMode.SAME_STEP:
        raise ValueError(f"the trainer needs a vector env with autoreset_mode=SAME_STEP, got {mode}")


# ---------------------------------------------------------------------------------------------------
# exact environment state, for bitwise resume


def _wrapper_chain(env: gym.Env[Any, Any]) -> list[Any]:
    chain = [env]
    while hasattr(chain[-1], "env"):
        chain.append(chain[-1].env)
    return chain


def _env_state(env: gym.Env[Any, Any]) -> dict[str, Any] | None:
    inner: Any = env.unwrapped
    state: dict[str, Any] = {
        "elapsed": [getattr(w, "_elapsed_steps", None) for w in _wrapper_chain(env)],
        "np_random": copy.deepcopy(inner.np_random.bit_generator.state),
    }
    if hasattr(inner, "get_full_state") and hasattr(inner, "set_full_state"):
        state["custom"] = inner.get_full_state()
        return state
    if hasattr(inner, "model") and hasattr(inner, "data"):
        import mujoco

        spec = mujoco.mjtState.mjSTATE_INTEGRATION  # everything needed for a bitwise-identical future
        buf = np.empty(mujoco.mj_stateSize(inner.model, spec), dtype=np.float64)
        mujoco.mj_getState(inner.model, inner.data, buf, spec)
        state["mujoco"] = buf
        return state
    return None


def _set_env_state(env: gym.Env[Any, Any], state: dict[str, Any]) -> None:
    inner: Any = env.unwrapped
    for w, elapsed in zip(_wrapper_chain(env), state["elapsed"], strict=True):
        if elapsed is not None:
            w._elapsed_steps = elapsed
        if hasattr(w, "_has_reset"):
            w._has_reset = True
    inner.np_random.bit_generator.state = state["np_random"]
    if "custom" in state:
        inner.set_full_state(state["custom"])
    else:
        import mujoco

        mujoco.mj_setState(inner.model, inner.data, state["mujoco"], mujoco.mjtState.mjSTATE_INTEGRATION)


def get_env_states(envs: gym.vector.VectorEnv) -> list[dict[str, Any]] | None:
    """The exact state of every sub-environment, or None when it cannot be captured (async envs,
    environments that are neither MuJoCo nor expose ``get_full_state``/``set_full_state``)."""
    subs = getattr(envs, "envs", None)
    if subs is None:
        return None
    states = [_env_state(e) for e in subs]
    if any(s is None for s in states):
        return None
    return [s for s in states if s is not None]


def set_env_states(envs: gym.vector.VectorEnv, states: list[dict[str, Any]]) -> None:
    subs: Any = envs
    for env, state in zip(subs.envs, states, strict=True):
        _set_env_state(env, state)

"""``BatchedTask``: N worlds of a Gymnasium MuJoCo v5 task stepped in one call, as a same-step-autoreset
vector env.

It composes a task's logic (:mod:`agents.tasks.logic`) with an engine (:mod:`agents.tasks.engine`) and
adds what Gymnasium's wrappers add: per-world RNG streams, the ``TimeLimit`` truncation (1000 steps
for all five tasks, as registered in ``gymnasium/envs/__init__.py``) and autoreset. The vector API is
exactly :class:`agents.envs.InlineVectorEnv`'s — ``reset(seed)`` seeds world ``i`` with ``seed + i``;
the step that ends an episode in world ``i`` returns its reset observation and puts the last one in
``info["final_obs"][i]`` with ``info["_final_obs"][i]`` set — so world ``i`` of a ``BatchedTask`` is,
bitwise, ``gymnasium.make(env_id)`` reset with ``seed + i`` and stepped with the same actions
(``tests/test_batched.py``).

RNG: world ``i`` owns ``numpy.random.Generator(PCG64(SeedSequence(seed + i)))``, which is what
``gymnasium.utils.seeding.np_random`` builds, and each reset draws from it what the v5 ``reset_model``
draws, in the same order: nq uniforms for qpos, then nv uniforms (Hopper, Walker2d, Humanoid) or
standard normals (HalfCheetah, Ant) for qvel; later resets continue the stream, as Gymnasium's do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium.envs.mujoco.mujoco_env import expand_model_path
from gymnasium.vector import AutoresetMode

from agents.tasks.engine import Engine, make_engine
from agents.tasks.logic import ModelConstants, Task, make_task, model_constants

STATE_FIELDS = ("time", "qpos", "qvel", "act", "qacc_warmstart", "ctrl", "qfrc_applied", "xfrc_applied",
                "mocap_pos", "mocap_quat")
MAX_EPISODE_STEPS = 1000   # the TimeLimit of Hopper/Walker2d/HalfCheetah/Ant/Humanoid-v5


def load_model(task: Task) -> Any:
    """The task's MuJoCo model, from Gymnasium's asset, as ``MujocoEnv`` loads it."""
    return mujoco.MjModel.from_xml_path(expand_model_path(task.xml_file))


class BatchedTask(gym.vector.VectorEnv):
    """``num_envs`` worlds of ``env_id`` (``Hopper-v5``, ``Walker2d-v5``, ``HalfCheetah-v5``, ``Ant-v5``,
    ``Humanoid-v5``) with v5 keyword arguments ``task_kwargs``, on ``nthread`` threads. ``engine``: an
    :class:`Engine` of ``num_envs`` worlds of this task's model, or the name of one for
    :func:`agents.tasks.engine.make_engine` (default ``"mujoco"``, bitwise Gymnasium)."""

    def __init__(self, env_id: str, num_envs: int, *, nthread: int = 1,
                 max_episode_steps: int = MAX_EPISODE_STEPS, engine: Engine | str | None = None,
                 **task_kwargs: Any) -> None:
        self.task = make_task(env_id, **task_kwargs)
        self.model = load_model(self.task)
        self.consts: ModelConstants = model_constants(self.model, self.task.frame_skip)
        if engine is None or isinstance(engine, str):
            engine = make_engine(engine or "mujoco", self.model, num_envs, self.task.frame_skip, self.task.fields,
                                 nthread=nthread)
        if engine.num_worlds != num_envs or engine.frame_skip != self.task.frame_skip:
            raise ValueError(f"an engine of {engine.num_worlds} worlds with frame_skip {engine.frame_skip} for "
                             f"{num_envs} worlds of {env_id} (frame_skip {self.task.frame_skip})")
        self.engine: Engine = engine
        self.num_envs = num_envs
        self.max_episode_steps = max_episode_steps
        m = self.model
        low, high = m.actuator_ctrlrange.copy().astype(np.float32).T
        self.single_action_space = gym.spaces.Box(low=low, high=high, dtype=np.float32)
        obs_size = self.task.obs_size(m.nq, m.nv, m.nbody)
        self.single_observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(obs_size,), dtype=np.float64)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)
        self.metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}
        self._elapsed = np.zeros(num_envs, dtype=np.int64)
        self._rngs: list[np.random.Generator] | None = None
        self._obs = np.zeros((num_envs, obs_size), dtype=np.float64)
        # each world's reward position (Task.position) after its last step or reset: the start of the next
        # step's velocity. Ant's and Humanoid's is a derived field (xpos) as mj_step left it, one substep behind
        # the state, which mj_forward on a restored state would not give back, so a world state carries it.
        self._position: np.ndarray | None = None

    # -- task logic on the engine's fields -----------------------------------------------------------

    def _fields(self, ids: np.ndarray | None = None) -> dict[str, np.ndarray]:
        if ids is None:
            return {name: self.engine.field(name) for name in self.task.fields}
        return {name: self.engine.field(name)[ids] for name in self.task.fields}

    def _reset_worlds(self, ids: np.ndarray) -> np.ndarray:
        """Reset worlds ``ids`` from their RNG streams; their reset observations, (len(ids), obs_size)."""
        assert self._rngs is not None
        nq, nv = self.model.nq, self.model.nv
        u_qpos = np.empty((len(ids), nq))
        d_qvel = np.empty((len(ids), nv))
        for j, i in enumerate(ids):
            rng = self._rngs[i]
            u_qpos[j] = rng.random(nq)
            d_qvel[j] = rng.random(nv) if self.task.qvel_noise == "uniform" else rng.standard_normal(nv)
        qpos, qvel = self.task.initial_state(np, self.consts, u_qpos, d_qvel)
        self.engine.reset(ids, qpos, qvel)
        self._elapsed[ids] = 0
        obs: np.ndarray = self.task.observe(np, self._fields(ids), self.consts)
        return obs

    # -- vector env API ------------------------------------------------------------------------------

    def reset(self, *, seed: int | Sequence[int] | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every world; world ``i`` is seeded with ``seed + i`` (or ``seed[i]``). With ``seed=None``
        the streams continue (fresh entropy the first time), as ``env.reset()`` does."""
        n = self.num_envs
        if seed is not None:
            seeds = [seed + i for i in range(n)] if isinstance(seed, int) else list(seed)
            if len(seeds) != n:
                raise ValueError(f"{len(seeds)} seeds for {n} worlds")
            self._rngs = [np.random.Generator(np.random.PCG64(np.random.SeedSequence(s))) for s in seeds]
        elif self._rngs is None:
            self._rngs = [np.random.Generator(np.random.PCG64(np.random.SeedSequence())) for _ in range(n)]
        self._obs[:] = self._reset_worlds(np.arange(n))
        self._position = np.array(self.task.position(np, self._fields(), self.consts))
        return self._obs.copy(), {}

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                                 dict[str, Any]]:
        """One step of every world; same-step autoreset (see the module docstring)."""
        if self._rngs is None:
            raise RuntimeError("call reset() before step()")
        actions = np.asarray(actions)
        if actions.shape != self.action_space.shape:
            raise ValueError(f"actions of shape {actions.shape}, expected {self.action_space.shape}")
        task, c = self.task, self.consts
        before = self._position
        self.engine.step(actions)
        f = self._fields()
        velocity = (task.position(np, f, c) - before) / c.dt
        obs = task.observe(np, f, c)
        healthy = task.healthy(np, f, c)
        reward, _ = task.reward(np, velocity, actions, f, c, healthy)
        terminated = np.asarray(task.terminated(np, healthy), dtype=bool)
        self._elapsed += 1
        truncated = self._elapsed >= self.max_episode_steps
        info: dict[str, Any] = {}
        done = np.flatnonzero(terminated | truncated)
        if done.size:
            info["final_obs"] = np.empty(self.num_envs, dtype=object)
            info["_final_obs"] = np.zeros(self.num_envs, dtype=bool)
            for i in done:
                info["final_obs"][i] = obs[i].copy()
            info["_final_obs"][done] = True
            obs[done] = self._reset_worlds(done)
        self._obs[:] = obs
        self._position = np.array(task.position(np, self._fields(), c))     # copied: the fields are live
        return self._obs.copy(), np.asarray(reward, dtype=np.float64), terminated, truncated, info

    # -- exact state, for bitwise resume --------------------------------------------------------------

    @property
    def saves_state(self) -> bool:
        """Whether :meth:`get_world_states` works: the engine keeps its state in ``mujoco.batch`` rows."""
        return getattr(self.engine, "batch", None) is not None

    def get_world_states(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        """The exact state of worlds ``ids``: step counter, RNG stream and every MuJoCo state field
        (``mujoco.batch`` keeps the integration state in rows: qpos, qvel, act, qacc_warmstart, ctrl, ...)."""
        if self._rngs is None:
            raise RuntimeError("call reset() before get_world_states()")
        rows = self._state_rows()
        assert self._position is not None
        return [{"elapsed": int(self._elapsed[i]), "np_random": dict(self._rngs[i].bit_generator.state),
                 "mujoco": {name: np.array(arr[i]) for name, arr in rows.items()},
                 "position": np.array(self._position[i])} for i in ids]

    def set_world_states(self, ids: Sequence[int], states: Sequence[dict[str, Any]]) -> None:
        """Restore worlds ``ids`` from :meth:`get_world_states` (then recompute derived fields)."""
        if self._rngs is None:
            raise RuntimeError("call reset() before set_world_states()")
        rows = self._state_rows()
        batch: Any = getattr(self.engine, "batch")  # noqa: B009 (checked by _state_rows)
        for i, state in zip(ids, states, strict=True):
            self._elapsed[i] = int(state["elapsed"])
            self._rngs[i].bit_generator.state = state["np_random"]
            for name, value in state["mujoco"].items():
                rows[name][i] = value
        batch.forward(np.asarray(ids, dtype=np.int64))                      # mj_forward: derived fields
        assert self._position is not None
        recomputed = np.array(self.task.position(np, self._fields(), self.consts))
        for i, state in zip(ids, states, strict=True):   # a state saved without it: mj_forward's (Hopper: exact)
            self._position[i] = state["position"] if "position" in state else recomputed[i]

    def _state_rows(self) -> dict[str, np.ndarray]:
        batch = getattr(self.engine, "batch", None)
        if batch is None:
            raise RuntimeError("this engine cannot save its state")
        return {name: batch.bind(name) for name in STATE_FIELDS if np.asarray(batch.bind(name)).size}

    def close_extras(self, **kwargs: Any) -> None:
        pass

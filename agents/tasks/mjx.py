"""N worlds of a MuJoCo model stepped by MJX (``mujoco-mjx``, MuJoCo in JAX), on a GPU or on JAX's CPU.

:class:`MjxEngine` implements the :class:`agents.tasks.engine.Engine` contract — the call sequence of
Gymnasium's ``MujocoEnv`` — with MJX's functions in place of MuJoCo's C ones, vectorised over worlds with
``jax.vmap`` and compiled with ``jax.jit``:

- ``reset(ids, qpos, qvel)``: a fresh ``mjx.make_data`` (``mj_resetData``) with qpos and qvel set, then
  ``mjx.forward`` (``mj_forward``); ``cfrc_ext`` is zero, as after Gymnasium's reset.
- ``step(ctrl)``: ``ctrl`` set, ``frame_skip`` calls of ``mjx.step`` (``mj_step(nstep=frame_skip)``), then
  ``mjx.rne_postconstraint`` when the task reads ``cfrc_ext`` (Ant, Humanoid), as
  ``MujocoEnv._step_mujoco_simulation`` calls ``mj_rnePostConstraint``.

So :class:`agents.tasks.BatchedTask` takes it unchanged (``BatchedTask(env_id, n, engine="mjx")``): the
task logic of :mod:`agents.tasks.logic` (the v5 reward, termination, reset distribution and observation),
the per-world RNG streams, the time limit and autoreset stay exactly the CPU path's, in float64 numpy on
the host, and only the physics moves. MJX computes in float32 unless JAX's ``jax_enable_x64`` is set, so
the worlds follow Gymnasium's to float32 rounding, not bitwise (``tests/test_mjx.py`` states the
tolerance). Reset and step are each compiled once for a fixed number of worlds, ``capacity`` (default
``num_worlds``): worlds past ``num_worlds`` are stepped with zero controls and never read, so engines of
different sizes up to one capacity share one compilation (XLA compiles per shape; Hopper's RK4 step takes
~30 s to compile on this CPU, ~5 s from JAX's persistent cache, :func:`enable_compilation_cache`).

Where the learner is on the same device, :meth:`MjxEngine.jax_field` and :meth:`MjxEngine.torch_field`
hand a field over without a copy (``torch.from_dlpack``), and :class:`DeviceLogic` evaluates the same
task logic with ``xp = jax.numpy`` on the device, so that observations, rewards and terminations never
leave it. A torch view from :meth:`MjxEngine.torch_field` shares the JAX buffer: JAX takes its arrays to
be immutable, so the view must be read only (``.clone()`` before writing). The engine never donates its
buffers, so a view stays valid, showing the state of the step it was taken after.

MJX also offers ``impl="warp"`` (MuJoCo Warp under the same ``mjx.put_model`` / ``mjx.step`` calls, with
``warp-lang``); ``rne_postconstraint`` is JAX-only there, so a Warp engine would be this class with
``impl`` passed through for the planar tasks and another source of ``cfrc_ext`` for Ant and Humanoid. It is
not added: warp-lang is not installed here, and an engine that no test runs is not offered.

The rules being trained (the paper's PPO and MLA-PPO updates, Gummadi et al. 2022, §5 and Table 2) do not
depend on the engine; only the physics steps per second do.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from mujoco import mjx

from agents.tasks.logic import ModelConstants, Task

CACHE_ENV = "PGCHECK_JAX_CACHE"


def default_cache_dir() -> Path:
    """``$PGCHECK_JAX_CACHE``, else ``~/.cache/pgcheck/jax``."""
    root = os.environ.get(CACHE_ENV)
    return Path(root) if root else Path.home() / ".cache" / "pgcheck" / "jax"


def enable_compilation_cache(path: str | Path | None = None) -> Path:
    """Keep every XLA compilation in JAX's persistent cache at ``path`` (:func:`default_cache_dir`), so a
    later process loads Hopper's compiled step in seconds instead of compiling it again. Returns the path."""
    where = Path(path) if path is not None else default_cache_dir()
    where.mkdir(parents=True, exist_ok=True)
    config: Any = jax.config
    config.update("jax_compilation_cache_dir", str(where))
    config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    return where


def _to_torch(x: jax.Array) -> Any:
    from torch.utils.dlpack import from_dlpack

    return from_dlpack(x)


class MjxEngine:
    """:class:`agents.tasks.engine.Engine` on MJX (see the module docstring).

    ``device``: a ``jax.Device`` (default: JAX's default device, the GPU when there is one). ``capacity``:
    the number of worlds compiled for (at least ``num_worlds``)."""

    def __init__(self, model: Any, num_worlds: int, frame_skip: int, fields: Sequence[str], *,
                 capacity: int | None = None, device: Any = None) -> None:
        if num_worlds < 1:
            raise ValueError("an engine needs at least one world")
        self.model = model
        self.num_worlds = num_worlds
        self.frame_skip = frame_skip
        self.capacity = max(num_worlds, capacity or 0)
        self.device = device if device is not None else jax.devices()[0]
        self.names = tuple(dict.fromkeys(("qpos", "qvel", "ctrl", *fields)))
        self._post_constraint = "cfrc_ext" in self.names
        self.mx = mjx.put_model(model, device=self.device, impl="jax")
        blank = mjx.make_data(self.mx, device=self.device, impl="jax")
        self._blank = blank
        self._data: Any = jax.tree_util.tree_map(lambda x: jnp.repeat(x[None], self.capacity, axis=0), blank)
        # the model and the blank data are arguments, not constants baked into the compiled program
        self._step = jax.jit(jax.vmap(self._step_world, in_axes=(None, 0, 0)))
        self._reset = jax.jit(self._reset_worlds)
        self._host: dict[str, np.ndarray] = {}
        nq, nv = model.nq, model.nv
        self._qpos = np.zeros((self.capacity, nq), dtype=np.float64)
        self._qvel = np.zeros((self.capacity, nv), dtype=np.float64)
        self._ctrl = np.zeros((self.capacity, model.nu), dtype=np.float32)

    # -- the compiled functions ------------------------------------------------------------------------

    def _step_world(self, m: Any, d: Any, ctrl: jax.Array) -> Any:
        d = d.replace(ctrl=ctrl.astype(d.ctrl.dtype))
        d = jax.lax.fori_loop(0, self.frame_skip, lambda _, x: mjx.step(m, x), d)
        if self._post_constraint:
            d = mjx.rne_postconstraint(m, d)
        return d

    def _reset_worlds(self, m: Any, blank: Any, d: Any, mask: jax.Array, qpos: jax.Array, qvel: jax.Array) -> Any:
        def fresh(q: jax.Array, v: jax.Array) -> Any:
            return mjx.forward(m, blank.replace(qpos=q.astype(blank.qpos.dtype), qvel=v.astype(blank.qvel.dtype)))

        new = jax.vmap(fresh)(qpos, qvel)

        def pick(a: jax.Array, b: jax.Array) -> jax.Array:
            m = mask.reshape(mask.shape + (1,) * (a.ndim - 1))
            return jnp.where(m, b, a)

        return jax.tree_util.tree_map(pick, d, new)

    # -- Engine ----------------------------------------------------------------------------------------

    def reset(self, ids: np.ndarray, qpos: np.ndarray, qvel: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        mask = np.zeros(self.capacity, dtype=bool)
        mask[ids] = True
        self._qpos[ids] = qpos
        self._qvel[ids] = qvel
        self._data = self._reset(self.mx, self._blank, self._data, self._put(mask), self._put(self._qpos),
                                 self._put(self._qvel))
        self._host.clear()

    def step(self, ctrl: Any) -> None:
        """``ctrl``: (num_worlds, nu) numpy, or a (capacity, nu) array already on the device (a JAX array,
        or a torch tensor, taken through DLPack)."""
        if isinstance(ctrl, np.ndarray):
            self._ctrl[:self.num_worlds] = ctrl
            ctrl_dev = self._put(self._ctrl)
        else:
            ctrl_dev = ctrl if isinstance(ctrl, jax.Array) else jax.dlpack.from_dlpack(ctrl)
            if ctrl_dev.shape[0] != self.capacity:
                raise ValueError(f"device controls of {ctrl_dev.shape[0]} worlds, expected {self.capacity}")
        self._data = self._step(self.mx, self._data, ctrl_dev)
        self._host.clear()

    def field(self, name: str) -> np.ndarray:
        """The field of the first ``num_worlds`` worlds, copied to the host as float64 (once per step)."""
        if name not in self._host:
            if name not in self.names:
                raise KeyError(f"{name!r} is not among this engine's fields {self.names}")
            self._host[name] = np.asarray(self.jax_field(name), dtype=np.float64)[:self.num_worlds]
        return self._host[name]

    # -- on the device ---------------------------------------------------------------------------------

    def jax_field(self, name: str) -> jax.Array:
        """The (capacity, ...) field as it lies on the device (no copy)."""
        value: jax.Array = getattr(self._data, name)
        return value

    def torch_field(self, name: str) -> Any:
        """The (capacity, ...) field as a torch tensor on the same device, through DLPack (no copy; read only,
        see the module docstring)."""
        return _to_torch(self.jax_field(name))

    def block_until_ready(self) -> None:
        wait: Any = jax.block_until_ready
        wait(self._data)

    def _put(self, x: np.ndarray) -> jax.Array:
        out: jax.Array = jax.device_put(x, self.device)
        return out


@dataclass(frozen=True)
class DeviceOutputs:
    """One step of the task logic on the device: (capacity, ...) JAX arrays."""

    obs: jax.Array
    reward: jax.Array
    terminated: jax.Array


class DeviceLogic:
    """A task's logic (:mod:`agents.tasks.logic`, unchanged) with ``xp = jax.numpy``, compiled, on an
    :class:`MjxEngine`'s device fields: ``step(ctrl)`` steps the engine and returns the observations,
    rewards and terminations without leaving the device. Resets, the time limit and the RNG streams are
    :class:`agents.tasks.BatchedTask`'s, on the host; this is the device half a device-resident learner
    needs (benchmarked in ``benchmarks/gpu_check.py``)."""

    def __init__(self, engine: MjxEngine, task: Task, consts: ModelConstants) -> None:
        self.engine, self.task = engine, task
        self.consts = ModelConstants(init_qpos=jnp.asarray(consts.init_qpos), init_qvel=jnp.asarray(consts.init_qvel),
                                     dt=consts.dt, body_mass=jnp.asarray(consts.body_mass))
        self._position: Callable[..., jax.Array] = jax.jit(self._position_fn)
        self._outputs: Callable[..., tuple[jax.Array, jax.Array, jax.Array]] = jax.jit(self._outputs_fn)

    def _fields(self, data: dict[str, jax.Array]) -> dict[str, jax.Array]:
        return {name: data[name] for name in self.task.fields}

    def _position_fn(self, data: dict[str, jax.Array]) -> jax.Array:
        position: jax.Array = self.task.position(jnp, self._fields(data), self.consts)
        return position

    def _outputs_fn(self, data: dict[str, jax.Array], before: jax.Array,
                    action: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        t, c, f = self.task, self.consts, self._fields(data)
        velocity = (t.position(jnp, f, c) - before) / c.dt
        healthy = t.healthy(jnp, f, c)
        reward, _ = t.reward(jnp, velocity, action, f, c, healthy)
        return t.observe(jnp, f, c), reward, t.terminated(jnp, healthy)

    def _device_fields(self) -> dict[str, jax.Array]:
        return {name: self.engine.jax_field(name) for name in self.task.fields}

    def step(self, ctrl: jax.Array) -> DeviceOutputs:
        """``ctrl``: (capacity, nu) on the device (a JAX array or, through DLPack, a torch tensor)."""
        action = ctrl if isinstance(ctrl, jax.Array) else jax.dlpack.from_dlpack(ctrl)
        before = self._position(self._device_fields())
        self.engine.step(action)
        obs, reward, terminated = self._outputs(self._device_fields(), before, action)
        return DeviceOutputs(obs, reward, terminated)


def evaluate_logic(task: Task, consts: ModelConstants, fields: dict[str, np.ndarray], before: np.ndarray,
                   action: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The task logic with ``xp = jax.numpy`` on host fields (float32 unless x64 is enabled): observation,
    reward, termination after a step from ``before`` (the position before it). For the test that the one
    logic of :mod:`agents.tasks.logic` runs unchanged under JAX."""
    c = ModelConstants(init_qpos=jnp.asarray(consts.init_qpos), init_qvel=jnp.asarray(consts.init_qvel),
                       dt=consts.dt, body_mass=jnp.asarray(consts.body_mass))
    f = {k: jnp.asarray(v) for k, v in fields.items()}
    velocity = (task.position(jnp, f, c) - jnp.asarray(before)) / c.dt
    healthy = task.healthy(jnp, f, c)
    reward, _ = task.reward(jnp, velocity, jnp.asarray(action), f, c, healthy)
    return (np.asarray(task.observe(jnp, f, c)), np.asarray(reward), np.asarray(task.terminated(jnp, healthy)))

"""Stepping engines: N worlds of one MuJoCo model, state in and batched MjData fields out.

An :class:`Engine` knows nothing of tasks. It resets worlds to a given (qpos, qvel), steps all worlds
with (N, nu) controls for ``frame_skip`` substeps, and exposes MjData fields as (N, ...) arrays, with
Gymnasium's ``MujocoEnv`` call sequence as the contract:

- ``reset(ids, qpos, qvel)``: ``mj_resetData``, set qpos and qvel, ``mj_forward`` (``MujocoEnv.reset`` +
  ``set_state``). ``cfrc_ext`` of those worlds is then zero, as ``mj_forward`` leaves it after
  ``mj_resetData`` (it is computed only by ``mj_rnePostConstraint``).
- ``step(ctrl)``: ``data.ctrl[:] = ctrl``, ``mj_step(nstep=frame_skip)``, then ``mj_rnePostConstraint``
  (``MujocoEnv._step_mujoco_simulation``), so derived fields are those ``mj_step`` leaves (one substep
  behind the state) and ``cfrc_ext`` is the post-step constraint force.

:class:`MujocoBatchEngine` implements it on ``mujoco.batch.Batch`` (MuJoCo 4), which steps all worlds
in one C call on a thread pool that releases the GIL. :class:`agents.tasks.mjx.MjxEngine` implements
the same three methods on MJX (JAX: a GPU, or JAX's CPU); :func:`make_engine` builds either by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import mujoco
import mujoco.batch
import numpy as np

from pgcheck.errors import UserError


class Engine(Protocol):
    """N worlds of one model (see the module docstring for the exact semantics)."""

    num_worlds: int
    frame_skip: int

    def reset(self, ids: np.ndarray, qpos: np.ndarray, qvel: np.ndarray) -> None:
        """Reset worlds ``ids`` (k,) to (k, nq) positions and (k, nv) velocities."""

    def step(self, ctrl: np.ndarray) -> None:
        """Apply (N, nu) controls for ``frame_skip`` substeps in every world."""

    def field(self, name: str) -> np.ndarray:
        """The (N, ...) values of an MjData field after the last call; read-only, overwritten by the next."""


class MujocoBatchEngine:
    """:class:`Engine` on ``mujoco.batch.Batch``.

    ``mujoco.batch`` computes what ``mj_step`` computes, and ``mj_step`` never computes ``cfrc_ext``
    (Gymnasium calls ``mj_rnePostConstraint`` for it after the step). When ``cfrc_ext`` is among
    ``fields`` the batch is persistent (one MjData per world) and, after each step, every world's MjData
    is copied out with ``Batch.get_data`` and ``mj_rnePostConstraint`` is run on the copy: bitwise
    Gymnasium's value, at ~12 µs (Ant) to ~16 µs (Humanoid) per world in the calling thread. (A model
    with an acceleration sensor added, which makes ``mj_step`` itself call ``mj_rnePostConstraint``,
    was tried: it gives different ``cfrc_ext`` from Gymnasium's post-step call.)
    """

    def __init__(self, model: Any, num_worlds: int, frame_skip: int, fields: Sequence[str],
                 nthread: int = 1) -> None:
        self.model = model
        self.num_worlds = num_worlds
        self.frame_skip = frame_skip
        self._post_constraint = "cfrc_ext" in fields
        self._batch = mujoco.batch.Batch(model, num_worlds, nthread=nthread, persistent=self._post_constraint)
        self._qpos = self._batch.bind("qpos")
        self._qvel = self._batch.bind("qvel")
        self._ctrl = self._batch.bind("ctrl")
        self._fields: dict[str, np.ndarray] = {"qpos": self._qpos, "qvel": self._qvel, "ctrl": self._ctrl}
        for name in fields:
            if name not in self._fields and name != "cfrc_ext":
                self._fields[name] = self._batch.bind(name)   # bound before any call, so refreshed by each
        if self._post_constraint:
            self._fields["cfrc_ext"] = np.zeros((num_worlds, model.nbody, 6), dtype=np.float64)
            self._scratch = mujoco.MjData(model)
        self._batch.reset()

    @property
    def nthread(self) -> int:
        n: int = self._batch.nthread
        return n

    def reset(self, ids: np.ndarray, qpos: np.ndarray, qvel: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        self._batch.reset(ids, stage=mujoco.mjtStage.mjSTAGE_NONE.value)   # mj_resetData
        self._qpos[ids] = qpos
        self._qvel[ids] = qvel
        self._batch.forward(ids)                                            # mj_forward
        if self._post_constraint:
            self._fields["cfrc_ext"][ids] = 0.0

    def step(self, ctrl: np.ndarray) -> None:
        self._ctrl[:] = ctrl
        self._batch.step(nstep=self.frame_skip)
        if self._post_constraint:
            cfrc = self._fields["cfrc_ext"]
            d = self._scratch
            for i in range(self.num_worlds):
                self._batch.get_data(i, d)
                mujoco.mj_rnePostConstraint(self.model, d)
                cfrc[i] = d.cfrc_ext

    def field(self, name: str) -> np.ndarray:
        return self._fields[name]

    @property
    def batch(self) -> Any:
        """The underlying ``mujoco.batch.Batch`` (its state rows are bound by name)."""
        return self._batch


ENGINES = ("mujoco", "mjx")


def make_engine(name: str, model: Any, num_worlds: int, frame_skip: int, fields: Sequence[str],
                nthread: int = 1) -> Engine:
    """The engine called ``name``: ``"mujoco"`` (:class:`MujocoBatchEngine` on ``nthread`` threads) or
    ``"mjx"`` (:class:`agents.tasks.mjx.MjxEngine` on JAX's default device; needs ``mujoco-mjx`` and JAX,
    the ``gpu`` extra)."""
    if name == "mujoco":
        return MujocoBatchEngine(model, num_worlds, frame_skip, fields, nthread=nthread)
    if name == "mjx":
        try:
            from agents.tasks.mjx import MjxEngine, enable_compilation_cache
        except ImportError as exc:   # the gpu extra is not installed
            raise UserError(f"engine 'mjx' needs JAX and mujoco-mjx (pip install 'pgcheck[gpu]'): {exc}") from None
        enable_compilation_cache()   # JAX compiles per shape (minutes on a CPU): keep it for the next run
        return MjxEngine(model, num_worlds, frame_skip, fields)
    raise ValueError(f"no engine {name!r}; choose one of {', '.join(ENGINES)}")

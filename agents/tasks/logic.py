"""The five Gymnasium MuJoCo v5 locomotion tasks as functions over batched arrays.

Each task is a frozen dataclass whose fields are the keyword arguments of the Gymnasium v5 environment
with their v5 defaults (``gymnasium/envs/mujoco/<task>_v5.py``; documented at
https://gymnasium.farama.org/environments/mujoco/). Its methods hold *all* of the task's logic —
forward velocity, observation, health, reward, termination and the reset distribution — and nothing
else: they take the simulator's fields as ``(N, ...)`` arrays of N worlds and an array namespace ``xp``
(``numpy``; any namespace with numpy's names for ``clip``, ``sum``, ``square``, ``concatenate``,
``reshape``, ``einsum``, ``all``, ``ones``, ``isfinite``, ``logical_and`` and ``logical_not``, e.g.
``jax.numpy``, works unchanged), and never step,
seed or mutate anything. Stepping is an :class:`agents.tasks.engine.Engine`'s job; seeding, the time
limit and autoreset are :class:`agents.tasks.batched.BatchedTask`'s.

Every expression follows the order of operations of Gymnasium's code, so that with numpy the results
are bitwise those of ``gymnasium.make("<Task>-v5")`` (``tests/test_batched.py`` checks it). Fields a
task reads (``Task.fields``) are MjData's names, each as ``(N, *shape in MjData)``:
``qpos (N, nq)``, ``qvel (N, nv)``, ``ctrl (N, nu)``, ``xpos``/``xipos (N, nbody, 3)``,
``cinert (N, nbody, 10)``, ``cvel``/``cfrc_ext (N, nbody, 6)``, ``qfrc_actuator (N, nv)``, all as they
are in Gymnasium's MjData after ``mj_step(frame_skip)`` and ``mj_rnePostConstraint`` (after a step) or
after ``mj_resetData`` + ``mj_forward`` (after a reset, where ``cfrc_ext`` is therefore zero).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

Array = Any        # an array of the namespace in use
Namespace = Any    # the array namespace module (numpy, jax.numpy, ...)
Fields = Mapping[str, Array]

INF = float("inf")


@dataclass(frozen=True)
class ModelConstants:
    """What the task logic needs from the model: MjModel's ``qpos0`` (Gymnasium's ``init_qpos``), zero
    ``init_qvel``, ``dt = opt.timestep * frame_skip`` and ``body_mass``."""

    init_qpos: Array   # (nq,)
    init_qvel: Array   # (nv,)
    dt: float
    body_mass: Array   # (nbody,)


class Task(ABC):
    """Gymnasium v5 semantics of one locomotion task, batched over a leading world axis N."""

    env_id: ClassVar[str]
    xml_file: ClassVar[str]                           # Gymnasium's default asset
    fields: ClassVar[tuple[str, ...]]                 # MjData fields read by the methods below
    qvel_noise: ClassVar[Literal["uniform", "normal"]]
    frame_skip: int
    reset_noise_scale: float
    terminate_when_unhealthy: bool

    @abstractmethod
    def obs_size(self, nq: int, nv: int, nbody: int) -> int:
        """Length of one observation."""

    @abstractmethod
    def position(self, xp: Namespace, f: Fields, c: ModelConstants) -> Array:
        """(N, k) position whose change over a step, divided by dt, is the velocity the reward uses."""

    @abstractmethod
    def observe(self, xp: Namespace, f: Fields, c: ModelConstants) -> Array:
        """(N, obs_size) float64 observations."""

    @abstractmethod
    def healthy(self, xp: Namespace, f: Fields, c: ModelConstants) -> Array:
        """(N,) bool: the v5 ``is_healthy`` (always True for HalfCheetah)."""

    @abstractmethod
    def reward(self, xp: Namespace, velocity: Array, action: Array, f: Fields, c: ModelConstants,
               healthy: Array) -> tuple[Array, dict[str, Array]]:
        """(N,) rewards and the named terms (Gymnasium's ``info["reward_*"]``) from the (N, k) velocity
        of :meth:`position`, the (N, nu) actions as passed to ``step`` and :meth:`healthy`."""

    def terminated(self, xp: Namespace, healthy: Array) -> Array:
        """(N,) bool: unhealthy, when ``terminate_when_unhealthy``."""
        return xp.logical_and(xp.logical_not(healthy), self.terminate_when_unhealthy)

    def initial_state(self, xp: Namespace, c: ModelConstants, u_qpos: Array,
                      d_qvel: Array) -> tuple[Array, Array]:
        """Reset (qpos, qvel) from the noise draws: ``u_qpos`` (N, nq) uniform on [0, 1); ``d_qvel`` (N, nv)
        uniform on [0, 1) or standard normal, as ``qvel_noise`` says.

        Gymnasium's ``np_random.uniform(low, high)`` is ``low + (high - low) * u`` for the generator's next
        double ``u`` (numpy's ``random_uniform``), so drawing ``u`` with ``np_random.random`` and mapping it
        here gives Gymnasium's reset bitwise, and leaves the drawing to whoever owns the RNG."""
        low, high = -self.reset_noise_scale, self.reset_noise_scale
        qpos = c.init_qpos + (low + (high - low) * u_qpos)
        if self.qvel_noise == "uniform":
            qvel = c.init_qvel + (low + (high - low) * d_qvel)
        else:
            qvel = c.init_qvel + self.reset_noise_scale * d_qvel
        return qpos, qvel


def _ctrl_cost(xp: Namespace, weight: float, action: Array) -> Array:
    """``weight * sum(action²)`` per world, in the action's dtype as in Gymnasium (float32 actions give a
    float32 cost there too)."""
    return weight * xp.sum(xp.square(action), axis=1)


def _flat_bodies(xp: Namespace, x: Array) -> Array:
    """(N, nbody, k) -> (N, (nbody - 1) k): every body but the world, flattened as ``x[1:].flatten()``."""
    return xp.reshape(x[:, 1:], (x.shape[0], -1))


# ---------------------------------------------------------------------------------------------------
# planar tasks: Hopper, Walker2d, HalfCheetah


class _Planar(Task):
    forward_reward_weight: float
    ctrl_cost_weight: float
    exclude_current_positions_from_observation: bool

    def obs_size(self, nq: int, nv: int, nbody: int) -> int:
        return nq + nv - int(self.exclude_current_positions_from_observation)

    def position(self, xp: Namespace, f: Fields, c: ModelConstants) -> Array:
        return f["qpos"][:, 0:1]                       # rootx

    def _observe(self, xp: Namespace, f: Fields, velocity: Array) -> Array:
        position = f["qpos"][:, 1:] if self.exclude_current_positions_from_observation else f["qpos"]
        return xp.concatenate((position, velocity), axis=1)


class _Hopping(_Planar):
    """Hopper and Walker2d share the reward and the clipped-velocity observation."""

    healthy_reward: float
    healthy_z_range: tuple[float, float]
    healthy_angle_range: tuple[float, float]

    def observe(self, xp: Namespace, f: Fields, c: ModelConstants) -> Array:
        return self._observe(xp, f, xp.clip(f["qvel"], -10, 10))

    def _z_angle_healthy(self, xp: Namespace, f: Fields) -> Array:
        z, angle = f["qpos"][:, 1], f["qpos"][:, 2]
        min_z, max_z = self.healthy_z_range
        min_angle, max_angle = self.healthy_angle_range
        healthy_z = xp.logical_and(min_z < z, z < max_z)
        healthy_angle = xp.logical_and(min_angle < angle, angle < max_angle)
        return xp.logical_and(healthy_z, healthy_angle)

    def reward(self, xp: Namespace, velocity: Array, action: Array, f: Fields, c: ModelConstants,
               healthy: Array) -> tuple[Array, dict[str, Array]]:
        forward_reward = self.forward_reward_weight * velocity[:, 0]
        healthy_reward = healthy * self.healthy_reward
        ctrl_cost = _ctrl_cost(xp, self.ctrl_cost_weight, action)
        reward = (forward_reward + healthy_reward) - ctrl_cost
        return reward, {"reward_forward": forward_reward, "reward_ctrl": -ctrl_cost,
                        "reward_survive": healthy_reward}


@dataclass(frozen=True)
class Hopper(_Hopping):
    """Hopper-v5 (``hopper_v5.py``)."""

    env_id: ClassVar[str] = "Hopper-v5"
    xml_file: ClassVar[str] = "hopper.xml"
    fields: ClassVar[tuple[str, ...]] = ("qpos", "qvel")
    qvel_noise: ClassVar[Literal["uniform", "normal"]] = "uniform"
    frame_skip: int = 4
    forward_reward_weight: float = 1.0
    ctrl_cost_weight: float = 1e-3
    healthy_reward: float = 1.0
    terminate_when_unhealthy: bool = True
    healthy_state_range: tuple[float, float] = (-100.0, 100.0)
    healthy_z_range: tuple[float, float] = (0.7, INF)
    healthy_angle_range: tuple[float, float] = (-0.2, 0.2)
    reset_noise_scale: float = 5e-3
    exclude_current_positions_from_observation: bool = True

    def healthy(self, xp: Namespace, f: Fields, c: ModelConstants) -> Array:
        state = xp.concatenate((f["qpos"][:, 2:], f["qvel"]), axis=1)    # state_vector()[2:]
        min_state, max_state = self.healthy_state_range
        healthy_state = xp.all(xp.logical_and(min_state < state, state < max_state), axis=1)
        return xp.logical_and(healthy_state, self._z_angle_healthy(xp, f))


@dataclass(frozen=True)
class Walker2d(_Hopping):
    """Walker2d-v5 (``walker2d_v5.py``, asset ``walker2d_v5.xml``)."""

    env_id: ClassVar[str] = "Walker2d-v5"
    xml_file: ClassVar[str] = "walker2d_v5.xml"
    fields: ClassVar[tuple[str, ...]] = ("qpos", "qvel")
    qvel_noise: ClassVar[Literal["uniform", "normal"]] = "uniform"
    frame_skip: int = 4
    forward_reward_weight: float = 1.0
    ctrl_cost_weight: float = 1e-3
    healthy_reward: float = 1.0
    terminate_when_unhealthy: bool = True
    healthy_z_range: tuple[float, float] = (0.8, 2.0)
    healthy_angle_range: tuple[float, float] = (-1.0, 1.0)
    reset_noise_scale: float = 5e-3
    exclude_current_positions_from_observation: bool = True

    def healthy(self, xp: Namespace, f: Fields, c: ModelConstants) -> Array:
        return self._z_angle_healthy(xp, f)


@dataclass(frozen=True)
class HalfCheetah(_Planar):
    """HalfCheetah-v5 (``half_cheetah_v5.py``): never terminates; qvel reset noise is normal."""

    env_id: ClassVar[str] = "HalfCheetah-v5"
    xml_file: ClassVar[str] = "half_cheetah.xml"
    fields: ClassVar[tuple[str, ...]] = ("qpos", "qvel")
    qvel_noise: ClassVar[Literal["uniform", "normal"]] = "normal"
    frame_skip: int = 5
    forward_reward_weight: float = 1.0
    ctrl_cost_weight: float = 0.1
    reset_noise_scale: float = 0.1
    exclude_current_positions_from_observation: bool = True
    terminate_when_unhealthy: bool = False       # not a v5 argument: HalfCheetah has no termination

    def observe(self, xp: Namespace, f: Fields, c: ModelConstants) -> Array:
        return self._observe(xp, f, f["qvel"])

    def healthy(self, xp: Namespace, f: Fields, c: ModelConstants) -> Array:
        return xp.ones((f["qpos"].shape[0],), dtype=bool)

    def reward(self, xp: Namespace, velocity: Array, action: Array, f: Fields, c: ModelConstants,
               healthy: Array) -> tuple[Array, dict[str, Array]]:
        forward_reward = self.forward_reward_weight * velocity[:, 0]
        ctrl_cost = _ctrl_cost(xp, self.ctrl_cost_weight, action)
        return forward_reward - ctrl_cost, {"reward_forward": forward_reward, "reward_ctrl": -ctrl_cost}


# ---------------------------------------------------------------------------------------------------
# 3-D tasks: Ant, Humanoid


@dataclass(frozen=True)
class Ant(Task):
    """Ant-v5 (``ant_v5.py``): velocity of ``xpos`` of ``main_body``; clipped ``cfrc_ext`` in the
    observation and the contact cost."""

    env_id: ClassVar[str] = "Ant-v5"
    xml_file: ClassVar[str] = "ant.xml"
    fields: ClassVar[tuple[str, ...]] = ("qpos", "qvel", "xpos", "cfrc_ext")
    qvel_noise: ClassVar[Literal["uniform", "normal"]] = "normal"
    frame_skip: int = 5
    forward_reward_weight: float = 1.0
    ctrl_cost_weight: float = 0.5
    contact_cost_weight: float = 5e-4
    healthy_reward: float = 1.0
    main_body: int = 1                           # a body id (v5 also accepts a name; ids only here)
    terminate_when_unhealthy: bool = True
    healthy_z_range: tuple[float, float] = (0.2, 1.0)
    contact_force_range: tuple[float, float] = (-1.0, 1.0)
    reset_noise_scale: float = 0.1
    exclude_current_positions_from_observation: bool = True
    include_cfrc_ext_in_observation: bool = True

    def obs_size(self, nq: int, nv: int, nbody: int) -> int:
        size = nq + nv - 2 * int(self.exclude_current_positions_from_observation)
        return size + (nbody - 1) * 6 * int(self.include_cfrc_ext_in_observation)

    def position(self, xp: Namespace, f: Fields, c: ModelConstants) -> Array:
        return f["xpos"][:, self.main_body, :2]

    def _contact_forces(self, xp: Namespace, f: Fields) -> Array:
        min_value, max_value = self.contact_force_range
        return xp.clip(f["cfrc_ext"], min_value, max_value)

    def observe(self, xp: Namespace, f: Fields, c: ModelConstants) -> Array:
        position = f["qpos"][:, 2:] if self.exclude_current_positions_from_observation else f["qpos"]
        parts = [position, f["qvel"]]
        if self.include_cfrc_ext_in_observation:
            parts.append(_flat_bodies(xp, self._contact_forces(xp, f)))
        return xp.concatenate(parts, axis=1)

    def healthy(self, xp: Namespace, f: Fields, c: ModelConstants) -> Array:
        finite = xp.logical_and(xp.all(xp.isfinite(f["qpos"]), axis=1), xp.all(xp.isfinite(f["qvel"]), axis=1))
        z = f["qpos"][:, 2]
        min_z, max_z = self.healthy_z_range
        return xp.logical_and(finite, xp.logical_and(min_z <= z, z <= max_z))

    def reward(self, xp: Namespace, velocity: Array, action: Array, f: Fields, c: ModelConstants,
               healthy: Array) -> tuple[Array, dict[str, Array]]:
        forward_reward = velocity[:, 0] * self.forward_reward_weight
        healthy_reward = healthy * self.healthy_reward
        ctrl_cost = _ctrl_cost(xp, self.ctrl_cost_weight, action)
        forces = self._contact_forces(xp, f)
        contact_cost = self.contact_cost_weight * xp.sum(xp.square(xp.reshape(forces, (forces.shape[0], -1))),
                                                         axis=1)
        reward = (forward_reward + healthy_reward) - (ctrl_cost + contact_cost)
        return reward, {"reward_forward": forward_reward, "reward_ctrl": -ctrl_cost,
                        "reward_contact": -contact_cost, "reward_survive": healthy_reward}


@dataclass(frozen=True)
class Humanoid(Task):
    """Humanoid-v5 (``humanoid_v5.py``): velocity of the mass centre (``xipos`` weighted by body mass);
    ``cinert``, ``cvel``, ``cfrc_ext`` of every body but the world and ``qfrc_actuator`` of the actuated
    dofs in the observation; control cost on ``data.ctrl``; clipped contact cost."""

    env_id: ClassVar[str] = "Humanoid-v5"
    xml_file: ClassVar[str] = "humanoid.xml"
    fields: ClassVar[tuple[str, ...]] = ("qpos", "qvel", "ctrl", "xipos", "cinert", "cvel", "qfrc_actuator",
                                         "cfrc_ext")
    qvel_noise: ClassVar[Literal["uniform", "normal"]] = "uniform"
    frame_skip: int = 5
    forward_reward_weight: float = 1.25
    ctrl_cost_weight: float = 0.1
    contact_cost_weight: float = 5e-7
    contact_cost_range: tuple[float, float] = (-INF, 10.0)
    healthy_reward: float = 5.0
    terminate_when_unhealthy: bool = True
    healthy_z_range: tuple[float, float] = (1.0, 2.0)
    reset_noise_scale: float = 1e-2
    exclude_current_positions_from_observation: bool = True
    include_cinert_in_observation: bool = True
    include_cvel_in_observation: bool = True
    include_qfrc_actuator_in_observation: bool = True
    include_cfrc_ext_in_observation: bool = True

    def obs_size(self, nq: int, nv: int, nbody: int) -> int:
        size = nq + nv - 2 * int(self.exclude_current_positions_from_observation)
        size += (nbody - 1) * 10 * int(self.include_cinert_in_observation)
        size += (nbody - 1) * 6 * int(self.include_cvel_in_observation)
        size += (nv - 6) * int(self.include_qfrc_actuator_in_observation)
        return size + (nbody - 1) * 6 * int(self.include_cfrc_ext_in_observation)

    def position(self, xp: Namespace, f: Fields, c: ModelConstants) -> Array:
        return (xp.einsum("b,nbj->nj", c.body_mass, f["xipos"]) / xp.sum(c.body_mass))[:, 0:2]

    def observe(self, xp: Namespace, f: Fields, c: ModelConstants) -> Array:
        position = f["qpos"][:, 2:] if self.exclude_current_positions_from_observation else f["qpos"]
        parts = [position, f["qvel"]]
        if self.include_cinert_in_observation:
            parts.append(_flat_bodies(xp, f["cinert"]))
        if self.include_cvel_in_observation:
            parts.append(_flat_bodies(xp, f["cvel"]))
        if self.include_qfrc_actuator_in_observation:
            parts.append(f["qfrc_actuator"][:, 6:])
        if self.include_cfrc_ext_in_observation:
            parts.append(_flat_bodies(xp, f["cfrc_ext"]))
        return xp.concatenate(parts, axis=1)

    def healthy(self, xp: Namespace, f: Fields, c: ModelConstants) -> Array:
        z = f["qpos"][:, 2]
        min_z, max_z = self.healthy_z_range
        return xp.logical_and(min_z < z, z < max_z)

    def reward(self, xp: Namespace, velocity: Array, action: Array, f: Fields, c: ModelConstants,
               healthy: Array) -> tuple[Array, dict[str, Array]]:
        forward_reward = self.forward_reward_weight * velocity[:, 0]
        healthy_reward = healthy * self.healthy_reward
        ctrl_cost = _ctrl_cost(xp, self.ctrl_cost_weight, f["ctrl"])
        cfrc = f["cfrc_ext"]
        min_cost, max_cost = self.contact_cost_range
        contact_cost = xp.clip(self.contact_cost_weight * xp.sum(xp.square(xp.reshape(cfrc, (cfrc.shape[0], -1))),
                                                                 axis=1), min_cost, max_cost)
        reward = (forward_reward + healthy_reward) - (ctrl_cost + contact_cost)
        return reward, {"reward_survive": healthy_reward, "reward_forward": forward_reward,
                        "reward_ctrl": -ctrl_cost, "reward_contact": -contact_cost}


TASKS: dict[str, type[Task]] = {t.env_id: t for t in (Hopper, Walker2d, HalfCheetah, Ant, Humanoid)}


def make_task(env_id: str, **kwargs: Any) -> Task:
    """The task for a Gymnasium id with v5 keyword arguments, e.g. ``make_task("Hopper-v5",
    ctrl_cost_weight=2e-3)``."""
    if env_id not in TASKS:
        raise ValueError(f"no batched task {env_id!r}; choose one of {', '.join(TASKS)}")
    task: Task = TASKS[env_id](**kwargs)
    return task


def model_constants(model: Any, frame_skip: int) -> ModelConstants:
    """:class:`ModelConstants` of an ``mujoco.MjModel`` as Gymnasium's ``MujocoEnv`` derives them."""
    return ModelConstants(init_qpos=np.array(model.qpos0, dtype=np.float64),
                          init_qvel=np.zeros(model.nv, dtype=np.float64),
                          dt=model.opt.timestep * frame_skip,
                          body_mass=np.array(model.body_mass, dtype=np.float64))

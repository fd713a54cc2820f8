"""The other update families of seed 001's Table 1 (§4.6) on the lane trainer: each is an update form times a
checked scale function (paper eq. 30), plus what is not in the class, named as such (a constraint, a penalty,
a learned temperature).

An algorithm with its own update replaces step 3 of :class:`agents.lanes.LaneTrainer` (the update); the
rollout, the evaluation of the rollout (values, GAE), the run directories and the checkpoints stay the
trainer's. It implements
:class:`LaneAlgorithm` and is registered under its ``PPOConfig.algo`` name in its module's ``ALGORITHMS``
(the module listed in :data:`MODULES`, the name in :data:`agents.config.ALGOS`). ``ppo`` has no entry: it is
:meth:`agents.lanes.LaneTrainer.update` itself.

The state an algorithm keeps between updates (a KL coefficient, a temperature, multipliers) is per lane and
goes into the lane's checkpoint (:meth:`LaneAlgorithm.lane_state`), as plain data (floats, tensors), so that a
killed run resumes bitwise.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from agents.lanes import LaneTrainer
    from agents.ppo import RolloutBatch


class LaneAlgorithm(Protocol):
    """An update rule for all lanes of a :class:`~agents.lanes.LaneTrainer`."""

    def update(self, batches: dict[int, RolloutBatch]) -> dict[int, dict[str, float]]:
        """Update the lanes of ``batches`` (lane index -> its evaluated rollout, Â not yet rescaled); return
        each trained lane's metrics: the common ones of :meth:`LaneTrainer.update` (policy_loss, value_loss,
        grad_norm, entropy, approx_kl, clip_fraction, explained_variance, epochs) and its spec's ``metrics``. A lane
        whose numbers are not finite is failed with :meth:`LaneTrainer._fail` and left out."""
        ...

    def lane_state(self, i: int) -> dict[str, Any]:
        """Lane ``i``'s state between updates, as plain data for its checkpoint."""
        ...

    def load_lane_state(self, i: int, state: dict[str, Any]) -> None:
        ...


@dataclass(frozen=True)
class AlgorithmSpec:
    """An update family: how to build it for a trainer, the metrics.csv columns it adds, and its preset.

    ``build`` None: the family is PPO's update loop itself with other settings (a scale function, one epoch:
    A2C is Uπ(f = ΔR) with ΔR = Â, seed 001 Table 1), which its ``preset`` gives. ``preset``: the
    :class:`~agents.config.PPOConfig` fields of seed 001's hyperparameters (Appendix A, Table 2) for it."""

    summary: str
    build: Callable[[LaneTrainer], LaneAlgorithm] | None = None
    metrics: tuple[str, ...] = ()
    preset: Mapping[str, Any] = field(default_factory=dict)


# the modules that define algorithms, each with ALGORITHMS: dict[str, AlgorithmSpec] (imported on demand, so
# that reading a config or a metrics.csv does not import them)
MODULES: tuple[str, ...] = ("agents.algos.onpolicy", "agents.algos.trpo", "agents.algos.vmpo")


def registry() -> dict[str, AlgorithmSpec]:
    """Every algorithm besides ``ppo``, by its ``PPOConfig.algo`` name."""
    out: dict[str, AlgorithmSpec] = {}
    for module in MODULES:
        out.update(importlib.import_module(module).ALGORITHMS)
    return out


def build(trainer: LaneTrainer) -> LaneAlgorithm | None:
    """The algorithm of the trainer's ``config.algo`` (None for ``ppo``: the trainer's own update)."""
    name = trainer.config.algo
    build = None if name == "ppo" else registry()[name].build
    return None if build is None else build(trainer)


def extra_metrics(algo: str) -> tuple[str, ...]:
    """The metrics.csv columns ``algo`` adds after the common ones (none for ``ppo``)."""
    return () if algo == "ppo" else registry()[algo].metrics

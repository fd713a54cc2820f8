"""Batched Gymnasium MuJoCo v5 tasks: task logic over (N, ...) arrays (:mod:`agents.tasks.logic`), engines
that step N worlds (:mod:`agents.tasks.engine`) and the same-step-autoreset vector env that joins them
(:mod:`agents.tasks.batched`)."""

from agents.tasks.batched import BatchedTask
from agents.tasks.engine import Engine, MujocoBatchEngine
from agents.tasks.logic import TASKS, ModelConstants, Task, make_task

__all__ = ["TASKS", "BatchedTask", "Engine", "ModelConstants", "MujocoBatchEngine", "Task", "make_task"]

"""A NaN input gives a NaN scale in every backend: a branch condition on NaN must not pick a branch.

Before this held, ``ppo``'s and ``mla_ppo``'s clip turned a NaN advantage into a 0 update, so a run with
``--alpha nan`` trained nothing and exited 0 (the trainer's non-finite guard never saw a NaN).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pgcheck import backends, scales
from pgcheck.check import checked_scale
from pgcheck.expr import parse

BRANCHING = [
    "y if x > 0 else 0",
    "0 if y < 0 else exp(x) * y",
    "y * (1 if x < 1 and y > -1 else 2)",
    "clip(y, -1, 1) * min(exp(x), 2)",
]
# NaN in ΔO only, in ΔR only, in both; a finite point beside them is the control that the output is not NaN
# everywhere (which would pass the NaN checks vacuously)
X = np.array([np.nan, 0.1, np.nan, 0.1])
Y = np.array([0.5, np.nan, np.nan, 0.5])


def _cores() -> list[tuple[str, object]]:
    named = [(name, d.expression().core) for name, d in scales.REGISTRY.items()]
    return named + [(text, parse(text).core) for text in BRANCHING]


@pytest.mark.parametrize(("label", "core"), _cores(), ids=lambda v: v if isinstance(v, str) else "")
def test_numpy_and_torch_return_nan_for_nan_input(label: str, core: object) -> None:
    out = backends.to_numpy(core)(X, Y)
    assert np.isnan(out[:3]).all(), (label, out)
    assert math.isfinite(out[3]), (label, out)
    t = backends.to_torch(core)(torch.tensor(X), torch.tensor(Y))
    assert torch.isnan(t[:3]).all(), (label, t)
    assert math.isfinite(float(t[3])), (label, t)


def test_control_a_branch_condition_on_nan_picks_a_branch_without_the_guard() -> None:
    """The raw compiled tree of ``ppo`` maps a NaN ΔR to 0: the guard above is what makes it NaN."""
    core = scales.get("ppo").expression().core
    raw = backends._compile(core, backends._Ops(np, is_torch=False))
    assert raw(np.array([0.0]), np.array([np.nan]))[0] == 0.0


@pytest.mark.parametrize("name", ["ppo", "mla_ppo", "q", "sq"])
def test_checked_scale_propagates_nan(name: str) -> None:
    f = checked_scale(name)
    assert np.isnan(f.numpy(X, Y)[:3]).all()
    t = f.torch(torch.tensor(X, dtype=torch.float32), torch.tensor(Y, dtype=torch.float32))
    assert torch.isnan(t[:3]).all() and math.isfinite(float(t[3]))

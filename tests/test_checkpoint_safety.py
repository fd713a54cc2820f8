"""Checkpoints are read with ``weights_only=True``: a file someone sent cannot run code while it is loaded,
and a damaged one is a one-line error; the plain-data codec round-trips a trainer state exactly."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from agents.rundir import CHECKPOINT, checkpoint_bytes, from_plain, load_checkpoint, read_checkpoint, to_plain
from pgcheck.errors import UserError


class _Planted:
    """A pickle that runs code when it is unpickled (here: it creates a file)."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> tuple[Any, tuple[str, ...]]:
        return (os.system, (f"touch {self.target}",))


def test_a_planted_pickle_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    buf = io.BytesIO()
    torch.save({"policy": _Planted(target)}, buf)
    (tmp_path / CHECKPOINT).write_bytes(buf.getvalue())
    with pytest.raises(UserError, match="refused"):
        load_checkpoint(tmp_path)
    assert not target.exists()
    # negative control: the same file read the unsafe way does run the planted code
    torch.load(tmp_path / CHECKPOINT, weights_only=False)
    assert target.exists()


@pytest.mark.parametrize("content", [b"", b"garbage", b"PK\x03\x04 truncated zip"])
def test_a_damaged_checkpoint_is_a_one_line_error(tmp_path: Path, content: bytes) -> None:
    (tmp_path / CHECKPOINT).write_bytes(content)
    with pytest.raises(UserError) as err:
        read_checkpoint(tmp_path / CHECKPOINT)
    assert "\n" not in str(err.value)


def test_the_plain_data_codec_round_trips_a_trainer_state(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    state: dict[str, Any] = {"obs": rng.normal(size=(2, 11)), "ep_length": np.array([3, 7], dtype=np.int64),
             "flags": np.array([True, False]), "act_rng": dict(rng.bit_generator.state), "step": np.int64(5),
             "policy": {"w": torch.arange(6.0)}, "returns": [1.5, 2.5], "env_states": None}
    plain = to_plain(state)
    assert not any(isinstance(v, np.ndarray) for v in plain.values())
    (tmp_path / CHECKPOINT).write_bytes(checkpoint_bytes(state))
    back = load_checkpoint(tmp_path)
    assert back is not None and back.keys() == state.keys()
    for key in ("obs", "ep_length", "flags"):
        assert back[key].dtype == state[key].dtype and np.array_equal(back[key], state[key])
    assert back["act_rng"] == state["act_rng"] and back["step"] == 5 and back["returns"] == [1.5, 2.5]
    assert torch.equal(back["policy"]["w"], state["policy"]["w"])
    assert from_plain(plain)["obs"].tolist() == state["obs"].tolist()

"""A run directory and everything written into it, always atomically (temp file, fsync, rename).

Layout of one run (one seed)::

    RUN/config.json          the resolved PPOConfig
    RUN/certificate.json     the scale function's Assumption 5.1 certificate
    RUN/status.json          running | finished | failed (with the reason) | interrupted
    RUN/metrics.csv          one row per update (plainly named columns, see METRIC_COLUMNS)
    RUN/episodes.csv         one row per finished training episode: step, return, length
    RUN/tb/                  TensorBoard event files (the same numbers as the CSV files)
    RUN/checkpoint.pt        networks, optimiser, normalisation statistics, RNG and environment states
    RUN/evaluation.json      written by ``pgcheck evaluate``

A kill at any moment leaves either the previous or the new checkpoint, never a torn one. On resume the
CSV files are cut back to the checkpoint's step, so rows are never duplicated.
"""

from __future__ import annotations

import csv
import io
import json
import math
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.ppo import PPO, Callback, PPOConfig
from pgcheck.errors import UserError
from pgcheck.files import atomic_write

METRIC_COLUMNS = ["global_step", "update", "time", "sps", "episodes", "episodic_return", "episodic_length",
                  "recent_return", "policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction",
                  "grad_norm", "explained_variance", "learning_rate", "log_std", "epochs"]
EPISODE_COLUMNS = ["global_step", "episodic_return", "episodic_length"]
CHECKPOINT = "checkpoint.pt"


def write_json(path: Path, data: Any) -> None:
    atomic_write(path, json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def read_json(path: Path) -> Any:
    """The JSON in ``path``; a missing, unreadable or corrupt file is a one-line UserError."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read it ({type(exc).__name__}: {exc})") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON ({exc})") from None


def read_config(run: Path) -> PPOConfig:
    """The run's resolved configuration; a run directory without a usable config.json is a UserError."""
    if not (run / "config.json").is_file():
        raise UserError(f"{run} is not a run directory (no config.json)")
    d = read_json(run / "config.json")
    try:
        if not isinstance(d, dict):
            raise ValueError("expected a JSON object")
        return PPOConfig.from_dict(d)
    except (TypeError, ValueError) as exc:
        raise UserError(f"{run / 'config.json'}: not a pgcheck PPO configuration ({exc})") from None


def is_run(path: Path) -> bool:
    return (path / "config.json").is_file()


_NUMPY = "__numpy__"


def to_plain(obj: Any) -> Any:
    """A trainer state as plain data that ``torch.load(weights_only=True)`` reads back: numpy arrays become
    tensors (with their dtype), numpy scalars Python numbers; dicts, lists, tuples, tensors, str, int,
    float, bool and None stay."""
    if isinstance(obj, np.ndarray):
        return {_NUMPY: torch.from_numpy(np.array(obj, copy=True)), "dtype": str(obj.dtype)}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(to_plain(v) for v in obj)
    return obj


def from_plain(obj: Any) -> Any:
    """The inverse of :func:`to_plain`."""
    if isinstance(obj, dict):
        if set(obj) == {_NUMPY, "dtype"} and isinstance(obj[_NUMPY], torch.Tensor):
            return obj[_NUMPY].numpy().astype(obj["dtype"], copy=True)
        return {k: from_plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(from_plain(v) for v in obj)
    return obj


def checkpoint_bytes(state: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    torch.save(to_plain(state), buf)
    return buf.getvalue()


def read_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint read with ``weights_only=True``: tensors and plain data only, so a file someone sent
    cannot run code while it is loaded (a pickle of anything else is refused). A damaged or foreign file is
    a one-line :class:`UserError`."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).splitlines()[0][:160] if str(exc) else ""
        raise UserError(f"{path}: refused: not a pgcheck checkpoint of tensors and plain data ({first})") from None
    except (OSError, RuntimeError, EOFError, ValueError) as exc:
        raise UserError(f"{path}: cannot read the checkpoint ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0][:160] if str(exc) else 'damaged'})") from None
    if not isinstance(state, dict):
        raise UserError(f"{path}: not a pgcheck checkpoint (a {type(state).__name__}, not a dict)")
    out: dict[str, Any] = from_plain(state)
    return out


def save_checkpoint(run: Path, trainer: PPO) -> None:
    atomic_write(run / CHECKPOINT, checkpoint_bytes(trainer.state_dict()))


def load_checkpoint(run: Path) -> dict[str, Any] | None:
    path = run / CHECKPOINT
    if not path.is_file():
        return None
    return read_checkpoint(path)


def set_status(run: Path, status: str, **extra: Any) -> None:
    write_json(run / "status.json", {"status": status, **extra})


def get_status(run: Path) -> dict[str, Any]:
    try:
        d: dict[str, Any] = read_json(run / "status.json")
        return d
    except UserError:
        return {"status": "unknown"}


def _fmt(v: float) -> str:
    return "" if isinstance(v, float) and math.isnan(v) else repr(float(v))


def _truncate_csv(path: Path, columns: list[str], max_step: int) -> None:
    """Keep the header and the rows with global_step <= max_step (atomically)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    if path.is_file():
        with open(path, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                try:
                    if float(row["global_step"]) <= max_step:
                        writer.writerow([row.get(c, "") for c in columns])
                except (KeyError, ValueError):
                    break  # a torn last line from a kill
    atomic_write(path, out.getvalue())


class RunLogger(Callback):
    """Writes metrics.csv, episodes.csv and (if available) TensorBoard; checkpoints every few updates."""

    def __init__(self, run: Path, checkpoint_every: int, resume_step: int = 0) -> None:
        self.run = run
        self.checkpoint_every = checkpoint_every
        _truncate_csv(run / "metrics.csv", METRIC_COLUMNS, resume_step)
        _truncate_csv(run / "episodes.csv", EPISODE_COLUMNS, resume_step)
        self._metrics = open(run / "metrics.csv", "a", newline="", encoding="utf-8")  # noqa: SIM115
        self._episodes = open(run / "episodes.csv", "a", newline="", encoding="utf-8")  # noqa: SIM115
        self._mw, self._ew = csv.writer(self._metrics), csv.writer(self._episodes)
        self.tb: Any = None
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(run / "tb"), purge_step=resume_step or None)
        except ImportError:  # a dependency, but a broken install should not stop training: CSV suffices
            self.tb = None

    def on_episode(self, trainer: PPO, step: int, episode_return: float, length: int) -> None:
        self._ew.writerow([step, repr(episode_return), length])
        if self.tb is not None:
            self.tb.add_scalar("charts/episodic_return", episode_return, step)

    def on_update(self, trainer: PPO, metrics: dict[str, float]) -> None:
        self.write_metrics(metrics)
        last = trainer.update_index >= trainer.config.num_updates
        if trainer.update_index % self.checkpoint_every == 0 or last:
            save_checkpoint(self.run, trainer)

    def write_metrics(self, metrics: dict[str, float]) -> None:
        """One row of metrics.csv (and TensorBoard scalars); flushes both CSV files."""
        self._mw.writerow([_fmt(metrics[c]) for c in METRIC_COLUMNS])
        self._metrics.flush()
        self._episodes.flush()
        if self.tb is not None:
            step = int(metrics["global_step"])
            for c in METRIC_COLUMNS[2:]:
                if not math.isnan(metrics[c]):
                    self.tb.add_scalar(f"train/{c}", metrics[c], step)
            self.tb.flush()

    def close(self) -> None:
        self._metrics.close()
        self._episodes.close()
        if self.tb is not None:
            self.tb.close()

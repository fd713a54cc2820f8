"""A run directory and everything written into it, always atomically (temp file, fsync, rename).

Layout of one run (one seed)::

    RUN/config.json          the resolved PPOConfig (and requested_total_steps, the steps asked for)
    RUN/certificate.json     the scale function's Assumption 5.1 certificate
    RUN/run.json             provenance: pgcheck version and git commit, library versions, host, command line
    RUN/status.json          created | running | finished | stopped | failed (with the reason) | interrupted |
                             died (its process ended without saying so; found when its lock is taken over)
    RUN/lock                 held while a process trains the run: its pid and host (see :func:`lock_run`)
    RUN/metrics.csv          one row per update (plainly named columns, see METRIC_COLUMNS)
    RUN/episodes.csv         one row per finished training episode: step, return, length
    RUN/tb/                  TensorBoard event files (the same numbers as the CSV files)
    RUN/checkpoint.pt        networks, optimiser, normalisation statistics, RNG and environment states
    RUN/evaluation.json      written by ``pgcheck evaluate``

A kill at any moment leaves either the previous or the new checkpoint, never a torn one. On resume the
CSV files are cut back to the checkpoint's step, so rows are never duplicated.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import math
import os
import pickle
import shutil
import socket
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.ppo import PPO, Callback, PPOConfig
from pgcheck.errors import UserError
from pgcheck.files import atomic_write

METRIC_COLUMNS = ["global_step", "update", "time", "sps", "episodes", "episodic_return", "episodic_length",
                  "recent_return", "policy_loss", "value_loss", "entropy", "approx_kl", "policy_kl",
                  "clip_fraction", "grad_norm", "explained_variance", "learning_rate", "log_std", "epochs"]
EPISODE_COLUMNS = ["global_step", "episodic_return", "episodic_length"]
CHECKPOINT = "checkpoint.pt"
LOCK = "lock"
REQUESTED = "requested_total_steps"   # the one key of config.json that is not a PPOConfig field


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


def write_config(run: Path, config: PPOConfig, requested_total_steps: int | None = None) -> None:
    """config.json: the configuration and the steps that were asked for (``config.total_steps`` is what is
    trained, a whole number of rollouts). Without ``requested_total_steps`` the recorded one is kept."""
    if requested_total_steps is None and (run / "config.json").is_file():
        old = read_json(run / "config.json")
        requested_total_steps = old.get(REQUESTED) if isinstance(old, dict) else None
    write_json(run / "config.json", {**config.to_dict(), REQUESTED: requested_total_steps or config.total_steps})


def read_config(run: Path) -> PPOConfig:
    """The run's resolved configuration; a run directory without a usable config.json is a UserError."""
    if not (run / "config.json").is_file():
        raise UserError(f"{run} is not a run directory (no config.json)")
    d = read_json(run / "config.json")
    try:
        if not isinstance(d, dict):
            raise ValueError("expected a JSON object")
        return PPOConfig.from_dict({k: v for k, v in d.items() if k != REQUESTED})
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


def _first_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else 'damaged'}"


def read_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint read with ``weights_only=True``: tensors and plain data only, so a file someone sent
    cannot run code while it is loaded (a pickle of anything else is refused). A damaged or foreign file is
    a one-line :class:`UserError`."""
    try:
        with warnings.catch_warnings():   # torch warns about foreign pickles on stderr: the error says it all
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's message opens with advice about weights_only=False; the reason is the line after it
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        reasons = [ln for ln in lines[1:] if not ln.startswith(("Please file an issue", "Check the documentation"))]
        why = (reasons or lines or [""])[0][:160]
        raise UserError(f"{path}: refused: not a pgcheck checkpoint of tensors and plain data ({why})") from None
    except Exception as exc:  # a damaged file fails inside torch's reader in many ways (struct, zip, EOF, OS)
        raise UserError(f"{path}: cannot read the checkpoint ({_first_line(exc)})") from None
    if not isinstance(state, dict):
        raise UserError(f"{path}: not a pgcheck checkpoint (a {type(state).__name__}, not a dict)")
    out: dict[str, Any] = from_plain(state)
    return out


@contextlib.contextmanager
def restoring(path: Path) -> Iterator[None]:
    """Around code that takes a read checkpoint apart (keys, shapes): a readable file that is not a checkpoint
    of this run (keys missing, another environment's shapes) is a one-line :class:`UserError`."""
    try:
        yield
    except (KeyError, IndexError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        raise UserError(f"{path}: not a checkpoint of this run ({_first_line(exc)})") from None


def save_checkpoint(run: Path, trainer: PPO) -> None:
    atomic_write(run / CHECKPOINT, checkpoint_bytes(trainer.state_dict()))


def load_checkpoint(run: Path) -> dict[str, Any] | None:
    path = run / CHECKPOINT
    if not path.is_file():
        return None
    return read_checkpoint(path)


def set_status(run: Path, status: str, **extra: Any) -> None:
    write_json(run / "status.json", {"status": status, **extra})


def disk_failed(runs: list[Path], exc: OSError | UserError) -> UserError:
    """A write that failed mid-run (a full or read-only disk) as one line; each run's status.json says so
    where it still can be written. The checkpoint on disk is the last good state."""
    msg = str(exc) if isinstance(exc, UserError) else f"cannot write in {runs[0]}: {exc.strerror or exc}"
    msg += "; training stopped, the last checkpoint is kept: resume once the disk is writable"
    for run in runs:
        with contextlib.suppress(UserError):
            set_status(run, "failed", reason=msg)
    return UserError(msg)


def get_status(run: Path) -> dict[str, Any]:
    """status.json; a run that says "running" but whose lock names a process of this host that no longer
    exists is reported as "died" (a reader's view: status.json itself changes when the lock is taken over)."""
    try:
        d: dict[str, Any] = read_json(run / "status.json")
    except UserError:
        return {"status": "unknown"}
    if d.get("status") == "running":
        holder = _read_holder(run / LOCK)
        if holder is not None and holder.get("host") == socket.gethostname() and not _alive(holder.get("pid")):
            return {**d, "status": "died", "pid": holder.get("pid")}
    return d


# ---------------------------------------------------------------------------------------------------
# one writer per run directory
#
# The lock is ``flock(LOCK_EX | LOCK_NB)`` on RUN/lock, not a pid file created with O_CREAT | O_EXCL: the
# kernel drops a flock when its process dies (SIGKILL and power loss included), so a stale lock is never
# mistaken for a live one. A pid file's owner must instead be guessed from its pid, which another process
# may reuse (in a container the pids are small and soon reused) and which means nothing on another host
# (the Ray backend trains on several hosts over shared storage, where Linux's NFS client maps flock onto
# the server's locks). The pid and host written into the file only say who holds it.


@dataclass
class RunLock:
    """A held lock; ``previous`` is the holder recorded by a process that died holding it (else None)."""

    run: Path
    fd: int
    previous: dict[str, Any] | None


_HELD: dict[Path, RunLock] = {}   # the locks this process holds (one holder per run, even within a process)


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # it exists, owned by someone else
        return True
    return True


def _read_holder(path: Path) -> dict[str, Any] | None:
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return d if isinstance(d, dict) else None


def _holder_text(d: dict[str, Any] | None) -> str:
    if not d:
        return "another process"
    return f"pid {d.get('pid')} on {d.get('host')}, since {d.get('since')}"


def lock_run(run: Path) -> RunLock:
    """Take RUN/lock for this process, or raise a one-line :class:`UserError` naming its live holder. A lock
    left by a process that died is taken over: ``previous`` names it, and a status.json that still said
    "running" is set to "died". Release with :func:`unlock_run` (or use :func:`locked`)."""
    path = run / LOCK
    if run.resolve() in _HELD:
        raise UserError(f"{run} is already being trained by this process")
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UserError(f"{run} is being trained by {_holder_text(_read_holder(path))}: a run has one writer "
                            "at a time; wait for it to end or stop that process") from None
        # a holder that released unlinks the file before closing it: retry if we locked a removed inode
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    previous = _read_holder(path)
    me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%dT%H:%M:%S")}
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(me) + "\n").encode("utf-8"), 0)
    os.fsync(fd)
    lock = RunLock(run, fd, previous)
    _HELD[run.resolve()] = lock
    status = get_status(run)
    if previous is not None and status.get("status") in ("running", "died"):
        set_status(run, "died", pid=previous.get("pid"), host=previous.get("host"),
                   reason=f"its process ({_holder_text(previous)}) ended without finishing or saying why; "
                   "training goes on from the last checkpoint")
    return lock


def unlock_run(lock: RunLock) -> None:
    _HELD.pop(lock.run.resolve(), None)
    with contextlib.suppress(OSError):
        os.unlink(lock.run / LOCK)   # before the close: see the inode check in lock_run
    os.close(lock.fd)


@contextlib.contextmanager
def locked(runs: list[Path]) -> Iterator[list[RunLock]]:
    """Every run in ``runs`` locked (:func:`lock_run`) for the duration; all or none."""
    with contextlib.ExitStack() as stack:
        held = []
        for run in runs:
            lock = lock_run(run)
            stack.callback(unlock_run, lock)
            held.append(lock)
        yield held


def require_writable(directory: Path) -> None:
    """Make ``directory`` (and its parents) and check that a file can be created in it, before any work whose
    result would go there; a read-only or immutable place is a one-line :class:`UserError`."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".write-test.", dir=directory)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise UserError(f"cannot write in {directory}: {exc.strerror or exc}") from None


# ---------------------------------------------------------------------------------------------------
# where runs are


def run_groups(root: Path) -> list[tuple[str, list[Path]]]:
    """The runs ``root`` stands for, as (label, runs): a run (labelled by its parent: the group of its seed
    runs), a directory of runs (RUN/seed_K: labelled by itself), or, for a command that trained several
    configurations, one group per configuration (RUN/LABEL/seed_K: labelled LABEL). Empty if none."""
    if is_run(root):
        return [(root.resolve().parent.name, [root])]
    if not root.is_dir():
        return []
    children = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.name)
    runs = [p for p in children if is_run(p)]
    if runs:
        return [(root.resolve().name, runs)]
    return [(p.name, inner) for p in children
            if (inner := sorted((q for q in p.iterdir() if is_run(q)), key=lambda q: q.name))]


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

    def __init__(self, run: Path, checkpoint_every: int, resume_step: int = 0,
                 extra_columns: Sequence[str] = ()) -> None:
        """``extra_columns``: the metrics an update family adds after :data:`METRIC_COLUMNS`
        (:func:`agents.algos.extra_metrics`)."""
        self.run = run
        self.checkpoint_every = checkpoint_every
        self.columns = [*METRIC_COLUMNS, *extra_columns]
        _truncate_csv(run / "metrics.csv", self.columns, resume_step)
        if resume_step == 0 and (run / "tb").is_dir():   # a (re)start from nothing: the CSVs are emptied, so is tb/
            shutil.rmtree(run / "tb")
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
        self._mw.writerow([_fmt(metrics[c]) for c in self.columns])
        self._metrics.flush()
        self._episodes.flush()
        if self.tb is not None:
            step = int(metrics["global_step"])
            for c in self.columns[2:]:
                if not math.isnan(metrics[c]):
                    self.tb.add_scalar(f"train/{c}", metrics[c], step)
            self.tb.flush()

    def close(self) -> None:
        self._metrics.close()
        self._episodes.close()
        if self.tb is not None:
            self.tb.close()


# ---------------------------------------------------------------------------------------------------
# provenance (run.json)


def _git_commit(source: Path) -> dict[str, Any] | None:
    """The commit of the checkout pgcheck runs from (and whether it has uncommitted changes), or None when
    pgcheck is not running from a git checkout of itself (an installed copy, no git)."""
    import subprocess

    def git(*args: str) -> str | None:
        try:
            r = subprocess.run(["git", "-C", str(source), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return r.stdout.strip() if r.returncode == 0 else None

    top = git("rev-parse", "--show-toplevel")
    # the checkout must be pgcheck's own, not some repository a site-packages copy happens to lie in
    if top is None or not (Path(top) / "pgcheck" / "__init__.py").is_file() \
            or not (Path(top) / "pgcheck").samefile(source):
        return None
    commit = git("rev-parse", "HEAD")
    if commit is None:
        return None
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(dirty)}


def _cpu() -> str:
    import platform

    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def provenance(command: list[str], device: str) -> dict[str, Any]:
    """What produced a run: pgcheck's version and git commit (None when not a checkout), the versions of the
    libraries that decide its numbers, Python, the host's CPU and the torch ``device`` ("auto" resolved), and
    the ``command`` line."""
    import importlib.metadata
    import platform
    import sys

    import pgcheck

    def version(dist: str) -> str | None:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return None

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device_name = torch.cuda.get_device_name(0) if device == "cuda" and torch.cuda.is_available() else _cpu()
    return {"pgcheck": pgcheck.__version__, "git": _git_commit(Path(pgcheck.__file__).resolve().parent),
            "versions": {name: version(name) for name in ("torch", "gymnasium", "mujoco", "numpy")},
            "python": platform.python_version(), "executable": sys.executable,
            "host": socket.gethostname(), "platform": platform.platform(), "cpu": _cpu(),
            "cpu_count": os.cpu_count(), "device": device, "device_name": device_name,
            "command": list(command), "time": time.strftime("%Y-%m-%dT%H:%M:%S")}

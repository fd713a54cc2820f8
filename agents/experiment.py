"""What the paper's two experiments share: the protocol each implements, the record of a finding of the
paper checked against a run, and the one way a run's outputs are written.

The experiments are the 2-D contextual bandit (sec. 6.1, :mod:`agents.bandit`) and FourRoom (sec. 6.2,
:mod:`agents.fourroom`). Each is set up from values (a config and its checked scale functions), then
:func:`run` takes it through the same phases: train, analyse (every number the figures and the summary
show, as a typed result, including the paper's findings decided on those numbers), draw the figures,
write ``summary.md`` and ``results.json``.

A finding is a :class:`ClaimCheck`: what the paper says (and where), what this run measured, and a
:class:`Verdict` from one vocabulary for both experiments.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum, StrEnum
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from pgcheck.certificate import CheckedScale
from pgcheck.errors import UserError
from pgcheck.files import atomic_save, atomic_write

# ---------------------------------------------------------------------------------------------------
# the paper says / we measured / agrees?


class Verdict(StrEnum):
    """How a run's numbers stand to one finding of the paper; the same words for both experiments.

    * ``agrees``: every part of the finding holds on this run's numbers.
    * ``partly``: some parts hold and some do not (e.g. every αr > 0 learns faster than αr = 0, but the
      speed does not grow with αr throughout, sec. 6.2).
    * ``disagrees``: no part of the finding holds.
    * ``not tested``: the run lacks what the finding is about (e.g. the rules a bandit finding names are
      not among the scales this run was given), so the numbers decide nothing.
    """

    AGREES = "agrees"
    PARTLY = "partly"
    DISAGREES = "disagrees"
    NOT_TESTED = "not tested"

    @classmethod
    def decide(cls, holds: bool | None, partly: bool = False) -> Verdict:
        """``holds`` None: not tested; True: agrees; False: partly if ``partly`` else disagrees."""
        if holds is None:
            return cls.NOT_TESTED
        if holds:
            return cls.AGREES
        return cls.PARTLY if partly else cls.DISAGREES


@dataclass(frozen=True)
class Claim:
    """A finding as the paper states it, and where (section, figure)."""

    text: str
    source: str


@dataclass(frozen=True)
class ClaimCheck:
    """One finding of the paper decided on a run: the paper says / we measured / agrees?

    ``case`` is what the finding is decided for: a return definition of the bandit (the softmax or the
    greedy policy, sec. 6.1) or an algorithm of FourRoom (PG or Q-learning, sec. 6.2).
    """

    case: str
    paper: str
    source: str
    measured: str
    verdict: Verdict

    @classmethod
    def of(cls, case: str, claim: Claim, measured: str, verdict: Verdict) -> ClaimCheck:
        return cls(case, claim.text, claim.source, measured, verdict)


def claims_table(checks: Sequence[ClaimCheck], case: str, measured: str = "evidence") -> list[str]:
    """The markdown table of ``summary.md``: one row a finding, the verdict in bold."""
    lines = [f"| {case} | paper's finding | here | {measured} |", "|---|---|---|---|"]
    lines += [f"| {c.case} | {c.paper} ({c.source}) | **{c.verdict}** | {c.measured} |" for c in checks]
    return lines


# ---------------------------------------------------------------------------------------------------
# typed results, written as JSON


def json_key(name: str) -> dict[str, str]:
    """Field metadata to write a dataclass field under another JSON key: ``field(metadata=json_key("J_max"))``
    (``J_max`` is not a Python attribute name)."""
    return {"json": name}


def jsonable(value: object) -> object:
    """Plain JSON data for a typed result: a dataclass becomes an object of its fields (in order, under
    their ``json_key`` where one is given), arrays and tuples become lists, enums their values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.metadata.get("json", f.name): jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


@dataclass(frozen=True)
class MeanStd:
    """A measurement's mean and (population) standard deviation over independent runs."""

    mean: float
    std: float


@dataclass(frozen=True)
class ScaleRecord:
    """A scale function's certificate, as results.json records it: verdict, input text, parameters, hash."""

    overall: str
    input: str
    params: str
    canonical_hash: str


def scale_records(scales: Sequence[tuple[str, CheckedScale]]) -> dict[str, ScaleRecord]:
    return {label: ScaleRecord(s.certificate.overall, s.certificate.input.get("text", ""),
                               json.dumps(s.certificate.params, sort_keys=True), s.certificate.canonical_hash)
            for label, s in scales}


def unique_labels(scales: Sequence[tuple[str, CheckedScale]]) -> None:
    """Refuse a scale given twice: its rules would be trained and reported twice under one name."""
    labels = [label for label, _ in scales]
    twice = sorted({label for label in labels if labels.count(label) > 1})
    if twice:
        raise UserError(f"each scale may be given once ({', '.join(map(repr, twice))} given twice)")


def wall_time(seconds: Mapping[str, float]) -> str:
    """The wall-time sentence of both summaries, with the time of each training loop where there are several."""
    loops = ", ".join(f"{k.removeprefix('train_')} {v:.1f} s" for k, v in seconds.items() if k.startswith("train_"))
    train, analyse, plot = (seconds.get(k, float("nan")) for k in ("train", "analyse", "plot"))
    return (f"Wall time: training {train:.1f} s{f' ({loops})' if loops else ''}, analysis {analyse:.1f} s, "
            f"figures {plot:.1f} s.")


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend (files only, no display), imported when a figure is drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: Path) -> Path:
    """Write ``fig`` as a PNG at ``path`` atomically, and close it."""
    try:
        return atomic_save(path, partial(fig.savefig, dpi=110, bbox_inches="tight", format="png"), suffix=".png")
    finally:
        pyplot().close(fig)


# ---------------------------------------------------------------------------------------------------
# the protocol


class Progress(Protocol):
    """A progress display fed with the absolute number of steps done."""

    def __call__(self, done: int) -> None: ...

    def close(self) -> None: ...


ProgressFactory = Callable[[str, int], Progress]  # (label, total steps) -> a new display
Say = Callable[[str], None]  # a one-line note on what the analysis is doing


class _Silent:
    def __call__(self, done: int) -> None:
        pass

    def close(self) -> None:
        pass


def no_progress(label: str, total: int) -> Progress:
    return _Silent()


def silent(message: str) -> None:
    pass


@contextmanager
def progress_bar(progress: ProgressFactory, label: str, total: int) -> Iterator[Progress]:
    """A display from ``progress`` for one training loop, closed however the loop ends."""
    bar = progress(label, total)
    try:
        yield bar
    finally:
        bar.close()


TrainedT = TypeVar("TrainedT")
ResultsT = TypeVar("ResultsT")


class Experiment(Protocol[TrainedT, ResultsT]):
    """One of the paper's experiments, set up (config and checked scales) when constructed.

    ``analyse`` returns a typed result (a dataclass that :func:`jsonable` writes as ``results.json``)
    holding every number the figures and the summary show, and the paper's findings as ClaimChecks.
    """

    @property
    def name(self) -> str: ...

    def train(self, progress: ProgressFactory) -> TrainedT: ...

    def analyse(self, trained: TrainedT, say: Say) -> ResultsT: ...

    def figures(self, results: ResultsT, out_dir: Path) -> list[Path]: ...

    def summary(self, results: ResultsT, seconds: Mapping[str, float]) -> str: ...


@dataclass(frozen=True)
class Written:
    """What :func:`run` wrote into the output directory."""

    results: Path
    summary: Path
    figures: tuple[str, ...]
    seconds: dict[str, float]


class _TimedLoop:
    def __init__(self, bar: Progress, done: Callable[[float], None]) -> None:
        self._bar, self._done, self._t0 = bar, done, time.perf_counter()

    def __call__(self, done: int) -> None:
        self._bar(done)

    def close(self) -> None:
        self._bar.close()
        self._done(time.perf_counter() - self._t0)


class _TimedLoops:
    """A ProgressFactory that also times each training loop (from its display's start to its close)."""

    def __init__(self, progress: ProgressFactory) -> None:
        self._progress = progress
        self.seconds: dict[str, float] = {}

    def __call__(self, label: str, total: int) -> Progress:
        return _TimedLoop(self._progress(label, total), partial(self.seconds.__setitem__, label))


@contextmanager
def _timed(seconds: dict[str, float], phase: str) -> Iterator[None]:
    t0 = time.perf_counter()
    yield
    seconds[phase] = time.perf_counter() - t0


def run(experiment: Experiment[Any, Any], out: Path, progress: ProgressFactory = no_progress,
        say: Say = silent) -> Written:
    """Train, analyse, draw and report one experiment into the existing directory ``out``.

    The outputs (``results.json``, the PNG figures, ``summary.md``) are first written into a staging
    directory inside ``out`` and moved into place only when all of them exist, ``results.json`` (the
    record every other file is drawn from) last, so a failed or killed run leaves the previous outputs
    as they were. ``results.json`` holds the typed result, then ``seconds`` per phase (``train``,
    ``analyse``, ``plot``, ``total``; ``train_<label>`` per training loop where there are several) and
    ``figures``.
    """
    import torch

    staging = out / f".staging-{os.getpid()}"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small tensors: threads only add overhead, and machines are shared
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    try:
        staging.mkdir()
        loops = _TimedLoops(progress)
        with _timed(seconds, "train"):
            trained = experiment.train(loops)
        if len(loops.seconds) > 1:  # several training loops (FourRoom's two learners): each one's time too
            seconds.update({f"train_{label}": v for label, v in loops.seconds.items()})
        with _timed(seconds, "analyse"):
            results = experiment.analyse(trained, say)
        with _timed(seconds, "plot"):
            figures = tuple(p.name for p in experiment.figures(results, staging))
        atomic_write(staging / "summary.md", experiment.summary(results, seconds))
        seconds["total"] = time.perf_counter() - t0
        record = {"experiment": experiment.name, **_as_object(jsonable(results)), "seconds": seconds,
                  "figures": list(figures)}
        atomic_write(staging / "results.json", json.dumps(record, indent=1, ensure_ascii=False, allow_nan=True))
        for path in sorted(staging.iterdir(), key=lambda p: (p.name == "results.json", p.name)):
            os.replace(path, out / path.name)
    finally:
        torch.set_num_threads(threads)  # run() may be called in-process (tests, notebooks)
        shutil.rmtree(staging, ignore_errors=True)
    return Written(out / "results.json", out / "summary.md", figures, seconds)


def _as_object(data: object) -> dict[str, object]:
    if not isinstance(data, dict):
        raise TypeError(f"an experiment's results must be a dataclass, not {type(data).__name__}")
    return data

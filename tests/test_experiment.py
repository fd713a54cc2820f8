"""What the two experiments share (agents.experiment): one verdict vocabulary, ClaimCheck records, typed
results written as JSON, and the one runner that stages every output and moves it into place."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from agents.experiment import (
    Claim,
    ClaimCheck,
    Experiment,
    ProgressFactory,
    Say,
    Verdict,
    claims_table,
    json_key,
    jsonable,
    run,
    unique_labels,
    wall_time,
)
from pgcheck.check import checked_scale
from pgcheck.errors import UserError


def test_one_vocabulary_of_verdicts() -> None:
    assert [v.value for v in Verdict] == ["agrees", "partly", "disagrees", "not tested"]
    assert Verdict.decide(None) is Verdict.NOT_TESTED and Verdict.decide(None, partly=True) is Verdict.NOT_TESTED
    assert Verdict.decide(True) is Verdict.AGREES and Verdict.decide(True, partly=True) is Verdict.AGREES
    assert Verdict.decide(False) is Verdict.DISAGREES
    assert Verdict.decide(False, partly=True) is Verdict.PARTLY


def test_claim_check_record_and_table() -> None:
    check = ClaimCheck.of("softmax policy", Claim("the finding", "sec. 6.1, Figure 1"), "we saw 0.1",
                          Verdict.PARTLY)
    assert jsonable(check) == {"case": "softmax policy", "paper": "the finding", "source": "sec. 6.1, Figure 1",
                               "measured": "we saw 0.1", "verdict": "partly"}
    table = claims_table([check], "return")
    assert table[0] == "| return | paper's finding | here | evidence |"
    assert table[2] == "| softmax policy | the finding (sec. 6.1, Figure 1) | **partly** | we saw 0.1 |"


@dataclass(frozen=True)
class _Inner:
    j_max: float = field(metadata=json_key("J_max"))
    values: np.ndarray = field(default_factory=lambda: np.arange(3.0))


@dataclass(frozen=True)
class _Result:
    pair: tuple[int, int]
    inner: dict[str, _Inner]
    flags: np.ndarray
    scalar: np.float64


def test_jsonable_writes_fields_in_order_under_their_json_keys() -> None:
    data = jsonable(_Result((1, 2), {"a": _Inner(0.5)}, np.array([True, False]), np.float64(2.5)))
    assert data == {"pair": [1, 2], "inner": {"a": {"J_max": 0.5, "values": [0.0, 1.0, 2.0]}},
                    "flags": [True, False], "scalar": 2.5}
    assert list(data) == ["pair", "inner", "flags", "scalar"]   # data is a dict: mypy narrows it by the == above
    assert json.loads(json.dumps(data)) == data


def test_a_scale_given_twice_is_refused() -> None:
    sq = checked_scale("sq")
    unique_labels([("sq", sq), ("ml", checked_scale("ml"))])
    with pytest.raises(UserError, match="'sq' given twice"):
        unique_labels([("sq", sq), ("ml", checked_scale("ml")), ("sq", sq)])


@dataclass(frozen=True)
class _Numbers:
    total: int
    claims: tuple[ClaimCheck, ...]


class _Counting:
    """A minimal experiment: trains a counter, draws one figure, reports the count."""

    name = "counting"

    def __init__(self, fail_in: str = "", loops: tuple[str, ...] = ("count",)) -> None:
        self.fail_in = fail_in
        self.loops = loops

    def train(self, progress: ProgressFactory) -> int:
        for label in self.loops:
            bar = progress(label, 3)
            for i in range(1, 4):
                bar(i)
            bar.close()
        return 3

    def analyse(self, trained: int, say: Say) -> _Numbers:
        say("counting")
        return _Numbers(trained, (ClaimCheck.of("all", Claim("three", "nowhere"), "3", Verdict.AGREES),))

    def figures(self, results: _Numbers, out_dir: Path) -> list[Path]:
        path = out_dir / "fig.png"
        path.write_bytes(b"png")
        if self.fail_in == "figures":
            raise RuntimeError("disk full")
        return [path]

    def summary(self, results: _Numbers, seconds: Mapping[str, float]) -> str:
        return f"total {results.total}\n"


def test_run_writes_every_output_and_results_last(tmp_path: Path) -> None:
    experiment: Experiment[int, _Numbers] = _Counting()
    said: list[str] = []
    written = run(experiment, tmp_path, say=said.append)
    record = json.loads(written.results.read_text())
    assert record["experiment"] == "counting" and record["total"] == 3
    assert record["claims"] == [{"case": "all", "paper": "three", "source": "nowhere", "measured": "3",
                                 "verdict": "agrees"}]
    assert list(record["seconds"]) == ["train", "analyse", "plot", "total"] and record["figures"] == ["fig.png"]
    assert written.summary.read_text() == "total 3\n" and said == ["counting"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.png", "results.json", "summary.md"]


def test_several_training_loops_are_timed_each(tmp_path: Path) -> None:
    seen: list[tuple[str, int]] = []

    class Recording:
        def __init__(self, label: str, total: int) -> None:
            seen.append((label, total))

        def __call__(self, done: int) -> None:
            seen.append(("done", done))

        def close(self) -> None:
            seen.append(("closed", 0))

    written = run(_Counting(loops=("pg", "ql")), tmp_path, progress=Recording)
    assert list(written.seconds) == ["train", "train_pg", "train_ql", "analyse", "plot", "total"]
    assert written.seconds["train_pg"] + written.seconds["train_ql"] <= written.seconds["train"]
    steps = [("done", 1), ("done", 2), ("done", 3), ("closed", 0)]
    assert seen == [("pg", 3), *steps, ("ql", 3), *steps]  # the caller's display sees every step
    assert wall_time({"train": 3.0, "train_pg": 1.0, "train_ql": 2.0, "analyse": 0.5, "plot": 0.25}) == (
        "Wall time: training 3.0 s (pg 1.0 s, ql 2.0 s), analysis 0.5 s, figures 0.2 s.")
    assert wall_time({"train": 1.0, "analyse": 2.0, "plot": 3.0}) == (
        "Wall time: training 1.0 s, analysis 2.0 s, figures 3.0 s.")


def test_a_failed_run_leaves_the_previous_outputs_and_no_staging(tmp_path: Path) -> None:
    run(_Counting(), tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(RuntimeError, match="disk full"):
        run(_Counting(fail_in="figures"), tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before

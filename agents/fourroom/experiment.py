"""FourRoom (sec. 6.2) as an :class:`agents.experiment.Experiment`: set up from a config and the checked
scale functions (by default the paper's f_MLA(0, αr) family), then both algorithms trained, analysed,
drawn and reported."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from agents.experiment import ProgressFactory, Say, progress_bar, scale_records, unique_labels
from agents.fourroom.analysis import FourRoomResults, analyse
from agents.fourroom.figures import plot
from agents.fourroom.report import summary
from agents.fourroom.train import ALGORITHMS, Curves, FourRoomConfig, train
from pgcheck.certificate import CheckedScale

PAPER_ALPHA_R = (0.0, 0.1, 0.2, 0.5, 1.0)  # sec. 6.2, Figure 2: αr = 0 is the identity scale (the baseline)


def mla_family(alphas: Sequence[float] = PAPER_ALPHA_R) -> list[tuple[str, CheckedScale]]:
    """``f_MLA(0, αr)`` (eq. 36 with αo = 0) for each αr, each through the validator."""
    from pgcheck.check import checked_scale

    return [(f"f_MLA(0,{a:g})", checked_scale("mla_param", {"ao": "0", "ar": repr(a)})) for a in alphas]


class FourRoomExperiment:
    """Policy gradient with a learned critic and Q-learning (sec. 6.2), each with every given scale; the
    critic's squared-error update UQ(f_Q) is a checked rule too."""

    name = "fourroom"

    def __init__(self, config: FourRoomConfig, scales: Sequence[tuple[str, CheckedScale]] | None = None) -> None:
        from pgcheck.check import checked_scale

        self.config = config
        self.scales = list(scales) if scales else mla_family()
        unique_labels(self.scales)
        self.critic = checked_scale("q")

    def train(self, progress: ProgressFactory) -> dict[str, Curves]:
        curves: dict[str, Curves] = {}
        for algo in ALGORITHMS:
            with progress_bar(progress, algo, self.config.steps) as bar:
                curves[algo] = train(algo, self.config, self.scales, self.critic, bar)
        return curves

    def analyse(self, trained: dict[str, Curves], say: Say) -> FourRoomResults:
        return analyse(trained, self.config, scale_records([*self.scales, ("critic: f_Q", self.critic)]))

    def figures(self, results: FourRoomResults, out_dir: Path) -> list[Path]:
        return plot(results, out_dir)

    def summary(self, results: FourRoomResults, seconds: Mapping[str, float]) -> str:
        return summary(results, seconds)

"""The 2-D bandit (sec. 6.1) as an :class:`agents.experiment.Experiment`: set up from a config and the
checked scale functions (by default Table 1's four), then trained, analysed, drawn and reported."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from agents.bandit.analysis import BanditResults, analyse
from agents.bandit.figures import plot
from agents.bandit.report import summary
from agents.bandit.train import BanditConfig, Trajectories, train
from agents.experiment import ProgressFactory, Say, progress_bar, scale_records, unique_labels
from pgcheck.certificate import CheckedScale

TABLE1_SCALES = ("sq", "ml", "sil", "mla")  # f_SQ, f_ML, f_SIL, f_MLA: the scale axis of Table 1


def table1_scales() -> list[tuple[str, CheckedScale]]:
    """Table 1's four scale functions, each through the validator."""
    from pgcheck.check import checked_scale

    return [(name, checked_scale(name)) for name in TABLE1_SCALES]


class BanditExperiment:
    """The twelve rules of Table 1 (or the forms UQ, UV, UP crossed with the given scales) on the bandit.

    ``quick`` shrinks the landscape grids and the Monte Carlo check (a smoke test; the regrets are the same).
    """

    name = "bandit"

    def __init__(self, config: BanditConfig, scales: Sequence[tuple[str, CheckedScale]] | None = None,
                 quick: bool = False) -> None:
        self.config = config
        self.scales = list(scales) if scales else table1_scales()
        unique_labels(self.scales)
        self.quick = quick

    def train(self, progress: ProgressFactory) -> Trajectories:
        with progress_bar(progress, self.name, self.config.iterations) as bar:
            return train(self.config, self.scales, bar)

    def analyse(self, trained: Trajectories, say: Say) -> BanditResults:
        return analyse(trained, self.config, scale_records(self.scales), say, quick=self.quick)

    def figures(self, results: BanditResults, out_dir: Path) -> list[Path]:
        return plot(results, out_dir)

    def summary(self, results: BanditResults, seconds: Mapping[str, float]) -> str:
        return summary(results, seconds)

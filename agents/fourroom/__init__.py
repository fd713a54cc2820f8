"""The FourRoom experiment of the paper (sec. 6.2, Figure 2, Appendix C.1), tabular and offline.

* :mod:`~agents.fourroom.model`: the grid, the offline data of the uniform behaviour policy, exact returns.
* :mod:`~agents.fourroom.rules`: the tabular updates UP(f) with a critic (PG) and UQ(f) (Q-learning).
* :mod:`~agents.fourroom.train`: every run and scale of one algorithm at once, plain SGD (C.1).
* :mod:`~agents.fourroom.analysis`: returns, paired differences and the paper's findings, as typed results.
* :mod:`~agents.fourroom.figures` and :mod:`~agents.fourroom.report`: Figure 2 and summary.md.
* :mod:`~agents.fourroom.experiment`: all of it as one :class:`agents.experiment.Experiment`.
"""

from agents.fourroom.experiment import FourRoomExperiment
from agents.fourroom.train import FourRoomConfig

__all__ = ["FourRoomConfig", "FourRoomExperiment"]

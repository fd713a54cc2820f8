"""The 2-D contextual bandit of the paper (sec. 6.1, Table 1, Figures 1, 6, 7, 8).

* :mod:`~agents.bandit.model`: the setting (contexts, actions Ψ, reward, the model q_θ) and the data.
* :mod:`~agents.bandit.rules`: the twelve update rules (forms UQ, UV, UP of eqs. 31-33 x Table 1's scales).
* :mod:`~agents.bandit.returns`: the return J(θ) by quadrature (Figure 8's landscape) and its maximisers.
* :mod:`~agents.bandit.train`: every rule from θ = (0, 0), all seeds and learning rates in one run.
* :mod:`~agents.bandit.analysis`: regret, distance, accuracy and the paper's findings, as typed results.
* :mod:`~agents.bandit.figures` and :mod:`~agents.bandit.report`: the figures and summary.md.
* :mod:`~agents.bandit.experiment`: all of it as one :class:`agents.experiment.Experiment`.
"""

from agents.bandit.experiment import BanditExperiment
from agents.bandit.train import BanditConfig

__all__ = ["BanditConfig", "BanditExperiment"]

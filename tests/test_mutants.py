"""Meta-tests: a few of the cheapest curated mutants (benchmarks/mutants.toml) must be caught by the suite.

The whole campaign is ``benchmarks/mutate.py`` (minutes); these run in seconds: four mutants applied by
monkeypatching the one function they change, and one applied by the harness itself to a temporary copy of
the repository, with the focused test that must catch it.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
import z3

from agents import ppo as ppo_module
from derivations import runner as prove
from derivations import softmax as sx
from pgcheck import smt, updates

ROOT = Path(__file__).resolve().parent.parent


def _harness() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutate", ROOT / "benchmarks" / "mutate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["mutate"] = module
    spec.loader.exec_module(module)
    return module


def test_every_curated_mutant_applies_to_the_code_as_it_is() -> None:
    mutate = _harness()
    mutants = mutate.load()
    assert 30 <= len(mutants) <= 48
    applied = os.environ.get("PGCHECK_MUTANT", "")  # inside a mutation run, that mutant's snippet is replaced
    for m in mutants:
        assert m.original != m.replacement and m.why, m.id
        if m.id == applied:
            continue
        assert (ROOT / m.file).read_text(encoding="utf-8").count(m.original) == 1, m.id


def test_an_unsound_exp_axiom_fails_the_controls_claim(monkeypatch: pytest.MonkeyPatch) -> None:
    """smt-exp-unsound: exp(t) ≥ 1 + 2t added to the abstraction (false for the real exp)."""
    original = smt.Encoder.exp

    def unsound(self: smt.Encoder, a: Any) -> Any:
        v = original(self, a)
        self.axioms.append(v >= 1 + 2 * a)
        return v

    monkeypatch.setattr(smt.Encoder, "exp", unsound)
    cert = prove.certificate("controls")
    assert cert["verdict"] == "failed"
    assert any("exp(t) ≥ 1 + 2t" in p for p in cert["problems"]), cert["problems"]


def test_a_sin_window_past_half_pi_fails_the_controls_claim(monkeypatch: pytest.MonkeyPatch) -> None:
    """smt-sin-window-wide: sin increasing (and cos positive) on [-1.6, 1.6], past pi/2."""
    monkeypatch.setattr(smt, "HALF_PI_BELOW", z3.RealVal(Fraction(16, 10)))
    cert = prove.certificate("controls")
    assert cert["verdict"] == "failed"
    assert any("sin increasing on [−1.58, 1.58]" in p for p in cert["problems"]), cert["problems"]
    assert any("cos t > 0 for |t| < 1.58" in p for p in cert["problems"]), cert["problems"]


def test_the_inverted_importance_ratio_in_the_trainer_fails_the_trainer_claim(monkeypatch: pytest.MonkeyPatch) -> None:
    """trainer-ratio-inverted: ΔO = log π_old − log π in agents.ppo."""
    monkeypatch.setattr(ppo_module, "delta_o", lambda lp, old: (old - lp).detach())
    cert = prove.certificate("ppo-trainer")
    assert cert["verdict"] == "failed"
    assert any("actor: ppo" in p for p in cert["problems"]), cert["problems"]


def test_a_forged_identity_step_fails_theorem_3_5(monkeypatch: pytest.MonkeyPatch) -> None:
    """deriv-thm35-forged-step: the proof lines 'checked' by a constant True instead of the sympy identity."""
    monkeypatch.setattr(sx, "identity", lambda lhs, rhs: True)
    cert = prove.certificate("thm3.5")
    assert cert["verdict"] == "failed"
    assert sum("no computation is recorded" in p for p in cert["problems"]) >= 10


def test_a_batch_sum_in_upi_loss_fails_the_batched_cross_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """updates-upi-sum: Uπ as a batch sum (invisible on batches of one)."""
    def summed(scale: Any, log_prob: torch.Tensor, entropy: torch.Tensor, d_o: torch.Tensor, d_r: torch.Tensor,
               beta: float = 0.0) -> torch.Tensor:
        w = updates.scale_weights(scale, d_o, d_r)
        return -(w * log_prob).sum(-1) - beta * entropy.mean(-1)

    monkeypatch.setattr(updates, "upi_loss", summed)
    for claim in ("thm4.3", "c2"):
        cert = prove.certificate(claim)
        assert cert["verdict"] == "failed", claim


def test_the_harness_catches_the_optimistic_value_clip_in_a_copy() -> None:
    """trainer-vclip-min, applied by benchmarks/mutate.py to a temporary copy (never to this tree)."""
    mutate = _harness()
    (m,) = [m for m in mutate.load() if m.id == "trainer-vclip-min"]
    before = (ROOT / m.file).read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        tree = mutate.copy_tree(ROOT, Path(tmp) / "repo")
        mutate.apply(m, tree)
        assert m.replacement in (tree / m.file).read_text(encoding="utf-8")
        test = "tests/test_trainer_loss.py::test_value_clip_is_pessimistic_it_keeps_the_larger_error"
        r = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", test], cwd=tree,
                           env=mutate.environment(tree, Path(tmp) / "cache"), capture_output=True, text=True,
                           timeout=300)
        assert r.returncode != 0, r.stdout[-2000:]
        assert "FAILURES" in r.stdout and "test_value_clip_is_pessimistic" in r.stdout
    assert (ROOT / m.file).read_text(encoding="utf-8") == before

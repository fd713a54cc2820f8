"""`pgcheck prove`: certificates, the --check comparison, bad input, and mutation tests.

The mutation tests break pgcheck's implementation on purpose (the sign of the entropy term of the PGPB
update, the τ_ε boundary of the ppo scale, …) and show that the claims built on it fail.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import torch

from derivations import runner as prove
from pgcheck import scales, updates
from pgcheck.certificate import CheckedScale
from pgcheck.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
PROOFS = ROOT / "proofs"
FAST = ["eq35-t1", "rem5.2"]


def pgcheck(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pgcheck_cli.main", *args], capture_output=True, text=True,
                          env=dict(os.environ), cwd=cwd, timeout=300)


def verdicts(ids: list[str]) -> dict[str, str]:
    return {c["id"]: c["verdict"] for c in prove.run(ids)}


# --- selection and bad input ---------------------------------------------------------------------


def test_select_keeps_the_papers_order_and_accepts_commas() -> None:
    assert prove.select(["c2,thm3.1", "a1"]) == ["thm3.1", "a1", "c2"]
    assert prove.select(None) == list(prove.claim_ids())
    assert len(prove.claim_ids()) == 24


def test_unknown_id_is_a_user_error() -> None:
    with pytest.raises(UserError, match="unknown claim id 'nope'"):
        prove.select(["nope"])


def test_an_empty_selection_is_a_user_error_not_a_passing_check() -> None:
    for only in ([""], [","], [" , "]):
        with pytest.raises(UserError, match="no claim id given"):
            prove.select(only)


def test_cli_unknown_id_exits_2_with_one_line() -> None:
    r = pgcheck("prove", "--only", "nope", "--check")
    assert r.returncode == 2
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("pgcheck: error: unknown claim id"), r.stderr


# --- certificates and --check ----------------------------------------------------------------------


def test_certificate_says_what_was_proved() -> None:
    cert = prove.certificate("thm4.3")
    assert cert["verdict"] == "erratum" and cert["complete"] and cert["scope"]
    assert {"id", "reference", "statement", "methods", "steps", "cross_checks", "errata", "timing"} <= set(cert)
    (erratum,) = cert["errata"]
    assert "log(1+ε)" in erratum["printed"] and "log(1−ε)" in erratum["corrected"] and erratum["confirmed"]
    assert all(x["passed"] for x in cert["cross_checks"]) and cert["max_autograd_error"] < 1e-12
    assert json.loads(prove.to_json(cert)) == cert


def test_check_ignores_timings_versions_and_float_noise_but_not_verdicts(tmp_path: Path) -> None:
    certs = prove.run(FAST)
    prove.write(tmp_path, certs)
    assert prove.check(tmp_path, certs, full=False).ok

    path = tmp_path / "eq35-t1.json"
    data: dict[str, Any] = json.loads(path.read_text())
    data["timing"]["seconds"] = 99.0
    data["environment"]["torch"] = "0.0"
    data["cross_checks"][0]["max_abs_error"] = 3e-17
    data["steps"][0]["method"] = re.sub(r"z3 \d+(\.\d+)+", "z3 9.9.9", data["steps"][0]["method"])
    assert "z3 9.9.9" in data["steps"][0]["method"]
    path.write_text(json.dumps(data))
    assert prove.check(tmp_path, certs, full=False).ok

    flipped = json.loads(json.dumps(data))
    flipped["steps"][0]["holds"] = not flipped["steps"][0]["holds"]
    assert any("holds" in m for m in prove.differences(flipped, certs[FAST.index("eq35-t1")]))
    forged = json.loads(json.dumps(data))
    forged["steps"][0]["evidence"] = []  # a step whose computation was replaced by a constant
    assert any("evidence" in m for m in prove.differences(forged, certs[FAST.index("eq35-t1")]))

    data["verdict"] = "proved?"
    data["steps"][1]["statement"] += " (edited)"
    path.write_text(json.dumps(data))
    result = prove.check(tmp_path, certs, full=False)
    assert not result.ok
    assert any("verdict" in m for m in result.mismatches) and any("statement" in m for m in result.mismatches)


def test_rewriting_keeps_certificates_whose_content_did_not_change(tmp_path: Path) -> None:
    certs = prove.run(["eq35-t1"])
    assert prove.write(tmp_path, certs) == ["eq35-t1"]
    before = (tmp_path / "eq35-t1.json").read_text()
    again = [dict(certs[0], timing={"seconds": 123.0})]
    assert prove.write(tmp_path, again) == []
    assert (tmp_path / "eq35-t1.json").read_text() == before
    changed = [dict(certs[0], scope=certs[0]["scope"] + " (changed)")]
    assert prove.write(tmp_path, changed) == ["eq35-t1"]


def test_check_full_wants_every_claim_and_the_rendered_readme(tmp_path: Path) -> None:
    certs = prove.run(FAST)
    prove.write(tmp_path, certs)
    result = prove.check(tmp_path, certs, full=True)
    assert result.ok  # only the claims that ran are compared one by one
    (tmp_path / "README.md").write_text("hand-edited\n")
    (tmp_path / "old-claim.json").write_text("{}")
    result = prove.check(tmp_path, certs, full=True)
    assert any("README.md" in m for m in result.mismatches)
    assert any("old-claim.json" in m for m in result.mismatches)


def test_committed_readme_is_a_complete_table() -> None:
    text = (PROOFS / "README.md").read_text()
    for claim_id in prove.claim_ids():
        assert f"| `{claim_id}` |" in text, claim_id
        cert = json.loads((PROOFS / f"{claim_id}.json").read_text())
        assert cert["verdict"] in ("proved", "cross-checked", "erratum"), (claim_id, cert["problems"])
    assert "## Errata" in text and "counterexample:" in text


def test_cli_check_passes_on_the_committed_proofs() -> None:
    r = pgcheck("prove", "--check", "--only", ",".join(FAST))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "check: OK" in r.stdout


def test_cli_json_and_a_fresh_directory(tmp_path: Path) -> None:
    r = pgcheck("prove", "--only", "eq35-t1", "--json", "--dir", str(tmp_path / "p"))
    assert r.returncode == 0, r.stderr
    (cert,) = json.loads(r.stdout)
    assert cert["id"] == "eq35-t1" and cert["verdict"] == "proved"
    assert (tmp_path / "p" / "eq35-t1.json").exists() and (tmp_path / "p" / "README.md").exists()
    r = pgcheck("prove", "--only", "rem5.2", "--check", "--dir", str(tmp_path / "p"))
    assert r.returncode == 1 and "missing" in r.stderr
    r = pgcheck("prove", "--only", "rem5.2", "--check", "--json", "--dir", str(tmp_path / "p"))
    assert r.returncode == 1 and "missing" in r.stderr  # the reason is not swallowed by --json
    assert [c["id"] for c in json.loads(r.stdout)] == ["rem5.2"]


# --- mutation tests: a broken implementation makes the suite fail ------------------------------------


def _up_loss_wrong_entropy_sign(scale: CheckedScale, q: torch.Tensor, actions: torch.Tensor,
                                delta_o: torch.Tensor, delta_r: torch.Tensor) -> torch.Tensor:
    """UP with the sign of ∇E_{πθ}[q̂] (= −∇H) flipped: ΔR∇log π + ∇H instead of ΔR∇log π − ∇H."""
    pi = torch.softmax(q, dim=-1)
    baseline = (pi * q.detach()).sum(-1)
    return updates.uv_loss(scale, q, actions, delta_o, delta_r) + baseline.mean()


def test_swapping_the_entropy_sign_of_pgpb_fails_the_suite(monkeypatch: pytest.MonkeyPatch) -> None:
    affected = ["thm3.1", "cor3.4", "thm3.5", "eq16-18", "eq26-28"]
    committed = {i: json.loads((PROOFS / f"{i}.json").read_text())["verdict"] for i in affected}
    assert set(committed.values()) <= {"proved", "erratum"}
    monkeypatch.setattr(updates, "up_loss", _up_loss_wrong_entropy_sign)
    broken = verdicts(affected)
    assert broken == {i: "failed" for i in affected}


def _replace_scale(monkeypatch: pytest.MonkeyPatch, name: str, old: str, new: str) -> None:
    d = scales.REGISTRY[name]
    assert old in d.source
    monkeypatch.setitem(scales.REGISTRY, name, scales.ScaleDef(d.name, d.source.replace(old, new), d.defaults,
                                                               d.reference, d.summary))


@pytest.mark.parametrize("old,new", [
    ("x > log(1 - eps)", "x > log(1 + eps)"),   # the paper's own typo in (53)–(54)
    ("x < log(1 + eps)", "x < log(1 + 2 * eps)"),  # a wrong trust-region width
    ("x < log(1 + eps)", "x <= log(1 + eps)"),  # differs only on a null set: z3 still sees it
])
def test_a_wrong_tau_boundary_in_ppo_fails_theorem_4_3(monkeypatch: pytest.MonkeyPatch, old: str, new: str) -> None:
    _replace_scale(monkeypatch, "ppo", old, new)
    cert = prove.certificate("thm4.3")
    assert cert["verdict"] == "failed"
    assert any("registry ppo" in p or "Theorem 4.3" in p for p in cert["problems"]), cert["problems"]


def test_the_paper_typo_as_ppo_scale_also_fails_the_autograd_cross_check(monkeypatch: pytest.MonkeyPatch) -> None:
    _replace_scale(monkeypatch, "ppo", "x > log(1 - eps)", "x > log(1 + eps)")
    cert = prove.certificate("thm4.3")
    failing = [x["name"] for x in cert["cross_checks"] if not x["passed"]]
    assert "Theorem 4.3" in failing


@pytest.mark.parametrize("new", ["exp(x / 2) * y", "exp(-x) * y", "(1 + x) * y"])
def test_a_wrong_importance_weight_in_sq_fails_the_off_policy_claim_symbolically(
        monkeypatch: pytest.MonkeyPatch, new: str) -> None:
    """f_SQ must carry exactly e^{ΔO}: otherwise the behaviour probabilities do not cancel in (26)–(28)."""
    _replace_scale(monkeypatch, "sq", "exp(x) * y", new)
    cert = prove.certificate("eq26-28")
    assert cert["verdict"] == "failed"
    assert {"(26)", "(27)", "(28), registry"} <= {s["ref"] for s in cert["steps"] if not s["holds"]}


def test_a_wrong_mla_branch_fails_the_table_1_and_appendix_claims(monkeypatch: pytest.MonkeyPatch) -> None:
    _replace_scale(monkeypatch, "mla", "-(1 + x)**2 / 2", "-(1 + x)**2 / 4")
    assert verdicts(["eq35-t1", "a1", "rem5.2", "obs5.3"]) == dict.fromkeys(["eq35-t1", "a1", "rem5.2", "obs5.3"],
                                                                           "failed")


def test_a_wrong_uq_loss_fails_the_scale_axis_claims(monkeypatch: pytest.MonkeyPatch) -> None:
    original = updates.uq_loss

    def doubled(*args: Any) -> torch.Tensor:
        return 2 * original(*args)

    monkeypatch.setattr(updates, "uq_loss", doubled)
    assert set(verdicts(["eq19-21", "eq22-23", "eq24", "cor3.4"]).values()) == {"failed"}


def test_a_wheel_ships_the_certificates_for_check_in_a_users_ci(tmp_path: Path) -> None:
    # a user's CI runs 'pgcheck prove --check' against the certificates committed with the installed code
    assert prove.shipped_directory() == PROOFS
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                        "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = tmp_path.glob("pgcheck-*.whl")
    with zipfile.ZipFile(wheel) as z:
        shipped = {Path(n).name for n in z.namelist() if "/share/pgcheck/proofs/" in n}
    committed = {p.name for p in PROOFS.iterdir() if p.suffix == ".json" or p.name == "README.md"}
    assert shipped == committed and "README.md" in shipped and len(shipped) > 10


# --- seed 001's on-policy claims (issue 15) ----------------------------------------------------------

S001 = ["s001-t1-reinforce", "s001-t1-a2c", "s001-t1-trpo", "s001-t1-ppo", "s001-t1-ppo-kl", "s001-t1-vmpo"]


def test_a_batch_sum_in_upi_loss_fails_every_seed_001_claim(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each Table 1 cross-check compares batch means on batches of ≥ 16: a sum instead of the mean shows."""
    def summed(scale: CheckedScale, log_prob: torch.Tensor, entropy: torch.Tensor, d_o: torch.Tensor,
               d_r: torch.Tensor, beta: float = 0.0) -> torch.Tensor:
        return -(updates.scale_weights(scale, d_o, d_r) * log_prob).sum() - beta * entropy.mean()

    monkeypatch.setattr(updates, "upi_loss", summed)
    assert verdicts(S001) == dict.fromkeys(S001, "failed")


def test_a_wrong_importance_weight_in_sq_fails_trpo_and_ppo_kl(monkeypatch: pytest.MonkeyPatch) -> None:
    _replace_scale(monkeypatch, "sq", "exp(x) * y", "exp(x / 2) * y")
    assert verdicts(["s001-t1-trpo", "s001-t1-ppo-kl"]) == dict.fromkeys(["s001-t1-trpo", "s001-t1-ppo-kl"], "failed")
    trpo = prove.certificate("s001-t1-trpo")
    # the z3 step fails, not only the autograd comparison
    assert any("registry sq" in s["statement"] for s in trpo["steps"] if not s["holds"])

"""Training from a certificate already issued does not need z3 (a GPU machine that only trains has none),
while issuing a new certificate still does: without z3 it is a user error, never a weaker certificate."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from pgcheck.check import checked_scale

# run in a fresh interpreter in which `import z3` fails, as on a machine without z3-solver
_WITHOUT_Z3 = textwrap.dedent("""
    import sys
    sys.modules["z3"] = None          # any `import z3` now raises ImportError
    import agents.lanes, agents.ppo   # the training path imports
    from pgcheck.certificate import CheckedScale
    from pgcheck.check import checked_scale
    from pgcheck.errors import UserError
    scale = checked_scale("mla_ppo")  # its certificate is in PGCHECK_CACHE_DIR
    assert isinstance(scale, CheckedScale) and scale.certificate.overall == "VALID", scale
    print("cached:", scale.certificate.overall)
    try:
        checked_scale("ppo")          # not in that cache: needs the prover
    except UserError as exc:
        assert "z3-solver is not installed" in str(exc), exc
        print("uncached: refused")
    else:
        raise AssertionError("a new certificate was issued without z3")
""")


def test_cached_certificate_without_z3(tmp_path: Path) -> None:
    env = dict(os.environ, PGCHECK_CACHE_DIR=str(tmp_path))
    old = os.environ.get("PGCHECK_CACHE_DIR")
    os.environ["PGCHECK_CACHE_DIR"] = str(tmp_path)
    try:
        checked_scale("mla_ppo")       # issued here, with z3, into the folder the child reads
    finally:
        if old is None:
            del os.environ["PGCHECK_CACHE_DIR"]
        else:
            os.environ["PGCHECK_CACHE_DIR"] = old
    assert list(tmp_path.glob("*.json")), "the certificate was not cached"
    out = subprocess.run([sys.executable, "-c", _WITHOUT_Z3], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["cached: VALID", "uncached: refused"], out.stdout

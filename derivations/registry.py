"""The claims of the paper (secs. 3-5 and appendix A), in the paper's order, each with the module deriving it;
then the claims of seed 001 (Lehmann, §4.6 Table 1: the on-policy estimators as scale functions)."""

from __future__ import annotations

from types import ModuleType

from derivations import (
    a1,
    asm5_1,
    c2,
    controls,
    cor3_4,
    eq16_18,
    eq19_21,
    eq22_23,
    eq24,
    eq26_28,
    eq35_t1,
    obs5_3,
    rem5_2,
    s001_a2c,
    s001_ppo,
    s001_ppo_kl,
    s001_reinforce,
    s001_trpo,
    s001_vmpo,
    thm3_1,
    thm3_3,
    thm3_5,
    thm4_3,
    trainer,
)
from derivations.core import Claim

MODULES: tuple[ModuleType, ...] = (
    thm3_1, thm3_3, cor3_4, thm3_5, eq16_18, eq19_21, eq22_23, eq24, eq26_28, thm4_3, asm5_1, a1, eq35_t1,
    obs5_3, rem5_2, c2, trainer, controls,
    # seed 001 (Lehmann, "The Definitive Guide to Policy Gradients in Deep RL"), §4.6 Table 1
    s001_reinforce, s001_a2c, s001_trpo, s001_ppo, s001_ppo_kl, s001_vmpo,
)


def _claim(m: ModuleType) -> Claim:
    return Claim(id=m.ID, title=m.TITLE, reference=m.REFERENCE, statement=m.STATEMENT, derive=m.derive)


CLAIMS: tuple[Claim, ...] = tuple(_claim(m) for m in MODULES)
IDS: tuple[str, ...] = tuple(c.id for c in CLAIMS)


def get(claim_id: str) -> Claim:
    for c in CLAIMS:
        if c.id == claim_id:
            return c
    raise KeyError(claim_id)

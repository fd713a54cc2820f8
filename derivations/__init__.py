"""The proof suite: every identity of the paper derived with sympy/z3 and cross-checked with autograd.

One module per claim (``thm3_1`` … ``c2``, then ``trainer`` for the trainer users run and ``controls`` for
the machinery); :mod:`derivations.registry` lists them in the paper's order. Each module's docstring states
the claim, its symbols and assumptions and what is proved; its ``derive(ev)`` records the steps, the autograd
cross-checks and any erratum in an :class:`derivations.core.Evidence`. ``pgcheck prove``
(:mod:`derivations.runner`) runs them and writes the certificates in ``proofs/``.

Independence rules — every check here must be able to fail, so:

1. **The reference side is computed without the code under test.** A printed formula of the paper is
   written with sympy (or plain float/torch arithmetic) directly, never read through pgcheck's parser
   (:mod:`pgcheck.expr`) or taken from the registry it is compared with; ΔO, ΔR, log-densities and
   normalisations on the reference side are computed here, never with ``pgcheck.updates.delta_o`` /
   ``delta_r_pi`` or the trainer's own functions; a cross-check compares pgcheck's compiled forms with an
   independent expression, not with each other.
2. **Batches, not single samples.** A loss that is a batch mean is compared on batches of at least 8
   samples against the batch mean of per-sample references, so a mean/sum or per-sample bug shows.
3. **Negative controls.** Every identity step records, in the same run, a perturbed version that must fail
   (:func:`derivations.core.record`, "negative control: failed as expected"); every z3 proof records that
   the negated goal is *not* provable under the same assumptions (else the assumptions or the abstraction
   are contradictory); the z3 abstractions and the validator have their own controls (:mod:`derivations.controls`);
   a cross-check whose tolerance could hide a bug carries a deliberate bug that must exceed it.
4. **Evidence, not booleans.** A step carries the recorded computations that decided it (digests of the
   checked expressions, their outcome and their control); ``pgcheck prove --check`` compares them with the
   committed certificate, and a step with no recorded computation is a problem.
"""

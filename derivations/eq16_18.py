"""Eqs. (16)–(18): the three updates written through the model qθ alone (the form axis).

With ``ΔR = T̂(s,a) − qθ(s,a)`` (eq. 14), Theorem 3.5 and ``∇log π(a|s) = ∇q(s,a) − E_{u∼π}[∇q(s,u)]``
(from eq. 4):

* (16) ``Ĝ_PGPB = ΔR (∇q(s,a) − E_{u∼π}[∇q(s,u)]) + ∇E_{u∼πθ}[q̂(s,u)]``   (definition: eq. 5)
* (17) ``Ĝ_MVE  = ΔR (∇q(s,a) − E_{u∼π}[∇q(s,u)])``                          (definition: eq. 10)
* (18) ``Ĝ_MSE  = ΔR ∇q(s,a)``                                                 (definition: eq. 9)

These are eqs. (33), (32), (31) with ``f = y``. Symbolic: per coordinate, general |A|. Cross-check:
pgcheck's ``up_loss``/``uv_loss``/``uq_loss`` with scale ``q`` against the *definitions* (5), (10), (9)
computed independently with autograd (log_softmax, entropy).
"""

from __future__ import annotations

import torch

from derivations import autograd as ag
from derivations import softmax as sx
from derivations.core import Evidence, collect
from pgcheck import updates

ID = "eq16-18"
BATCH = 12
TITLE = "PGPB, MVE and MSE written through qθ (the form axis)"
REFERENCE = "eqs. (16)–(18), from (5), (9), (10), Thm 3.5 and eq. (4); eqs. (31)–(33) with f = y"
STATEMENT = ("Ĝ_PGPB = ΔR(∇q(s,a) − E_{u∼π}∇q(s,u)) + ∇E_{u∼πθ}[q̂(s,u)]; "
             "Ĝ_MVE = ΔR(∇q(s,a) − E_{u∼π}∇q(s,u)); Ĝ_MSE = ΔR ∇q(s,a)")


def derive(ev: Evidence) -> None:
    sm = sx.Softmax()
    ok = {"16": True, "17": True, "18": True, "log": True}
    bags: dict[str, list[dict[str, str]]] = {k: [] for k in ok}
    for a_is_b in (True, False):
        q_a = sx.QB if a_is_b else sx.QA
        dr = (sx.TB if a_is_b else sx.TA) - q_a
        centred = sx.d(q_a) - sm.pi(True)  # ∂/∂q_b of q_a minus E_u[∂q_u/∂q_b] = π_b
        pgpb = dr * sx.d(sm.log_pi(a_is_b)) - sx.d(sm.entropy)
        pairs = {"log": (sx.d(sm.log_pi(a_is_b)), centred),
                 "16": (pgpb, dr * centred + sm.grad_E_fixed_values(lambda q, _t: q)),
                 "17": (dr * sx.d(sm.log_pi(a_is_b)), dr * centred),
                 "18": (sx.d(-dr ** 2 / 2), dr * sx.d(q_a))}  # T̂ is a constant for ∂/∂q_b
        for key, (lhs, rhs) in pairs.items():
            with collect() as bag:
                ok[key] = ok[key] and sx.identity(lhs, rhs)
            bags[key] += bag
    ev.lemma("eq. (4)", "∇log π(a|s) = ∇q(s,a) − E_{u∼π}[∇q(s,u)]", sx.METHOD, ok["log"], evidence=bags["log"])
    ev.step("eq. (16)", "ΔR∇log π(a|s) − ∇H = ΔR(∇q(s,a) − E_u∇q(s,u)) + ∇E_{u∼πθ}[q̂(s,u)]", sx.METHOD, ok["16"],
            evidence=bags["16"])
    ev.step("eq. (17)", "ΔR∇log π(a|s) = ΔR(∇q(s,a) − E_u∇q(s,u))", sx.METHOD, ok["17"], evidence=bags["17"])
    ev.step("eq. (18)", "Ĝ_MSE = −∇½(T̂ − q(s,a))² with T̂ held fixed (eq. 9) = ΔR∇q(s,a)", sx.METHOD, ok["18"],
            evidence=bags["18"])
    ev.scope = "general |A| ≥ 2, a = b and a ≠ b, any differentiable qθ: per-coordinate sympy identities"
    ev.complete = True

    with ag.single_thread():
        errs = {k: ag.MaxErr() for k in ("16", "17", "18", "batch")}
        n_states, n_actions = 4, 5
        f = ag.scale("q")
        g = ag.generator(16)
        for model in ag.models(16, n_states, n_actions):
            for s in range(n_states):
                for a in range(n_actions):
                    dr = float(ag.randn(g, 1)[0]) * 2
                    ref = ag.reference(model, s, a)
                    errs["16"].add(ag.pgcheck_update("up", model, s, a, 0.0, dr, f),
                                   dr * ref.grad_log_pi - ref.grad_entropy)
                    errs["17"].add(ag.pgcheck_update("uv", model, s, a, 0.0, dr, f), dr * ref.grad_log_pi)
                    errs["18"].add(ag.pgcheck_update("uq", model, s, a, 0.0, dr, f), dr * ref.grad_q)
            # the same in one batch: pgcheck's losses average over the batch (−∇loss = mean of the updates)
            states = torch.arange(BATCH) % n_states  # a batch of 12 ≥ 8 (states repeat, actions drawn)
            actions = torch.randint(0, n_actions, (BATCH,), generator=g)
            drs = ag.randn(g, BATCH)
            zero = torch.zeros(BATCH, dtype=ag.DTYPE)
            logits = model(states)
            for form, loss_fn in (("up", updates.up_loss), ("uv", updates.uv_loss), ("uq", updates.uq_loss)):
                batch = -ag.flat_grad(loss_fn(f, logits, actions, zero, drs), model.params)
                refs = [ag.reference(model, int(states[i]), int(actions[i])) for i in range(BATCH)]
                per = [float(drs[s]) * (r.grad_q if form == "uq" else r.grad_log_pi)
                       - (r.grad_entropy if form == "up" else 0 * r.grad_q) for s, r in enumerate(refs)]
                errs["batch"].add(batch, torch.stack(per).mean(0))
    inst = f"every (s, a) of {n_states} states × |A| = {n_actions}, random ΔR, tabular logits and MLP, float64"
    ev.check("batch mean", "pgcheck up/uv/uq_loss(q) on a batch vs the mean of the per-sample definitions (5), (10), "
             "(9)", f"a batch of {BATCH} samples per model", errs["batch"].error, 1e-12, errs["batch"].magnitude)
    ev.check("eq. (16)", "pgcheck up_loss(q) vs ΔR∇log π − ∇H (definition 5, autograd)", inst,
             errs["16"].error, 1e-12, errs["16"].magnitude)
    ev.check("eq. (17)", "pgcheck uv_loss(q) vs ΔR∇log π (definition 10, autograd)", inst,
             errs["17"].error, 1e-12, errs["17"].magnitude)
    ev.check("eq. (18)", "pgcheck uq_loss(q) vs ΔR∇q(s,a) (definition 9, autograd)", inst,
             errs["18"].error, 1e-12, errs["18"].magnitude)

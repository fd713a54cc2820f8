"""Seed 001 §4.5 eq. (20) and §4.6 Table 1, V-MPO's policy loss: is its per-sample weight a scale function?

V-MPO's policy gradient (the KL loss L_ν aside, as in Table 1's footnote) is
``−∇θL_π = Σ_{i∈D̃} w_i ∇θ log πθ(a_i|s_i)``, ``w_i = exp(Â_i/η) / Σ_{j∈D̃} exp(Â_j/η)``, D̃ the half of the
batch D with the largest advantages. As a batch mean of Uπ (eq. 34) its coefficients are
``c_i = |D| w_i 1[i ∈ D̃]``.

Result (proved):

1. **Not a scale function.** No f(ΔO, ΔR) gives V-MPO's coefficients, whatever ΔR = g(Â): two batches of 8
   in which the same sample (ΔO, Â) = (0, 2) gets different coefficients for *every* η > 0 (the normaliser;
   z3), and two in which (0, 0) gets 0 in one and a positive weight in the other (the top-half selection;
   exact). With tabular logits and distinct states the sample gradients ∇log πθ(a_i|s_i) are linearly
   independent (exact rank), so the *update* determines the coefficients: V-MPO's update is not Uπ(f).
2. **What it is.** For a batch without ties, with m_B = min_{D̃} Â and Z_B = Σ_{D̃} e^{Â/η},
   ``c_i = C_B · 1[Â_i − m_B ≥ 0] e^{(Â_i − m_B)/η}``, ``C_B = |D| e^{m_B/η}/Z_B > 0``: a positive batch
   step size C_B times Uπ(h) with the pointwise h(x, y) = 1[y ≥ 0]e^{y/η} on the median-shifted ΔR = Â − m_B.
   Both batch quantities (C_B, m_B) are what make it leave the class; h itself is not centred (h(x, 0) = 1).
3. **Nearest pointwise rule in the class.** Without the selection (D̃ = D) V-MPO is exactly (|D|/Z_B)·Uπ(e^{y/η});
   on-policy E_{a∼π}[∇log π] = 0, so Uπ(e^{y/η} − 1) has the same expectation as Uπ(e^{y/η}); e^{y/η} − 1 =
   λ(y/η) is eq. (23)'s maximum-likelihood λ at temperature η (V-MPO's ψ ∝ π_old e^{Â/η} is eq. (22)'s target
   with T̂ = q + Â/η), VALID for every η > 0. Off-policy (later epochs, ΔO ≠ 0) the centring needs the
   importance weight: e^x(e^{y/η} − 1) = f_ML(x, y/η) keeps E_{a∼π_old}[·] = E_{a∼πθ}[e^{Â/η}∇log πθ]. The
   top half is approximated pointwise by fixing the threshold at ΔR = 0 (advantages centred on their median):
   max(e^{y/η} − 1, 0), VALID. The uncentred e^{y/η} and the exact shape h are INVALID (f(x, 0) ≠ 0).

Cross-checks: autograd of eq. (20) (weights from the definition) against the decomposition of 2. (pgcheck
refuses h, so plain torch; negative control: normalising over D instead of D̃); the lane trainer's V-MPO
policy loss (``agents.algos.vmpo.vmpo_policy_loss``: C_B·Uπ of the checked e^x·max(e^y − 1, 0) at ΔR =
(Â − t_B)/η, t_B the lower median of Â, so ΔR > 0 exactly on D̃) against the decomposition: its coefficients
are C_B·h(Â − m_B) minus the centring |D|e^{t_B/η}/Z_B on D̃ (negative controls: V-MPO's exact coefficients;
whole-batch normalisation); exact expectations over a finite action set through pgcheck's ``upi_loss`` with
``exp(y/eta) − 1`` on-policy and ``exp(x)·(exp(y/eta) − 1)`` off-policy against E_{πθ}[e^{Â/η}∇log πθ]
(negative control: the unweighted centred rule off-policy).
"""

from __future__ import annotations

import sympy
import torch

from derivations import autograd as ag
from derivations import logic
from derivations import onpolicy as op
from derivations import softmax as sx
from derivations.core import Control, Evidence, record
from pgcheck.expr import Y

ID = "s001-t1-vmpo"
TITLE = "Seed 001 §4.6 Table 1: V-MPO's weight is not a scale function; its nearest pointwise rule e^{y/η} − 1"
REFERENCE = "seed 001 §4.5 eq. (20), Algorithm 8, §4.6 Table 1; paper eqs. (22)–(23), (34), Assumption 5.1"
STATEMENT = ("c_i = |D|·1[i∈D̃]e^{Â_i/η}/Σ_{D̃}e^{Â/η} is no f(ΔO, ΔR); c_i = C_B·1[Â_i ≥ m_B]e^{(Â_i−m_B)/η}; "
             "on-policy with D̃ = D it is C·Uπ(e^{y/η}) ≡ C·Uπ(e^{y/η} − 1) in expectation (VALID)")

K = sympy.Symbol("k", positive=True)  # k = 1/η
B1 = (-3, -2, -1, 0, 1, 2, 3, 4)
B2 = (-3, -2, -1, 0, 1, 2, 3, 40)
B3 = (-7, -6, -5, -4, 0, 1, 2, 3)
CANDIDATES = (("exp(y / eta)", "INVALID", "the uncentred weight e^{y/η}"),
              ("exp(y / eta) - 1", "VALID", "the centred e^{y/η} − 1 (eq. 23's λ at temperature η)"),
              ("exp(x) * (exp(y / eta) - 1)", "VALID", "its importance-weighted form f_ML(x, y/η)"),
              ("exp(y / eta) if y >= 0 else 0", "INVALID", "the exact shape h of V-MPO after the median shift"),
              ("max(exp(y / eta) - 1, 0)", "VALID", "the top half with its threshold fixed at ΔR = 0"))
ETA = "1"  # seed 001 Table 2: η_init = 1
ETA_CHECK = 0.5


def coefficients(advs: tuple[int, ...], k: sympy.Expr) -> list[sympy.Expr]:
    """V-MPO's Uπ coefficients |D|·1[i∈D̃]e^{kÂ_i}/Σ_{D̃}e^{kÂ} (eq. 20), D̃ the top half (no ties here)."""
    n = len(advs)
    top = sorted(range(n), key=lambda i: advs[i])[n // 2:]
    z = sum(sympy.exp(k * advs[j]) for j in top)
    return [n * sympy.exp(k * advs[i]) / z if i in top else sympy.S.Zero for i in range(n)]


def derive(ev: Evidence) -> None:
    c1, c2, c3 = coefficients(B1, K), coefficients(B2, K), coefficients(B3, K)
    i1, i2 = B1.index(2), B2.index(2)
    norm = logic.prove(sympy.Gt(c1[i1], c2[i2]))
    exact = logic.sign(logic.value(c1[i1] - c2[i2], {K: 1}))
    pointwise = [sympy.exp(K * a) for a in (2, 2)]  # the unnormalised weight of the same sample in both batches
    record("pointwise control", (c1[i1], c2[i2], *pointwise), "equal", control=logic.zero(pointwise[0] - pointwise[1]))
    ev.lemma("Table 1, V-MPO (normaliser)", f"the same sample (ΔO, Â) = (0, 2) gets coefficient {c1[i1]} in batch "
             f"Â = {B1} and {c2[i2]} in {B2}, k = 1/η: the first is larger for every η > 0",
             norm.method + f"; exact sign at η = 1: {exact} (negative control: the pointwise e^{{Â/η}} gives "
             "equal weights)", norm.proved and exact == 1)
    j1, j3 = B1.index(0), B3.index(0)
    sel = logic.prove(sympy.Gt(c3[j3], 0))
    ev.lemma("Table 1, V-MPO (top half)", f"(ΔO, Â) = (0, 0) gets coefficient {c1[j1]} in batch {B1} (bottom half) "
             f"and {c3[j3]} > 0 in {B3} (top half), for every η > 0", sel.method,
             sel.proved and logic.fact("coefficient in the bottom half", (c1[j1],), c1[j1] == 0))
    # the update determines its coefficients: tabular logits θ_s ∈ ℝ² at 0, 8 distinct states, action 0 each
    grads = sympy.zeros(16, 8)
    for i in range(8):
        grads[2 * i, i], grads[2 * i + 1, i] = sympy.Rational(1, 2), -sympy.Rational(1, 2)  # e_0 − π, π = ½
    rank = grads.rank()
    shared = grads.copy()
    shared[:, 1] = shared[:, 0]  # two samples in the same state with the same action: dependent
    record("exact rank", (grads,), f"rank {rank}", control=shared.rank() < 8)
    ev.lemma("Table 1, V-MPO (update)", "with tabular logits and 8 distinct states the 8 sample gradients "
             "∇θ log πθ(a_i|s_i) are linearly independent, so a batch update Σ_i c_i∇log π_i fixes every c_i: no "
             "f(ΔO, ΔR) gives V-MPO's update on both batches above (it would need f(0, 2) to take two values)",
             "exact rank of the 16×8 gradient matrix (negative control: a repeated state and action has rank < 8)",
             rank == 8 and norm.proved)

    a_i, m, z, n = sympy.symbols("A_i m_B Z_B n", positive=True)
    c_b = n * sympy.exp(K * m) / z
    ev.lemma("decomposition", "for i ∈ D̃: n e^{Â_i/η}/Z_B = C_B e^{(Â_i − m_B)/η}, C_B = n e^{m_B/η}/Z_B > 0, and "
             "i ∈ D̃ ⟺ Â_i − m_B ≥ 0 (no ties): V-MPO = C_B·Uπ(h), h = 1[y ≥ 0]e^{y/η}, ΔR = Â − m_B",
             "sympy simplify", logic.zero(n * sympy.exp(K * a_i) / z - c_b * sympy.exp(K * (a_i - m))))
    sm = sx.Softmax()
    lhs = sm.E_a(lambda ab: (sympy.exp(sx.TB if ab else sx.TA) - 1) * sx.d(sm.log_pi(ab)))
    rhs = sm.E_a(lambda ab: sympy.exp(sx.TB if ab else sx.TA) * sx.d(sm.log_pi(ab)))
    ev.lemma("nearest pointwise rule", "on-policy, E_{a∼π}[(e^{Â/η} − 1)∇log π] = E_{a∼π}[e^{Â/η}∇log π] (T = Â/η; "
             "general |A|, any q_θ): the centring by 1 does not change the expected update", sx.METHOD,
             sx.identity(lhs, rhs))
    y1, y2 = sympy.symbols("y1 y2", real=True)
    lam = sympy.exp(K * Y) - 1
    mono = logic.prove(sympy.Le(lam.subs(Y, y1), lam.subs(Y, y2)), [y1 <= y2])
    ev.lemma("nearest pointwise rule", "λ(y/η) = e^{y/η} − 1 vanishes at 0 and is non-decreasing for every η > 0 "
             "(independent of x: Assumption 5.1 for every η)", mono.method,
             mono.proved and logic.zero(lam.subs(Y, 0)))
    for text, expected, what in CANDIDATES:
        op.verdict_step(ev, "Assumption 5.1", what, text, expected, {"eta": ETA})
    ev.note("Algorithm 8 writes L_π ← −(1/|D̃|)Σ_{D̃} ln πθ ψ(s,a), eq. (20) −Σ_{D̃} w ln πθ with normalised w: read "
            "with the same normalised ψ they differ by the factor 1/|D̃| (a step size, not a direction); read with "
            "ψ as a density ratio they agree. Not recorded as an erratum")
    ev.scope = ("every η > 0 (z3) for the two counterexamples and the validity of e^{y/η} − 1; the validator at "
                "η = 1 for all five candidates; general |A| for the centring")
    ev.complete = True
    _cross_check(ev)


def _cross_check(ev: Evidence) -> None:
    from pgcheck import updates

    eta = ETA_CHECK
    dec, dec_control = ag.MaxErr(), ag.MaxErr()
    with ag.single_thread():
        g = ag.generator(1006)
        for make in (op.gaussian_batch, op.softmax_batch):
            b = make(g, 16, 0.0)
            top = torch.topk(b.adv, 8).indices
            w = torch.zeros_like(b.adv)
            w[top] = torch.softmax(b.adv[top] / eta, 0)
            reference = ag.flat_grad((w * b.log_prob).sum(), b.params)  # −∇L_π, eq. (20)
            m_b = b.adv[top].min()
            c_b = 16 * torch.exp(m_b / eta) / torch.exp(b.adv[top] / eta).sum()
            shifted = b.adv - m_b
            h = torch.where(shifted >= 0, torch.exp(shifted / eta), torch.zeros_like(shifted))
            dec.add(reference, c_b * ag.flat_grad((h * b.log_prob).mean(), b.params))
            full = torch.softmax(b.adv / eta, 0)
            dec_control.add(ag.flat_grad((full * b.log_prob).sum(), b.params),
                            c_b * ag.flat_grad((h * b.log_prob).mean(), b.params))
    ev.check("decomposition", f"autograd of eq. (20)'s Σ_{{D̃}} w log πθ vs C_B·mean_D h(Â − m_B) log πθ (η = {eta})",
             "one batch of 16 each: Gaussian and softmax MLP policies", dec.error, 1e-12, dec.magnitude,
             control=Control("eq. (20) normalised over D instead of the top half D̃", dec_control.error))

    _trainer_check(ev, eta)

    on, off, off_control = ag.MaxErr(), ag.MaxErr(), ag.MaxErr()
    centred = op.expression_scale("exp(y / eta) - 1", eta=str(sympy.Rational(eta)))
    weighted = op.expression_scale("exp(x) * (exp(y / eta) - 1)", eta=str(sympy.Rational(eta)))
    n_states, n_actions = 4, 5
    with ag.single_thread():
        g = ag.generator(1007)
        for model in ag.models(1007, n_states, n_actions):
            states = ag.index(*[s for s in range(n_states) for _ in range(n_actions)])
            actions = ag.index(*[a for _ in range(n_states) for a in range(n_actions)])
            logits = model(states)
            log_pi_all = torch.log_softmax(logits, -1)
            lp = log_pi_all.gather(-1, actions[:, None]).squeeze(-1)
            pi = lp.detach().exp()
            noise = ag.randn(g, n_states, n_actions, scale=0.5)[states]  # one π_old(·|s) per state
            old = torch.softmax(logits.detach() + noise, -1)
            old = old[torch.arange(len(actions)), actions]  # π_old(a|s)
            adv = ag.randn(g, len(actions))
            ent = ag.entropy(logits)
            target = ag.flat_grad((pi * torch.exp(adv / eta) * lp).mean(), model.params)  # E_π[e^{Â/η}∇log π]
            zero = torch.zeros_like(lp)
            # exact expectations: the distribution's weights p(a|s) multiply log πθ (the losses are linear in it)
            on.add(target, -ag.flat_grad(updates.upi_loss(centred, pi * lp, ent, zero, adv), model.params))
            d_o = updates.delta_o(lp, torch.log(old))
            off.add(target, -ag.flat_grad(updates.upi_loss(weighted, old * lp, ent, d_o, adv), model.params))
            off_control.add(target, -ag.flat_grad(updates.upi_loss(centred, old * lp, ent, d_o, adv),
                                                  model.params))
    inst = (f"{n_states} states × |A| = {n_actions}, exact sums over a (every (s, a) once, weighted by p(a|s)); "
            f"tabular logits and MLP; η = {eta}")
    ev.check("nearest rule, on-policy", "Σ_a π·[pgcheck upi_loss(exp(y/eta) − 1) at (0, Â)] vs E_{a∼π}[e^{Â/η}"
             "∇log π] (V-MPO without the selection, up to its batch constant)", inst, on.error, 1e-12, on.magnitude)
    ev.check("nearest rule, off-policy", "Σ_a π_old·[pgcheck upi_loss(exp(x)(exp(y/eta) − 1)) at (ΔO, Â)] vs "
             "E_{a∼πθ}[e^{Â/η}∇log πθ]", inst + "; π_old = πθ perturbed", off.error, 1e-12, off.magnitude,
             control=Control("the centred rule without the importance weight, off-policy", off_control.error))


def _trainer_check(ev: Evidence, eta: float) -> None:
    """The V-MPO lane trainer's policy loss (``agents.algos.vmpo.vmpo_policy_loss``: C_B·Uπ of the checked rule
    e^x·max(e^y − 1, 0) at ΔR = (Â − t_B)/η, t_B the lower median) against the decomposition of 2., on-policy:
    its coefficients are V-MPO's C_B·h(Â − m_B) minus the centring |D|e^{t_B/η}/Z_B on D̃, and −∇θ of its loss
    is mean_D of those coefficients times ∇log πθ. The reference side is plain torch (top-k, e^{Â/η})."""
    from agents.algos import vmpo
    from pgcheck.check import checked_scale

    rule = checked_scale(vmpo.VMPO_RULE)
    coef, coef_control, grad, grad_control = ag.MaxErr(), ag.MaxErr(), ag.MaxErr(), ag.MaxErr()
    with ag.single_thread():
        g = ag.generator(1008)
        for make in (op.gaussian_batch, op.softmax_batch):
            b = make(g, 16, 0.0)
            loss, parts = vmpo.vmpo_policy_loss(rule, b.log_prob[None], b.entropy[None], b.log_prob_old[None],
                                                b.adv[None], torch.tensor([eta], dtype=torch.float64))
            top = torch.topk(b.adv, 8).indices
            in_top = torch.zeros(16, dtype=torch.bool)
            in_top[top] = True
            z_b = torch.exp(b.adv[top] / eta).sum()
            m_b = b.adv[top].min()
            shifted = b.adv - m_b
            exact = 16 * torch.exp(m_b / eta) / z_b * torch.where(shifted >= 0, torch.exp(shifted / eta),
                                                                  torch.zeros_like(shifted))   # C_B·h(Â − m_B)
            centring = 16 * torch.exp(b.adv[~in_top].max() / eta) / z_b * in_top.double()
            coef.add(parts["coefficient"][0], exact - centring)
            coef_control.add(parts["coefficient"][0], exact)
            ours = -ag.flat_grad(loss.sum(), b.params)
            grad.add(ours, ag.flat_grad(((exact - centring) * b.log_prob).mean(), b.params))
            whole = 16 * torch.softmax(b.adv / eta, 0)
            grad_control.add(ours, ag.flat_grad(((whole - centring) * b.log_prob).mean(), b.params))
    inst = f"one on-policy batch of 16 each: Gaussian and softmax MLP policies; η = {eta}"
    ev.check("trainer's V-MPO loss (coefficients)", "agents.algos.vmpo.vmpo_policy_loss's C_B·f(0, ΔR) per sample "
             "vs C_B·h(Â − m_B) − |D|e^{t_B/η}/Z_B·1[i∈D̃] (the decomposition minus the centring)", inst,
             coef.error, 1e-12, coef.magnitude,
             control=Control("V-MPO's exact coefficients C_B·h (the centring left out)", coef_control.error))
    ev.check("trainer's V-MPO loss (gradient)", "−∇θ of agents.algos.vmpo.vmpo_policy_loss vs mean_D[(C_B·h(Â − m_B) "
             "− centring)∇log πθ]", inst, grad.error, 1e-12, grad.magnitude,
             control=Control("eq. (20) normalised over D instead of D̃", grad_control.error))

# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 — Escape times and minima selection (DT paper)
#
# Exact mean first-passage times (MFPT) of 1-D Langevin dynamics against the escape-time formulas of
# the diffusion theory of SGD (DT.thm3.1 Kramers/SGLD, DT.thm3.2 SGD, DT.rule1, DT.prop1).
#
# Conventions: SC's SDE $d\theta = -U'\,dt + \sqrt{T D(\theta)}\,dW$; DT writes
# $d\theta = -L'\,dt + \sqrt{2 D_{DT}}\,dW$, so $D_{DT} = T D/2$. With Hessian-shaped SGD noise
# $D_{DT} = \kappa\,h(\theta)$, $\kappa = \eta/(2B)$ (DT.eq7).

# %%
# %matplotlib inline
import math
import matplotlib.pyplot as plt
import sympy as sp
from IPython.display import Math, display
from theory.escape import (kramers_escape_time, sgd_escape_time_printed, dt_diffusion_from_sc,
                           valley_probabilities)
from numerics.first_passage import (laplace_escape_time_1d, sgd_path_parameter,
                                    mean_first_passage_time_1d)
sp.init_printing()
x = sp.Symbol('theta', real=True)
U = x**4/4 - x**2/2 + x/10          # tilted double well
a1, b, a2 = sorted(float(sp.re(r)) for r in sp.Poly(sp.diff(U, x), x).nroots())
H = sp.diff(U, x, 2)
val = lambda e, p: float(e.subs(x, p))
display(Math(r'U(\theta) = ' + sp.latex(U)))
print(f'minima {a1:.4f}, {a2:.4f}; barrier top {b:.4f}')

# %% [markdown]
# ## Kramers (DT.thm3.1) vs the exact MFPT
#
# The Kramers time counts a full crossing (flux over population). The exact MFPT **to the other
# minimum** tends to it with an $O(T)$ error; **twice the MFPT to the top** tends to it too but with
# an extra $\sqrt{T}$ term from the asymmetric top ($U'''(b)\neq 0$).

# %%
Ts = [0.2, 0.1, 0.05, 0.025, 0.0125, 0.00625]
err_far, err_top = [], []
for T in Ts:
    tk = float(kramers_escape_time(val(H, a2), val(H, b), val(U, b) - val(U, a2), dt_diffusion_from_sc(1, T)))
    far = mean_first_passage_time_1d(U, 1, x, a2, a1, T)
    top = mean_first_passage_time_1d(U, 1, x, a2, b, T)
    err_far.append(abs(tk / far - 1)); err_top.append(abs(tk / (2 * top) - 1))
    print(f'T={T:<8} Kramers={tk:.4e}  exact(far)={far:.4e}  rel.err far={err_far[-1]:.4f}  2x top={err_top[-1]:.4f}')

# %% [markdown]
# ## SGD formula (DT.thm3.2) with Hessian-shaped noise
#
# Symmetric well $U=(\theta^2-1)^2/4$ ($H_a=2$, $H_b=-1$, $\Delta L = 1/4$), noise shape
# $h = 1+\theta^2$: equal to $|U''|$ at the minimum and the top and positive in between. The exact
# exponent $\int_a^b L'/h\,d\theta$ fixes $s$; the prefactor of DT's own Itô dynamics is
# $2\pi/H_{ae}$, not the printed $2\pi/|H_{be}|$.

# %%
Us, h = (x**2 - 1)**2 / 4, 1 + x**2
s = sgd_path_parameter(Us, h, x, -1, 0)
print('path parameter s =', round(s, 4))
kappas = [0.05, 0.025, 0.0125, 0.00625, 0.003125]
err_printed, err_ito = [], []
for k in kappas:
    exact = mean_first_passage_time_1d(Us, h, x, -1, 1, 2 * k, log=True)
    printed = math.log(float(sgd_escape_time_printed(2, -1, sp.Rational(1, 4), 1, 2 * k, s)))
    ito = math.log(laplace_escape_time_1d(Us, h, x, -1, 0, 2 * k))
    err_printed.append(abs(math.exp(printed - exact) - 1)); err_ito.append(abs(math.exp(ito - exact) - 1))
    print(f'kappa={k:<9} printed/exact={math.exp(printed-exact):.4f}  Ito-Laplace/exact={math.exp(ito-exact):.4f}')

# %%
fig, ax = plt.subplots(1, 2, figsize=(11, 4))
ax[0].loglog(Ts, err_far, 'o-', label='Kramers vs MFPT to other minimum')
ax[0].loglog(Ts, err_top, 's--', label='Kramers vs 2 x MFPT to top')
ax[0].set_xlabel('T'); ax[0].set_ylabel('relative error'); ax[0].legend(); ax[0].set_title('DT.thm3.1 (constant noise)')
ax[1].loglog(kappas, err_printed, 'o-', label='printed DT.thm3.2 (2pi/|H_be|)')
ax[1].loglog(kappas, err_ito, 's-', label='corrected prefactor 2pi/H_ae')
ax[1].set_xlabel('kappa = eta/(2B)'); ax[1].legend(); ax[1].set_title('DT.thm3.2 (D = kappa (1+theta^2))')
plt.tight_layout(); plt.show()

# %% [markdown]
# ## $-\log\gamma$ is linear in $1/\kappa = 2B/\eta$ (hence in $B$ and $1/\eta$)

# %%
inv_k = [1 / k for k in kappas]
neg_log_gamma = [mean_first_passage_time_1d(Us, h, x, -1, 1, 2 * k, log=True) for k in kappas]
slope = (neg_log_gamma[-1] - neg_log_gamma[0]) / (inv_k[-1] - inv_k[0])
print('fitted slope', round(slope, 4), ' exact exponent integral', round(math.log(2) - 0.5, 4))
plt.figure(figsize=(5, 3.5)); plt.plot(inv_k, neg_log_gamma, 'o-')
plt.xlabel('1/kappa = 2B/eta'); plt.ylabel('-log gamma (exact)'); plt.tight_layout(); plt.show()

# %% [markdown]
# ## Valley probabilities (DT.prop1) vs the exact stationary mass
#
# $P(V_v) = \tau_v / \sum_u \tau_u$ with Kramers times, against the exact mass of $e^{-2U/T}$ on
# each side of the top.

# %%
import mpmath
rows = []
for T in [0.2, 0.1, 0.05, 0.025]:
    taus = [float(kramers_escape_time(val(H, a), val(H, b), val(U, b) - val(U, a), T / 2)) for a in (a1, a2)]
    p1 = float(valley_probabilities(taus)[0])
    f = sp.lambdify(x, U, 'mpmath'); shift = min(f(a1), f(a2))
    m1 = mpmath.quad(lambda y: mpmath.exp(-2 * (f(y) - shift) / T), [-mpmath.inf, a1, b])
    m2 = mpmath.quad(lambda y: mpmath.exp(-2 * (f(y) - shift) / T), [b, a2, mpmath.inf])
    rows.append((T, p1, float(m1 / (m1 + m2))))
    print(f'T={T:<6} P(V1) from escape times={p1:.6f}   exact mass={rows[-1][2]:.6f}')

# %% [markdown]
# ## Ledger verdicts of this notebook's claims

# %%
from IPython.display import Markdown, display
from validation.ledger import claims_markdown
display(Markdown(claims_markdown(['DT.eq7', 'DT.thm3.1', 'DT.thm3.2', 'DT.rule1', 'DT.prop1'], module='validation.checks.escape')))

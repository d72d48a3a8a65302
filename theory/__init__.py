"""Symbolic core (SymPy only): pure functions from expressions to expressions.

Modules, one concept each:

- :mod:`theory.coordinates` — θ as a column, gradients, Hessians, matrix fields.
- :mod:`theory.identity` — exact + high-precision numeric identity checks.
- :mod:`theory.kramers_moyal` — moments/cumulants, SGD step cumulants, KM → FP (SC.eq15/16/23).
- :mod:`theory.fokker_planck` — probability current, FP operator, Langevin form (SC.eq10/11).
- :mod:`theory.effective_potential` — drift field, curl, v(θ,T) (SC.eq5, SC.A1, RND.eq19).
- :mod:`theory.budget` — time budgets (``budget_s``) for the SymPy steps of the entry points.
"""

"""Checks of the claims ledger, one module per theme; discovered by ``validation.ledger``.

Each module registers functions with :func:`validation.ledger.check`; each returns a
:class:`validation.ledger.Verdict` computed by running theory/numerics code.
"""

"""Supports: least squares on a support per output column, and the k largest entries.

Both the output polish (the weights on a fixed support) and the certificate's tightened
multiplier (the least change that meets the optimality conditions on a support) solve
one small system ``G[s_j, s_j] x = b[s_j]`` per output column ``j``
(:class:`SupportLeastSquares`, or :func:`solve_on_support` for a single right-hand side);
:func:`least_squares_on_support` is the unconstrained refit of a layer on a support
(``polish="least_squares"``, the budget search's starts), and :func:`top_k` the
projection on at most ``k`` non-zeros (the support refinement, the budget search).
"""

import numpy as np
from scipy import linalg


def _ridge(gram):
    """A tiny ridge that keeps duplicated inputs solvable."""
    return 1e-10 * max(float(np.trace(gram)) / gram.shape[0], np.finfo(float).tiny)


def _factor(gram, rows, ridge):
    G = gram[np.ix_(rows, rows)]
    G[np.diag_indices_from(G)] += ridge
    return linalg.cho_factor(G, check_finite=False)


class SupportLeastSquares:
    """Least squares restricted to each column's support, through a shared Gram matrix.

    One Cholesky factor of ``G[s_j, s_j]`` per output column ``j``, kept and reused for
    every right-hand side (the output polish solves many). For one right-hand side use
    :func:`solve_on_support`, which holds one factor at a time: on dense supports all
    factors together are ``n_outputs`` matrices of ``n_weights^2`` (1.5 GB on MNIST's
    784x300 first layer).
    """

    def __init__(self, gram, support):
        ridge = _ridge(gram)
        self.shape = support.shape
        self.factors = []
        for rows in support.T:
            rows = np.flatnonzero(rows)
            self.factors.append((rows, _factor(gram, rows, ridge) if rows.size else None))

    def solve(self, rhs):
        """``U`` (zero off the support) with ``G[s_j, s_j] U[s_j, j] = rhs[s_j, j]``."""
        U = np.zeros(self.shape)
        for j, (rows, factor) in enumerate(self.factors):
            if rows.size:
                U[rows, j] = linalg.cho_solve(factor, rhs[rows, j], check_finite=False)
        return U


def solve_on_support(gram, support, rhs):
    """``SupportLeastSquares(gram, support).solve(rhs)``, one column's factor at a time."""
    ridge = _ridge(gram)
    U = np.zeros(support.shape)
    for j, rows in enumerate(support.T):
        rows = np.flatnonzero(rows)
        if rows.size:
            U[rows, j] = linalg.cho_solve(_factor(gram, rows, ridge), rhs[rows, j],
                                          check_finite=False)
    return U


def least_squares_on_support(program, U):
    """Least squares on the support of ``U`` (and the intercept row) to the original
    pre-activations: ``Y`` on Omega and ``min(A W, 0)`` on Omega^c for a ReLU layer,
    the targets of a linear one. No constraint is enforced."""
    support = np.asarray(U) != 0
    support[-1] = True
    A = program.A
    targets = (program.Y if program.kind == "linear"
               else np.where(program.omega, program.Y, np.minimum(A @ program.W, 0)))
    return solve_on_support(A.T @ A, support, A.T @ targets).astype(program.dtype, copy=False)


def top_k(X, budgeted, k):
    """``X`` with all but the ``k`` largest |entries| among ``budgeted`` set to zero."""
    out = X * ~budgeted
    values = np.abs(X[budgeted])
    if k > 0:
        keep = np.zeros(values.size, dtype=bool)
        keep[np.argpartition(-values, min(k, values.size) - 1)[:k]] = True
        chosen = np.zeros(X.shape, dtype=bool)
        chosen[budgeted] = keep
        out[chosen] = X[chosen]
    return out

"""Least squares on a support per output column, through one shared Gram matrix.

Both the output polish (the weights on a fixed support) and the certificate's tightened
multiplier (the least change that meets the optimality conditions on a support) solve
one small system ``G[s_j, s_j] x = b[s_j]`` per output column ``j``.
"""

import numpy as np
from scipy import linalg


class SupportLeastSquares:
    """Least squares restricted to each column's support, through a shared Gram matrix.

    One Cholesky factor of ``G[s_j, s_j]`` per output column ``j`` (a tiny ridge keeps
    duplicated inputs solvable), reused for every right-hand side.
    """

    def __init__(self, gram, support):
        ridge = 1e-10 * max(float(np.trace(gram)) / gram.shape[0], np.finfo(float).tiny)
        self.shape = support.shape
        self.factors = []
        for rows in support.T:
            rows = np.flatnonzero(rows)
            if rows.size == 0:
                self.factors.append((rows, None))
                continue
            G = gram[np.ix_(rows, rows)]
            G[np.diag_indices_from(G)] += ridge
            self.factors.append((rows, linalg.cho_factor(G, check_finite=False)))

    def solve(self, rhs):
        """``U`` (zero off the support) with ``G[s_j, s_j] U[s_j, j] = rhs[s_j, j]``."""
        U = np.zeros(self.shape)
        for j, (rows, factor) in enumerate(self.factors):
            if rows.size:
                U[rows, j] = linalg.cho_solve(factor, rhs[rows, j], check_finite=False)
        return U

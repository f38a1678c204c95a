"""Safeguarded Anderson acceleration of a fixed-point iteration ``x <- T(x)``.

The ADMM of a layer is the Douglas-Rachford fixed-point iteration on its pre-prox points
(see :mod:`.admm`). Anderson acceleration (type II, Walker and Ni 2011; for ADMM/DRS Fu,
Zhang and Boyd 2020, "Anderson accelerated Douglas-Rachford splitting") extrapolates from
the last few iterates: with residuals ``g = T(x) - x`` it takes the combination of the
recent ``T(x)`` whose residual combination is smallest in least squares. The safeguard
(as in SCS) accepts an extrapolated point only if the residual it leads to is no larger
than the one before it; otherwise the plain step is taken from where it was left.

Vectors are flat float32/float64 buffers; the history costs ``2 * memory`` of them and
each step two passes over the history (one fused product for the new inner products, one
for the combination).
"""

import numpy as np


class AndersonAccelerator:
    """Type-II Anderson acceleration with a residual safeguard and Tikhonov regularisation.

    Parameters
    ----------
    size : int
        Length of the flat iterate.
    memory : int
        Number of past differences used (the least-squares problem's size).
    dtype : dtype
        Precision of the stored differences (the small Gram matrix is float64).
    regularization : float
        Ridge added to the Gram matrix, relative to its largest diagonal entry: keeps
        the extrapolation weights bounded when the differences are nearly dependent.
    """

    def __init__(self, size, memory, dtype, regularization=1e-8):
        self.memory = memory
        self.regularization = regularization
        self.dG = np.zeros((memory, size), dtype=dtype)
        self.dF = np.zeros((memory, size), dtype=dtype)
        self.gram = np.zeros((memory, memory))
        self.n_accepted = self.n_rejected = 0
        self.reset()

    def reset(self):
        """Forget the history (the map changed, e.g. a new ADMM penalty)."""
        self.count = 0  # differences stored
        self.head = 0  # next slot of the ring buffer
        self.prev_g = self.prev_f = None
        self.fallback = None  # the plain step to return to if an extrapolation fails
        self.last_norm = np.inf

    def step(self, x, fx):
        """The next iterate from ``x`` and ``fx = T(x)``: extrapolated, plain, or a fallback.

        Returns ``(next_x, accepted)``; ``next_x`` is a new array (``x`` and ``fx`` are
        not kept by reference).
        """
        g = fx - x
        norm = float(np.sqrt(np.dot(g, g)))
        if self.fallback is not None:
            # x was an extrapolated point: keep it only if its residual did not grow.
            if norm > self.last_norm:
                self.n_rejected += 1
                back = self.fallback
                self.reset()
                return back, False
            self.n_accepted += 1
        if self.prev_g is not None:
            slot = self.head
            np.subtract(g, self.prev_g, out=self.dG[slot])
            np.subtract(fx, self.prev_f, out=self.dF[slot])
            self.head = (self.head + 1) % self.memory
            self.count = min(self.count + 1, self.memory)
            live = self._live()
            # One pass over the history: the new row of the Gram matrix and the rhs.
            products = self.dG[live] @ np.stack([self.dG[slot], g]).T
            products = products.astype(np.float64)
            self.gram[slot, live] = products[:, 0]
            self.gram[live, slot] = products[:, 0]
            rhs = products[:, 1]
        self.prev_g, self.prev_f = g, fx.copy()
        self.last_norm = norm
        if self.count == 0:
            self.fallback = None
            return fx.copy(), True
        live = self._live()
        M = self.gram[np.ix_(live, live)].copy()
        ridge = self.regularization * max(float(np.max(np.diag(M))), np.finfo(float).tiny)
        M[np.diag_indices_from(M)] += ridge
        try:
            gamma = np.linalg.solve(M, rhs)
        except np.linalg.LinAlgError:
            self.reset()
            return fx.copy(), True
        extrapolated = fx - (gamma.astype(fx.dtype) @ self.dF[live])
        self.fallback = self.prev_f
        return extrapolated, True

    def _live(self):
        return np.arange(self.count) if self.count < self.memory else np.arange(self.memory)

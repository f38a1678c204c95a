"""Batched ADMM for one layer's Net-Trim program (the authors' splitting).

Variables, all of them matrices so that every neuron of the layer is solved at once::

    minimize ||S||_1 + indicator_C(Z)   subject to   A U = Z,   U = S

``Z`` (n_samples x n_outputs) is projected onto the constraint set (the Frobenius ball
around ``Y`` on Omega, clipping to ``<= V`` on Omega^c), ``S`` is soft-thresholded and
``U`` is a ridge-like least-squares step. With the same penalty ``rho`` on both
constraints (``kappa`` weighs the second), the U-step matrix ``A^T A + kappa I`` does not
depend on ``rho``: it is inverted once per layer and the penalty can still adapt.
"""

import numpy as np
from scipy import linalg

NAME = "admm"


def _ball_projection(D, center, radius, mask=None):
    """Project ``D`` (on ``mask``) onto the Frobenius ball of ``radius`` around ``center``."""
    diff = D - center
    if mask is not None:
        diff = np.where(mask, diff, 0)
    norm = float(np.linalg.norm(diff))
    if norm > radius:
        # radius == 0 and norm == 0 never get here: no 0/0.
        diff *= radius / norm
    return center + diff


class _ReluSet:
    """Omega: ball around Y; Omega^c: clip to <= V."""

    def __init__(self, Y, omega, V, radius):
        self.Y, self.omega, self.radius = Y, omega, radius
        self.V = np.zeros_like(Y) if V is None else V

    def project(self, D):
        inside = _ball_projection(D, self.Y, self.radius, self.omega)
        return np.where(self.omega, inside, np.minimum(D, self.V))


class _BallSet:
    """All entries: ball around T (the QR-reduced linear program)."""

    def __init__(self, T, radius):
        self.T, self.radius = T, radius

    def project(self, D):
        return _ball_projection(D, self.T, self.radius)


def _inverse_spd(G):
    """Inverse of a symmetric positive definite matrix through its Cholesky factor.

    The U-step then is one GEMM per iteration: on small layers this beats triangular
    solves by a wide margin when numpy's and scipy's BLAS pools both run threads.
    """
    c, low = linalg.cho_factor(G, lower=True, check_finite=False)
    inv = linalg.cho_solve((c, low), np.eye(G.shape[0], dtype=G.dtype), check_finite=False)
    return (inv + inv.T) / 2


def _soft_threshold(X, thresholds):
    """Row-wise soft thresholding (a zero threshold leaves the row untouched)."""
    return np.sign(X) * np.maximum(np.abs(X) - thresholds, 0)


def solve(program, *, warm_start=None, max_iter=2000, tol=1e-3, rho=None,
          adaptive_rho=True, check_every=10):
    """Solve ``program`` with batched ADMM.

    Parameters
    ----------
    program : LayerProgram
    warm_start : ndarray of shape program.shape or None
        Starting weights (default: the trained weights, which are feasible).
    max_iter : int
        Iteration cap; reaching it returns ``converged=False``.
    tol : float
        Relative tolerance on the primal and dual residuals (both must pass).
    rho : float or None
        Initial penalty; ``None`` picks one from the scale of the weights.
    adaptive_rho : bool
        Residual balancing (Boyd et al. 2011, section 3.4.1).
    check_every : int
        Residuals cost an extra product with ``A``; they are measured every few iterations.

    Returns
    -------
    weights, n_iter, converged, message, extra : the sparse ``S`` iterate (exact zeros),
    the iteration count, whether both residuals passed, a text and diagnostics.
    """
    dtype = program.dtype
    if program.kind == "linear":
        A, T, radius = program.linear_reduction()
        if np.isnan(radius):
            return (program.W.copy(), 0, False,
                    "infeasible: the targets are farther than eps_abs from the range of A", {})
        cset = _BallSet(T.astype(dtype, copy=False), radius)
    else:
        A = program.A
        cset = _ReluSet(program.Y, program.omega, program.V, program.eps_abs)
    # Equilibrate: unit-norm columns of A (U scaled inversely, the l1 weights become the
    # column scales). Layer inputs differ in scale by orders of magnitude; this is what
    # keeps one penalty good for every row.
    col_norms = np.sqrt(np.einsum("ij,ij->j", A, A))
    col_norms[col_norms == 0] = 1.0
    d = (1.0 / col_norms).astype(dtype)
    A = (A * d).astype(dtype, copy=False)
    n_rows = A.shape[1]
    l1_weights = d.copy()
    if not program.penalize_intercept:
        l1_weights[-1] = 0

    gram = A.T @ A
    kappa = 1.0
    gram[np.diag_indices_from(gram)] += kappa
    G_inv = _inverse_spd(gram).astype(dtype, copy=False)

    U = (program.W if warm_start is None else np.asarray(warm_start)).astype(dtype, copy=True)
    U /= d[:, None]
    S = U.copy()
    Z = cset.project(A @ U)
    Lz = np.zeros_like(Z)
    Ls = np.zeros_like(U)
    if rho is None:
        # Row i is thresholded at w_i / (rho kappa); start near a tenth of the typical
        # trained weight of each row.
        W_n = np.abs(program.W[:-1]) / d[:-1, None]
        typical = np.mean(W_n, axis=1)
        ok = typical > 0
        rho = float(np.median(d[:-1][ok] / (0.1 * kappa * typical[ok]))) if ok.any() else 1.0
    rho0 = rho
    thresholds = (l1_weights / kappa)[:, None].astype(dtype)
    converged = False
    r_norm = s_norm = np.inf
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        U = G_inv @ (A.T @ (Z - Lz) + kappa * (S - Ls))
        AU = A @ U
        measure = n_iter % check_every == 0 or n_iter == max_iter
        if measure:
            Z_old, S_old = Z, S
        Z = cset.project(AU + Lz)
        S = _soft_threshold(U + Ls, thresholds / rho)
        Rz = AU - Z
        Rs = U - S
        Lz += Rz
        Ls += Rs
        if not measure:
            continue
        r_norm = np.sqrt(np.vdot(Rz, Rz) + kappa * np.vdot(Rs, Rs))
        both = A.T @ np.hstack([Z - Z_old, Lz])
        m = Z.shape[1]
        s_norm = rho * float(np.linalg.norm(both[:, :m] + kappa * (S - S_old)))
        eps_pri = tol * max(np.sqrt(np.vdot(AU, AU) + kappa * np.vdot(U, U)),
                            np.sqrt(np.vdot(Z, Z) + kappa * np.vdot(S, S)), 1e-30)
        # U carries no cost, so A^T y_z + kappa y_s -> 0 at the optimum and Boyd's
        # relative dual scale degenerates (it equals the dual residual itself); the two
        # terms' own sizes are the scale instead.
        eps_dual = tol * rho * max(float(np.linalg.norm(both[:, m:])),
                                   kappa * float(np.linalg.norm(Ls)), 1e-30)
        if r_norm <= eps_pri and s_norm <= eps_dual:
            converged = True
            break
        if adaptive_rho and n_iter % (5 * check_every) == 0:
            # Balance the relative residuals, within [rho0 / 16, 16 rho0]: unbounded
            # balancing was seen to drive rho to 1e-15 and diverge on real layers.
            ratio = (r_norm / eps_pri) / (s_norm / eps_dual)
            if ratio > 10 and rho < 16 * rho0:
                rho *= 2
                Lz /= 2
                Ls /= 2
            elif ratio < 0.1 and rho > rho0 / 16:
                rho /= 2
                Lz *= 2
                Ls *= 2
    message = "converged" if converged else (
        f"stopped at max_iter={max_iter}: primal residual {float(r_norm):.3g},"
        f" dual residual {float(s_norm):.3g}")
    return S * d[:, None], n_iter, converged, message, {"rho": rho}

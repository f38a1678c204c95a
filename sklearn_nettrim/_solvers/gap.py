"""Certified optimality gap of a layer program from any multiplier (the dual of the program).

The layer program is ``min P(U) s.t. A U in C``. With the Lagrangian
``P(U) + <Lambda, A U - Z>`` over ``Z in C`` its dual is::

    max  -sigma_C(Lambda)   subject to   P°(A^T Lambda) <= 1

(``P°`` the dual norm of the penalty; an unpenalised intercept row forces
``(A^T Lambda)_last = 0``). For the ReLU set ``C = {||Z_Omega - Y_Omega|| <= eps,
Z_Omega^c <= V}``::

    sigma_C(Lambda) = <Lambda_Omega, Y_Omega> + eps ||Lambda_Omega||_F + <Lambda_Omega^c, V>

finite only where ``Lambda >= 0`` on Omega^c; for the linear ball (full, or QR-reduced
``||R U - T|| <= eps'``, which has the same optimum) ``sigma = <Lambda, T> + eps ||Lambda||``.
Every dual-feasible ``Lambda`` gives ``-sigma_C(Lambda) <= P(U*)``: a lower bound that
needs no trust in the solver. The ADMM's scaled multiplier ``rho * Lz`` tends to an optimal
``Lambda``; :func:`dual_bound` makes any candidate feasible (clip to ``>= 0`` on Omega^c,
remove the intercept component on Omega, scale every output column by at most the inverse
of its own dual norm when the penalty is separable over columns (l1), all of them by one
factor otherwise) and evaluates the best such scaling.

The relative gap ``(P(U) - bound) / P(U)`` of a returned ``U`` bounds its true relative
distance to the optimum, up to one caveat stated honestly: ``U`` meets the constraints only
to the solver's tolerance (relative violation <= ``tol``), so ``P(U)`` may sit slightly
BELOW the optimum of the exact program; the gap then still bounds ``P(U) - P*`` from above.
"""

import numpy as np

from .support import solve_on_support


def _intercept_free_only(penalty, shape):
    """Whether the penalty's free entries are exactly the last row (or none)."""
    free = np.asarray(penalty.free_mask(shape))
    if not free.any():
        return True, False
    rows_free = free.all(axis=1)
    return bool(free[:-1].sum() == 0 and rows_free[-1]), True


def dual_bound(A, targets, radius, penalty, Lam, *, omega=None, V=None):
    """A lower bound on the optimum of ``min P(U) s.t. A U in C`` from a multiplier ``Lam``.

    Parameters
    ----------
    A : ndarray of shape (n_rows, n_weights)
        The program's matrix, intercept column last (``[X, 1]``, equilibrated, or the
        QR factor ``R`` of a linear program).
    targets : ndarray of shape (n_rows, n_outputs)
        ``Y`` (ReLU) or ``T`` / ``Z`` (linear).
    radius : float
        ``eps_abs`` of the ball.
    penalty : penalty object
        The penalty of the variables ``A`` multiplies (scaled if ``A`` is equilibrated).
    Lam : ndarray of shape (n_rows, n_outputs)
        Any multiplier of ``A U = Z``; made dual feasible here (a copy).
    omega, V : ndarray or None
        The ReLU program's Omega mask and ``V`` (``None``: a linear ball, or ``V = 0``).

    Returns
    -------
    bound : float
        ``-sigma_C`` at the feasible point, floored at 0 (``P >= 0``); ``-inf`` when the
        penalty's zero weights are not an intercept row (this construction does not cover
        that: no certificate).
    """
    ok, free_intercept = _intercept_free_only(penalty, (A.shape[1], Lam.shape[1]))
    if not ok:
        return -np.inf
    Lam = np.array(Lam, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    if omega is not None:
        on = np.asarray(omega, dtype=bool)
        np.maximum(Lam, 0, out=Lam, where=~on)
    else:
        on = None
    if free_intercept:
        # (A^T Lam)_last = a^T Lam_j = 0 per output, a the intercept column; fixed on Omega
        # (Lam is free there), by a multiple of a restricted to Omega.
        a = np.asarray(A[:, -1], dtype=np.float64)
        c = a @ Lam
        if on is None:
            Lam -= np.outer(a, c / max(a @ a, np.finfo(float).tiny))
        else:
            a_on = a[:, None] * on
            n = np.einsum("ij,ij->j", a_on, a_on)
            has = n > 0
            Lam -= a_on * np.where(has, c / np.where(has, n, 1), 0)
            # A column without Omega entries can only be fixed by Lam_j = 0 (feasible).
            Lam[:, ~has & (c != 0)] = 0
    G = np.asarray(A.T @ Lam.astype(A.dtype, copy=False), dtype=np.float64)
    if free_intercept:
        G[-1] = 0  # zero in exact arithmetic by the projection above
    # sigma_C(t_j Lam_j) = -sum_j t_j a_j + eps ||(t_j b_j)||: linear terms a_j, norm terms b_j
    if on is None:
        a = -np.einsum("ij,ij->j", Lam, targets)
        b = np.sqrt(np.einsum("ij,ij->j", Lam, Lam))
    else:
        Lam_on = Lam * on
        a = -np.einsum("ij,ij->j", Lam_on, targets)
        b = np.sqrt(np.einsum("ij,ij->j", Lam_on, Lam_on))
        if V is not None:
            a -= np.einsum("ij,ij->j", np.where(on, 0, Lam), np.asarray(V, dtype=np.float64))
    column_norms = getattr(penalty, "column_dual_norms", None)
    caps = None if column_norms is None else column_norms(G)
    if caps is None:  # one scale for all columns: the penalty couples them
        scale = penalty.dual_norm(G)
        if not np.isfinite(scale):
            return 0.0
        caps = np.full(a.shape, np.inf if scale == 0 else 1.0 / scale)
    else:
        with np.errstate(divide="ignore"):
            caps = np.where(np.isfinite(caps), 1.0 / caps, 0.0)
    return max(_best_column_scales(a, b, radius, caps), 0.0)


def _best_column_scales(a, b, radius, caps):
    """``max sum_j t_j a_j - radius ||t * b||`` over ``0 <= t_j <= caps_j``.

    Every ``t`` in the box is dual feasible (each column of Lambda scaled to its own dual
    norm when the penalty is separable over columns), so any candidate is a valid bound.
    The maximiser lies on the path ``t_j = clip(a_j mu / b_j^2, 0, caps_j)`` (stationarity
    with ``mu = ||t * b|| / radius``): evaluated at its breakpoints and a grid between.
    """
    if np.any(np.isinf(caps) & (a > 0) & (b == 0)):
        return np.inf  # a ray of dual points: the primal program is infeasible
    caps = np.where(np.isinf(caps), 0.0, caps) if radius == 0 else caps
    useful = a > 0
    if not useful.any():
        return 0.0
    a, b, caps = a[useful], b[useful], caps[useful]
    with np.errstate(divide="ignore", invalid="ignore"):
        breaks = np.where(b > 0, caps * b ** 2 / a, np.inf)
    finite = breaks[np.isfinite(breaks) & (breaks > 0)]
    if finite.size:
        grid = np.geomspace(finite.min() / 10, finite.max() * 10, 64)
        mus = np.concatenate([finite[: 512], grid, [np.inf]])
    else:
        mus = np.array([np.inf])
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(b > 0, np.clip(a * mus[:, None] / b ** 2, 0, caps), caps)
    t = np.where(np.isfinite(t), t, 0.0)
    t = np.vstack([t, np.full_like(caps, caps.min())])  # one scale for all: also feasible
    with np.errstate(over="ignore", invalid="ignore"):
        # A multiplier near 0 (a dead layer: entries ~1e-23) sends t to ~1e300, where
        # inf - inf is nan: such candidates are skipped (the caller floors the bound at 0).
        values = t @ a - radius * np.sqrt((t * t) @ (b * b))
    values = values[np.isfinite(values)]
    return float(np.max(values)) if values.size else 0.0


def tightened_multiplier(A, gram, S, Lam, weights):
    """``Lam`` corrected to meet the optimality conditions on the support of ``S``.

    At an optimum ``U`` of ``min sum w |u| s.t. A U in C`` a multiplier has
    ``(A^T Lambda)_ij = -w_ij sign(u_ij)`` wherever ``u_ij != 0`` (and ``0`` on free
    entries, ``w_ij = 0``). The ADMM's multiplier converges to one far more slowly than
    its primal iterate converges to ``U``; so per output column the multiplier is moved
    by the least change ``A_s c`` (``s`` the support and free entries of the column)
    that meets those equalities exactly. Any ``Lambda`` gives a valid bound
    (:func:`dual_bound` makes it feasible), so this only sharpens the certificate: on
    digits' second layer at epsilon 0.3 the gap at iteration 150 fell from 3.2% to 0.6%.

    Parameters
    ----------
    A : ndarray of shape (n_rows, n_weights)
    gram : ndarray of shape (n_weights, n_weights)
        ``A^T A`` (float64).
    S : ndarray of shape (n_weights, n_outputs)
        The primal iterate (exact zeros off its support).
    Lam : ndarray of shape (n_rows, n_outputs)
    weights : ndarray broadcastable to S's shape
        The l1 weights (``0`` for free entries).
    """
    weights = np.broadcast_to(np.asarray(weights, dtype=np.float64), S.shape)
    targets = -weights * np.sign(S)
    equal = (S != 0) | (weights == 0)
    residual = np.asarray(A.T @ Lam, dtype=np.float64) - targets
    step = solve_on_support(gram, equal, residual)
    return Lam - (A @ step.astype(A.dtype, copy=False))


def relative_gap(value, bound):
    """``(value - bound) / value`` (0 for a zero objective; ``nan`` without a bound)."""
    if not np.isfinite(bound) or bound < 0:
        return float("nan")
    if value <= 0:
        return 0.0
    return max((value - bound) / value, 0.0)

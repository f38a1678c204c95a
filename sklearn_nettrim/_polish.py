"""Polishing: keep Net-Trim's support, refit the kept weights, stay feasible.

The l1 solve picks which weights survive but also shrinks them. Polishing re-solves each
neuron on its support to get as close to the original outputs as the constraints allow:
a least-squares refit (on Omega for a ReLU neuron), then a step from the l1 solution
towards it that is as long as the clipping constraints on Omega^c permit. The step stays
inside the feasible set and never increases a neuron's residual, so every guarantee of
the l1 solution (the epsilon bound, the cascade bound) still holds.
"""

import numpy as np
from scipy import linalg


def _lstsq(A, b):
    if A.shape[1] == 0:
        return np.zeros(0, dtype=A.dtype)
    return linalg.lstsq(A, b, lapack_driver="gelsy", check_finite=False)[0]


def _largest_step(AU_off, AD_off, V_off):
    """Largest t in [0, 1] with AU + t * AD <= V on the clipped entries."""
    rising = AD_off > 0
    if not np.any(rising):
        return 1.0
    room = (V_off[rising] - AU_off[rising]) / AD_off[rising]
    return float(np.clip(room.min(), 0.0, 1.0))


def polish_on_support(program, U):
    """Return weights with the support of ``U`` that fit the layer's targets best.

    Parameters
    ----------
    program : LayerProgram
    U : ndarray of shape program.shape
        A (nearly) feasible solution, usually the l1 solution.
    """
    U = np.array(U, dtype=program.dtype, copy=True)
    support = U != 0
    if not program.penalize_intercept:
        support[-1] = True
    if program.kind == "linear":
        A, T, _ = program.linear_reduction()
        for m in range(U.shape[1]):
            rows = support[:, m]
            U[~rows, m] = 0
            U[rows, m] = _lstsq(A[:, rows], T[:, m])
        return U
    A, Y, V = program.A, program.Y, program.upper_bound()
    for m in range(U.shape[1]):
        rows = support[:, m]
        on = program.omega[:, m]
        if not rows.any() or not on.any():
            continue
        A_s = A[:, rows]
        target = _lstsq(A_s[on], Y[on, m])
        delta = target - U[rows, m]
        off = ~on
        step = 1.0
        if off.any():
            step = _largest_step(A_s[off] @ U[rows, m], A_s[off] @ delta, V[off, m])
        U[rows, m] += step * delta
    return U

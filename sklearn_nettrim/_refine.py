"""Support refinement: choose each layer's support again at the same size, keep the guarantee.

The l1 solve decides which weights survive; ``polish="output"`` then refits them. At a
given number of non-zeros that support is not the best one for the layer's outputs.
``polish="refine"`` searches for a better one at the SAME per-layer nnz, for the loss the
output polish minimises::

    f(U) = 1/2 ||(A U - Y) on Omega||^2 + 1/2 ||max(A U, 0) on Omega^c||^2

(for a linear layer ``1/2 ||A U - Z||^2``), by ADMM on ``U = D`` with ``D`` projected on
{at most k non-zeros} (ALPS, Meng et al. 2024): the penalty ``rho`` grows geometrically
until the support settles. Each U-step minimises the least-squares majoriser of ``f`` at
the current point (the squared hinge is majorised by least squares to
``min(A U_prev, 0)`` on Omega^c), so every step is ``(A^T A + rho I)^{-1}`` applied to a
right-hand side: one eigendecomposition of ``A^T A`` per layer serves every ``rho``, all
neurons at once. The support found is then refitted by the output polish.

The answer is kept only if its MEASURED output error is within the layer's output bound
and its loss is below that of the output polish on Net-Trim's own support; otherwise the
layer is the output polish of the l1 solution. Either way the layer keeps its output
bound and never more non-zeros than the l1 solution.
"""

import numpy as np
from scipy import linalg

from ._penalties import L1
from ._polish import polish_outputs, relu_output_loss
from ._solvers.admm import blas_threads
from ._solvers.support import top_k

#: ADMM of the refinement: iteration cap, the first ``rho`` relative to the mean
#: eigenvalue of the equilibrated ``A^T A`` (1), its growth every ``RHO_EVERY``
#: iterations, and the stopping test (no support change over those iterations and
#: ``||U - D|| <= SETTLED_TOL ||D||``). Measured on the MNIST-5k 784x300 layer at
#: epsilon 0.3 (23695 non-zeros; output loss of the output polish on Net-Trim's support
#: 12883): starting at rho 10, 1 or 0.1 gave 10884, 7857, 4650 (a small start lets the
#: support move far from the l1 solution's), at 0.01 4044; growing by 1.1 instead of
#: 1.2-1.3 3831 (150 iterations, 9 s), by 1.05 3782 (285 iterations).
MAX_ITER = 300
RHO_START = 0.01
RHO_EVERY = 3
RHO_GROWTH = 1.1
SETTLED_TOL = 1e-3


def output_loss(program, U):
    """The loss the output polish and the refinement minimise (see the module docstring)."""
    AU = program.A @ np.asarray(U, dtype=program.dtype)
    if program.kind == "linear":
        return 0.5 * float(np.sum((AU - program.Y) ** 2, dtype=np.float64))
    return relu_output_loss(AU, program.Y, program.omega)


def budget_mask(program, U, budget=None):
    """``(allowed, budgeted, k)``: where refined weights may be non-zero, which of them
    count against the budget, and the budget: the l1 solution's count there, or
    ``budget`` when that is larger (a target size's share the l1 solution left unused).

    The intercept row is free unless the penalty counts it. With an l1 penalty any entry
    may enter the support; with a group penalty only the rows the l1 solution kept, so
    the units it removed stay removed.
    """
    U = np.asarray(U)
    budgeted = np.ones(U.shape, dtype=bool)
    if not program.penalize_intercept:
        budgeted[-1] = False
    allowed = np.ones(U.shape, dtype=bool)
    if not isinstance(program.penalty, L1):
        allowed &= np.any(U != 0, axis=1)[:, None]
        allowed[-1] = True
    k = int(np.count_nonzero(U[budgeted]))
    if budget is not None:
        k = max(k, min(int(budget), int(np.count_nonzero(budgeted & allowed))))
    return allowed, budgeted & allowed, k


def refine_support(program, U, *, budget=None, max_iter=MAX_ITER, rho_start=RHO_START,
                   compute_dtype=np.float32):
    """A support of the same size as ``U``'s (or ``budget``) with a smaller output loss.

    Returns the ADMM's sparse iterate (not yet polished on its support) and its number
    of iterations. See the module docstring.
    """
    allowed, budgeted, k = budget_mask(program, U, budget)
    if program.kind == "linear":
        A, T, _ = program.linear_reduction()
        omega = None
    else:
        A, T, omega = program.A, program.Y, program.omega
    dtype = np.promote_types(compute_dtype, np.float32)
    col_norms = np.sqrt(np.einsum("ij,ij->j", A, A))
    col_norms[col_norms == 0] = 1.0
    d = 1.0 / col_norms
    A = (A * d).astype(np.float64, copy=False)
    eigenvalues, Q = linalg.eigh(A.T @ A, check_finite=False)
    eigenvalues = np.maximum(eigenvalues, 0)
    Q = Q.astype(dtype)
    A = A.astype(dtype)
    if omega is None:
        rhs_fixed = A.T @ T.astype(dtype)
    else:
        on = omega.astype(dtype)
        off = (~omega).astype(dtype)
        rhs_fixed = A.T @ (T.astype(dtype) * on)
    U = (np.asarray(U, dtype=dtype) / d[:, None].astype(dtype)) * allowed
    D = top_k(U, budgeted, k)
    L = np.zeros_like(U)
    support = D != 0
    rho = rho_start
    n_iter = changed = 0
    for n_iter in range(1, max_iter + 1):
        rhs = rhs_fixed + rho * (D - L)
        if omega is not None:
            # Majorise the squared hinge at U: least squares to min(A U, 0) on Omega^c.
            rhs += A.T @ (np.minimum(A @ U, 0) * off)
        U = Q @ ((Q.T @ rhs) / (eigenvalues + rho).astype(dtype)[:, None])
        U *= allowed
        D = top_k(U + L, budgeted, k)
        L += U - D
        new_support = D != 0
        changed += int(np.count_nonzero(new_support != support))
        support = new_support
        if n_iter % RHO_EVERY == 0:
            gap = float(np.linalg.norm(U - D)) / max(float(np.linalg.norm(D)), 1e-30)
            if changed == 0 and gap <= SETTLED_TOL:
                break
            changed = 0
            rho *= RHO_GROWTH
            L /= RHO_GROWTH  # the scaled dual of the same multiplier
    return (D * d[:, None]).astype(program.dtype), n_iter


def refine_layer(program, U_l1, budget=None, **options):
    """``polish="refine"`` for one layer: ``(weights, accepted, info)``.

    The refined support, polished by :func:`~._polish.polish_outputs`, is accepted if its
    measured output error is within ``program.output_bound()`` and its output loss below
    that of the output polish on the l1 solution's support, which is returned otherwise.

    ``budget``: the number of non-zeros the layer may keep when that is more than the l1
    solution's. A target size uses it in cascade mode, where a layer's tolerance cannot
    go below what the original weights achieve on the pruned input: at that floor the
    sparsest weights can keep fewer than the layer's share, and the refinement spends
    the rest on a smaller output error (the output bound still holds: it is checked).
    """
    with blas_threads(program):  # one BLAS thread for small layers: no spinning threads
        return _refine_layer(program, U_l1, budget, **options)


def _refine_layer(program, U_l1, budget, **options):
    fallback = polish_outputs(program, U_l1)
    refined, n_iter = refine_support(program, fallback, budget=budget, **options)
    refined = polish_outputs(program, refined)
    loss_fallback, loss_refined = output_loss(program, fallback), output_loss(program, refined)
    check = program.check(refined)
    _, budgeted, k = budget_mask(program, U_l1, budget)
    accepted = (check.output_error <= program.output_bound()
                and loss_refined < loss_fallback
                and int(np.count_nonzero(refined[budgeted])) <= k)
    info = {"refine_iter": n_iter, "loss_output_polish": loss_fallback,
            "loss_refined": loss_refined}
    return (refined if accepted else fallback), accepted, info

"""Penalties of the layer program: value, prox, dual norm and cvxpy form, in one object.

The ADMM only ever calls a penalty (its S-step is the penalty's prox), the certified gap
only needs its dual norm, and the cvxpy reference builds the same objective from it, so
a new penalty is one class here, not a flag threaded through the solvers (the design of
skglm's penalty objects). Weights ``U`` have the intercept as their LAST row.

Every penalty is separable over the rows of ``U`` (one input unit's outgoing weights)
with non-negative weights, which is what the solvers rely on: zero rows for inputs that
never fire and zero columns for neurons that never fire stay optimal.

The ADMM iterates on equilibrated variables ``X = U / d[:, None]`` (rows scaled); it
calls ``penalty.scaled(d)``, the penalty of those variables: ``Q(X) = P(d[:, None] * X)``.
"""

import numpy as np

__all__ = ["L1", "GroupL1", "SparseGroupL1", "SupportMask", "make_penalty",
           "reweighted_penalty"]


def _check_weights(weights, name):
    weights = np.asarray(weights, dtype=np.float64)
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError(f"{name} weights must be finite and >= 0.")
    return weights


def _row_norms(X):
    """Euclidean norm of every row, accumulated in float64."""
    return np.sqrt(np.einsum("ij,ij->i", X, X, dtype=np.float64))


def _block_shrink(X, norms, thresholds):
    """Rows of ``X`` shrunk by ``thresholds`` in Euclidean norm (0 when below)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(norms > thresholds, 1 - thresholds / norms, 0.0)
    factor[thresholds == 0] = 1.0
    return X * factor.astype(X.dtype, copy=False)[:, None]


class L1:
    """Weighted l1 norm ``sum_ij w_ij |u_ij|``, Net-Trim's penalty.

    Parameters
    ----------
    weights : None or ndarray broadcastable to the weights' shape
        ``None`` means all ones; an array of shape ``(n_rows, n_outputs)`` gives one weight
        per entry (reweighted l1: ``1 / (|u| + delta)``), ``(n_rows, 1)`` one per row.
    penalize_intercept : bool, default=False
        If False, the intercept (last) row gets weight 0 whatever ``weights`` says.
    """

    def __init__(self, weights=None, penalize_intercept=False):
        self.weights = None if weights is None else _check_weights(weights, "L1")
        if self.weights is not None and self.weights.ndim != 2:
            raise ValueError(f"L1 weights must be 2-dimensional, got shape"
                             f" {self.weights.shape}.")
        self.penalize_intercept = bool(penalize_intercept)

    def weight_array(self, n_rows):
        """The effective weights, shape ``(n_rows, 1)`` or ``(n_rows, n_outputs)``."""
        w = np.ones((n_rows, 1)) if self.weights is None else self.weights.copy()
        if w.shape[0] != n_rows:
            raise ValueError(f"L1 weights have {w.shape[0]} rows, the weights {n_rows}.")
        if not self.penalize_intercept:
            w[-1] = 0
        return w

    def value(self, U):
        U = np.asarray(U)
        return float(np.sum(self.weight_array(U.shape[0]) * np.abs(U), dtype=np.float64))

    def prox(self, X, step):
        """Soft thresholding at ``step * w`` (two passes: ``X - clip(X, -t, t)``)."""
        t = (step * self.weight_array(X.shape[0])).astype(X.dtype, copy=False)
        return X - np.clip(X, -t, t)

    def scaled(self, d):
        return L1(self.weight_array(len(d)) * np.asarray(d, dtype=np.float64)[:, None],
                  penalize_intercept=True)

    def restrict(self, rows, cols):
        if self.weights is None:
            return self
        w = self.weights[rows]
        w = w[:, cols] if w.shape[1] > 1 else w
        return L1(w, penalize_intercept=self.penalize_intercept)

    def free_mask(self, shape):
        """Entries that cost nothing (their dual constraint is ``(A^T Lambda)_ij = 0``)."""
        return np.broadcast_to(self.weight_array(shape[0]) == 0, shape)

    def dual_norm(self, G):
        """``max_ij |G_ij| / w_ij``; infinite if ``G`` is non-zero where ``w = 0``."""
        G = np.abs(np.asarray(G, dtype=np.float64))
        w = np.broadcast_to(self.weight_array(G.shape[0]), G.shape)
        free = w == 0
        if np.any(G[free] > 0):
            return np.inf
        return float(np.max(G[~free] / w[~free], initial=0.0))

    def column_dual_norms(self, G):
        """The dual norm of every column: the l1 norm is separable over output columns, so
        the certified gap may scale each column of a dual point by its own."""
        G = np.abs(np.asarray(G, dtype=np.float64))
        w = np.broadcast_to(self.weight_array(G.shape[0]), G.shape)
        free = w == 0
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(free, np.where(G > 0, np.inf, 0.0), G / np.where(free, 1, w))
        return np.max(ratio, axis=0, initial=0.0)

    def row_scale(self, n_rows, n_outputs=1):
        """Per-row threshold of the prox at unit step, per entry (sets the ADMM's penalty)."""
        return np.mean(self.weight_array(n_rows), axis=1)

    def subgradient_norm(self, shape):
        """Frobenius norm of a subgradient at a dense point."""
        return float(np.linalg.norm(np.broadcast_to(self.weight_array(shape[0]), shape)))

    def cvxpy_expr(self, U):
        import cvxpy as cp

        w = np.broadcast_to(self.weight_array(U.shape[0]), U.shape)
        return cp.sum(cp.multiply(w, cp.abs(U)))

    def cvxpy_constraints(self, U):
        return []

    def __repr__(self):
        w = "None" if self.weights is None else f"array{self.weights.shape}"
        return f"L1(weights={w}, penalize_intercept={self.penalize_intercept})"


class GroupL1:
    """Row-group norm ``sum_i w_i ||u_i||_2``: whole input units drop out.

    The default weights are 1 (no ``sqrt(n_outputs)`` factor: every row of a layer has the
    same length, and a constant factor on the objective does not change the solution of
    the constrained program).

    Parameters
    ----------
    weights : None or ndarray of shape (n_rows,)
        One weight per row (input unit, intercept last).
    penalize_intercept : bool, default=False
        If False, the intercept row gets weight 0.
    """

    def __init__(self, weights=None, penalize_intercept=False):
        self.weights = None if weights is None else _check_weights(weights, "GroupL1")
        if self.weights is not None and self.weights.ndim != 1:
            raise ValueError(f"GroupL1 weights must have shape (n_rows,), got"
                             f" {self.weights.shape}.")
        self.penalize_intercept = bool(penalize_intercept)

    def weight_array(self, n_rows):
        w = np.ones(n_rows) if self.weights is None else self.weights.copy()
        if w.shape[0] != n_rows:
            raise ValueError(f"GroupL1 weights have {w.shape[0]} rows, the weights {n_rows}.")
        if not self.penalize_intercept:
            w[-1] = 0
        return w

    def value(self, U):
        U = np.asarray(U)
        return float(self.weight_array(U.shape[0]) @ _row_norms(U))

    def prox(self, X, step):
        """Block soft thresholding of every row at ``step * w_i``."""
        return _block_shrink(X, _row_norms(X), step * self.weight_array(X.shape[0]))

    def scaled(self, d):
        return GroupL1(self.weight_array(len(d)) * np.asarray(d, dtype=np.float64),
                       penalize_intercept=True)

    def restrict(self, rows, cols):
        if self.weights is None:
            return self
        return GroupL1(self.weights[rows], penalize_intercept=self.penalize_intercept)

    def free_mask(self, shape):
        return np.broadcast_to((self.weight_array(shape[0]) == 0)[:, None], shape)

    def dual_norm(self, G):
        """``max_i ||G_i||_2 / w_i``; infinite if a row with ``w_i = 0`` is non-zero."""
        norms = _row_norms(np.asarray(G, dtype=np.float64))
        w = self.weight_array(norms.shape[0])
        free = w == 0
        if np.any(norms[free] > 0):
            return np.inf
        return float(np.max(norms[~free] / w[~free], initial=0.0))

    def row_scale(self, n_rows, n_outputs=1):
        return self.weight_array(n_rows) / np.sqrt(n_outputs)

    def subgradient_norm(self, shape):
        return float(np.linalg.norm(self.weight_array(shape[0])))

    def cvxpy_expr(self, U):
        import cvxpy as cp

        return cp.sum(cp.multiply(self.weight_array(U.shape[0]), cp.norm(U, 2, axis=1)))

    def cvxpy_constraints(self, U):
        return []

    def __repr__(self):
        w = "None" if self.weights is None else f"array{self.weights.shape}"
        return f"GroupL1(weights={w}, penalize_intercept={self.penalize_intercept})"


class SparseGroupL1:
    """``sum_i w_i ((1 - alpha) ||u_i||_2 + alpha sum_j v_ij |u_ij|)``: sparse rows, fewer units.

    Its prox is soft thresholding at ``step * alpha * w_i * v_ij`` followed by block soft
    thresholding at ``step * (1 - alpha) * w_i`` (exact, closed form: the l2 norm of a row
    is invariant under the entries' signs, so the l1 part's prox may go first whatever its
    per-entry weights).

    Parameters
    ----------
    alpha : float in [0, 1], default=0.5
        Weight of the l1 part (1: :class:`L1`, 0: :class:`GroupL1`).
    weights : None or ndarray of shape (n_rows,)
        One weight per row, for both parts.
    penalize_intercept : bool, default=False
    l1_weights : None or ndarray of shape (n_rows, n_outputs) or (n_rows, 1)
        Per-entry weights ``v_ij`` of the l1 part only (``None``: all ones). What
        reweighting sets (see :func:`reweighted_penalty`); the group part keeps ``weights``.
    """

    def __init__(self, alpha=0.5, weights=None, penalize_intercept=False, l1_weights=None):
        if not 0 <= alpha <= 1:
            raise ValueError(f"alpha must be in [0, 1], got {alpha!r}.")
        self.alpha = float(alpha)
        self.group = GroupL1(weights, penalize_intercept)
        self.weights = self.group.weights
        self.penalize_intercept = bool(penalize_intercept)
        self.l1_weights = (None if l1_weights is None
                           else _check_weights(l1_weights, "SparseGroupL1 l1"))
        if self.l1_weights is not None and self.l1_weights.ndim != 2:
            raise ValueError(f"SparseGroupL1 l1_weights must be 2-dimensional, got shape"
                             f" {self.l1_weights.shape}.")

    def _l1_entry_weights(self, n_rows):
        """``alpha * w_i * v_ij``, shape ``(n_rows, 1)`` or ``(n_rows, n_outputs)``."""
        w = self.group.weight_array(n_rows)[:, None]
        if self.l1_weights is not None:
            if self.l1_weights.shape[0] != n_rows:
                raise ValueError(f"SparseGroupL1 l1_weights have {self.l1_weights.shape[0]}"
                                 f" rows, the weights {n_rows}.")
            w = w * self.l1_weights
        return self.alpha * w

    def _parts(self, n_rows):
        w = self.group.weight_array(n_rows)
        return (L1(self._l1_entry_weights(n_rows), penalize_intercept=True),
                GroupL1((1 - self.alpha) * w, penalize_intercept=True))

    def value(self, U):
        l1, group = self._parts(np.shape(U)[0])
        return l1.value(U) + group.value(U)

    def prox(self, X, step):
        l1, group = self._parts(X.shape[0])
        return group.prox(l1.prox(X, step), step)

    def scaled(self, d):
        return SparseGroupL1(self.alpha, self.group.scaled(d).weights, penalize_intercept=True,
                             l1_weights=self.l1_weights)

    def restrict(self, rows, cols):
        if self.weights is None and self.l1_weights is None:
            return self
        v = self.l1_weights
        if v is not None:
            v = v[rows]
            v = v[:, cols] if v.shape[1] > 1 else v
        return SparseGroupL1(self.alpha, None if self.weights is None else self.weights[rows],
                             self.penalize_intercept, l1_weights=v)

    def free_mask(self, shape):
        return self.group.free_mask(shape)

    def dual_norm(self, G, rtol=1e-7):
        """Per row the smallest ``t`` with ``||ST(g_i, t alpha w_i v_i)||_2 <= t (1-alpha) w_i``.

        The dual ball of a row is the Minkowski sum ``(1-alpha) w_i B_2 + alpha w_i
        diag(v_i) B_inf``. Found by bisection on all rows at once; the upper end of the
        bracket is returned, so the value is never below the true dual norm (a certified
        gap stays certified).
        """
        G = np.abs(np.asarray(G, dtype=np.float64))
        w = self.group.weight_array(G.shape[0])
        free = w == 0
        if np.any(G[free] > 0):
            return np.inf
        thresholds = np.broadcast_to(self._l1_entry_weights(G.shape[0]), G.shape)[~free]
        G, w = G[~free], w[~free]
        if G.size == 0:
            return 0.0

        def inside(t):
            shrunk = np.maximum(G - t[:, None] * thresholds, 0)
            return _row_norms(shrunk) <= t * (1 - self.alpha) * w

        # Upper bracket: the l1 part alone (alpha > 0, every entry weighted) or the l2
        # part alone.
        with np.errstate(divide="ignore", invalid="ignore"):
            l1_alone = np.where(G > 0, G / thresholds, 0.0)
        l1_alone = np.nan_to_num(l1_alone, nan=np.inf, posinf=np.inf)
        hi = np.minimum(
            np.max(l1_alone, axis=1, initial=0.0) if self.alpha > 0 else np.inf,
            _row_norms(G) / ((1 - self.alpha) * w) if self.alpha < 1 else np.inf)
        lo = np.zeros_like(hi)
        for _ in range(200):
            if np.all(hi - lo <= rtol * hi):
                break
            mid = (lo + hi) / 2
            ok = inside(mid)
            hi = np.where(ok, mid, hi)
            lo = np.where(ok, lo, mid)
        return float(np.max(hi, initial=0.0))

    def row_scale(self, n_rows, n_outputs=1):
        l1, group = self._parts(n_rows)
        return l1.row_scale(n_rows) + group.row_scale(n_rows, n_outputs)

    def subgradient_norm(self, shape):
        l1, group = self._parts(shape[0])
        return l1.subgradient_norm(shape) + group.subgradient_norm(shape)

    def cvxpy_expr(self, U):
        l1, group = self._parts(U.shape[0])
        return l1.cvxpy_expr(U) + group.cvxpy_expr(U)

    def cvxpy_constraints(self, U):
        return []

    def __repr__(self):
        w = "None" if self.weights is None else f"array{self.weights.shape}"
        v = "None" if self.l1_weights is None else f"array{self.l1_weights.shape}"
        return (f"SparseGroupL1(alpha={self.alpha}, weights={w}, l1_weights={v},"
                f" penalize_intercept={self.penalize_intercept})")


class SupportMask:
    """Indicator of a support: 0 if ``U`` is zero off ``support``, infinite otherwise.

    What polishing uses: its prox is masking, so the ADMM refits the kept weights only.
    It has no dual norm (the indicator of a subspace is not a norm): no gap for it.
    """

    penalize_intercept = True

    def __init__(self, support):
        self.support = np.asarray(support, dtype=bool)

    def value(self, U):
        return 0.0 if not np.any(np.asarray(U)[~self.support]) else np.inf

    def prox(self, X, step):
        return X * self.support

    def scaled(self, d):
        return self

    def restrict(self, rows, cols):
        return SupportMask(self.support[rows][:, cols])

    def free_mask(self, shape):
        return self.support

    def dual_norm(self, G):
        raise NotImplementedError("a support mask has no dual norm: no certified gap.")

    def row_scale(self, n_rows, n_outputs=1):
        return None

    def subgradient_norm(self, shape):
        return 0.0

    def cvxpy_expr(self, U):
        return 0

    def cvxpy_constraints(self, U):
        return [U[~self.support] == 0] if np.any(~self.support) else []

    def __repr__(self):
        return f"SupportMask(nnz={int(self.support.sum())} of {self.support.size})"


#: The ``penalty`` parameter: the objective of every layer program.
#: "l1": entries (Net-Trim). "group": the l2 norm of each weight row, so whole input
#: units (on the first layer whole input features) drop out. "sparse_group": half of
#: each, whole units drop out and the kept rows are sparse too.
PENALTIES = {
    "l1": lambda penalize_intercept: L1(penalize_intercept=penalize_intercept),
    "group": lambda penalize_intercept: GroupL1(penalize_intercept=penalize_intercept),
    "sparse_group": lambda penalize_intercept: SparseGroupL1(
        0.5, penalize_intercept=penalize_intercept),
}


def make_penalty(name, penalize_intercept=False):
    """The penalty object of a ``penalty`` parameter value."""
    if not isinstance(name, str) or name not in PENALTIES:
        raise ValueError(f"penalty must be one of {sorted(PENALTIES)}, got {name!r}.")
    return PENALTIES[name](penalize_intercept)


#: Reweighted l1 (Candes, Wakin and Boyd 2008): the next round weighs entry u by
#: 1 / (|u| + delta), delta this fraction of the mean magnitude of the kept weights.
REWEIGHT_DELTA = 0.1


def reweighted_penalty(penalty, U):
    """The penalty of the next reweighting round: entries (or rows) that stayed small cost more.

    Weights ``1 / (|u| + delta)`` of an :class:`~sklearn_nettrim._penalties.L1`, or
    ``1 / (||u_i|| + delta)`` per row of a group penalty, normalised to a mean of 1 over
    the penalised entries. A :class:`SparseGroupL1` has its l1 part reweighted per entry
    (``l1_weights = 1 / (|u| + delta)``, normalised the same way) and its group part and
    ``alpha`` kept as they are: the l1 part is what decides which weights of a kept row
    are zero, which is what reweighting sharpens; reweighting the rows too would make the
    rounds drop whole units faster than the plain group penalty chose to (a different
    trade-off from the one the user picked with ``penalty="sparse_group"``). Every round
    solves the same constraints, so any answer keeps the layer's guarantee.
    """
    U = np.abs(np.asarray(U, dtype=np.float64))
    intercept = getattr(penalty, "penalize_intercept", False)
    if isinstance(penalty, GroupL1):
        size = np.linalg.norm(U, axis=1)
        body = size[:-1] if not intercept else size
        delta = REWEIGHT_DELTA * (body[body > 0].mean() if np.any(body > 0) else 1.0)
        w = 1.0 / (size + delta)
        return GroupL1(w / w[:-1].mean(), penalize_intercept=intercept)
    if not isinstance(penalty, (L1, SparseGroupL1)):
        return penalty  # no reweighting rule: the same program again
    body = U[:-1] if not intercept else U
    delta = REWEIGHT_DELTA * (body[body > 0].mean() if np.any(body > 0) else 1.0)
    w = 1.0 / (U + delta)
    w = w / w[:-1].mean()
    if isinstance(penalty, SparseGroupL1):
        return SparseGroupL1(penalty.alpha, penalty.weights, penalize_intercept=intercept,
                             l1_weights=w)
    return L1(w, penalize_intercept=intercept)

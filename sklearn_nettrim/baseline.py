"""The honest baseline: global magnitude pruning, then a sequential least-squares refit.

Like scikit-learn's dummy estimators, :func:`magnitude_prune` is the yardstick a pruned
network should beat: it is the strongest of the simple one-shot pruners measured against
Net-Trim (see the benchmarks), it is fast, and it needs no tuning.
"""

from numbers import Real

import numpy as np
import scipy
import scipy.sparse as sp
from scipy import linalg
from sklearn.utils.fixes import parse_version
from sklearn.utils.validation import check_is_fitted, validate_data

from ._network import (
    check_supported_estimator,
    hidden_activation,
    stacked_weights,
    with_weights,
)
from ._weights import check_sample_weight, positive_rows

__all__ = ["magnitude_prune"]

# scipy.linalg solves a stack of systems in one call from 1.16 on.
_SCIPY_BATCHES = parse_version(scipy.__version__) >= parse_version("1.16")

# A neuron's Jacobi-scaled Gram matrix on its support whose smallest Cholesky pivot
# (squared) is below this is treated as rank deficient and solved by lstsq instead.
_PIVOT_TOLERANCE = 1e-10

# Memory of one batch of padded Gram matrices (bytes).
_BATCH_BYTES = 32 * 2**20


def magnitude_prune(mlp, X, *, target_sparsity, sample_weight=None):
    """Prune a fitted MLP by global magnitude, then refit the kept weights by least squares.

    The honest baseline to compare Net-Trim against, like scikit-learn's dummy
    estimators. Two steps, no tuning:

    1. **Global magnitude pruning.** One threshold on ``|w|`` over the non-intercept
       weights of all layers keeps exactly ``round((1 - target_sparsity) * n_weights)``
       of them (ties at the threshold are trimmed in the largest layer first).
       Intercepts are never pruned.
    2. **Sequential least-squares refit.** Layer after layer, on the pruned network's
       own layer input ``A = [h, 1]`` (``h`` is ``X`` for the first layer, then the
       output of the refitted layers before), each neuron's kept weights and its
       intercept are refitted by least squares to the *original* network's
       pre-activations of that layer on ``X``. Each layer thus absorbs the errors of
       the layers before it. Among several least-squares solutions (an input that is
       zero on every calibration row, collinear inputs, fewer rows than kept weights)
       the one closest to the magnitude-pruned weights is returned.

    It is the strongest of the simple one-shot peers measured on these networks
    (global magnitude + sequential least squares beats uniform magnitude, Wanda and
    SparseGPT at 90-95% sparsity). An ALPS-style l0 method (ADMM on the same
    layer-wise least-squares problem with a top-k projection) is stronger and slower.
    Net-Trim's per-layer error bound does *not* apply to this baseline: nothing bounds
    how far a layer's outputs move; the refit only minimises the error on ``X``.

    Parameters
    ----------
    mlp : MLPClassifier or MLPRegressor
        A fitted network (optionally wrapped in ``FrozenEstimator``). It is not
        modified.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Calibration data: the least-squares refit is fitted on it. Sparse input is
        densified.
    target_sparsity : float in [0, 1)
        Fraction of the non-intercept weights, over all layers, set to zero.
    sample_weight : array-like of shape (n_samples,) or float, default=None
        Weights of the rows of ``X`` in the least-squares refit (an integer weight k
        counts the row k times; rows of weight 0 are dropped).

    Returns
    -------
    pruned : MLPClassifier or MLPRegressor
        A deep copy of the network with the pruned, refitted ``coefs_`` and
        ``intercepts_`` (dense arrays, in the dtype of the original weights).

    See Also
    --------
    sklearn_nettrim.net_trim : Net-Trim, the convex pruner this baseline measures.
    sklearn_nettrim.plotting.SparsityCurveDisplay : Score against sparsity for both.

    Examples
    --------
    >>> import warnings
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.exceptions import ConvergenceWarning
    >>> from sklearn.neural_network import MLPClassifier
    >>> from sklearn_nettrim.baseline import magnitude_prune
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X / 16.0
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", ConvergenceWarning)
    ...     mlp = MLPClassifier(hidden_layer_sizes=(32,), max_iter=100,
    ...                         random_state=0).fit(X[:1000], y[:1000])
    >>> pruned = magnitude_prune(mlp, X[:1000], target_sparsity=0.8)
    >>> kept = sum(int((W != 0).sum()) for W in pruned.coefs_)
    >>> total = sum(W.size for W in mlp.coefs_)
    >>> kept == round(0.2 * total)
    True
    >>> bool(pruned.score(X[1000:], y[1000:]) > 0.85)
    True
    """
    network = check_supported_estimator(mlp)
    check_is_fitted(network, msg=(
        "This %(name)s is not fitted yet: magnitude_prune prunes a trained network;"
        " call fit on it first."))
    target_sparsity = _check_target_sparsity(target_sparsity)
    # Checks the feature count (and names) against the network without changing it.
    X = validate_data(network, X, reset=False, accept_sparse=["csr", "csc", "coo"],
                      dtype=np.float64)
    if sp.issparse(X):
        X = X.toarray()
    sample_weight = check_sample_weight(sample_weight, X.shape[0])
    X, sample_weight = positive_rows(X, sample_weight)

    weights = [W.astype(np.float64) for W in stacked_weights(network)]
    masks = global_magnitude_masks(weights, target_sparsity)
    refitted = sequential_refit(weights, masks, X, hidden_activation(network),
                                sample_weight)
    return with_weights(network, refitted)


def _check_target_sparsity(target_sparsity):
    if (isinstance(target_sparsity, (bool, np.bool_))
            or not isinstance(target_sparsity, Real)):
        raise TypeError(
            "target_sparsity must be a float in [0, 1), the fraction of non-intercept"
            f" weights set to zero; got {target_sparsity!r} of type"
            f" {type(target_sparsity).__name__}.")
    if not 0 <= target_sparsity < 1:
        raise ValueError(
            "target_sparsity must be a float in [0, 1), the fraction of non-intercept"
            f" weights set to zero; got {target_sparsity!r}.")
    return float(target_sparsity)


def global_magnitude_masks(weights, target_sparsity):
    """Boolean masks of the kept non-intercept weights, one threshold for all layers.

    ``weights`` are stacked (intercept last row). Exactly
    ``round((1 - target_sparsity) * n_weights)`` entries are kept: those above the
    threshold, and as many tied at it as the budget allows, trimmed in the largest
    layer first (within a layer, the first ties in row-major order are kept).
    """
    bodies = [np.abs(W[:-1]) for W in weights]
    n_weights = sum(B.size for B in bodies)
    keep = int(round((1 - target_sparsity) * n_weights))
    if keep == 0:
        return [np.zeros(B.shape, dtype=bool) for B in bodies]
    magnitudes = np.concatenate([B.ravel() for B in bodies])
    threshold = np.partition(magnitudes, n_weights - keep)[n_weights - keep]
    above = [B > threshold for B in bodies]
    ties = [B == threshold for B in bodies]
    excess = sum(int(t.sum()) for t in ties) - (keep - sum(int(a.sum()) for a in above))
    tie_budget = [int(t.sum()) for t in ties]
    for layer in sorted(range(len(bodies)), key=lambda i: -bodies[i].size):
        trimmed = min(excess, tie_budget[layer])
        tie_budget[layer] -= trimmed
        excess -= trimmed
    masks = []
    for a, t, budget in zip(above, ties, tie_budget):
        mask = a.copy()
        mask.ravel()[np.flatnonzero(t.ravel())[:budget]] = True
        masks.append(mask)
    return masks


def sequential_refit(weights, masks, X, activation, sample_weight=None):
    """Refit each neuron's kept weights and intercept, layer after layer.

    Parameters
    ----------
    weights : list of ndarray of shape (n_in + 1, n_out)
        The original stacked weights (float64).
    masks : list of bool ndarray of shape (n_in, n_out)
        The kept non-intercept weights of each layer.
    X : ndarray of shape (n_samples, n_features)
        Calibration data (dense float64, rows of positive weight).
    activation : callable
        The hidden activation.
    sample_weight : ndarray of shape (n_samples,) or None

    Returns
    -------
    refitted : list of ndarray of shape (n_in + 1, n_out)
        Zero outside the masks; each column minimises
        ``sum_i w_i (A_i u - z_i)^2`` on its support, ``A = [h, 1]`` the refitted
        network's layer input and ``z`` the original pre-activation.
    """
    root_weight = None if sample_weight is None else np.sqrt(sample_weight)[:, None]
    h_original = h_pruned = X
    refitted = []
    for i, (W, mask) in enumerate(zip(weights, masks)):
        Z = h_original @ W[:-1] + W[-1]
        A = np.hstack([h_pruned, np.ones((h_pruned.shape[0], 1))])
        if root_weight is not None:
            A_weighted, Z_weighted = A * root_weight, Z * root_weight
        else:
            A_weighted, Z_weighted = A, Z
        support = np.vstack([mask, np.ones((1, W.shape[1]), dtype=bool)])
        base = np.where(support, W, 0.0)
        U = _refit_layer(A_weighted, Z_weighted, support, base)
        refitted.append(U)
        if i < len(weights) - 1:
            h_original = activation(Z)
            h_pruned = activation(h_pruned @ U[:-1] + U[-1])
    return refitted


def _refit_layer(A, Z, support, base):
    """Per column ``j``: least squares of ``Z[:, j]`` on ``A[:, support[:, j]]``.

    Solved on the Gram matrix ``G = A^T A`` (computed once), Jacobi-scaled, by
    batched Cholesky factorisations. Inputs that are zero on every row keep their value
    in ``base``; a neuron whose system is (nearly) singular is solved by lstsq for the
    least-squares solution closest to ``base``.
    """
    gram = A.T @ A
    rhs = A.T @ Z
    diagonal = np.diag(gram).copy()
    live = diagonal > 0
    scale = np.where(live, np.sqrt(np.where(live, diagonal, 1.0)), 1.0)
    # Solved for the deviation d = u - base on the live support: G_SS d = (A^T (Z - A
    # base))_S, Jacobi-scaled to (D^-1 G D^-1) (D d) = D^-1 (rhs - G base).
    residual_rhs = rhs - gram @ base
    gram_scaled = gram / scale[:, None] / scale[None, :]
    rhs_scaled = residual_rhs / scale[:, None]

    U = base.copy()
    active = support & live[:, None]
    sizes = active.sum(axis=0)
    order = np.argsort(sizes, kind="stable")
    start = 0
    sorted_sizes = sizes[order].astype(np.int64)
    while start < order.size:
        # Sizes are sorted: a chunk of c neurons from here pads to its last one's size.
        counts = np.arange(1, order.size - start + 1)
        fits = counts * np.maximum(sorted_sizes[start:], 1) ** 2 * 8 <= _BATCH_BYTES
        stop = start + max(1, int(np.argmin(fits)) if not fits.all() else fits.size)
        k = int(sorted_sizes[stop - 1])
        columns = order[start:stop]
        start = stop
        if k == 0:
            continue
        delta = _solve_batch(gram_scaled, rhs_scaled, active, columns, k, A, Z, base,
                             scale)
        for c, j in enumerate(columns):
            rows = np.flatnonzero(active[:, j])
            U[rows, j] += delta[c, : rows.size] / scale[rows]
    return U


def _solve_batch(gram, rhs, active, columns, k, A, Z, base, scale):
    """Solve the padded systems of ``columns`` (support sizes <= k); rows = deviations."""
    n = len(columns)
    index = np.zeros((n, k), dtype=np.intp)
    valid = np.zeros((n, k), dtype=bool)
    for c, j in enumerate(columns):
        rows = np.flatnonzero(active[:, j])
        index[c, : rows.size] = rows
        valid[c, : rows.size] = True
    G = gram[index[:, :, None], index[:, None, :]]
    pair = valid[:, :, None] & valid[:, None, :]
    G = np.where(pair, G, 0.0)
    G[:, np.arange(k), np.arange(k)] += ~valid  # identity on the padding
    b = np.where(valid, rhs[index, columns[:, None]], 0.0)

    solution = np.zeros((n, k))
    good = np.ones(n, dtype=bool)
    try:
        L = np.linalg.cholesky(G)
    except np.linalg.LinAlgError:
        L = None
    if L is None:  # some system is not positive definite: factor them one by one
        L = np.zeros_like(G)
        for c in range(n):
            try:
                L[c] = np.linalg.cholesky(G[c])
            except np.linalg.LinAlgError:
                good[c] = False
                L[c] = np.eye(k)
    pivots = np.diagonal(L, axis1=1, axis2=2) ** 2
    good &= np.min(np.where(valid, pivots, 1.0), axis=1) >= _PIVOT_TOLERANCE
    if np.any(good):
        if _SCIPY_BATCHES:
            solution[good] = linalg.cho_solve((L[good], True), b[good][..., None],
                                              check_finite=False)[..., 0]
        else:
            for c in np.flatnonzero(good):
                solution[c] = linalg.cho_solve((L[c], True), b[c], check_finite=False)
    for c in np.flatnonzero(~good):
        j = columns[c]
        rows = np.flatnonzero(active[:, j])
        # Minimum-norm least-squares deviation from base, on the rows themselves.
        A_s = A[:, rows]
        target = Z[:, j] - A @ base[:, j]
        # Singular values below eps * max(shape) * the largest count as zero (numpy's
        # rule; scipy's default cutoff, eps, keeps exactly collinear inputs apart).
        deviation = linalg.lstsq(A_s, target, cond=np.finfo(A.dtype).eps * max(A_s.shape),
                                 check_finite=False)[0]
        solution[c, : rows.size] = deviation * scale[rows]
    return solution

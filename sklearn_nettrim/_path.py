"""net_trim_path: pruning along a grid of tolerances, each solve warm-started.

Like :func:`sklearn.linear_model.lasso_path`: the cheap way to see the whole trade-off
between sparsity and fidelity. The grid driver itself, :func:`~._prune.prune_grid`, is
what :class:`NetTrimCV` runs inside every fold.
"""

import numpy as np
from sklearn.utils.validation import check_array, check_is_fitted

from ._network import (
    check_supported_estimator,
    with_weights,
)
from ._finetune import check_fine_tune_options
from ._penalties import make_penalty
from ._prune import layer_grid, prune_grid
from ._spec import POLISHES, FineTuneSpec, PruneOptions, SolverSpec, check_polish
from ._weights import check_sample_weight

#: Bounds of the default log grid: 1% keeps a network almost intact; at 50% a ReLU layer
#: keeps only its largest outputs (and at 100% it may vanish).
EPSILON_GRID_BOUNDS = (0.01, 0.5)


def epsilon_grid(epsilons):
    """An increasing array of relative tolerances from an int (log grid) or an array."""
    if isinstance(epsilons, (int, np.integer)) and not isinstance(epsilons, bool):
        if epsilons < 1:
            raise ValueError(f"epsilons must be >= 1 when an int, got {epsilons}.")
        low, high = EPSILON_GRID_BOUNDS
        return np.geomspace(low, high, epsilons) if epsilons > 1 else np.array([0.05])
    grid = np.asarray(epsilons, dtype=float)
    if grid.ndim != 1 or grid.size == 0:
        raise ValueError(f"epsilons must be an int or a 1-d array of tolerances, got {grid!r}.")
    if not np.all(np.isfinite(grid)) or np.any(grid < 0):
        raise ValueError(f"epsilons must be finite and >= 0, got {grid.tolist()}.")
    return np.sort(grid)


def net_trim_path(mlp, X, epsilons=10, *, mode="cascade", solver="admm", gamma=1.1,
                  penalize_intercept=False, polish="refine", max_iter=2000, tol=1e-3,
                  warm_start=True, n_jobs=None, verbose=0, reweight=0, sample_weight=None,
                  fine_tune=0, fine_tune_learning_rate=1e-3, fine_tune_batch_size=200,
                  random_state=None, penalty="l1"):
    """Prune a fitted MLP at a grid of tolerances, warm-starting along the grid.

    Parameters
    ----------
    mlp : MLPClassifier or MLPRegressor
        A fitted network (not modified).
    X : array-like of shape (n_samples, n_features)
        Calibration data.
    epsilons : int or array-like of float, default=10
        An int asks for a log grid of that many tolerances between 0.01 and 0.5; an
        array gives them (sorted increasingly).
    mode, solver, gamma, penalize_intercept, polish, max_iter, tol, n_jobs, verbose,\
reweight
        As in :class:`NetTrimTransformer`. In parallel mode each layer's whole path is
        one joblib job.
    warm_start : bool, default=True
        Start every solve from the l1 solution at the previous (smaller) tolerance,
        which is feasible for the next one.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights of the rows of ``X``: every layer's error is measured in the
        sample-weighted Frobenius norm (rows of weight 0 are ignored; an integer weight
        counts as that many copies of the row).
    fine_tune, fine_tune_learning_rate, fine_tune_batch_size, random_state
        As in :class:`NetTrimTransformer`. Every point of the path is fine-tuned (each
        from the same ``random_state``): a path is for choosing a point, and points
        compare fairly only when each is what that choice would return. The cost is
        ``len(epsilons)`` fine-tunings; the warm starts are unaffected (they are the l1
        solutions). Each record carries the point's loss curve as ``fine_tune_loss``.
    penalty : {"l1", "group", "sparse_group"}, default="l1"
        As in :class:`NetTrimTransformer`.

    Returns
    -------
    epsilons : ndarray of shape (n_points,)
        The tolerances, increasing.
    estimators : list of MLPClassifier or MLPRegressor
        The pruned network at every tolerance.
    layer_stats : list of list of dict
        The per-layer records (as ``NetTrimTransformer.layer_stats_``) at every tolerance.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.neural_network import MLPClassifier
    >>> from sklearn.preprocessing import scale
    >>> from sklearn_nettrim import net_trim_path
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = scale(X)
    >>> mlp = MLPClassifier(hidden_layer_sizes=(16,), max_iter=500, random_state=0).fit(X, y)
    >>> epsilons, nets, stats = net_trim_path(mlp, X, epsilons=[0.02, 0.1, 0.3])
    >>> [round(sum(r["nnz_after"] for r in s) / sum(W.size for W in mlp.coefs_), 2) < 1
    ...  for s in stats]
    [True, True, True]
    """
    network = check_supported_estimator(mlp)
    check_is_fitted(network)
    X = check_array(X, dtype=[np.float64, np.float32], accept_sparse=["csr", "csc"])
    if hasattr(X, "toarray"):
        X = X.toarray()
    if X.shape[1] != network.n_features_in_:
        raise ValueError(f"X has {X.shape[1]} features, but the network was trained on"
                         f" {network.n_features_in_} features.")
    sample_weight = check_sample_weight(sample_weight, X.shape[0])
    make_penalty(penalty)  # a bad name fails before any work
    check_polish(polish)
    if polish is not None and polish not in POLISHES:
        raise ValueError(f"polish must be None or one of {POLISHES}, got {polish!r}.")
    check_fine_tune_options(fine_tune, fine_tune_learning_rate, fine_tune_batch_size)
    options = PruneOptions(
        mode=mode, solver=SolverSpec(solver, max_iter, tol), penalty=penalty,
        penalize_intercept=penalize_intercept, polish=polish, reweight=reweight,
        gamma=gamma, sample_weight=sample_weight,
        fine_tune=FineTuneSpec(fine_tune, fine_tune_learning_rate, fine_tune_batch_size),
        n_jobs=n_jobs, verbose=verbose, random_state=random_state)
    grid = epsilon_grid(epsilons)
    n_layers = len(network.coefs_)
    points = prune_grid(network, X, layer_grid(grid, n_layers, mode), options,
                        warm_start=warm_start)
    estimators = [with_weights(network, weights) for weights, _ in points]
    return grid, estimators, [[r.as_dict() for r in records] for _, records in points]

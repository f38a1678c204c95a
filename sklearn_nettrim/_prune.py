"""The pruning driver every estimator calls.

:func:`prune_grid` prunes a fitted network along a grid of tolerances (what
``net_trim_path`` and every ``NetTrimCV`` fold run); :func:`prune_fitted_network` at one
tolerance or to a target size (what ``NetTrimTransformer`` and ``net_trim`` run). Both
drive the engine (:mod:`._engine`) with a tolerance policy and then fine-tune when asked.
"""

import numpy as np

from ._allocation import prune_to_sparsity
from ._engine import FixedTolerances, Network, final_weights, traverse
from ._finetune import fine_tune_points
from ._network import layer_kinds
from ._warnings import warn_user
from ._weights import positive_rows


def layer_grid(grid, n_layers, mode):
    """The (n_layers, n_points) tolerances of a path with one epsilon per point.

    Parallel mode gives every layer the point's epsilon; cascade mode the first layer
    only (later layers take their tolerance from ``gamma``, with no floor).
    """
    grid = np.asarray(grid, dtype=float)
    if mode == "cascade":
        return np.vstack([grid[None, :], np.zeros((n_layers - 1, grid.size))])
    return np.tile(grid, (n_layers, 1))


def prune_grid(mlp, X, epsilons, options, *, warm_start=True):
    """Prune a fitted MLP on ``X`` at every column of ``epsilons`` (n_layers, n_points).

    Returns one ``(weights, records)`` pair per point, ``weights`` stacked per layer.
    Parallel mode: one job per layer walks its whole grid. Cascade mode: the points run
    one after the other, each layer warm-started from the previous point (from the l1
    solution, so fine-tuning a point does not change the next one). Rows of weight 0
    in ``options.sample_weight`` are dropped here, once. With fine-tuning, every point
    is then fine-tuned towards the original network's outputs, each from the same
    ``random_state``.
    """
    X, sample_weight = positive_rows(X, options.sample_weight)
    epsilons = np.asarray(epsilons, dtype=float)
    # Along a warm-started grid the next solve may start from this one's state; a single
    # fit has no use for it (two n_samples x n_outputs arrays per layer).
    options = options.with_(sample_weight=sample_weight,
                            solver_keep_state=bool(warm_start) and epsilons.shape[1] > 1)
    network = Network.from_mlp(mlp, X)
    points = _prune_points(network, epsilons, options, warm_start)
    return fine_tune_points(mlp, X, points, options)


def _prune_points(network, epsilons, options, warm_start):
    """The pruning of :func:`prune_grid`, before any fine-tuning: ``(weights, records)``
    per point."""
    n_points = epsilons.shape[1]
    if options.mode == "parallel" and warm_start:
        results = traverse(network, FixedTolerances(epsilons), options)
        return [final_weights(results, k) for k in range(n_points)]
    points, previous = [], None
    for k in range(n_points):
        results = traverse(network, FixedTolerances(epsilons[:, [k]]), options,
                           warm_starts=previous if warm_start else None)
        points.append(final_weights(results))
        previous = [r[0].l1.start for r in results]
    return points


def layer_epsilons(epsilon, n_layers, mode):
    """One relative tolerance per layer, validated (scalar or one value per layer).

    In cascade mode a scalar is the first layer's tolerance and later layers get theirs
    from ``gamma`` alone (a floor of 0); one value per layer sets those floors.
    """
    eps = np.asarray(epsilon, dtype=float)
    if eps.ndim == 0:
        eps = (np.r_[float(eps), np.zeros(n_layers - 1)] if mode == "cascade"
               else np.full(n_layers, float(eps)))
    if eps.ndim != 1 or eps.size != n_layers:
        raise ValueError(
            f"epsilon must be a number or one value per layer ({n_layers} layers for this"
            f" network); got shape {eps.shape}.")
    if not np.all(np.isfinite(eps)) or np.any(eps < 0):
        raise ValueError(f"epsilon must be finite and >= 0; got {eps.tolist()}.")
    return eps


def prune_fitted_network(mlp, X, options, *, epsilon=0.05, target_sparsity=None,
                         allocation="magnitude"):
    """Prune a fitted MLP on calibration data ``X`` (a validated float array, with only
    positive sample weights if any: see ``_base.calibration_data``).

    At ``epsilon``, or, with ``target_sparsity``, at the per-layer tolerances that
    ``allocation`` (resolved, not "auto") finds for that size; then fine-tuned as
    ``options`` say. Returns the pruned stacked weights, one record per layer and the
    tolerances used (a float when one value served every layer). Shared by
    :class:`NetTrimTransformer` and :func:`net_trim`.
    """
    mode = options.mode
    if target_sparsity is not None:
        network = Network.from_mlp(mlp, X)
        weights, records, eps = prune_to_sparsity(network, target_sparsity, allocation,
                                                  options)
        [(weights, records)] = fine_tune_points(mlp, X, [(weights, records)], options)
    else:
        eps = layer_epsilons(epsilon, len(mlp.coefs_), mode)
        if any(e >= 1 and kind == "relu" for e, kind in zip(eps, layer_kinds(mlp))):
            warn_user(
                "epsilon >= 1 on a ReLU layer: all-zero weights meet the tolerance, so the"
                " layer may be pruned away entirely.")
        [(weights, records)] = prune_grid(mlp, X, eps[:, None], options)
    same = eps[1:] == (0 if mode == "cascade" else eps[0])
    return weights, records, float(eps[0]) if np.all(same) else np.asarray(eps, dtype=float)


"""The pruning driver every estimator calls.

:func:`prune_grid` prunes a fitted network along a grid of tolerances (what
``net_trim_path`` and every ``NetTrimCV`` fold run); :func:`prune_fitted_network` at one
tolerance or to a target size (what ``NetTrimTransformer`` and ``net_trim`` run). Both
then fine-tune when asked. The layers themselves are pruned by the modes of
:mod:`._modes`.
"""

import numpy as np

from ._allocation import prune_to_sparsity
from ._finetune import check_fine_tune_options, fine_tune_points
from ._modes import prune_cascade, prune_parallel
from ._network import layer_inputs, layer_kinds, network_arrays
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


def prune_grid(mlp, X, epsilons, *, mode="parallel", solver="admm", gamma=1.1,
               penalize_intercept=False, polish="output", max_iter=2000, tol=1e-3,
               n_jobs=None, verbose=0, warm_start=True, reweight=0, sample_weight=None,
               fine_tune=0, fine_tune_learning_rate=1e-3, fine_tune_batch_size=200,
               random_state=None, penalty="l1"):
    """Prune a fitted MLP on ``X`` at every column of ``epsilons`` (n_layers, n_points).

    Returns one ``(weights, records)`` pair per point, ``weights`` stacked per layer.
    Parallel mode: one job per layer walks its whole grid. Cascade mode: the points run
    one after the other, each layer warm-started from the previous point (from the l1
    solution, so fine-tuning a point does not change the next one).
    ``sample_weight`` (validated, one per row of ``X``) weights every layer's errors;
    rows of weight 0 are dropped here, once. With ``fine_tune`` epochs, every point is
    then fine-tuned towards the original network's outputs, each from the same
    ``random_state``.
    """
    check_fine_tune_options(fine_tune, fine_tune_learning_rate, fine_tune_batch_size)
    X, sample_weight = positive_rows(X, sample_weight)
    points = _prune_points(mlp, X, epsilons, mode=mode, solver=solver, gamma=gamma,
                           penalize_intercept=penalize_intercept, polish=polish,
                           max_iter=max_iter, tol=tol, n_jobs=n_jobs, verbose=verbose,
                           warm_start=warm_start, reweight=reweight,
                           sample_weight=sample_weight, penalty=penalty)
    return fine_tune_points(mlp, X, points, epochs=fine_tune,
                            learning_rate=fine_tune_learning_rate,
                            batch_size=fine_tune_batch_size, random_state=random_state,
                            verbose=verbose, gamma=gamma, penalize_intercept=penalize_intercept)


def _prune_points(mlp, X, epsilons, *, mode, solver, gamma, penalize_intercept, polish,
                  max_iter, tol, n_jobs, verbose, warm_start, reweight, sample_weight,
                  penalty):
    """The pruning of :func:`prune_grid`, before any fine-tuning."""
    weights, X, kinds, activation = network_arrays(mlp, X)
    epsilons = np.asarray(epsilons, dtype=float)
    # Along a warm-started grid the next solve may start from this one's state; a single
    # fit has no use for it (two n_samples x n_outputs arrays per layer).
    keep_state = bool(warm_start) and epsilons.shape[1] > 1
    solver_options = ({"max_iter": max_iter, "tol": tol, "keep_state": keep_state}
                      if solver == "admm" else {})
    options = dict(solver=solver, solver_options=solver_options,
                   penalize_intercept=penalize_intercept, polish=polish, reweight=reweight,
                   sample_weight=sample_weight, penalty=penalty)
    if mode == "parallel":
        inputs = layer_inputs(weights, X, activation)
        if not warm_start:
            columns = [prune_parallel(weights, inputs, kinds, epsilons[:, [k]], n_jobs=n_jobs,
                                      verbose=verbose, **options)
                       for k in range(epsilons.shape[1])]
            return [(pruned[0], records[0]) for pruned, _, records in columns]
        pruned, _, records = prune_parallel(weights, inputs, kinds, epsilons, n_jobs=n_jobs,
                                            verbose=verbose, **options)
        return list(zip(pruned, records))
    points, previous = [], None
    for k in range(epsilons.shape[1]):
        pruned, l1, records = prune_cascade(
            weights, X, kinds, epsilons[:, k], activation, gamma=gamma,
            verbose=verbose, warm_starts=previous if warm_start else None, **options)
        points.append((pruned, records))
        previous = l1
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


def prune_fitted_network(mlp, X, *, epsilon=0.05, mode="parallel", target_sparsity=None,
                         allocation="auto", random_state=None, fine_tune=0,
                         fine_tune_learning_rate=1e-3, fine_tune_batch_size=200, **options):
    """Prune a fitted MLP on calibration data ``X`` (a validated float array, with only
    positive ``sample_weight`` if any: see ``_base.calibration_data``).

    At ``epsilon``, or, with ``target_sparsity``, at the per-layer tolerances that
    ``allocation`` finds for that size; then fine-tuned for ``fine_tune`` epochs. Returns
    the pruned stacked weights, one record per layer and the tolerances used (a float
    when one value served every layer). Shared by :class:`NetTrimTransformer` and
    :func:`net_trim`.
    """
    kinds = layer_kinds(mlp)
    tuning = dict(fine_tune=fine_tune, fine_tune_learning_rate=fine_tune_learning_rate,
                  fine_tune_batch_size=fine_tune_batch_size, random_state=random_state)
    if target_sparsity is not None:
        check_fine_tune_options(fine_tune, fine_tune_learning_rate, fine_tune_batch_size)
        weights, records, eps = prune_to_sparsity(
            mlp, X, target_sparsity, mode=mode, allocation=allocation,
            random_state=random_state, **options)
        [(weights, records)] = fine_tune_points(
            mlp, X, [(weights, records)], epochs=fine_tune,
            learning_rate=fine_tune_learning_rate, batch_size=fine_tune_batch_size,
            random_state=random_state, verbose=options.get("verbose", 0),
            gamma=options.get("gamma", 1.1),
            penalize_intercept=options.get("penalize_intercept", False))
    else:
        eps = layer_epsilons(epsilon, len(kinds), mode)
        if any(e >= 1 and kind == "relu" for e, kind in zip(eps, kinds)):
            warn_user(
                "epsilon >= 1 on a ReLU layer: all-zero weights meet the tolerance, so the"
                " layer may be pruned away entirely.")
        [(weights, records)] = prune_grid(mlp, X, eps[:, None], mode=mode, **tuning,
                                          **options)
    same = eps[1:] == (0 if mode == "cascade" else eps[0])
    return weights, records, float(eps[0]) if np.all(same) else np.asarray(eps, dtype=float)

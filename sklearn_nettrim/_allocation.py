"""Pruning to a target size: how a budget of non-zero weights is split across layers.

A user asks for "90% of the weights gone". One relative epsilon for every layer prunes a
small layer about as hard as a big one, although the big first layer holds most of the
weights and the small last layers most of the accuracy. Two allocations:

``"output"`` (default)
    Every layer's warm-started Net-Trim path over a grid of tolerances (layers
    independent, as in parallel mode, on a subsample of the calibration rows), each point
    scored by how far the network's final pre-activations move when that layer ALONE is
    pruned there. One price per non-zero weight, shared by all layers (the Lagrangian
    reading of ``min sum_l err_l  s.t.  sum_l nnz_l <= budget``, which is what a global
    magnitude threshold does with |w| as the error), picks each layer's point. Then one
    layer's tolerance is moved on all the calibration rows until the overall sparsity is
    on target. In cascade mode the chosen tolerances are the layers' floors (see
    :func:`~sklearn_nettrim._prune.prune_cascade`) and one common scale of them is
    searched instead.
``"uniform"``
    One relative epsilon for every layer (cascade mode: for the first layer, later
    layers from ``gamma``), found by a secant search.

Every layer is still a Net-Trim program with its own epsilon, so every layer keeps its
guarantee and :func:`check_certificate` checks it; only the tolerances were chosen for the
user.
"""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from ._network import hidden_activation, layer_inputs, layer_kinds, stacked_weights
from ._prune import _solve_one, prune_cascade, prune_parallel, report
from ._warnings import warn_user

ALLOCATIONS = ("output", "uniform")

#: The achieved overall sparsity is within this distance of the target (absolute: half a
#: percentage point), or a warning says why not.
SPARSITY_TOLERANCE = 0.005

#: Relative tolerances of the allocation search (one warm-started path per layer), plus
#: 0 (the layer kept as trained). 1 lets a ReLU layer vanish.
SEARCH_GRID = np.geomspace(0.02, 1.0, 8)

#: Calibration rows of the allocation search: the paths cost O(rows); the chosen
#: tolerances are then met on all rows.
SEARCH_SAMPLES = 1000

#: The search's solves are cheaper than the final ones: ADMM at this relative tolerance,
#: and, when the final layers are polished, the least-squares refit on the support as a
#: stand-in for the polish when scoring a point (it costs one Gram matrix, not an ADMM).
SEARCH_TOL = 1e-2

#: Solves of the final search (one layer, or one whole cascade, per evaluation).
MAX_EVALUATIONS = 8


def _nnz(records):
    return sum(r["nnz_after"] for r in records)


def final_preactivations(weights, h, activation, start=0, replacement=None):
    """The last layer's pre-activations from layer ``start``'s input ``h``.

    ``replacement`` stands in for layer ``start``'s weights (the rest are ``weights``).
    """
    z = h
    for i in range(start, len(weights)):
        W = replacement if (i == start and replacement is not None) else weights[i]
        z = h @ W[:-1] + W[-1]
        h = activation(z).astype(h.dtype, copy=False)
    return z


class _Search:
    """The network, its calibration data and the solve options of one target search."""

    def __init__(self, mlp, X, *, mode, gamma, solver, penalize_intercept, polish,
                 max_iter, tol, n_jobs, verbose, reweight=0, sample_weight=None):
        dtype = np.result_type(X.dtype, np.float32)
        self.weights = [W.astype(dtype, copy=False) for W in stacked_weights(mlp)]
        self.X = X.astype(dtype, copy=False)
        self.kinds = layer_kinds(mlp)
        self.activation = hidden_activation(mlp)
        self.mode, self.gamma, self.n_jobs, self.verbose = mode, gamma, n_jobs, verbose
        solver_options = {"max_iter": max_iter, "tol": tol} if solver == "admm" else {}
        self.options = dict(solver=solver, solver_options=solver_options,
                            penalize_intercept=penalize_intercept, polish=polish,
                            reweight=reweight, sample_weight=sample_weight)
        self.sample_weight = sample_weight
        self.search_options = dict(
            solver="admm", solver_options={"max_iter": max_iter, "tol": max(tol, SEARCH_TOL)},
            penalize_intercept=penalize_intercept, polish="refit" if polish else False)
        self.total = sum(W[:-1].size for W in self.weights)
        self.inputs = layer_inputs(self.weights, self.X, self.activation)

    def sparsity(self, records):
        return 1.0 - _nnz(records) / self.total

    # ------------------------------------------------------------ allocation search
    def layer_paths(self, rows):
        """nnz and output shift of every layer along ``SEARCH_GRID`` (column 0: eps 0).

        Returns ``(epsilons, nnz, shift)``, each of shape (n_layers, n_points); ``shift``
        is the squared change of the final pre-activations when that layer alone is
        pruned, relative to their squared norm.
        """
        inputs = layer_inputs(self.weights, self.X[rows], self.activation)
        weight = None if self.sample_weight is None else self.sample_weight[rows]
        options = dict(self.search_options, sample_weight=weight)
        row_weight = 1.0 if weight is None else np.asarray(weight)[:, None]
        n_layers = len(self.weights)
        grid = np.r_[0.0, SEARCH_GRID]
        eps = np.tile(grid, (n_layers, 1))
        exact, _, exact_records = prune_parallel(
            self.weights, inputs, self.kinds, eps[:, :1], n_jobs=self.n_jobs,
            **dict(options, polish=False))
        pruned, _, records = prune_parallel(self.weights, inputs, self.kinds, eps[:, 1:],
                                            n_jobs=self.n_jobs, **options)
        pruned, records = exact + pruned, exact_records + records
        reference = final_preactivations(self.weights, inputs[0], self.activation)
        scale = max(float(np.sum(row_weight * reference ** 2)), np.finfo(float).tiny)
        nnz = np.empty(eps.shape)
        shift = np.empty(eps.shape)
        for k in range(grid.size):
            for i in range(n_layers):
                nnz[i, k] = records[k][i]["nnz_after"]
                moved = final_preactivations(self.weights, inputs[i], self.activation, i,
                                             pruned[k][i])
                shift[i, k] = float(np.sum(row_weight * (moved - reference) ** 2)) / scale
        if self.verbose:
            for i in range(n_layers):
                print(f"[NetTrim] allocation path, layer {i}: nnz "
                      + " ".join(str(int(n)) for n in nnz[i]) + "; output shift "
                      + " ".join(f"{s:.2g}" for s in shift[i]), flush=True)
        return eps, nnz, shift

    # ------------------------------------------------------------ evaluations
    def solve_parallel(self, eps, cache):
        """Every layer at its own relative tolerance on all rows (cached per layer)."""
        todo = [i for i, e in enumerate(eps) if (i, e) not in cache]
        if len(todo) > 1:
            weights = [self.weights[i] for i in todo]
            inputs = [self.inputs[i] for i in todo]
            kinds = [self.kinds[i] for i in todo]
            starts = [self._warm_start(cache, i, eps[i]) for i in todo]
            pruned, l1, records = prune_parallel(
                weights, inputs, kinds, np.array([eps[i] for i in todo])[:, None],
                n_jobs=self.n_jobs, warm_starts=starts, **self.options)
            for j, i in enumerate(todo):
                records[0][j]["layer"] = i
                cache[i, eps[i]] = (pruned[0][j], l1[0][j], records[0][j])
        elif todo:
            [i] = todo
            U, U_l1, record = _solve_one(i, self.inputs[i], self.weights[i],
                                         kind=self.kinds[i], epsilon=eps[i],
                                         warm_start=self._warm_start(cache, i, eps[i]),
                                         **self.options)
            record["mode"] = "parallel"
            cache[i, eps[i]] = (U, U_l1, record)
        weights = [cache[i, e][0] for i, e in enumerate(eps)]
        records = [dict(cache[i, e][2]) for i, e in enumerate(eps)]
        return weights, records

    @staticmethod
    def _warm_start(cache, layer, epsilon):
        """The l1 solution at the largest smaller tolerance solved (feasible), if any."""
        below = [e for (i, e) in cache if i == layer and e < epsilon]
        return cache[layer, max(below)][1] if below else None

    def solve_cascade(self, eps, previous):
        pruned, l1, records = prune_cascade(
            self.weights, self.X, self.kinds, np.asarray(eps, dtype=float), self.activation,
            gamma=self.gamma, warm_starts=previous, **self.options)
        return pruned, l1, records


def _secant_search(evaluate, theta0, target, *, guess_step=0.35, max_evals=MAX_EVALUATIONS,
                   bounds=(np.log(1e-4), np.log(4.0))):
    """Move ``theta`` until ``evaluate(theta)``'s sparsity is within tolerance of target.

    ``evaluate`` returns ``(sparsity, result)`` and sparsity grows with ``theta`` (not
    strictly in cascade mode). Brackets the target by doubling steps, then regula falsi
    (Illinois). Returns the result closest to the target and all evaluations.
    """
    history = []

    def run(theta):
        theta = float(np.clip(theta, *bounds))
        sparsity, result = evaluate(theta)
        history.append((theta, sparsity, result))
        return theta, sparsity

    lo = hi = None
    theta, s = run(theta0)
    step = guess_step
    while abs(s - target) > SPARSITY_TOLERANCE and len(history) < max_evals:
        if s < target:
            lo = (theta, s)
        else:
            hi = (theta, s)
        if lo is None or hi is None:
            if (s < target and theta >= bounds[1]) or (s > target and theta <= bounds[0]):
                break
            theta, s = run(theta + (step if s < target else -step))
            step *= 2
            continue
        # Regula falsi on the bracket, with the Illinois halving against stalls.
        (t0, s0), (t1, s1) = lo, hi
        new = t0 + (target - s0) * (t1 - t0) / (s1 - s0) if s1 != s0 else (t0 + t1) / 2
        new = min(max(new, min(t0, t1) + 0.05 * abs(t1 - t0)), max(t0, t1) - 0.05 * abs(t1 - t0))
        theta, s = run(new)
    best = min(history, key=lambda h: (abs(h[1] - target), -h[1]))
    return best, history


def _interpolate(curve_x, curve_nnz, wanted):
    """log-epsilon where a decreasing nnz curve meets ``wanted`` (linear in log eps)."""
    x, n = np.asarray(curve_x, float), np.asarray(curve_nnz, float)
    order = np.argsort(-n)  # nnz decreasing <=> epsilon increasing
    x, n = x[order], n[order]
    if wanted >= n[0]:
        return x[0]
    if wanted <= n[-1]:
        return x[-1]
    return float(np.interp(-wanted, -n, x))


def choose_points(nnz, shift, budget):
    """Each layer's point under one shared price per non-zero, within ``budget``.

    For a price ``mu`` every layer takes ``argmin_k shift[l, k] + mu * nnz[l, k]``; the
    smallest price whose total nnz fits the budget is found by bisection (in log). Returns
    the chosen column per layer (the sparsest one if no price fits).
    """
    scale = max(float(shift.max()), 1e-12) / max(float(nnz.max()), 1.0)

    def pick(log_mu):
        return np.argmin(shift + np.exp(log_mu) * scale * nnz, axis=1)

    def total(log_mu):
        chosen = pick(log_mu)
        return nnz[np.arange(nnz.shape[0]), chosen].sum()

    lo, hi = np.log(1e-12), np.log(1e6)
    if total(hi) > budget:
        return pick(hi)
    for _ in range(80):
        mid = (lo + hi) / 2
        if total(mid) > budget:
            lo = mid
        else:
            hi = mid
    return pick(hi)


def prune_to_sparsity(mlp, X, target, *, mode="parallel", allocation="output", gamma=1.1,
                      solver="admm", penalize_intercept=False, polish=True, max_iter=2000,
                      tol=1e-3, n_jobs=None, verbose=0, random_state=None, reweight=0,
                      sample_weight=None):
    """Prune a fitted MLP so that a fraction ``target`` of its weights is zero.

    Returns ``(weights, records, epsilons)``: the pruned stacked weights, one record per
    layer and the relative tolerance of every layer (cascade mode: the first layer's
    tolerance and the later layers' floors). Warns when the achieved sparsity is more
    than ``SPARSITY_TOLERANCE`` from the target.
    """
    if allocation not in ALLOCATIONS:
        raise ValueError(f"allocation must be one of {ALLOCATIONS}, got {allocation!r}.")
    search = _Search(mlp, X, mode=mode, gamma=gamma, solver=solver,
                     penalize_intercept=penalize_intercept, polish=polish, max_iter=max_iter,
                     tol=tol, n_jobs=n_jobs, verbose=verbose, reweight=reweight,
                     sample_weight=sample_weight)
    n_layers = len(search.weights)
    budget = (1.0 - target) * search.total
    rng = check_random_state(random_state)
    rows = (np.arange(search.X.shape[0]) if search.X.shape[0] <= SEARCH_SAMPLES
            else np.sort(rng.choice(search.X.shape[0], SEARCH_SAMPLES, replace=False)))
    with warnings.catch_warnings():
        # Intermediate solves: only the returned layers' convergence is reported.
        warnings.simplefilter("ignore", ConvergenceWarning)
        eps_grid, nnz, shift = search.layer_paths(rows)
    if allocation == "uniform":
        overall = nnz.sum(axis=0)
        log_grid = np.log(np.maximum(eps_grid[0], 1e-4))
        theta0 = _interpolate(log_grid[1:], overall[1:], budget)
        base = np.zeros(n_layers)

        def epsilons(theta):
            eps = np.full(n_layers, np.exp(theta))
            if mode == "cascade":
                eps[1:] = 0.0
            return eps
    else:
        chosen = choose_points(nnz, shift, budget)
        base = eps_grid[np.arange(n_layers), chosen]
        if mode == "cascade" or not np.any(base > 0):
            theta0 = 0.0
            base = np.where(base > 0, base, SEARCH_GRID[0])

            def epsilons(theta):
                return base * np.exp(theta)
        else:
            # The layer that moves: the one with the most non-zeros at stake between its
            # chosen point and the next denser one.
            steps = np.where(chosen > 0,
                             nnz[np.arange(n_layers), np.maximum(chosen - 1, 0)]
                             - nnz[np.arange(n_layers), chosen], -1)
            moving = int(np.argmax(steps))
            others = budget - (nnz[np.arange(n_layers), chosen].sum() - nnz[moving, chosen[moving]])
            theta0 = _interpolate(np.log(SEARCH_GRID), nnz[moving, 1:], others)

            def epsilons(theta):
                eps = base.copy()
                eps[moving] = np.exp(theta)
                return eps
    if verbose:
        print(f"[NetTrim] target sparsity {target:.3f} ({allocation} allocation):"
              f" starting tolerances {np.round(epsilons(theta0), 4).tolist()}", flush=True)

    cache, previous = {}, [None]

    def evaluate(theta):
        eps = epsilons(theta)
        if mode == "parallel":
            weights, records = search.solve_parallel(eps, cache)
        else:
            weights, l1, records = search.solve_cascade(eps, previous[0])
            previous[0] = l1
        sparsity = search.sparsity(records)
        if verbose:
            print(f"[NetTrim] tolerances {np.round(eps, 4).tolist()}: sparsity"
                  f" {sparsity:.4f}", flush=True)
        return sparsity, (weights, records, eps)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        (_, sparsity, (weights, records, eps)), history = _secant_search(evaluate, theta0,
                                                                         target)
    for record in records:
        report(record, verbose)
    if abs(sparsity - target) > SPARSITY_TOLERANCE:
        warn_user(
            f"target_sparsity={target:g} was not met within {SPARSITY_TOLERANCE:g}: the"
            f" closest of {len(history)} solves reached {sparsity:.4f} (per-layer tolerances"
            f" {np.round(eps, 4).tolist()}). "
            + ("The network cannot be pruned less: inputs that are zero on every"
               " calibration row and units that never fire carry weights that are zero at"
               " any epsilon." if sparsity > target else
               "Nearby tolerances give very different supports (a layer jumps between"
               " sizes); try mode='parallel', allocation='uniform' or more calibration"
               " rows."))
    return weights, records, eps

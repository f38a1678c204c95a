"""Pruning to a target size: tolerance policies that split a budget of non-zeros.

A user asks for "90% of the weights gone". One relative epsilon for every layer prunes a
small layer about as hard as a big one, although the big first layer holds most of the
weights and the small last layers most of the accuracy. The ``allocation`` parameter
chooses how the budget is split; each choice drives the engine (:mod:`._engine`) with a
tolerance policy:

``"magnitude"``
    Every layer gets the non-zeros that one global threshold on the trained ``|w|``
    keeps; each layer's tolerance is then searched for its share
    (:class:`BudgetSearch`: a secant search per layer, warm-started solves).
``"output"``
    Every layer's warm-started Net-Trim path over a grid of tolerances (layers
    independent, on a subsample of the calibration rows), each point scored by how far
    the network's final pre-activations move when that layer ALONE is pruned there. One
    price per non-zero weight, shared by all layers (the Lagrangian reading of
    ``min sum_l err_l  s.t.  sum_l nnz_l <= budget``, which is what a global magnitude
    threshold does with |w| as the error), picks each layer's share; then as
    ``"magnitude"``.
``"uniform"``
    One relative epsilon for every layer (cascade mode: for the first layer, later
    layers from ``gamma``), found by a secant search over whole traversals.
``"auto"``
    ``"magnitude"`` (:func:`resolve_allocation` says why; the fitted ``allocation_``
    says which was used).

In cascade mode the per-layer searches run layer after layer: a later layer's searched
value is the floor of its tolerance (see :func:`~._engine.cascade_problem`) and its
unused share passes to the next layer. Every layer is still a Net-Trim program with its
own epsilon, so every layer keeps its guarantee and :func:`check_certificate` checks it;
only the tolerances were chosen for the user.
"""

import time
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from ._engine import (
    FinishFound,
    FixedTolerances,
    Network,
    final_weights,
    finish,
    report,
    solve_l1,
    traverse,
)
from ._network import layer_inputs
from ._program import LayerProgram
from ._solvers.support import least_squares_on_support, top_k
from ._spec import SolverSpec, records_nnz
from ._warnings import warn_user

ALLOCATIONS = ("auto", "magnitude", "output", "uniform")

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
#: Bracketing from epsilon 0.1 takes up to 5 of them; at 8 a uniform cascade of a
#: 64-32-16-10 digits network missed 0.9 (0.9059), the 9th solve met it (0.9015).
MAX_EVALUATIONS = 10

#: The tolerance that gives a layer its budget of non-zeros, against the relative error
#: of the layer pruned to that budget by magnitude and refitted: 1.37 to 1.73 on the three
#: layers of a digits 64-128-64-10 network at 90% (see ``_Search.magnitude_guesses``).
GUESS_FACTOR = 1.5

#: A layer's search stops within this fraction of its budget of non-zeros (and within
#: the overall tolerance): late solves start from the nearest one's state, 10-20
#: iterations each.
BUDGET_TOLERANCE = 0.02

#: Largest epsilon the uniform search tries.
UNIFORM_MAX = 0.95

#: Cascade mode: passes over the layers, the first layer's share corrected after each
#: by what the later layers could not hold (or took in excess). A digits 64-128-64-10
#: network at 80% (refine polish) swung 2314 -> 1495 first-layer weights with a plain
#: shift and ended 4.6 points short after 3 passes; the secant meets it in 4.
CASCADE_PASSES = 4


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


def resolve_allocation(allocation, mode):
    """The allocation ``"auto"`` stands for in ``mode`` (others are themselves).

    ``"magnitude"`` in both modes. Measured (``benchmarks/bench_defaults.py``, cascade
    mode with ``polish="refine"``, at 90% and 95%): as accurate as or more accurate than
    ``"uniform"`` on every network but one point (MNIST-5k at 95%: 0.926 against 0.931),
    far ahead on deeper digits networks (64-64-64-32-10 at 95%: 0.943 against 0.828),
    and its search refines each layer once instead of at every step.
    """
    if allocation not in ALLOCATIONS:
        raise ValueError(f"allocation must be one of {ALLOCATIONS}, got {allocation!r}.")
    return "magnitude" if allocation == "auto" else allocation


class TargetSearch:
    """The network, its calibration data and the options of one target-size search."""

    def __init__(self, network, options):
        self.network = network
        self.options = options
        # Searches solve nearby programs: every solve keeps its state (_solvers.state).
        # Intermediate layers are not reported; prune_to_sparsity reports the final ones.
        self.search_options = options.with_(solver_keep_state=True, verbose=0)
        self.total = network.size

    def sparsity(self, records):
        return 1.0 - records_nnz(records) / self.total

    # ------------------------------------------------------------ allocation search
    def layer_paths(self, rows):
        """nnz and output shift of every layer along ``SEARCH_GRID`` (column 0: eps 0).

        Returns ``(epsilons, nnz, shift)``, each of shape (n_layers, n_points); ``shift``
        is the squared change of the final pre-activations when that layer alone is
        pruned, relative to their squared norm.
        """
        net = self.network
        X = net.X[rows]
        sub = Network(net.weights, X, net.kinds, net.activation,
                      layer_inputs(net.weights, X, net.activation))
        weight = (None if self.options.sample_weight is None
                  else self.options.sample_weight[rows])
        options = self.options.with_(
            mode="parallel", solver=SolverSpec("admm", self.options.solver.max_iter,
                                               max(self.options.solver.tol, SEARCH_TOL),
                                               keep_state=True),
            polish="least_squares" if self.options.polish else None, reweight=0,
            sample_weight=weight, verbose=0)
        row_weight = 1.0 if weight is None else np.asarray(weight)[:, None]
        n_layers = net.n_layers
        grid = np.r_[0.0, SEARCH_GRID]
        eps = np.tile(grid, (n_layers, 1))
        exact = traverse(sub, FixedTolerances(eps[:, :1]), options.with_(polish=None))
        pruned = traverse(sub, FixedTolerances(eps[:, 1:]), options)
        results = [exact[i] + pruned[i] for i in range(n_layers)]
        reference = final_preactivations(net.weights, sub.inputs[0], net.activation)
        scale = max(float(np.sum(row_weight * reference ** 2)), np.finfo(float).tiny)
        nnz = np.empty(eps.shape)
        shift = np.empty(eps.shape)
        for k in range(grid.size):
            for i in range(n_layers):
                nnz[i, k] = results[i][k].record.nnz_after
                moved = final_preactivations(net.weights, sub.inputs[i], net.activation, i,
                                             results[i][k].weights)
                shift[i, k] = float(np.sum(row_weight * (moved - reference) ** 2)) / scale
        if self.options.verbose:
            for i in range(n_layers):
                print(f"[NetTrim] allocation path, layer {i}: nnz "
                      + " ".join(str(int(n)) for n in nnz[i]) + "; output shift "
                      + " ".join(f"{s:.2g}" for s in shift[i]), flush=True)
        return eps, nnz, shift

    def capacity(self):
        """Non-zeros each layer keeps at epsilon 0 (silent inputs and dead units dropped)."""
        counts = []
        for i, W in enumerate(self.network.weights):
            inputs = self.network.inputs[i]
            silent = ~np.any(inputs != 0, axis=0)
            if self.network.kinds[i] == "relu":
                dead = ~np.any(inputs @ W[:-1] + W[-1] > 0, axis=0)
            else:
                dead = np.zeros(W.shape[1], dtype=bool)
            counts.append(np.count_nonzero(W[:-1][~silent][:, ~dead]))
        return np.array(counts, dtype=float)

    def magnitude_guesses(self, budgets):
        """A first tolerance per layer for its budget of non-zeros.

        The relative error of the layer pruned to its budget by magnitude and refitted
        by least squares on that support, times :data:`GUESS_FACTOR` (the l1 solution
        at a tolerance keeps more weights than magnitude pruning with the same error).
        """
        guesses = []
        for i, W in enumerate(self.network.weights):
            body = np.ones(W.shape, dtype=bool)
            body[-1] = False
            k = int(min(max(round(budgets[i]), 0), W[:-1].size))
            program = LayerProgram(self.network.inputs[i], W, kind=self.network.kinds[i],
                                   epsilon=0.0, sample_weight=self.options.sample_weight)
            U = least_squares_on_support(program, top_k(W, body, k))
            guesses.append(GUESS_FACTOR * program.check(U).relative_error)
        return np.clip(np.nan_to_num(np.asarray(guesses), nan=0.1), 1e-3, UNIFORM_MAX)

    def output_budgets(self, budget, random_state):
        """Per-layer non-zeros from the shared price, and first guesses of the tolerances."""
        rng = check_random_state(random_state)
        n = self.network.X.shape[0]
        rows = (np.arange(n) if n <= SEARCH_SAMPLES
                else np.sort(rng.choice(n, SEARCH_SAMPLES, replace=False)))
        eps_grid, nnz, shift = self.layer_paths(rows)
        n_layers = self.network.n_layers
        chosen = choose_points(nnz, shift, budget)
        budgets = nnz[np.arange(n_layers), chosen]
        # The slack the grid leaves goes to the layer with the most at stake between its
        # chosen point and the next denser one.
        steps = np.where(chosen > 0, nnz[np.arange(n_layers), np.maximum(chosen - 1, 0)]
                         - budgets, -1)
        budgets[int(np.argmax(steps))] += max(budget - budgets.sum(), 0)
        guesses = [np.exp(_interpolate(np.log(SEARCH_GRID), nnz[i, 1:], budgets[i]))
                   for i in range(n_layers)]
        return budgets, np.array(guesses)

    def to_budgets(self, budgets, guesses):
        """Every layer's tolerance searched for its budget of non-zeros.

        Returns the pruned weights, the records and the tolerance found per layer
        (cascade layers >= 2: the floor).
        """
        policy = BudgetSearch(np.asarray(budgets, float), np.asarray(guesses, float),
                              self.options.verbose)
        results = traverse(self.network, policy, self.search_options)
        weights, records = final_weights(results)
        return weights, records, np.array([r[-1].epsilon for r in results])

    def uniform(self, target, budget):
        """One relative epsilon for every layer (cascade: the first), by a secant search.

        The search solves without polishing where polishing cannot change the sparsity
        (parallel mode) and polishes the l1 solutions found once at the end; cascade
        evaluations are whole cascades, polished, since a polished layer changes the
        next layer's program.
        """
        n_layers = self.network.n_layers
        cascade = self.options.mode == "cascade"
        eps_of = (lambda e: np.r_[e, np.zeros(n_layers - 1)]) if cascade \
            else (lambda e: np.full(n_layers, e))
        previous = [None]
        options = self.search_options if cascade else self.search_options.with_(polish=None)
        started, steps = time.perf_counter(), []

        def evaluate(theta):
            eps = eps_of(float(np.exp(theta)))
            results = traverse(self.network, FixedTolerances(eps[:, None]), options,
                               warm_starts=previous[0])
            previous[0] = [r[0].l1.start for r in results]
            sparsity = self.sparsity([r[0].record for r in results])
            steps.append(sparsity)
            if self.options.verbose:
                print(f"[NetTrim] search step {len(steps)}: epsilon {eps[0]:.4g} -> sparsity"
                      f" {sparsity:.4f} (target {target:.4f}),"
                      f" {time.perf_counter() - started:.1f}s", flush=True)
            return sparsity, (results, eps)

        # The first guess from the magnitude split: the first layer's (in cascade mode
        # the later layers' tolerances follow from it), or the layers' guesses averaged
        # in log by their sizes. On a digits 64-128-64-10 cascade at 90%: 0.477 for the
        # 0.484 found, 4 solves instead of 6 from 0.1.
        guesses = self.magnitude_guesses(magnitude_budgets(self.network.weights, budget))
        sizes = [W[:-1].size for W in self.network.weights]
        theta0 = (np.log(guesses[0]) if cascade
                  else float(np.average(np.log(guesses), weights=sizes)))
        # Below 1: at epsilon >= 1 a ReLU layer may vanish, and in cascade mode the
        # sparsity stops growing with epsilon there (later layers must repair it).
        (_, _, (results, eps)), history = _secant_search(
            evaluate, theta0, target, bounds=(np.log(1e-4), np.log(UNIFORM_MAX)))
        if not cascade and self.options.polish:
            found = [(r[0].l1, eps[i]) for i, r in enumerate(results)]
            results = traverse(self.network, FinishFound(found), self.search_options)
        weights, records = final_weights(results)
        return weights, records, eps, len(history)


def _layer_tolerance(weights, budget):
    """How far a layer may land from its budget of non-zeros.

    Within the overall tolerance, and within ``BUDGET_TOLERANCE`` of the budget itself:
    at 90% the first layer of a digits network keeps ~600 weights, and 55 fewer cost its
    network 3.5 points of test accuracy in parallel mode.
    """
    return max(1.0, min(0.8 * SPARSITY_TOLERANCE * weights[:-1].size,
                        BUDGET_TOLERANCE * budget))


@dataclass(frozen=True, eq=False)
class BudgetSearch:
    """Tolerance policy: every layer's tolerance searched for its number of non-zeros.

    In cascade mode (``earlier`` given) a layer's goal is its budget plus what the
    layers before it left unused, and the searched value is the floor of its tolerance.
    The search solves without polishing; the l1 solution found is polished once.
    """

    budgets: np.ndarray
    guesses: np.ndarray
    #: Print every search step (from the worker that runs the layer).
    verbose: int = 0

    def goal(self, index, earlier):
        """The layer's budget, plus (cascade) what the layers before it left unused."""
        if not earlier:  # parallel mode, or the first layer
            return self.budgets[index]
        goal = self.budgets[0] + 0.0
        for i in range(1, index + 1):
            goal = self.budgets[i] + (goal - earlier[i - 1][-1].record.nnz_after)
        return goal

    def solve(self, problem, options, warm_start, earlier):
        goal = self.goal(problem.index, earlier)
        tolerance = _layer_tolerance(problem.weights, goal)
        guess = self.guesses[problem.index]
        search_options = options.with_(polish=None)

        def solve(epsilon, start):
            program = problem.program_for(epsilon, options)
            return solve_l1(program, search_options, start)

        epsilon = found = None
        if problem.follows_pruned:
            # The tightest tolerance the cascade allows: if it already fits the budget,
            # the layer cannot use more weights.
            floor = solve(0.0, None)
            if floor.nnz <= goal + tolerance:
                epsilon, found = 0.0, floor
            else:
                guess = max(guess, 1.5 * problem.base_eps
                            / max(problem.target_norm, np.finfo(float).tiny))
        if epsilon is None:
            progress = _progress(problem.index, goal) if self.verbose else None
            epsilon, found = _layer_to_nnz(solve, goal, tolerance, guess, progress)
        # The l1 solution found, polished (solving again would move its nnz). At the
        # cascade floor it may keep fewer than the goal: the refinement may use the rest.
        program = problem.program_for(epsilon, options)
        budget = int(round(goal)) if problem.follows_pruned else None
        return [finish(problem, program, epsilon, found, options, budget)]


def _secant_search(evaluate, theta0, target, *, tolerance=SPARSITY_TOLERANCE,
                   guess_step=0.35, max_evals=MAX_EVALUATIONS,
                   bounds=(np.log(1e-4), np.log(4.0))):
    """Move ``theta`` until ``evaluate(theta)``'s value is within ``tolerance`` of target.

    ``evaluate`` returns ``(value, result)`` and the value grows with ``theta`` (not
    strictly in cascade mode). Brackets the target by doubling steps, then regula falsi;
    a bisection step follows two in a row that moved the same end (plain regula falsi
    creeps up on a curved or jumpy curve from one side: a cascade of a 64-32-16-10 digits
    network searched for 0.9 went 0.8812, 0.9074, 0.9059 and ran out of solves).
    Returns the evaluation closest to the target and all evaluations.
    """
    history = []
    moved = []  # which end each regula falsi step replaced (True: the low end)

    def run(theta):
        theta = float(np.clip(theta, *bounds))
        value, result = evaluate(theta)
        history.append((theta, value, result))
        return theta, value

    lo = hi = None
    theta, s = run(theta0)
    step = guess_step
    while abs(s - target) > tolerance and len(history) < max_evals:
        if s < target:
            lo = (theta, s)
        else:
            hi = (theta, s)
        if lo is None or hi is None:
            if (s < target and theta >= bounds[1]) or (s > target and theta <= bounds[0]):
                break
            direction = 1.0 if s < target else -1.0
            move = direction * step
            if len(history) >= 2:
                # The secant through the last two points when it points the right way,
                # at most twice the last step (the curves steepen: layers empty out).
                (t_a, s_a), (t_b, s_b) = [(h[0], h[1]) for h in history[-2:]]
                if (s_b - s_a) * (t_b - t_a) > 0:
                    last = abs(t_b - t_a)
                    move = float(np.clip((target - s) * (t_b - t_a) / (s_b - s_a),
                                         -2 * last, 2 * last))
            theta, s = run(theta + move)
            step = 2 * abs(move)
            continue
        (t0, s0), (t1, s1) = lo, hi
        if len(moved) >= 2 and moved[-1] == moved[-2] or s1 == s0:
            new = (t0 + t1) / 2
        else:
            new = t0 + (target - s0) * (t1 - t0) / (s1 - s0)
            margin = 0.05 * abs(t1 - t0)
            new = min(max(new, min(t0, t1) + margin), max(t0, t1) - margin)
        theta, s = run(new)
        moved.append(s < target)
    best = min(history, key=lambda h: (abs(h[1] - target), -h[1]))
    return best, history


def _progress(index, goal):
    """A printer of one layer's search steps, with the time since the search began."""
    started = time.perf_counter()

    def show(epsilon, nnz):
        print(f"[NetTrim] layer {index} search: epsilon {epsilon:.4g} -> {nnz} non-zeros"
              f" (budget {goal:.0f}), {time.perf_counter() - started:.1f}s", flush=True)

    return show


def _layer_to_nnz(solve, target, tolerance, guess, progress=None):
    """The tolerance at which one layer keeps about ``target`` non-zeros.

    ``solve(epsilon, warm_start)`` returns the layer's :class:`~._engine.L1Solve`.
    Each solve starts where the solve at the nearest tolerance (in log) ended: the
    secant's late steps are close to each other, and from the solver's state a close
    program takes a fraction of the iterations. Returns ``(epsilon, l1)`` of the closest
    evaluation.
    """
    solved = {}

    def evaluate(theta):
        epsilon = float(np.exp(theta))
        nearest = min(solved, key=lambda e: abs(np.log(max(e, 1e-12)) - theta),
                      default=None)
        l1 = solve(epsilon, None if nearest is None else solved[nearest].start)
        solved[epsilon] = l1
        for old in list(solved)[:-2]:  # solver states (n_samples x M) of the last two only
            solved[old] = solved[old].without_state()
        if progress is not None:
            progress(epsilon, l1.nnz)
        return -float(l1.nnz), epsilon

    (_, _, epsilon), _ = _secant_search(evaluate, np.log(guess), -float(target),
                                        tolerance=tolerance)
    return epsilon, solved[epsilon]


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


def magnitude_budgets(weights, budget):
    """Per-layer non-zeros that one global threshold on ``|w|`` keeps (``budget`` in all)."""
    magnitudes = np.concatenate([np.abs(W[:-1]).ravel() for W in weights])
    keep = int(np.clip(round(budget), 0, magnitudes.size))
    if keep == 0:
        return np.zeros(len(weights))
    threshold = np.partition(magnitudes, magnitudes.size - keep)[magnitudes.size - keep]
    counts = np.array([np.sum(np.abs(W[:-1]) >= threshold) for W in weights], dtype=float)
    counts[np.argmax(counts)] -= counts.sum() - keep  # ties at the threshold
    return counts


def fit_capacity(budgets, capacity):
    """Budgets no larger than what each layer can hold, the excess moved to the others."""
    budgets = np.minimum(np.asarray(budgets, float), capacity).astype(float)
    excess = float(np.sum(np.maximum(np.asarray(budgets, float) - capacity, 0)))
    room = capacity - budgets
    if excess > 0 and room.sum() > 0:
        budgets += room * min(1.0, excess / room.sum())
    return budgets


def prune_to_sparsity(network, target, allocation, options):
    """Prune ``network`` (an :class:`~._engine.Network`) so that a fraction ``target``
    of its weights is zero, with ``allocation`` already resolved.

    Returns ``(weights, records, epsilons)``: the pruned stacked weights, one record per
    layer and the relative tolerance of every layer (cascade mode: the first layer's
    tolerance and the later layers' floors). Warns when the achieved sparsity is more
    than ``SPARSITY_TOLERANCE`` from the target.
    """
    search = TargetSearch(network, options)
    budget = (1.0 - target) * search.total
    verbose = options.verbose
    with warnings.catch_warnings():
        # Intermediate solves: only the returned layers' convergence is reported.
        warnings.simplefilter("ignore", ConvergenceWarning)
        if allocation == "uniform":
            weights, records, eps, evaluations = search.uniform(target, budget)
        else:
            weights, records, eps = _split_budget(search, budget, allocation)
            evaluations = "per-layer"
    for record in records:
        report(record, verbose)
    sparsity = search.sparsity(records)
    if abs(sparsity - target) > SPARSITY_TOLERANCE:
        warn_user(
            f"target_sparsity={target:g} was not met within {SPARSITY_TOLERANCE:g}: the"
            f" closest of the {evaluations} solves reached {sparsity:.4f} (per-layer"
            f" tolerances {np.round(eps, 4).tolist()}). "
            + ("The network cannot be pruned less: inputs that are zero on every"
               " calibration row and units that never fire carry weights that are zero at"
               " any epsilon, and in cascade mode a later layer cannot keep more weights"
               " than its tightest tolerance gives." if sparsity > target else
               "Nearby tolerances give very different supports (a layer jumps between"
               " sizes); try another allocation or more calibration rows."))
    return weights, records, eps


def _split_budget(search, budget, allocation):
    """The per-layer allocations: budgets, then every layer searched for its share."""
    options = search.options
    if allocation == "magnitude":
        budgets = magnitude_budgets(search.network.weights, budget)
        guesses = search.magnitude_guesses(budgets)
    else:
        budgets, guesses = search.output_budgets(budget, options.random_state)
    capacity = search.capacity()
    budgets = fit_capacity(budgets, capacity)
    if options.verbose:
        print(f"[NetTrim] target sparsity {1 - budget / search.total:.3f} ({allocation}"
              f" allocation): non-zeros per layer {np.round(budgets).astype(int).tolist()}",
              flush=True)
    passes = [(budgets[0], search.to_budgets(budgets, guesses))]
    for _ in range(CASCADE_PASSES - 1):
        first, (_, records, eps) = passes[-1]
        kept = records_nnz(records)
        if options.mode != "cascade" or abs(budget - kept) <= SPARSITY_TOLERANCE * search.total:
            break
        # Later layers could not hold their share at the tightest tolerance the cascade
        # allows (or, given a denser first layer, took more): move the first layer's
        # share, along the secant of the total against it once two passes show its slope
        # (a denser first layer leaves later layers smaller tolerances: they keep more).
        step = budget - kept
        if len(passes) >= 2:
            first_before, (_, records_before, _) = passes[-2]
            slope = (kept - records_nnz(records_before)) / (first - first_before or 1.0)
            if slope > 0:
                step /= slope
        budgets[0] = float(np.clip(first + step, 1, capacity[0]))
        guesses[0] = max(eps[0], 1e-3)
        if options.verbose:
            print(f"[NetTrim] next pass, first layer's share {int(budgets[0])}", flush=True)
        passes.append((budgets[0], search.to_budgets(budgets, guesses)))
    # The pass closest to the target (ties: the sparser).
    _, (weights, records, eps) = min(
        passes, key=lambda p: (abs(budget - records_nnz(p[1][1])), records_nnz(p[1][1])))
    return weights, records, eps

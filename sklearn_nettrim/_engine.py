"""The layer-traversal engine: every pruning of the package runs through :func:`traverse`.

Two ways through a network (design notes, section 1):

parallel
    every layer against the ORIGINAL network's activations; layers are independent, one
    joblib job each (:class:`sklearn.utils.parallel.Parallel`, so ``n_jobs`` and a
    user's ``joblib.parallel_config(backend=...)`` decide where they run; each job
    carries that layer's arrays only);
cascade
    layer after layer, each on the pruned network's own input, its program built by
    :func:`cascade_problem`.

What tolerance each layer gets is a *policy* object with one method,
``solve(problem, options, warm_start, earlier) -> list[LayerResult]``: a fixed tolerance
per layer along a grid (:class:`FixedTolerances`: single fits, paths, CV folds), a
search for a number of non-zeros (``_allocation.BudgetSearch``), or the polish of l1
solutions found earlier (:class:`FinishFound`). ``earlier`` holds the results of the
layers before (cascade mode only). A layer's solve is split in two: :func:`solve_l1`
(the l1 program, reweighting rounds included) and :func:`finish` (the polish and the
layer's :class:`~._spec.LayerRecord`), so that a search can polish what it found without
solving again.
"""

import time
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.parallel import Parallel, delayed

from ._network import layer_inputs, layer_output, network_arrays
from ._penalties import reweighted_penalty
from ._polish import polish_on_support, polish_outputs, refit_on_support
from ._program import LayerProgram
from ._refine import refine_layer
from ._solvers import solve_layer, start_weights
from ._spec import GUARANTEES, LayerRecord
from ._warnings import warn_user
from ._weights import weighted_norm


@dataclass(frozen=True, eq=False)
class Network:
    """A fitted MLP's stacked weights and its calibration data, in one float dtype."""

    weights: list
    X: np.ndarray
    kinds: list
    activation: object
    #: Every layer's input on ``X`` in the original network: ``[X, h_1, ...]``.
    inputs: list

    @classmethod
    def from_mlp(cls, mlp, X):
        weights, X, kinds, activation = network_arrays(mlp, X)
        return cls(weights, X, kinds, activation, layer_inputs(weights, X, activation))

    @property
    def n_layers(self):
        return len(self.weights)

    @property
    def size(self):
        """Non-intercept weights in all layers."""
        return sum(W[:-1].size for W in self.weights)


@dataclass(frozen=True, eq=False)
class LayerProblem:
    """One layer's data, before a tolerance is chosen.

    A parallel layer (and a cascade's first) keeps the original network's outputs on
    the original input, at a relative tolerance. A later cascade layer keeps them on
    the pruned input (``targets``, ``upper_bound`` and ``base_eps`` from
    :func:`cascade_problem`); its tolerance is ``max(base_eps, floor * target_norm)``
    for a relative ``floor``.
    """

    index: int
    kind: str
    mode: str
    inputs: np.ndarray
    weights: np.ndarray
    targets: np.ndarray | None = None
    upper_bound: np.ndarray | None = None
    base_eps: float | None = None
    target_norm: float | None = None

    @property
    def follows_pruned(self):
        """Whether this is a cascade layer >= 2 (a tolerance floor, not an epsilon)."""
        return self.base_eps is not None

    def program_for(self, epsilon, options):
        """The layer's program at ``epsilon`` with the penalty and weights of a fit."""
        return self.program(epsilon, penalty=options.make_penalty(),
                            sample_weight=options.sample_weight)

    def program(self, epsilon, *, penalty, sample_weight=None):
        """The layer's program at ``epsilon`` (relative tolerance, or relative floor)."""
        if not self.follows_pruned:
            return LayerProgram(self.inputs, self.weights, kind=self.kind, epsilon=epsilon,
                                sample_weight=sample_weight, penalty=penalty)
        return LayerProgram(self.inputs, self.weights, kind=self.kind,
                            epsilon=max(self.base_eps, float(epsilon) * self.target_norm),
                            relative=False, targets=self.targets,
                            upper_bound=self.upper_bound, sample_weight=sample_weight,
                            penalty=penalty)


def parallel_problem(index, kind, inputs, weights, mode="parallel"):
    """A layer against the original network's activations."""
    return LayerProblem(index, kind, mode, inputs, weights)


def cascade_problem(index, kind, original_input, pruned_input, weights, gamma,
                    sample_weight=None):
    """A cascade layer ``l >= 2``: the original outputs kept on the pruned input.

    ``V = A_pruned @ W_l`` on Omega^c and ``eps_l^2 = gamma * ||(A_pruned @ W_l - Y_l)
    on Omega||^2`` (the whole residual for a linear layer), so that the original ``W_l``
    stays feasible on the pruned input. With ``sample_weight`` the norms are the weighted
    ones (targets and ``V`` stay unscaled: the layer program scales them).
    """
    W = weights
    Z_orig = original_input @ W[:-1] + W[-1]
    Z_pruned = pruned_input @ W[:-1] + W[-1]
    if kind == "relu":
        targets = np.maximum(Z_orig, 0)
        omega = targets > 0
        residual = np.where(omega, Z_pruned - targets, 0)
        upper = np.where(omega, 0, Z_pruned)
    else:
        targets, residual, upper = Z_orig, Z_pruned - Z_orig, None
    base_eps = float(np.sqrt(gamma)) * weighted_norm(residual, sample_weight)
    return LayerProblem(index, kind, "cascade", pruned_input, W, targets, upper, base_eps,
                        weighted_norm(targets, sample_weight))


@dataclass(frozen=True, eq=False)
class L1Solve:
    """A layer's l1 solution (after any reweighting rounds), before polishing."""

    weights: np.ndarray
    #: Warm start of the next solve of this layer: the ADMM's state when kept, else the
    #: weights (after reweighting, the weights: the state belongs to another penalty).
    start: object
    check: object
    n_iter: int
    seconds: float
    converged: bool
    message: str
    gap: float

    @property
    def nnz(self):
        return int(np.count_nonzero(self.weights[:-1]))

    def without_state(self):
        """The same solution with its warm start reduced to weights (frees memory)."""
        return L1Solve(self.weights, start_weights(self.start), self.check, self.n_iter,
                       self.seconds, self.converged, self.message, self.gap)


@dataclass(frozen=True, eq=False)
class LayerResult:
    """A finished layer: its final weights, its record and the l1 solve behind them."""

    weights: np.ndarray
    record: LayerRecord
    l1: L1Solve
    #: The tolerance the policy chose (relative; a floor for cascade layers >= 2).
    epsilon: float

    def without_state(self):
        return LayerResult(self.weights, self.record, self.l1.without_state(), self.epsilon)


def solve_l1(program, options, warm_start=None):
    """Solve a layer's l1 program, then ``options.reweight`` reweighted rounds.

    Runs in a worker: it does not warn (warnings do not cross process boundaries); the
    caller reports from the record.
    """
    solver, solver_options = options.solver.name, options.solver.options()
    solution = solve_layer(program, solver, warm_start=warm_start, warn=False,
                           **solver_options)
    n_iter, seconds = solution.n_iter, solution.seconds
    current = program
    for _ in range(options.reweight):
        current = current.with_penalty(reweighted_penalty(current.penalty, solution.weights))
        solution = solve_layer(current, solver, warm_start=solution.weights, warn=False,
                               **solver_options)
        n_iter, seconds = n_iter + solution.n_iter, seconds + solution.seconds
    state = solution.extra.get("state")
    start = state if state is not None and not options.reweight else solution.weights
    # The record measures the plain penalty, also after reweighting.
    check = program.check(solution.weights) if options.reweight else solution.check
    return L1Solve(solution.weights, start, check, n_iter, seconds, solution.converged,
                   solution.message, float(solution.extra.get("gap", np.nan)))


#: ``polish`` -> the function refitting the l1 solution's kept weights.
POLISHERS = {"feasible": polish_on_support, "output": polish_outputs,
             "least_squares": refit_on_support}


def polish_weights(program, U, polish, budget=None):
    """``(weights, refined)`` after ``polish`` (``refined``: None unless "refine").

    ``budget``: the non-zeros a refined layer may keep if the l1 solution kept fewer.
    """
    if polish is None:
        return U, None
    if polish == "refine":
        U, refined, _ = refine_layer(program, U, budget)
        return U, bool(refined)
    return POLISHERS[polish](program, U), None


def finish(problem, program, epsilon, l1, options, budget=None):
    """Polish a layer's l1 solution and make its record: a :class:`LayerResult`."""
    U, check, seconds = l1.weights, l1.check, l1.seconds
    start = time.perf_counter()
    U, refined = polish_weights(program, U, options.polish, budget)
    if options.polish is not None:
        check = program.check(U)
        seconds += time.perf_counter() - start
    W = problem.weights
    n_body = W[:-1].size
    nnz = int(np.count_nonzero(U[:-1]))
    eps_abs = program.eps_abs
    record = LayerRecord(
        layer=problem.index, kind=problem.kind, mode=problem.mode,
        shape=tuple(W[:-1].shape), n_samples=program.n_samples,
        epsilon=(float(eps_abs) / max(program.target_norm, np.finfo(float).tiny)
                 if problem.follows_pruned else float(epsilon)),
        epsilon_floor=float(epsilon) if problem.follows_pruned else None,
        eps_abs=eps_abs, gamma=float(options.gamma), penalty=options.penalty,
        penalize_intercept=bool(options.penalize_intercept), solver=options.solver.name,
        polished=options.polish, guarantee=GUARANTEES[options.polish], refined=refined,
        reweight=int(options.reweight), nnz_before=int(np.count_nonzero(W[:-1])),
        nnz_after=nnz, sparsity=1.0 - nnz / n_body if n_body else 0.0,
        relative_error=check.relative_error, output_error=check.output_error,
        output_bound=program.output_bound(), violation=check.violation,
        l1_before=program.objective(W), l1_after=check.l1, gap=l1.gap, n_iter=l1.n_iter,
        converged=bool(l1.converged), message=l1.message,
        inputs_kept=int(np.count_nonzero(np.any(U[:-1] != 0, axis=1))), seconds=seconds)
    return LayerResult(U, record, l1, float(epsilon))


def solve_at(problem, epsilon, options, warm_start=None):
    """A layer solved and finished at one tolerance."""
    program = problem.program_for(epsilon, options)
    return finish(problem, program, epsilon, solve_l1(program, options, warm_start), options)


@dataclass(frozen=True, eq=False)
class FixedTolerances:
    """Every layer at given tolerances: ``grid`` of shape (n_layers, n_points).

    A layer walks its row of the grid, each solve warm-started from the previous one;
    only the last point keeps its solver state (n_samples x n_outputs arrays). In
    cascade mode the grid has one point, and a later layer's value is its floor.
    """

    grid: np.ndarray

    def solve(self, problem, options, warm_start, earlier):
        results = []
        for epsilon in self.grid[problem.index]:
            result = solve_at(problem, epsilon, options, warm_start)
            if results:
                results[-1] = results[-1].without_state()
            results.append(result)
            warm_start = result.l1.start
        return results


@dataclass(frozen=True, eq=False)
class FinishFound:
    """Polish l1 solutions found by a search, at the tolerances they were found at."""

    found: list

    def solve(self, problem, options, warm_start, earlier):
        l1, epsilon = self.found[problem.index]
        program = problem.program_for(epsilon, options)
        return [finish(problem, program, epsilon, l1, options)]


def report(record, verbose):
    """Warn about a layer that did not converge; print its line if ``verbose``."""
    if not record.converged:
        warn_user(
            f"Net-Trim layer {record.layer} ({record.kind}, shape {record.shape}):"
            f" solver {record.solver!r} did not converge ({record.message});"
            f" reached relative constraint violation {record.violation:.3g},"
            f" optimality gap {record.gap:.3g}. Increase max_iter or tol.",
            ConvergenceWarning)
    if verbose:
        print(f"[NetTrim] layer {record.layer} {record.kind:6s}"
              f" {record.shape[0]}x{record.shape[1]}:"
              f" nnz {record.nnz_before} -> {record.nnz_after}"
              f" ({100 * record.sparsity:.1f}% zero), error {record.relative_error:.4f},"
              f" {record.n_iter} it, {record.seconds:.2f}s", flush=True)


def _layer_job(problem, policy, options, warm_start):
    return problem.index, policy.solve(problem, options, warm_start, None)


def traverse(network, policy, options, warm_starts=None):
    """Prune every layer of ``network`` as ``policy`` says, in ``options.mode``.

    Returns one list of :class:`LayerResult` per layer (one per point of the policy).
    ``warm_starts``: per layer, a start for its first solve (weights or solver state).
    """
    n_layers = network.n_layers
    warm_starts = warm_starts or [None] * n_layers
    results = [None] * n_layers
    if options.mode == "parallel":
        jobs = (delayed(_layer_job)(
            parallel_problem(i, network.kinds[i], network.inputs[i], network.weights[i]),
            policy, options, warm_starts[i]) for i in range(n_layers))
        for i, layer_results in Parallel(n_jobs=options.n_jobs,
                                         return_as="generator_unordered")(jobs):
            results[i] = layer_results
            for result in layer_results:
                report(result.record, options.verbose)
        return results
    pruned_input = network.X
    for i, W in enumerate(network.weights):
        kind = network.kinds[i]
        if i == 0:
            problem = parallel_problem(0, kind, network.X, W, mode="cascade")
        else:
            problem = cascade_problem(i, kind, network.inputs[i], pruned_input, W,
                                      options.gamma, options.sample_weight)
        results[i] = policy.solve(problem, options, warm_starts[i], results[:i])
        report(results[i][-1].record, options.verbose)
        if i + 1 < n_layers:
            pruned_input = layer_output(pruned_input, results[i][-1].weights,
                                        network.activation)
    return results


def final_weights(results, point=-1):
    """The pruned stacked weights and records at one point of a traversal's results."""
    return ([r[point].weights for r in results], [r[point].record for r in results])

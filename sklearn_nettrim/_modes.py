"""The two pruning modes: every layer against the original network (parallel) or
layer after layer on the pruned network's own input (cascade).

Works on stacked weight arrays (see ``_network``). Parallel mode sends one job per layer
through :class:`sklearn.utils.parallel.Parallel`, so ``n_jobs`` and a user's
``joblib.parallel_config(backend=...)`` decide where layers are solved; each job carries
that layer's arrays only. Both modes prune along a grid of tolerances at once (a single
pruning is a grid of one), each solve warm-started from its neighbour's.
"""

import time

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.parallel import Parallel, delayed

from ._network import layer_output
from ._penalties import make_penalty, reweighted_penalty
from ._program import LayerProgram, LayerSolution
from ._solvers import solve_layer, start_weights
from ._warnings import warn_user
from ._weights import weighted_norm


def _nnz_body(U):
    return int(np.count_nonzero(U[:-1]))


def _solve_one(index, inputs, weights, *, kind, epsilon, relative=True, targets=None,
               upper_bound=None, penalize_intercept=False, solver="admm",
               solver_options=None, warm_start=None, polish=False, reweight=0,
               sample_weight=None, penalty="l1", solved=None):
    """Build and solve one layer's program.

    Returns ``(weights, start, record)``: the final (maybe polished) weights, the warm
    start for the next solve of this layer (the l1 solution, with the ADMM's state when
    there is one: see ``_solvers.state``) and the layer's record.
    ``solved``, the ``(start, record)`` of the same program solved before without
    polishing, skips the solve: searches for a target size polish what they found, and
    solving again would move the number of non-zeros by the solver's tolerance.
    Runs in a worker: it does not warn (warnings do not cross process boundaries), the
    caller does, from the record.
    """
    program = LayerProgram(inputs, weights, kind=kind, epsilon=epsilon, relative=relative,
                           targets=targets, upper_bound=upper_bound,
                           penalize_intercept=penalize_intercept, sample_weight=sample_weight,
                           penalty=make_penalty(penalty, penalize_intercept))
    penalty_template = program.penalty
    if solved is not None:
        earlier, found = solved
        U_l1 = start_weights(earlier)
        solution = LayerSolution(
            weights=U_l1, solver=found["solver"], converged=found["converged"],
            n_iter=found["n_iter"], seconds=found["seconds"], check=program.check(U_l1),
            message=found["message"], extra={"gap": found["gap"]})
        reweight_steps = 0  # already in the l1 solution
    else:
        solution = solve_layer(program, solver, warm_start=warm_start, warn=False,
                               **(solver_options or {}))
        reweight_steps = reweight
    n_iter, seconds = solution.n_iter, solution.seconds
    for _ in range(reweight_steps):
        program.penalty = reweighted_penalty(program.penalty, solution.weights)
        solution = solve_layer(program, solver, warm_start=solution.weights, warn=False,
                               **(solver_options or {}))
        n_iter, seconds = n_iter + solution.n_iter, seconds + solution.seconds
    U, check = solution.weights, solution.check
    # The next solve starts from this one's state (a polished earlier solve: from that
    # solve's start, state or weights); after reweighting, from the weights (the state's
    # multipliers belong to the reweighted penalty).
    state = earlier if solved is not None else solution.extra.get("state")
    next_start = state if state is not None and not reweight else solution.weights
    if reweight:
        program.penalty = penalty_template
        check = program.check(U)  # l1 and the rest measured with the plain penalty
    refined = None
    if polish == "refine":
        from ._refine import refine_layer

        start = time.perf_counter()
        U, refined, _ = refine_layer(program, U)
        check = program.check(U)
        seconds += time.perf_counter() - start
    elif polish:
        from ._polish import polish_on_support, polish_outputs, refit_on_support

        start = time.perf_counter()
        polisher = {"refit": refit_on_support, "output": polish_outputs}.get(
            polish, polish_on_support)
        U = polisher(program, U)
        check = program.check(U)
        seconds += time.perf_counter() - start
    n_body = weights[:-1].size
    record = {
        "layer": index,
        "kind": kind,
        "shape": tuple(weights[:-1].shape),
        "n_samples": program.n_samples,
        "epsilon": float(epsilon) if relative else float(epsilon) / max(program.target_norm,
                                                                        np.finfo(float).tiny),
        "nnz_before": _nnz_body(weights),
        "nnz_after": _nnz_body(U),
        "sparsity": 1.0 - _nnz_body(U) / n_body if n_body else 0.0,
        "eps_abs": program.eps_abs,
        "relative_error": check.relative_error,
        "output_error": check.output_error,
        "output_bound": program.output_bound(),
        "violation": check.violation,
        "l1_before": program.objective(weights),
        "l1_after": check.l1,
        "gap": float(solution.extra.get("gap", np.nan)),
        "n_iter": n_iter,
        "reweight": reweight,
        "converged": solution.converged,
        "solver": solver,
        "message": solution.message,
        "polished": polish if polish in ("refit", "output", "refine") else bool(polish),
        "refined": refined,
        "penalty": penalty,
        "inputs_kept": int(np.count_nonzero(np.any(U[:-1] != 0, axis=1))),
        "seconds": seconds,
    }
    return U, next_start, record


def _layer_path_job(index, inputs, weights, epsilons, *, warm_start=None, solved=None,
                    **options):
    """One layer along a grid of relative tolerances, each solve warm-started.

    ``solved`` (a grid of one only): the layer's unpolished solution, polished here.
    """
    results = []
    for epsilon in epsilons:
        U, start, record = _solve_one(index, inputs, weights, epsilon=epsilon,
                                      warm_start=warm_start, solved=solved, **options)
        if results:  # only the last point keeps its solver state (n_samples x M arrays)
            U_before, start_before, record_before = results[-1]
            results[-1] = (U_before, start_weights(start_before), record_before)
        results.append((U, start, record))
        warm_start = start
    return index, results


def report(record, verbose):
    """Warn about a layer that did not converge; print its line if ``verbose``."""
    if record["converged"] is False:
        warn_user(
            f"Net-Trim layer {record['layer']} ({record['kind']}, shape {record['shape']}):"
            f" solver {record['solver']!r} did not converge ({record['message']});"
            f" reached relative constraint violation {record['violation']:.3g},"
            f" optimality gap {record.get('gap', np.nan):.3g}."
            " Increase max_iter or tol.", ConvergenceWarning)
    if verbose:
        print(f"[NetTrim] layer {record['layer']} {record['kind']:6s}"
              f" {record['shape'][0]}x{record['shape'][1]}:"
              f" nnz {record['nnz_before']} -> {record['nnz_after']}"
              f" ({100 * record['sparsity']:.1f}% zero), error {record['relative_error']:.4f},"
              f" {record['n_iter']} it, {record['seconds']:.2f}s", flush=True)


def prune_parallel(weights, inputs, kinds, epsilons, *, n_jobs=None, verbose=0,
                   warm_starts=None, solved=None, **options):
    """Prune every layer against the original network's activations, concurrently.

    ``epsilons`` has shape (n_layers, n_points): each layer's relative tolerances along
    the path. Returns, per path point, the list of pruned layer weights, the list of
    l1 solutions (at the last point: warm starts, see :func:`_solve_one`) and the list of
    records. ``solved`` (one point only): per layer the ``(start, record)`` of an
    unpolished run at the same tolerances, to polish.
    """
    epsilons = np.atleast_2d(np.asarray(epsilons, dtype=float))
    n_layers, n_points = len(weights), epsilons.shape[1]
    if solved is not None and n_points != 1:
        raise ValueError("solved layers can be polished at one tolerance only.")
    warm_starts = warm_starts or [None] * n_layers
    solved = solved or [None] * n_layers
    jobs = (
        delayed(_layer_path_job)(i, inputs[i], weights[i], epsilons[i], kind=kinds[i],
                                 warm_start=warm_starts[i], solved=solved[i], **options)
        for i in range(n_layers)
    )
    pruned = [[None] * n_layers for _ in range(n_points)]
    l1 = [[None] * n_layers for _ in range(n_points)]
    records = [[None] * n_layers for _ in range(n_points)]
    for i, results in Parallel(n_jobs=n_jobs, return_as="generator_unordered")(jobs):
        for k, (U, U_l1, record) in enumerate(results):
            record["mode"] = "parallel"
            pruned[k][i], l1[k][i], records[k][i] = U, U_l1, record
            report(record, verbose)
    return pruned, l1, records


def cascade_layer_terms(original_input, pruned_input, W, kind, gamma, floor=0.0,
                        sample_weight=None):
    """Targets, ``V`` and absolute tolerance of a cascade layer ``l >= 2``.

    The targets are the ORIGINAL network's outputs; ``V = A_pruned @ W_l`` on Omega^c and
    ``eps_l^2 = gamma * ||(A_pruned @ W_l - Y_l) on Omega||^2`` (the whole residual for a
    linear layer), so that the original ``W_l`` stays feasible on the pruned input. A
    relative ``floor`` raises the tolerance to at least ``floor * ||Y_l||_F`` (a per-layer
    epsilon in cascade mode): ``W_l`` stays feasible, the layer may be pruned harder. With
    ``sample_weight`` the norms are the weighted ones (targets and ``V`` stay unscaled:
    the layer program scales them).
    """
    Z_orig = original_input @ W[:-1] + W[-1]
    Z_pruned = pruned_input @ W[:-1] + W[-1]
    if kind == "relu":
        targets = np.maximum(Z_orig, 0)
        omega = targets > 0
        residual = np.where(omega, Z_pruned - targets, 0)
        upper = np.where(omega, 0, Z_pruned)
    else:
        targets, residual, upper = Z_orig, Z_pruned - Z_orig, None
    eps_abs = float(np.sqrt(gamma)) * weighted_norm(residual, sample_weight)
    return targets, upper, max(eps_abs, float(floor) * weighted_norm(targets, sample_weight))


def prune_cascade(weights, X, kinds, epsilon, activation, *, gamma=1.1, verbose=0,
                  warm_starts=None, **options):
    """Prune layer after layer, each seeing the already pruned layers before it.

    Layer 1 is as in parallel mode, at ``epsilon`` (a number, or the first of one value
    per layer). Layer l >= 2 gets the pruned network's activation as input and its program
    from :func:`cascade_layer_terms`, with the layer's own value as the relative floor
    of its tolerance when ``epsilon`` has one value per layer.
    Returns the pruned weights, the l1 solutions and the records of the layers.
    """
    floors = np.zeros(len(weights)) if np.ndim(epsilon) == 0 else np.asarray(epsilon, float)
    epsilon = float(epsilon) if np.ndim(epsilon) == 0 else float(floors[0])
    warm_starts = warm_starts or [None] * len(weights)
    original = X
    pruned_input = X
    pruned, l1, records = [], [], []
    for i, W in enumerate(weights):
        kind = kinds[i]
        layer_options = dict(options, kind=kind, warm_start=warm_starts[i])
        if i == 0:
            U, U_l1, record = _solve_one(i, X, W, epsilon=epsilon, **layer_options)
        else:
            targets, upper, eps_abs = cascade_layer_terms(
                original, pruned_input, W, kind, gamma, floors[i],
                options.get("sample_weight"))
            U, U_l1, record = _solve_one(i, pruned_input, W, epsilon=eps_abs, relative=False,
                                         targets=targets, upper_bound=upper, **layer_options)
            record["epsilon_floor"] = float(floors[i])
        record["mode"] = "cascade"
        report(record, verbose)
        pruned.append(U)
        l1.append(U_l1)
        records.append(record)
        if i + 1 < len(weights):
            original = layer_output(original, W, activation)
            pruned_input = layer_output(pruned_input, U, activation)
    return pruned, l1, records

"""Pruning a whole network: one layer program per layer, in parallel or in cascade.

Works on stacked weight arrays (see ``_network``). Parallel mode sends one job per layer
through :class:`sklearn.utils.parallel.Parallel`, so ``n_jobs`` and a user's
``joblib.parallel_config(backend=...)`` decide where layers are solved; each job carries
that layer's arrays only.
"""

import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.parallel import Parallel, delayed

from ._program import LayerProgram
from ._solvers import solve_layer


def _nnz_body(U):
    return int(np.count_nonzero(U[:-1]))


def _solve_job(index, inputs, weights, *, kind, epsilon, relative=True, targets=None,
               upper_bound=None, penalize_intercept=False, solver="admm",
               solver_options=None, warm_start=None, polish=False):
    """Build and solve one layer's program; return ``(index, weights, record)``.

    Runs in a worker: it does not warn (warnings do not cross process boundaries), the
    caller does, from the record.
    """
    program = LayerProgram(inputs, weights, kind=kind, epsilon=epsilon, relative=relative,
                           targets=targets, upper_bound=upper_bound,
                           penalize_intercept=penalize_intercept)
    solution = solve_layer(program, solver, warm_start=warm_start, warn=False,
                           **(solver_options or {}))
    U, check = solution.weights, solution.check
    seconds = solution.seconds
    if polish:
        from ._polish import polish_on_support

        start = time.perf_counter()
        U = polish_on_support(program, U)
        check = program.check(U)
        seconds += time.perf_counter() - start
    n_body = weights[:-1].size
    record = {
        "layer": index,
        "kind": kind,
        "shape": tuple(weights[:-1].shape),
        "n_samples": program.n_samples,
        "nnz_before": _nnz_body(weights),
        "nnz_after": _nnz_body(U),
        "sparsity": 1.0 - _nnz_body(U) / n_body if n_body else 0.0,
        "eps_abs": program.eps_abs,
        "relative_error": check.relative_error,
        "output_error": check.output_error,
        "violation": check.violation,
        "l1_before": program.objective(weights),
        "l1_after": check.l1,
        "n_iter": solution.n_iter,
        "converged": solution.converged,
        "solver": solver,
        "message": solution.message,
        "polished": bool(polish),
        "seconds": seconds,
    }
    return index, U, record


def _report(record, verbose):
    if record["converged"] is False:
        warnings.warn(
            f"Net-Trim layer {record['layer']} ({record['kind']}, shape {record['shape']}):"
            f" solver {record['solver']!r} did not converge ({record['message']});"
            f" reached relative constraint violation {record['violation']:.3g}."
            " Increase max_iter or tol.", ConvergenceWarning, stacklevel=3)
    if verbose:
        print(f"[NetTrim] layer {record['layer']} {record['kind']:6s}"
              f" {record['shape'][0]}x{record['shape'][1]}:"
              f" nnz {record['nnz_before']} -> {record['nnz_after']}"
              f" ({100 * record['sparsity']:.1f}% zero), error {record['relative_error']:.4f},"
              f" {record['n_iter']} it, {record['seconds']:.2f}s", flush=True)


def prune_parallel(weights, inputs, kinds, epsilons, *, n_jobs=None, verbose=0,
                   warm_starts=None, **job_options):
    """Prune every layer against the original network's activations, concurrently."""
    warm_starts = warm_starts or [None] * len(weights)
    jobs = (
        delayed(_solve_job)(i, inputs[i], weights[i], kind=kinds[i], epsilon=epsilons[i],
                            warm_start=warm_starts[i], **job_options)
        for i in range(len(weights))
    )
    pruned, records = [None] * len(weights), [None] * len(weights)
    for i, U, record in Parallel(n_jobs=n_jobs, return_as="generator_unordered")(jobs):
        pruned[i], records[i] = U, record
        _report(record, verbose)
    return pruned, records


def prune_cascade(weights, X, kinds, epsilon, activation, *, gamma=1.1, verbose=0,
                  warm_starts=None, **job_options):
    """Prune layer after layer, each seeing the already pruned layers before it.

    Layer 1 is as in parallel mode. Layer l >= 2 gets the pruned network's activation as
    input, the original outputs as targets (Omega from them), ``V = A_pruned @ W_l`` on
    Omega^c and ``eps_l^2 = gamma * ||(A_pruned @ W_l - Y_l) on Omega||^2`` (the whole
    residual for a linear layer), so the original ``W_l`` stays feasible.
    """
    warm_starts = warm_starts or [None] * len(weights)
    original = X
    pruned_input = X
    pruned, records = [], []
    for i, W in enumerate(weights):
        kind = kinds[i]
        options = dict(job_options, kind=kind, warm_start=warm_starts[i])
        if i == 0:
            _, U, record = _solve_job(i, X, W, epsilon=epsilon, **options)
        else:
            Z_orig = original @ W[:-1] + W[-1]
            Z_pruned = pruned_input @ W[:-1] + W[-1]
            if kind == "relu":
                targets = np.maximum(Z_orig, 0)
                omega = targets > 0
                residual = np.where(omega, Z_pruned - targets, 0)
                upper = np.where(omega, 0, Z_pruned)
            else:
                targets, residual, upper = Z_orig, Z_pruned - Z_orig, None
            eps_abs = float(np.sqrt(gamma) * np.linalg.norm(residual))
            _, U, record = _solve_job(i, pruned_input, W, epsilon=eps_abs, relative=False,
                                      targets=targets, upper_bound=upper, **options)
        record["mode"] = "cascade"
        _report(record, verbose)
        pruned.append(U)
        records.append(record)
        if i + 1 < len(weights):
            original = activation(original @ W[:-1] + W[-1]).astype(X.dtype, copy=False)
            pruned_input = activation(pruned_input @ U[:-1] + U[-1]).astype(X.dtype,
                                                                            copy=False)
    return pruned, records

"""Solvers for one layer's program, behind one entry point: :func:`solve_layer`.

Each backend module has ``solve(program, *, warm_start=None, **options)`` returning
``(weights, n_iter, converged, message, extra)``. :func:`solve_layer` adds what every
backend shares: the exact shortcuts (zero feasible, ``eps = 0``, silent inputs, dead
neurons), timing, the feasibility check and the ConvergenceWarning.
"""

import time

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .._program import LayerSolution
from .._warnings import warn_user
from . import admm, cvxpy
from .cvxpy import NetTrimSolverError
from .state import SolverState, start_weights

SOLVERS = {admm.NAME: admm, cvxpy.NAME: cvxpy}

__all__ = ["SOLVERS", "NetTrimSolverError", "SolverState", "solve_layer", "start_weights"]


def _exact_original(program):
    """For ``eps_abs = 0`` only the outputs themselves are allowed: keep W, minus dead parts."""
    U = program.W.copy()
    U[program.silent_rows()] = 0
    U[:, program.trivial_columns()] = 0
    return U


def solve_layer(program, solver="admm", *, warm_start=None, warn=True, **options):
    """Solve one layer's program with ``solver``; return a :class:`LayerSolution`.

    ``warm_start`` is weights or a :class:`SolverState` (``extra["state"]`` of an
    earlier ADMM solution of a program of the same shape, e.g. at another tolerance,
    solved with ``keep_state=True``).
    A solver that stops before its tolerance is met returns its last iterate with
    ``converged=False`` and, if ``warn``, a :class:`~sklearn.exceptions.ConvergenceWarning`
    that says what constraint violation it reached.
    """
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {sorted(SOLVERS)}, got {solver!r}.")
    start = time.perf_counter()
    U = np.zeros(program.shape, dtype=program.dtype)
    n_iter, converged, message = 0, True, ""
    extra = {"bound": 0.0, "gap": 0.0}  # exact answers below, unless said otherwise
    if program.zero_is_feasible():
        message = "all-zero weights are feasible (epsilon too large for this layer)"
    elif program.eps_abs == 0:
        U = _exact_original(program)
        message = "eps_abs = 0: the original weights, silent inputs and dead outputs zeroed"
        extra = {"bound": float("nan"), "gap": float("nan")}  # feasible, not proven optimal
    else:
        rows = ~program.silent_rows()
        cols = ~program.trivial_columns()
        sub = program.restricted(rows, cols)
        if rows.sum() == 1 and not program.penalize_intercept:
            # Every input is silent and the intercept costs nothing: the original
            # (feasible) intercepts are optimal.
            sub_U = sub.W.copy()
            message = "only the unpenalised intercept is left: kept as trained"
        else:
            if isinstance(warm_start, SolverState):
                start_w = (warm_start.restricted(rows, cols) if solver == admm.NAME
                           else warm_start.weights[np.ix_(rows, cols)])
            else:
                start_w = (None if warm_start is None
                           else np.asarray(warm_start)[np.ix_(rows, cols)])
            sub_U, n_iter, converged, message, extra = SOLVERS[solver].solve(
                sub, warm_start=start_w, **options)
            extra.setdefault("gap", float("nan"))  # cvxpy: no certificate of ours
            if "state" in extra:
                extra["state"] = extra["state"].embedded(rows, cols, program.shape)
        U[np.ix_(rows, cols)] = sub_U
    check = program.check(U)
    seconds = time.perf_counter() - start
    if not converged and warn:
        warn_user(
            f"Net-Trim solver {solver!r} did not converge on a {program.kind} layer of shape"
            f" {program.shape} ({message}); constraint violation reached"
            f" {check.violation:.3g} (relative), l1 {check.l1:.4g}, optimality gap"
            f" {extra['gap']:.3g}. Increase max_iter or tol.",
            ConvergenceWarning)
    return LayerSolution(weights=U, solver=solver, converged=converged, n_iter=n_iter,
                         seconds=seconds, check=check, message=message, extra=extra)

"""The Net-Trim program written in cvxpy: the reference the fast solver is checked against.

Solved by CLARABEL (interior point, accurate), falling back to SCS. Slow on large layers
(minutes for a 300-unit layer): meant for tests, benchmarks and small layers.
"""

import numpy as np

NAME = "cvxpy"
_ACCEPTED = ("optimal", "optimal_inaccurate")


class NetTrimSolverError(RuntimeError):
    """A solver failed or declared the layer program infeasible."""


def _import_cvxpy():
    try:
        import cvxpy
    except ImportError as exc:  # pragma: no cover - cvxpy is a hard dependency
        raise ImportError("solver='cvxpy' needs cvxpy: pip install cvxpy") from exc
    return cvxpy


def _build(cp, program):
    U = cp.Variable(program.shape)
    if program.kind == "linear":
        A, T, radius = program.linear_reduction()
        if np.isnan(radius):
            raise NetTrimSolverError(
                "linear layer program is infeasible: the targets are farther than eps_abs"
                " from the range of the layer input.")
        constraints = [cp.norm(A @ U - T, "fro") <= radius]
    else:
        # Column-major vectorisation, as cp.vec(order="F") does.
        AU = cp.vec(program.A @ U, order="F")
        omega = program.omega.ravel(order="F")
        on, off = np.flatnonzero(omega), np.flatnonzero(~omega)
        constraints = []
        if on.size:
            Y = program.Y.ravel(order="F")[on]
            constraints.append(cp.norm(AU[on] - Y, 2) <= program.eps_abs)
        if off.size:
            V = program.upper_bound().ravel(order="F")[off]
            constraints.append(AU[off] <= V)
    constraints += program.penalty.cvxpy_constraints(U)
    return cp.Problem(cp.Minimize(program.penalty.cvxpy_expr(U)), constraints), U


def solve(program, *, warm_start=None, solvers=("CLARABEL", "SCS"), verbose=False,
          zero_threshold=1e-9, **solver_options):
    """Solve ``program`` with cvxpy; raise :class:`NetTrimSolverError` on failure.

    Interior-point answers carry tiny non-zeros instead of exact zeros: entries below
    ``zero_threshold`` times the largest weight are set to zero.
    """
    cp = _import_cvxpy()
    problem, U = _build(cp, program)
    installed = set(cp.installed_solvers())
    errors = []
    for name in solvers:
        if name not in installed:
            errors.append(f"{name}: not installed")
            continue
        try:
            problem.solve(solver=name, verbose=verbose, **solver_options)
        except cp.error.SolverError as exc:
            errors.append(f"{name}: {exc}")
            continue
        if problem.status in _ACCEPTED and U.value is not None:
            weights = np.asarray(U.value, dtype=program.dtype)
            big = float(np.abs(weights).max()) if weights.size else 0.0
            weights[np.abs(weights) <= zero_threshold * big] = 0
            stats = problem.solver_stats
            n_iter = int(getattr(stats, "num_iters", 0) or 0)
            return (weights, n_iter, problem.status == "optimal",
                    f"{name}: {problem.status}", {"objective": float(problem.value)})
        errors.append(f"{name}: status {problem.status}")
    raise NetTrimSolverError(
        f"cvxpy could not solve the layer program ({program!r}): " + "; ".join(errors))

"""One layer's program: ADMM against the cvxpy reference, and the program's invariants."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from sklearn_nettrim._program import LayerProgram
from sklearn_nettrim._solvers import NetTrimSolverError, solve_layer
from sklearn_nettrim._solvers import cvxpy as cvxpy_solver

from .conftest import random_layer

FEASIBLE = 1e-3  # relative constraint violation both solvers must reach


def solve_both(program):
    admm = solve_layer(program, "admm", tol=1e-4, max_iter=5000)
    ref = solve_layer(program, "cvxpy")
    return admm, ref


def assert_agree(admm, ref):
    assert admm.converged and ref.converged
    assert admm.check.violation <= FEASIBLE
    assert ref.check.violation <= FEASIBLE
    assert abs(admm.check.l1 - ref.check.l1) <= 0.01 * ref.check.l1


@pytest.mark.parametrize("kind", ["relu", "linear"])
@pytest.mark.parametrize("penalize_intercept", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_admm_matches_cvxpy_on_random_layers(kind, penalize_intercept, seed):
    X, W = random_layer(seed=seed)
    program = LayerProgram(X, W, kind=kind, epsilon=0.1, penalize_intercept=penalize_intercept)
    assert_agree(*solve_both(program))


@pytest.mark.parametrize("layer", [0, 1, 2])
@pytest.mark.parametrize("epsilon", [0.02, 0.2])
def test_admm_matches_cvxpy_on_digits_layers(digits_layers, layer, epsilon):
    inputs, W = digits_layers[layer]
    kind = "linear" if layer == len(digits_layers) - 1 else "relu"
    program = LayerProgram(inputs, W, kind=kind, epsilon=epsilon)
    assert_agree(*solve_both(program))


@pytest.mark.parametrize("kind", ["relu", "linear"])
@pytest.mark.parametrize("epsilon", [0.01, 0.1, 0.5])
def test_invariants(digits_layers, kind, epsilon):
    inputs, W = digits_layers[0]
    program = LayerProgram(inputs, W, kind=kind, epsilon=epsilon)
    solution = solve_layer(program, "admm")
    U = solution.weights
    assert solution.converged
    assert solution.check.violation <= FEASIBLE
    assert program.objective(U) <= program.objective(W)
    # Output bound: any feasible U keeps the layer's outputs within eps_abs.
    AU = program.A @ U
    out = np.maximum(AU, 0) if kind == "relu" else AU
    assert np.linalg.norm(out - program.Y) <= program.eps_abs * (1 + FEASIBLE)
    assert solution.check.nnz < np.count_nonzero(W)
    # Exact zeros, not tiny values.
    assert np.all((U == 0) | (np.abs(U) > 1e-12))


def test_original_weights_are_feasible_and_checked(digits_layers):
    inputs, W = digits_layers[1]
    program = LayerProgram(inputs, W, kind="relu", epsilon=0.05)
    check = program.check(W)
    assert check.violation == 0 and check.relative_error == pytest.approx(0, abs=1e-12)
    assert check.l1 == pytest.approx(np.abs(W[:-1]).sum())


def test_check_measures_a_violation():
    X, W = random_layer()
    program = LayerProgram(X, W, kind="relu", epsilon=0.1)
    check = program.check(np.zeros_like(W))
    # U = 0 misses the ball by ||Y|| - eps_abs, relative: 1 - 0.1.
    assert check.violation == pytest.approx(0.9)


@pytest.mark.parametrize("epsilon", [1.0, 1.5])
def test_epsilon_at_least_one_prunes_a_relu_layer_away(epsilon):
    X, W = random_layer()
    solution = solve_layer(LayerProgram(X, W, kind="relu", epsilon=epsilon))
    assert not np.any(solution.weights)
    assert solution.check.violation == 0


@pytest.mark.parametrize("kind", ["relu", "linear"])
def test_epsilon_zero_reproduces_outputs(kind):
    X, W = random_layer()
    X[:, 3] = 0  # a silent input: its weights can go
    program = LayerProgram(X, W, kind=kind, epsilon=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no 0/0 RuntimeWarning, no ConvergenceWarning
        solution = solve_layer(program, "admm")
    U = solution.weights
    assert np.all(np.isfinite(U))
    assert not np.any(U[3])
    AU = program.A @ U
    out = np.maximum(AU, 0) if kind == "relu" else AU
    np.testing.assert_allclose(out, program.Y, atol=1e-10)


def test_ball_projection_with_zero_radius_has_no_nan():
    X, W = random_layer()
    program = LayerProgram(X, W, kind="relu", epsilon=0.0)
    # Call the backend directly (solve_layer short-cuts eps = 0).
    from sklearn_nettrim._solvers import admm

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        U, *_ = admm.solve(program, max_iter=50)
    assert np.all(np.isfinite(U))


def test_dead_neurons_and_silent_inputs_get_zero_weights():
    X, W = random_layer(n_inputs=8, n_outputs=5)
    X[:, 2] = 0                # constant-zero input
    W[:-1, 4] = -np.abs(W[:-1, 4])  # neuron 4 never fires on non-negative inputs...
    W[-1, 4] = -1.0            # ...with a negative intercept
    program = LayerProgram(X, W, kind="relu", epsilon=0.05)
    assert not program.omega[:, 4].any()
    for solver in ["admm", "cvxpy"]:
        U = solve_layer(program, solver).weights
        assert not np.any(U[2]), solver
        assert not np.any(U[:, 4]), solver


@pytest.mark.parametrize("kind", ["relu", "linear"])
def test_float32_stays_float32(kind):
    X, W = random_layer(dtype=np.float32)
    program = LayerProgram(X, W, kind=kind, epsilon=0.1)
    assert program.A.dtype == np.float32
    solution = solve_layer(program, "admm")
    assert solution.weights.dtype == np.float32
    assert solution.check.violation <= FEASIBLE
    ref = solve_layer(LayerProgram(X.astype(float), W.astype(float), kind=kind, epsilon=0.1))
    assert solution.check.l1 == pytest.approx(ref.check.l1, rel=0.01)


def test_max_iter_warns_and_reports_violation(digits_layers):
    inputs, W = digits_layers[0]
    program = LayerProgram(inputs, W, kind="relu", epsilon=0.05)
    with pytest.warns(ConvergenceWarning, match="violation reached"):
        solution = solve_layer(program, "admm", max_iter=3)
    assert not solution.converged
    assert solution.n_iter == 3
    assert "max_iter=3" in solution.message


def test_warm_start_from_a_solution_converges_fast(digits_layers):
    inputs, W = digits_layers[0]
    cold = solve_layer(LayerProgram(inputs, W, kind="relu", epsilon=0.05))
    warm = solve_layer(LayerProgram(inputs, W, kind="relu", epsilon=0.06),
                       warm_start=cold.weights)
    again = solve_layer(LayerProgram(inputs, W, kind="relu", epsilon=0.06))
    assert warm.converged and warm.check.violation <= FEASIBLE
    assert warm.check.l1 == pytest.approx(again.check.l1, rel=0.01)


def test_cvxpy_reports_an_infeasible_program():
    # Two identical samples: one must stay at 1 (Omega), the other below -1 (V): impossible.
    X = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    W = np.array([[1.0], [1.0], [0.0]])
    targets = np.array([[1.0], [0.0], [1.0]])
    V = np.array([[0.0], [-1.0], [0.0]])
    program = LayerProgram(X, W, kind="relu", epsilon=1e-3, relative=False,
                           targets=targets, upper_bound=V)
    with pytest.raises(NetTrimSolverError, match="infeasible|status"):
        cvxpy_solver.solve(program)


def test_unknown_solver_is_a_clear_error():
    X, W = random_layer()
    with pytest.raises(ValueError, match="solver must be one of"):
        solve_layer(LayerProgram(X, W), "osqp")


def test_program_rejects_bad_shapes_and_epsilon():
    X, W = random_layer()
    with pytest.raises(ValueError, match="n_inputs \\+ 1"):
        LayerProgram(X, W[:-1])
    with pytest.raises(ValueError, match="epsilon"):
        LayerProgram(X, W, epsilon=-0.1)
    with pytest.raises(ValueError, match="epsilon"):
        LayerProgram(X, W, epsilon=float("nan"))


def test_anderson_accelerates_a_linear_fixed_point_and_guards_against_bad_steps():
    from sklearn_nettrim._solvers.anderson import AndersonAccelerator

    rng = np.random.RandomState(0)
    n = 40
    Q, _ = np.linalg.qr(rng.randn(n, n))
    M = Q @ np.diag(np.linspace(0.5, 0.99, n)) @ Q.T
    b = rng.randn(n)
    fixed = np.linalg.solve(np.eye(n) - M, b)
    plain = np.zeros(n)
    x = np.zeros(n)
    accelerator = AndersonAccelerator(n, 10, np.float64)
    for _ in range(60):
        plain = M @ plain + b
        x = accelerator.step(x, M @ x + b)[0]
    assert np.linalg.norm(x - fixed) < 1e-6 * np.linalg.norm(fixed)
    assert np.linalg.norm(plain - fixed) > 1e-2 * np.linalg.norm(fixed)
    # A map whose residual grows after an extrapolation: the safeguard steps back to
    # the plain iterate T(x_k) it kept.
    accelerator = AndersonAccelerator(2, 3, np.float64)
    x0 = np.array([1.0, 0.0])
    x1 = accelerator.step(x0, x0 / 2)[0]
    np.testing.assert_array_equal(x1, x0 / 2)
    x2 = accelerator.step(x1, x1 / 2)[0]  # extrapolated
    back, _ = accelerator.step(x2, x2 + 100.0)  # its residual exploded
    np.testing.assert_array_equal(back, x1 / 2)
    assert accelerator.n_rejected == 1


def test_a_nearby_tolerance_restarts_from_the_solver_state(digits_layers):
    """A solve 5% away, from where the last one ended (weights, multipliers, penalties):
    same answer, certified, in a fraction of the iterations the weights alone need."""
    from_weights, from_state = 0, 0
    for inputs, W in digits_layers[:2]:
        first = solve_layer(LayerProgram(inputs, W, epsilon=0.2), "admm", keep_state=True)
        state = first.extra["state"]
        assert state.weights.shape == W.shape  # in the full program, not the sub-program
        np.testing.assert_array_equal(state.weights, first.weights)
        program = LayerProgram(inputs, W, epsilon=0.21)
        cold = solve_layer(program, "admm")
        plain = solve_layer(program, "admm", warm_start=first.weights)
        warm = solve_layer(program, "admm", warm_start=state)
        assert warm.converged and warm.check.violation <= FEASIBLE
        assert warm.extra["gap"] <= 3e-3
        assert warm.check.l1 == pytest.approx(cold.check.l1, rel=0.01)
        from_weights += plain.n_iter
        from_state += warm.n_iter
    assert from_state <= 0.6 * from_weights  # measured: 100 against 250


def test_a_single_solve_keeps_no_state_unless_asked(digits_layers):
    inputs, W = digits_layers[1]
    program = LayerProgram(inputs, W, epsilon=0.2)
    plain = solve_layer(program, "admm")
    kept = solve_layer(program, "admm", keep_state=True)
    assert "state" not in plain.extra
    np.testing.assert_array_equal(plain.weights, kept.weights)  # the same run


def test_a_far_tolerance_restarts_from_the_weights_only(digits_layers):
    inputs, W = digits_layers[1]
    first = solve_layer(LayerProgram(inputs, W, epsilon=0.1), "admm", keep_state=True)
    program = LayerProgram(inputs, W, epsilon=0.3)  # 3x: the state is not used
    plain = solve_layer(program, "admm", warm_start=first.weights)
    warm = solve_layer(program, "admm", warm_start=first.extra["state"])
    assert warm.n_iter == plain.n_iter
    np.testing.assert_array_equal(warm.weights, plain.weights)

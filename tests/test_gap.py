"""The certified optimality gap: a true lower bound, tight at the ADMM's answer."""

import numpy as np
import pytest

from sklearn_nettrim._penalties import L1, GroupL1
from sklearn_nettrim._program import LayerProgram
from sklearn_nettrim._solvers import solve_layer
from sklearn_nettrim._solvers.gap import dual_bound, relative_gap

from .conftest import random_layer


def _cascade_terms(inputs, pruned, W, kind, gamma):
    """A cascade layer's targets, ``V`` and tolerance, written out (design notes, 1)."""
    Z_orig = inputs @ W[:-1] + W[-1]
    Z_pruned = pruned @ W[:-1] + W[-1]
    if kind == "linear":
        return Z_orig, None, np.sqrt(gamma) * np.linalg.norm(Z_pruned - Z_orig)
    targets = np.maximum(Z_orig, 0)
    omega = targets > 0
    residual = np.where(omega, Z_pruned - targets, 0)
    return targets, np.where(omega, 0, Z_pruned), np.sqrt(gamma) * np.linalg.norm(residual)


def _program(data, kind, mode, penalize_intercept, digits_layers, penalty=None):
    if data == "random":
        inputs, W = random_layer(n_samples=80, n_inputs=12, n_outputs=6, seed=5)
    else:
        inputs, W = digits_layers[1]
        inputs, W = inputs[:200], W[:, :10]
    if penalty is None:
        penalty = L1(penalize_intercept=penalize_intercept)
    if mode == "parallel":
        return LayerProgram(inputs, W, kind=kind, epsilon=0.1, penalty=penalty)
    rng = np.random.default_rng(0)
    pruned = inputs * (rng.random(inputs.shape) > 0.15)
    targets, upper, eps_abs = _cascade_terms(inputs, pruned, W, kind, 1.1)
    return LayerProgram(pruned, W, kind=kind, epsilon=eps_abs, relative=False,
                        targets=targets, upper_bound=upper, penalty=penalty)


@pytest.mark.parametrize("data", ["random", "digits"])
@pytest.mark.parametrize("kind", ["relu", "linear"])
@pytest.mark.parametrize("mode", ["parallel", "cascade"])
@pytest.mark.parametrize("penalize_intercept", [False, True])
def test_reported_gap_bounds_the_true_gap(digits_layers, data, kind, mode,
                                          penalize_intercept):
    program = _program(data, kind, mode, penalize_intercept, digits_layers)
    admm = solve_layer(program, "admm")
    ref = solve_layer(program, "cvxpy")
    assert admm.converged and admm.check.violation <= 1e-3
    gap, bound = admm.extra["gap"], admm.extra["bound"]
    assert 0 <= gap <= 5e-3  # the default stopping test
    # A lower bound on the optimum: below cvxpy's (interior point, ~1e-8 accurate).
    assert bound <= ref.check.l1 * (1 + 1e-6)
    # So the reported gap bounds the true one. The ADMM's answer meets the constraints
    # only to tolerance, so it may be slightly below the optimum: the true gap then is
    # negative and the bound holds trivially.
    true_gap = (admm.check.l1 - ref.check.l1) / admm.check.l1
    assert true_gap <= gap + 1e-6
    assert abs(true_gap) <= 0.01


def test_gap_of_the_cvxpy_solution_is_small_with_a_good_multiplier(digits_layers):
    """The bound is tight: at cvxpy's optimum, the ADMM multiplier certifies it."""
    program = _program("digits", "relu", "parallel", False, digits_layers)
    admm = solve_layer(program, "admm", gap_tol=1e-4, max_iter=5000)
    ref = solve_layer(program, "cvxpy")
    assert relative_gap(ref.check.l1, admm.extra["bound"]) <= 2e-3


def _optimal_multiplier(program):
    """cvxpy's optimal multiplier of ``Z = A U`` (ReLU program) and the optimum."""
    cp = pytest.importorskip("cvxpy")
    A, Y, omega, V = program.A, program.Y, program.omega, program.upper_bound()
    U, Z = cp.Variable(program.shape), cp.Variable(Y.shape)
    link = Z == A @ U
    problem = cp.Problem(cp.Minimize(program.penalty.cvxpy_expr(U)),
                         [link, cp.norm(cp.multiply(omega, Z - Y), "fro") <= program.eps_abs,
                          cp.multiply(~omega, Z) <= cp.multiply(~omega, V)])
    problem.solve()
    # cvxpy adds <nu, Z - A U> to the Lagrangian; dual_bound's convention is <Lam, A U - Z>.
    return -link.dual_value, problem.value


def test_bound_of_any_multiplier_is_valid(digits_layers):
    """Multipliers around the optimal one are made feasible and bound the optimum from
    below, tightly: above half of it (measured: 0.85 to 0.99 of it for noise of 10% to 1%
    of the multiplier's typical entry), never above it. Pure noise gives a valid bound
    too, but a vacuous one (0), which is why the multipliers here are near the optimum."""
    program = _program("digits", "relu", "cascade", False, digits_layers)
    assert np.any(program.V != 0)
    ref = solve_layer(program, "cvxpy").check.l1
    Lam, optimum = _optimal_multiplier(program)
    assert optimum == pytest.approx(ref, rel=1e-4)

    def bound(multiplier):
        return dual_bound(program.A, program.Y, program.eps_abs, program.penalty, multiplier,
                          omega=program.omega, V=program.V)

    assert bound(Lam) == pytest.approx(ref, rel=1e-4)
    rng = np.random.default_rng(0)
    typical = np.linalg.norm(Lam) / np.sqrt(Lam.size)
    for sigma in (0.01, 0.03, 0.1):
        for _ in range(3):
            value = bound(Lam + sigma * typical * rng.normal(size=Lam.shape))
            assert 0.5 * ref < value <= ref * (1 + 1e-6), (sigma, value, ref)
    for _ in range(3):
        assert 0 <= bound(rng.normal(size=program.Y.shape)) <= ref * (1 + 1e-9)


def test_group_penalty_gap(digits_layers):
    program = _program("digits", "relu", "parallel", False, digits_layers,
                       penalty=GroupL1())
    admm = solve_layer(program, "admm")
    ref = solve_layer(program, "cvxpy")
    assert admm.extra["bound"] <= ref.check.l1 * (1 + 1e-6)
    assert 0 <= admm.extra["gap"] <= 5e-3


def test_zero_weights_off_the_intercept_are_not_certified():
    X, W = random_layer()
    weights = np.ones_like(W)
    weights[2, 1] = 0
    program = LayerProgram(X, W, penalty=L1(weights=weights))
    solution = solve_layer(program, "admm")
    assert np.isnan(solution.extra["gap"])


def test_layer_stats_and_check_certificate_report_the_gap(digits, digits_mlp):
    from sklearn.frozen import FrozenEstimator

    from sklearn_nettrim import NetTrimTransformer, check_certificate

    X = digits[0][:300]
    for mode in ("parallel", "cascade"):
        trim = NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=0.1, mode=mode).fit(X)
        gaps = [record["gap"] for record in trim.layer_stats_]
        assert all(0 <= gap <= 5e-3 for gap in gaps), gaps
        assert [c["gap"] for c in check_certificate(trim, X)] == gaps


@pytest.mark.parametrize("mode", ["parallel", "cascade"])
def test_tightened_multiplier_meets_the_support_conditions_and_stays_valid(digits_layers,
                                                                          mode):
    """Moved onto the support's optimality conditions, any multiplier still bounds the
    optimum from below, and at the optimum's support a crude one certifies it tightly."""
    from sklearn_nettrim._solvers.gap import tightened_multiplier

    program = _program("digits", "relu", mode, False, digits_layers)
    ref = solve_layer(program, "cvxpy")
    U = solve_layer(program, "admm", gap_tol=1e-4, max_iter=5000).weights
    weights = program.penalty.weight_array(U.shape[0])
    gram = program.A.T @ program.A
    rng = np.random.default_rng(0)
    for scale in (0.0, 1.0):
        Lam = scale * rng.normal(size=program.Y.shape)
        tight = tightened_multiplier(program.A, gram, U, Lam, weights)
        G = program.A.T @ tight
        on_support = (U != 0) | (np.broadcast_to(weights, U.shape) == 0)
        target = -np.broadcast_to(weights, U.shape) * np.sign(U)
        np.testing.assert_allclose(G[on_support], target[on_support], atol=1e-6)
        bound = dual_bound(program.A, program.Y, program.eps_abs, program.penalty, tight,
                           omega=program.omega, V=program.V)
        assert 0 <= bound <= ref.check.l1 * (1 + 1e-6)



def test_tightened_multiplier_holds_one_factor_at_a_time():
    """The certificate's least-change step solves one column's system at a time: the same
    answer as keeping every column's Cholesky factor, without their memory (all factors
    of MNIST's dense 784x300 first layer are 1.5 GB)."""
    import tracemalloc

    from sklearn_nettrim._solvers.gap import tightened_multiplier
    from sklearn_nettrim._solvers.support import SupportLeastSquares, solve_on_support

    rng = np.random.default_rng(0)
    A = rng.normal(size=(300, 201))
    gram = A.T @ A
    S = rng.normal(size=(201, 120))  # a dense iterate: every column's support is full
    Lam = rng.normal(size=(300, 120))
    np.testing.assert_array_equal(solve_on_support(gram, S != 0, Lam[:201]),
                                  SupportLeastSquares(gram, S != 0).solve(Lam[:201]))
    tracemalloc.start()
    tightened_multiplier(A, gram, S, Lam, 1.0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    all_factors = 120 * 201 * 201 * 8  # 38.8 MB
    assert peak < all_factors / 4

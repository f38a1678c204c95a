"""Pruning to a target size (target_sparsity, allocation) and the output-aware polish."""

import itertools
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier

from sklearn_nettrim import NetTrimTransformer, check_certificate, net_trim
from sklearn_nettrim._allocation import SPARSITY_TOLERANCE, choose_points


#: sklearn's MLP training warning: the only ConvergenceWarning these tests may ignore.
MLP_NOT_CONVERGED = "Stochastic Optimizer: Maximum iterations"


@pytest.fixture(scope="module")
def calibration(digits):
    return digits[0][:300]


@pytest.mark.parametrize("mode, allocation", [("parallel", "output"), ("parallel", "uniform"),
                                              ("parallel", "magnitude"), ("cascade", "output"),
                                              ("cascade", "auto")])
def test_target_sparsity_is_met_and_certified(digits_mlp, calibration, mode, allocation):
    trim = NetTrimTransformer(FrozenEstimator(digits_mlp), target_sparsity=0.8, mode=mode,
                              allocation=allocation, polish="output",
                              random_state=0).fit(calibration)
    assert abs(trim.sparsity_ - 0.8) <= SPARSITY_TOLERANCE
    eps = np.atleast_1d(trim.epsilon_)
    assert np.all(eps >= 0) and eps.size in (1, len(trim.layer_stats_))
    if allocation == "uniform" and mode == "parallel":
        assert np.ndim(trim.epsilon_) == 0
        assert all(r["epsilon"] == pytest.approx(trim.epsilon_) for r in trim.layer_stats_)
    assert all(c["certified"] for c in check_certificate(trim, calibration))


def test_unreachable_target_warns(digits_mlp, calibration):
    """Inputs that are zero on every calibration row carry weights that are zero anyway."""
    silent = np.all(calibration == 0, axis=0).sum()
    assert silent > 0
    floor = silent * digits_mlp.coefs_[0].shape[1] / sum(W.size for W in digits_mlp.coefs_)
    with warnings.catch_warnings(), \
            pytest.warns(UserWarning, match="target_sparsity=0.005 was not met"):
        # The search ends at epsilon 1e-4, where every layer's ADMM stops at max_iter
        # (certified all the same: violation <= 2e-8). That ConvergenceWarning, and only
        # that one, is expected here; the MLP is frozen, nothing is trained.
        warnings.filterwarnings("ignore", message="Net-Trim layer .* did not converge",
                                category=ConvergenceWarning)
        trim = NetTrimTransformer(FrozenEstimator(digits_mlp), target_sparsity=0.005,
                                  allocation="uniform").fit(calibration)
    assert trim.sparsity_ >= floor - 1e-12
    assert all(c["certified"] for c in check_certificate(trim, calibration))


def test_target_sparsity_in_net_trim_and_grid_search(digits, digits_mlp, calibration):
    pruned = net_trim(digits_mlp, calibration, target_sparsity=0.7, allocation="uniform")
    zeros = sum(np.sum(W == 0) for W in pruned.coefs_)
    assert abs(zeros / sum(W.size for W in pruned.coefs_) - 0.7) <= SPARSITY_TOLERANCE
    X, y = digits
    search = GridSearchCV(
        NetTrimTransformer(MLPClassifier(hidden_layer_sizes=(16,), max_iter=100,
                                         random_state=0), allocation="uniform"),
        {"target_sparsity": [0.5, 0.8]}, cv=2)
    with warnings.catch_warnings():
        # The networks' short training only; the pruning's own warnings stay visible.
        warnings.filterwarnings("ignore", message=MLP_NOT_CONVERGED,
                                category=ConvergenceWarning)
        search.fit(X[:400], y[:400])
    assert search.best_params_["target_sparsity"] in (0.5, 0.8)
    assert abs(search.best_estimator_.sparsity_
               - search.best_params_["target_sparsity"]) <= SPARSITY_TOLERANCE


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.1])
def test_bad_target_sparsity_is_rejected(digits_mlp, calibration, bad):
    with pytest.raises(ValueError, match="target_sparsity"):
        NetTrimTransformer(FrozenEstimator(digits_mlp), target_sparsity=bad).fit(calibration)


def test_bad_allocation_is_rejected(digits_mlp, calibration):
    with pytest.raises(ValueError, match="allocation"):
        NetTrimTransformer(FrozenEstimator(digits_mlp), target_sparsity=0.5,
                           allocation="magic").fit(calibration)


def _curves(rng, n_layers, n_points):
    """Decreasing nnz and convex-ish decreasing shifts, of very different scales."""
    nnz = np.sort(rng.integers(5, 2000, size=(n_layers, n_points)), axis=1)[:, ::-1]
    nnz = nnz.astype(float)
    scale = rng.uniform(0.1, 20.0, size=(n_layers, 1))
    power = rng.uniform(0.5, 2.0, size=(n_layers, 1))
    shift = scale / nnz ** power * (1 + 0.3 * rng.random((n_layers, n_points)))
    shift = np.maximum.accumulate(shift, axis=1)  # more shift for fewer non-zeros
    return nnz, shift


def _combinations(nnz, shift):
    """Total nnz and total shift of every choice of one point per layer."""
    rows = np.arange(nnz.shape[0])
    combos = [list(c) for c in itertools.product(range(nnz.shape[1]), repeat=nnz.shape[0])]
    return (np.array([nnz[rows, c].sum() for c in combos]),
            np.array([shift[rows, c].sum() for c in combos]))


def _exhaustive(nnz, shift, budget):
    """min total shift with total nnz <= budget, over every combination (inf if none)."""
    totals, shifts = _combinations(nnz, shift)
    return shifts[totals <= budget].min(initial=np.inf)


def _lower_hull_budgets(nnz, shift):
    """Total nnz at the vertices of the lower convex hull of all combinations."""
    totals, shifts = _combinations(nnz, shift)
    front = []  # the Pareto front, by increasing nnz
    for x, y in sorted(zip(totals, shifts)):
        if not front or y < front[-1][1]:
            front.append((x, y))
    hull = []  # its lower convex hull (monotone chain)
    for p in front:
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (x2 - x1) * (p[1] - y1) - (y2 - y1) * (p[0] - x1) > 0:
                break
            hull.pop()
        hull.append(p)
    return [x for x, _ in hull]


def _same_index(nnz, shift, budget):
    """The naive rule: one column index for all layers, the densest that fits."""
    fits = np.nonzero(nnz.sum(axis=0) <= budget)[0]
    k = fits[0] if fits.size else nnz.shape[1] - 1
    return np.full(nnz.shape[0], k)


def _assert_optimal_for_its_nnz(rule, nnz, shift, budget):
    """The rule's choice fits the budget, and no choice with as few non-zeros in all has a
    smaller total shift.

    What the one-price (Lagrangian) choice guarantees for ANY curves: it minimises
    ``shift + mu * nnz`` over all combinations. On convex curves it also meets the
    exhaustive optimum of every budget on the lower convex hull.
    """
    rows = np.arange(nnz.shape[0])
    chosen = rule(nnz, shift, budget)
    total, value = nnz[rows, chosen].sum(), shift[rows, chosen].sum()
    assert total <= budget, (total, budget)
    best = _exhaustive(nnz, shift, total)
    assert value <= best * (1 + 1e-9), (value, best)


def test_one_price_allocation_is_optimal_on_convex_curves():
    """The shared price against an exhaustive search over all combinations.

    Exact for budgets on the lower convex hull of (total nnz, total shift); for any
    budget, optimal for the non-zeros it keeps. The naive rule (the same grid point for
    every layer) fails that on most of these instances.
    """
    rng = np.random.default_rng(0)
    rows = np.arange(3)
    naive_failures = 0
    for _ in range(12):
        nnz, shift = _curves(rng, n_layers=3, n_points=6)
        hull = _lower_hull_budgets(nnz, shift)
        assert len(hull) >= 4
        for budget in hull[1:-1]:
            chosen = choose_points(nnz, shift, budget)
            assert nnz[rows, chosen].sum() <= budget
            assert shift[rows, chosen].sum() <= _exhaustive(nnz, shift, budget) * (1 + 1e-9)
        for budget in rng.uniform(nnz[:, -1].sum(), nnz[:, 0].sum(), size=4):
            _assert_optimal_for_its_nnz(choose_points, nnz, shift, budget)
            try:
                _assert_optimal_for_its_nnz(_same_index, nnz, shift, budget)
            except AssertionError:
                naive_failures += 1
    assert naive_failures >= 10  # of 48: the test tells the method from the naive rule


@pytest.mark.parametrize("mode", ["parallel", "cascade"])
def test_output_polish_keeps_the_output_bound(digits_mlp, calibration, mode):
    fits = {}
    for polish in [None, "output"]:
        fits[polish] = NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=0.3,
                                          mode=mode, polish=polish).fit(calibration)
    for record, l1 in zip(fits["output"].layer_stats_, fits[None].layer_stats_):
        assert record["polished"] == "output"
        assert record["output_error"] <= record["output_bound"] * (1 + 1e-3)
        if mode == "parallel":  # the same program: the polish never moves away
            assert record["output_error"] <= l1["output_error"] * (1 + 1e-6)
            assert record["nnz_after"] <= l1["nnz_after"]
    assert all(c["certified"] for c in check_certificate(fits["output"], calibration))


def test_output_polish_reaches_the_cvxpy_optimum_on_the_support(digits_mlp, calibration):
    """The MM polish against an independent solve of the same convex problem (cvxpy)."""
    cp = pytest.importorskip("cvxpy")
    from sklearn_nettrim._network import hidden_activation, layer_inputs, stacked_weights
    from sklearn_nettrim._polish import polish_outputs
    from sklearn_nettrim._program import LayerProgram
    from sklearn_nettrim._solvers import solve_layer

    weights = stacked_weights(digits_mlp)
    inputs = layer_inputs(weights, calibration, hidden_activation(digits_mlp))
    program = LayerProgram(inputs[1], weights[1], kind="relu", epsilon=0.3)
    U = solve_layer(program).weights
    polished = polish_outputs(program, U)

    def loss(W):
        Z = program.A @ W
        return 0.5 * np.sum(np.where(program.omega, Z - program.Y, np.maximum(Z, 0)) ** 2)

    support = U != 0
    support[-1] = True
    W = cp.Variable(U.shape)
    Z = program.A @ W
    objective = 0.5 * (cp.sum_squares(cp.multiply(program.omega, Z - program.Y))
                       + cp.sum_squares(cp.multiply(~program.omega, cp.pos(Z))))
    cp.Problem(cp.Minimize(objective), [cp.multiply(~support, W) == 0]).solve()
    assert np.all((polished != 0) <= support)
    assert loss(polished) <= loss(U)
    assert loss(polished) <= 1.01 * objective.value
    assert program.check(polished).output_error <= program.check(U).output_error

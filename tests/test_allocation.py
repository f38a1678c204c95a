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


@pytest.fixture(scope="module")
def calibration(digits):
    return digits[0][:300]


@pytest.mark.parametrize("mode, allocation", [("parallel", "output"), ("parallel", "uniform"),
                                              ("parallel", "magnitude"), ("cascade", "output"),
                                              ("cascade", "auto")])
def test_target_sparsity_is_met_and_certified(digits_mlp, calibration, mode, allocation):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
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
    with warnings.catch_warnings(), pytest.warns(UserWarning,
                                                 match="target_sparsity=0.005 was not met"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        trim = NetTrimTransformer(FrozenEstimator(digits_mlp), target_sparsity=0.005,
                                  allocation="uniform").fit(calibration)
    assert trim.sparsity_ >= floor - 1e-12


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
        warnings.simplefilter("ignore", ConvergenceWarning)
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


def test_one_price_allocation_is_optimal_on_convex_curves():
    """For convex error-vs-nnz curves the shared price is as good as exhaustive search."""
    rng = np.random.default_rng(0)
    nnz = np.sort(rng.integers(10, 1000, size=(3, 6)), axis=1)[:, ::-1].astype(float)
    # Convex, decreasing error in nnz: err = c / nnz.
    shift = rng.uniform(1, 5, size=(3, 1)) / nnz
    for budget in [600.0, 1200.0, 2000.0]:
        chosen = choose_points(nnz, shift, budget)
        total = nnz[np.arange(3), chosen].sum()
        assert total <= budget
        best = min((shift[np.arange(3), c].sum(), c) for c in
                   itertools.product(range(6), repeat=3)
                   if nnz[np.arange(3), list(c)].sum() <= budget)
        # The Lagrangian solution is on the convex hull: within the next hull step.
        assert shift[np.arange(3), chosen].sum() <= best[0] * 2.5


@pytest.mark.parametrize("mode", ["parallel", "cascade"])
def test_output_polish_keeps_the_output_bound(digits_mlp, calibration, mode):
    fits = {}
    for polish in [None, "output"]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
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

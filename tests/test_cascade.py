"""Cascade mode, polishing and the non-ReLU hidden activations, on the digits network."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.neural_network import MLPClassifier, MLPRegressor

from sklearn_nettrim import NetTrimTransformer, check_certificate
from sklearn_nettrim._network import hidden_activation, layer_inputs, stacked_weights

TOL = 1e-3


def layer_outputs(mlp, X):
    """Every layer's output on X: hidden activations, then the logits."""
    weights = stacked_weights(mlp)
    inputs = layer_inputs(weights, X, hidden_activation(mlp))
    return inputs[1:] + [inputs[-1] @ weights[-1][:-1] + weights[-1][-1]]


@pytest.fixture(scope="module")
def calibration(digits):
    return digits[0][:600]


@pytest.mark.parametrize("polish", [None, "feasible"])
@pytest.mark.parametrize("epsilon", [0.02, 0.1])
def test_cascade_error_bound(digits_mlp, calibration, epsilon, polish):
    """||Yhat_L - Y_L|| <= eps_1 prod_{l >= 2} sqrt(gamma) ||W_l||_2, and layer by layer."""
    gamma = 1.1
    trim = NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=epsilon, mode="cascade",
                              gamma=gamma, polish=polish).fit(calibration)
    original = layer_outputs(digits_mlp, calibration)
    pruned = layer_outputs(trim.estimator_, calibration)
    errors = [np.linalg.norm(p - o) for p, o in zip(pruned, original)]
    eps_1 = epsilon * np.linalg.norm(original[0])
    assert errors[0] <= eps_1 * (1 + TOL)
    bound = eps_1
    for layer, W in enumerate(digits_mlp.coefs_[1:], start=1):
        bound *= np.sqrt(gamma) * np.linalg.norm(W, 2)
        assert errors[layer] <= bound * (1 + TOL)
        # Sharper, per layer: within sqrt(gamma) of the pre-activation error the original
        # weights make on the pruned input (on Omega^c a ReLU output may reach relu(V),
        # so eps_abs alone does not bound the output error).
        drift = np.linalg.norm((pruned[layer - 1] - original[layer - 1]) @ W)
        assert trim.layer_stats_[layer]["output_error"] <= np.sqrt(gamma) * drift * (1 + TOL)
    assert all(r["mode"] == "cascade" for r in trim.layer_stats_)


def test_cascade_ends_closer_to_the_original_than_parallel(digits_mlp, calibration):
    """At the same first-layer epsilon, cascade's logits stay closer to the original."""
    logits = layer_outputs(digits_mlp, calibration)[-1]
    errors = {}
    for mode in ["parallel", "cascade"]:
        trim = NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=0.1, mode=mode,
                                  polish=None).fit(calibration)
        errors[mode] = np.linalg.norm(layer_outputs(trim.estimator_, calibration)[-1] - logits)
        if mode == "cascade":
            cascade_first = trim.layer_stats_[0]["nnz_after"]
        else:
            parallel_first = trim.layer_stats_[0]["nnz_after"]
    assert cascade_first == parallel_first  # layer 1 is the same program
    assert errors["cascade"] < errors["parallel"]


def test_cascade_per_layer_epsilons_are_floors(digits_mlp, calibration):
    """One epsilon per layer in cascade mode: later layers' tolerances are at least theirs."""
    plain = NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=0.1, mode="cascade",
                               polish=None).fit(calibration)
    floored = NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=[0.1, 0.3, 0.3],
                                 mode="cascade", polish=None).fit(calibration)
    first, later = floored.layer_stats_[0], floored.layer_stats_[1:]
    assert first["nnz_after"] == plain.layer_stats_[0]["nnz_after"]
    for record, before in zip(later, plain.layer_stats_[1:]):
        assert record["epsilon_floor"] == 0.3
        assert record["epsilon"] >= 0.3 * (1 - 1e-9)
        assert record["eps_abs"] >= before["eps_abs"] * (1 - 1e-9)
        assert record["nnz_after"] <= before["nnz_after"]
    assert all(c["certified"] for c in check_certificate(floored, calibration))
    with pytest.raises(ValueError, match="one value per layer"):
        NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=[0.1, 0.3],
                           mode="cascade").fit(calibration)


@pytest.mark.parametrize("gamma", [0.5, 0.99])
def test_gamma_below_one_is_rejected(digits_mlp, calibration, gamma):
    with pytest.raises(ValueError, match="gamma"):
        NetTrimTransformer(FrozenEstimator(digits_mlp), mode="cascade",
                           gamma=gamma).fit(calibration)


@pytest.mark.parametrize("mode", ["parallel", "cascade"])
def test_polish_keeps_support_and_feasibility_and_lowers_error(digits_mlp, calibration, mode):
    rough = NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=0.1, mode=mode,
                               polish=None).fit(calibration)
    polished = NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=0.1, mode=mode,
                                  polish="feasible").fit(calibration)
    # In cascade mode a polished layer changes the next layer's program, so only the
    # first layer is the same program in both fits.
    n_same = len(rough.layer_stats_) if mode == "parallel" else 1
    for a, b, ra, rb in list(zip(rough.estimator_.coefs_, polished.estimator_.coefs_,
                                 rough.layer_stats_, polished.layer_stats_))[:n_same]:
        assert not np.any(b[a == 0])           # support kept (it may only shrink)
        assert rb["relative_error"] <= ra["relative_error"] * (1 + TOL)
    for rb in polished.layer_stats_:
        assert rb["violation"] <= TOL          # still feasible
        assert rb["polished"] == "feasible"


def test_refit_polish_fits_the_original_preactivations_on_the_support(digits_mlp,
                                                                      calibration):
    """polish="least_squares" is least squares on the support: no worse than the l1 solution."""
    rough = NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=0.3, mode="parallel",
                               polish=None).fit(calibration)
    refit = NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=0.3, mode="parallel",
                               polish="least_squares").fit(calibration)
    inputs = layer_inputs(stacked_weights(digits_mlp), calibration,
                          hidden_activation(digits_mlp))
    for layer, (W, b) in enumerate(zip(digits_mlp.coefs_, digits_mlp.intercepts_)):
        target = inputs[layer] @ W + b
        a, c = rough.estimator_, refit.estimator_
        assert not np.any(c.coefs_[layer][a.coefs_[layer] == 0])  # support kept
        miss_rough = np.linalg.norm(inputs[layer] @ a.coefs_[layer] + a.intercepts_[layer]
                                    - target)
        miss_refit = np.linalg.norm(inputs[layer] @ c.coefs_[layer] + c.intercepts_[layer]
                                    - target)
        assert miss_refit <= miss_rough * (1 + TOL)
        assert refit.layer_stats_[layer]["polished"] == "least_squares"


@pytest.mark.parametrize("activation, lipschitz", [("identity", 1.0), ("tanh", 1.0),
                                                   ("logistic", 0.25)])
def test_other_activations_keep_preactivations_within_epsilon(digits, activation, lipschitz):
    X, y = digits
    mlp = MLPClassifier(hidden_layer_sizes=(24,), activation=activation, max_iter=300,
                        random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(X[:800], y[:800])
    epsilon = 0.05
    trim = NetTrimTransformer(FrozenEstimator(mlp), epsilon=epsilon).fit(X[:800])
    assert [r["kind"] for r in trim.layer_stats_] == ["linear", "linear"]
    W, b = mlp.coefs_[0], mlp.intercepts_[0]
    U, c = trim.estimator_.coefs_[0], trim.estimator_.intercepts_[0]
    pre, pre_hat = X[:800] @ W + b, X[:800] @ U + c
    assert np.linalg.norm(pre_hat - pre) <= epsilon * np.linalg.norm(pre) * (1 + TOL)
    act = hidden_activation(mlp)
    post_error = np.linalg.norm(act(pre_hat) - act(pre))
    assert post_error <= lipschitz * epsilon * np.linalg.norm(pre) * (1 + TOL)
    assert trim.sparsity_ > 0.2
    assert trim.score(X[800:], y[800:]) > mlp.score(X[800:], y[800:]) - 0.1


def test_max_samples_subsamples_with_random_state(digits_mlp, calibration):
    kw = dict(epsilon=0.1, max_samples=200, polish=None)
    a = NetTrimTransformer(FrozenEstimator(digits_mlp), random_state=0, **kw).fit(calibration)
    b = NetTrimTransformer(FrozenEstimator(digits_mlp), random_state=0, **kw).fit(calibration)
    c = NetTrimTransformer(FrozenEstimator(digits_mlp), random_state=1, **kw).fit(calibration)
    assert all(r["n_samples"] == 200 for r in a.layer_stats_)
    assert all(np.array_equal(x, y) for x, y in zip(a.estimator_.coefs_, b.estimator_.coefs_))
    assert not all(np.array_equal(x, y) for x, y in zip(a.estimator_.coefs_, c.estimator_.coefs_))
    half = NetTrimTransformer(FrozenEstimator(digits_mlp), max_samples=0.5).fit(calibration)
    assert half.layer_stats_[0]["n_samples"] == 300


def test_regressor_cascade(regression_mlp):
    mlp, X, y = regression_mlp
    trim = NetTrimTransformer(FrozenEstimator(mlp), epsilon=0.05, mode="cascade").fit(X)
    assert isinstance(trim.estimator_, MLPRegressor)
    assert trim.score(X, y) > mlp.score(X, y) - 0.1

"""What a new user ran into: booleans as max_samples, too few calibration rows, and a
regressor pruned to a constant, all silent. The diagnostics are pure functions, and
``fit`` raises their messages."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler

from sklearn_nettrim import NetTrimTransformer
from sklearn_nettrim._base import calibration_data
from sklearn_nettrim._diagnostics import calibration_size_warning, constant_layer_warning
from sklearn_nettrim._network import layer_kinds, stacked_weights

@pytest.fixture(scope="module")
def digits_64_40_24(digits):
    """A 64-40-24-10 ReLU classifier trained on 1000 digits (0.94 on the other 797)."""
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return MLPClassifier(hidden_layer_sizes=(40, 24), max_iter=300,
                             random_state=0).fit(X[:1000], y[:1000])


@pytest.fixture(scope="module")
def diabetes_uncentered():
    """Standardized X, y / 100 (mean 1.5): R^2 0.58 on the training data."""
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    mlp = MLPRegressor(hidden_layer_sizes=(16,), max_iter=2000, random_state=0)
    return mlp.fit(X, y / 100), X, y / 100


def prune(mlp, X, **params):
    return NetTrimTransformer(FrozenEstimator(mlp), **params).fit(X)


def shapes_and_kinds(mlp):
    return [W.shape for W in mlp.coefs_], layer_kinds(mlp)


# --- 1. max_samples=True is not "one row" ---------------------------------------------

@pytest.mark.parametrize("flag", [True, False, np.True_])
def test_max_samples_refuses_booleans(digits, digits_64_40_24, flag):
    X, _ = digits
    with pytest.raises(ValueError, match="max_samples"):
        NetTrimTransformer(FrozenEstimator(digits_64_40_24), max_samples=flag).fit(X[:200])


@pytest.mark.parametrize("flag", [True, False, np.True_, np.False_])
def test_calibration_data_refuses_booleans(digits, flag):
    # The check lives in _base, whatever _parameter_constraints lets through.
    X, _ = digits
    with pytest.raises(ValueError, match="max_samples.*boolean"):
        calibration_data(X, None, flag, 0)


def test_max_samples_integers_still_count_rows(digits):
    X, _ = digits
    assert calibration_data(X, None, 1, 0)[0].shape[0] == 1
    assert calibration_data(X, None, 50, 0)[0].shape[0] == 50
    assert calibration_data(X, None, np.int64(50), 0)[0].shape[0] == 50
    assert calibration_data(X, None, None, 0)[0].shape[0] == X.shape[0]


# --- 2. too few calibration rows ------------------------------------------------------

def test_calibration_size_rule_on_digits_network(digits_64_40_24):
    shapes, kinds = shapes_and_kinds(digits_64_40_24)
    assert shapes == [(64, 40), (40, 24), (24, 10)]
    message = calibration_size_warning(5, shapes, kinds)
    assert message is not None
    for part in ["5 rows", "layer 0 (relu, 64 inputs)", "layer 1 (relu, 40 inputs)",
                 "layer 2 (linear, 24 inputs)", "at least 65 rows", "max_samples=None"]:
        assert part in message
    # 30 rows: the 64- and 40-input layers are short of rows, the 24-input one is not.
    message = calibration_size_warning(30, shapes, kinds)
    assert "layer 0" in message and "layer 1" in message and "layer 2" not in message
    assert "at least 65" in message
    assert "layer 1" in calibration_size_warning(40, shapes, kinds)
    assert "layer 1" not in calibration_size_warning(41, shapes, kinds)
    assert calibration_size_warning(65, shapes, kinds) is None  # one row per weight
    assert calibration_size_warning(300, shapes, kinds) is None
    assert calibration_size_warning(300, shapes) is None


def test_calibration_size_rule_mnist_shapes():
    shapes = [(784, 300), (300, 100), (100, 10)]
    assert calibration_size_warning(3500, shapes) is None
    assert "784 inputs" in calibration_size_warning(500, shapes)


@pytest.mark.parametrize("n_rows", [5, 30])
def test_few_rows_cap_the_weights_each_neuron_keeps(digits, digits_64_40_24, n_rows):
    """The claim of the message: with P rows a neuron keeps at most about P weights,
    whatever epsilon. (A basic solution has at most P non-zeros; pixels that are equal
    on all P rows tie the l1 norm, so a solver may end between vertices: allow one more.)
    """
    X, y = digits
    for epsilon in [0.01, 0.3]:
        with pytest.warns(UserWarning, match=f"calibrating on {n_rows} rows"):
            trim = prune(digits_64_40_24, X[:n_rows], epsilon=epsilon)
        kept = [int(np.count_nonzero(W, axis=0).max()) for W in trim.estimator_.coefs_]
        assert max(kept) <= n_rows + 1, (epsilon, kept)
    if n_rows == 5:
        # Measured: sparsity 0.93-0.97 and test accuracy 0.10-0.22 (network: 0.94).
        assert trim.sparsity_ > 0.9
        assert trim.score(X[1000:], y[1000:]) < 0.5


def test_enough_rows_leave_the_tolerance_in_charge(digits, digits_64_40_24):
    X, y = digits
    trim = prune(digits_64_40_24, X[:300], epsilon=0.01)
    kept = int(np.count_nonzero(trim.estimator_.coefs_[0], axis=0).max())
    assert kept > 31  # measured 49: beyond what 30 rows would allow
    assert trim.score(X[1000:], y[1000:]) > 0.9


def test_no_calibration_warning_with_enough_rows(digits, digits_64_40_24):
    X, _ = digits
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        prune(digits_64_40_24, X[:300])
    assert not [w for w in caught if "calibrating on" in str(w.message)]


def test_fit_warns_on_few_calibration_rows(digits, digits_64_40_24):
    X, _ = digits
    with pytest.warns(UserWarning, match="calibrating on 5 rows"):
        prune(digits_64_40_24, X[:5])


def test_fit_warns_when_max_samples_leaves_few_rows(digits, digits_64_40_24):
    X, _ = digits
    with pytest.warns(UserWarning, match="calibrating on 20 rows"):
        prune(digits_64_40_24, X, max_samples=20, random_state=0)


# --- 3. a layer pruned to a constant --------------------------------------------------

def test_uncentered_regressor_output_pruned_to_constant(diabetes_uncentered):
    mlp, X, y = diabetes_uncentered
    assert mlp.score(X, y) > 0.55
    _, kinds = shapes_and_kinds(mlp)
    assert constant_layer_warning(stacked_weights(mlp), kinds, 0.4) is None
    with pytest.warns(UserWarning, match="predicts the same value"):
        trim = prune(mlp, X, epsilon=0.4, mode="parallel")
    # Measured: the output layer keeps no weight, R^2 0.58 -> 0.00.
    assert not np.any(trim.estimator_.coefs_[-1])
    assert trim.score(X, y) == pytest.approx(0.0, abs=0.01)
    message = constant_layer_warning(stacked_weights(trim.estimator_), kinds, 0.4)
    assert message is not None
    for part in ["layer 1 (the output layer, linear)", "no non-zero weight",
                 "predicts the same value", "epsilon=0.4", "Lower epsilon", "centered"]:
        assert part in message


def test_centered_regressor_keeps_its_output(diabetes_uncentered):
    _, X, y = diabetes_uncentered
    y = y - y.mean()
    mlp = MLPRegressor(hidden_layer_sizes=(16,), max_iter=2000, random_state=0).fit(X, y)
    trim = prune(mlp, X, epsilon=0.4, mode="parallel")
    assert np.any(trim.estimator_.coefs_[-1])
    assert constant_layer_warning(stacked_weights(trim.estimator_)) is None


def test_constant_hidden_layer_and_unreachable_weights():
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=(5, 4)), rng.normal(size=(5, 3)), rng.normal(size=(4, 2))]
    assert constant_layer_warning(weights) is None
    hidden = [W.copy() for W in weights]
    hidden[1][:-1] = 0
    message = constant_layer_warning(hidden, ["relu", "relu", "linear"], [0.1, 0.5, 0.2])
    assert "layer 1 (a hidden layer, relu) has no non-zero weight" in message
    assert "epsilon=0.5" in message and "centered target" not in message
    # Layer 0's units 0 and 1 read no input; layer 1 only reads those two.
    unreachable = [W.copy() for W in weights]
    unreachable[0][:-1, :2] = 0
    unreachable[1][2:4] = 0
    message = constant_layer_warning(unreachable)
    assert "non-zero weights left in pruned layer 1" in message
    assert "constant" in message
    # Sparse (CSR) weights, as after sparsify(), read the same.
    assert constant_layer_warning([sp.csr_matrix(W) for W in hidden]) is not None
    assert constant_layer_warning([sp.csr_matrix(W) for W in weights]) is None


def test_fit_warns_when_the_network_becomes_constant(diabetes_uncentered):
    mlp, X, _ = diabetes_uncentered
    with pytest.warns(UserWarning, match="predicts the same value"):
        prune(mlp, X, epsilon=0.4, mode="parallel")

"""Shared fixtures: small real and random layers, and small trained networks."""

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler

from sklearn_nettrim._network import hidden_activation, layer_inputs, stacked_weights


@pytest.fixture(scope="session")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


@pytest.fixture(scope="session")
def breast_cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="session")
def digits_mlp(digits):
    """A 64-32-16-10 ReLU network trained on 1000 digits (test split: the rest)."""
    X, y = digits
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return MLPClassifier(hidden_layer_sizes=(32, 16), max_iter=200,
                             random_state=0).fit(X[:1000], y[:1000])


@pytest.fixture(scope="session")
def digits_layers(digits, digits_mlp):
    """(inputs, weights) of every layer of ``digits_mlp`` on 300 calibration digits."""
    X, _ = digits
    weights = stacked_weights(digits_mlp)
    inputs = layer_inputs(weights, X[:300], hidden_activation(digits_mlp))
    return list(zip(inputs, weights))


def random_layer(n_samples=80, n_inputs=10, n_outputs=6, seed=0, dtype=np.float64):
    """A random ReLU layer with non-negative (post-ReLU-like) inputs."""
    rng = np.random.default_rng(seed)
    X = np.maximum(rng.normal(size=(n_samples, n_inputs)), 0).astype(dtype)
    W = rng.normal(size=(n_inputs + 1, n_outputs)).astype(dtype)
    return X, W


@pytest.fixture(scope="session")
def regression_mlp():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6))
    y = X[:, 0] - 2 * X[:, 1] + np.sin(X[:, 2])
    return MLPRegressor(hidden_layer_sizes=(16,), max_iter=2000, random_state=0).fit(X, y), X, y

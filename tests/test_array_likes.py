"""Every public entry point takes lists, arrays, DataFrames and sparse matrices, frozen or not."""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.neural_network import MLPClassifier

from sklearn_nettrim import (
    NetTrimCV,
    NetTrimTransformer,
    check_certificate,
    net_trim,
    net_trim_path,
)

CONTAINERS = {
    "list": lambda X: X.tolist(),
    "ndarray": lambda X: X,
    "DataFrame": lambda X: pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])]),
    "csr": sp.csr_matrix,
}
TARGETS = {
    "list": lambda y: y.tolist(),
    "ndarray": lambda y: y,
    "DataFrame": pd.Series,
    "csr": lambda y: y,
}
_EXPECTED = {}  # entry -> the fit on a NumPy array, computed once


@pytest.fixture(scope="module")
def tiny(breast_cancer):
    X, y = breast_cancer
    X, y = X[:90, :6], y[:90]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = MLPClassifier(hidden_layer_sizes=(5,), max_iter=100, random_state=0).fit(X, y)
    return mlp, X, y


def _unfrozen():
    return MLPClassifier(hidden_layer_sizes=(5,), max_iter=100, random_state=0)


def _coefs(net):
    return [np.asarray(W) for W in net.coefs_ + net.intercepts_]


def _assert_same(a, b):
    for Wa, Wb in zip(_coefs(a), _coefs(b)):
        np.testing.assert_allclose(Wa, Wb, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("container", CONTAINERS)
@pytest.mark.parametrize("entry", ["net_trim", "net_trim_path", "transformer",
                                   "transformer_frozen", "cv", "cv_frozen"])
# The unfrozen networks train here (max_iter=100): only the MLP's own warning is ignored,
# a pruning that stops at max_iter still warns.
@pytest.mark.filterwarnings("ignore:Stochastic Optimizer:sklearn.exceptions.ConvergenceWarning")
def test_entry_points_take_every_array_like(tiny, container, entry):
    mlp, X, y = tiny
    Xc, yc = CONTAINERS[container](X), TARGETS[container](y)
    w = np.arange(len(X)) % 3
    if entry == "net_trim":
        _assert_same(net_trim(mlp, Xc, epsilon=0.1, sample_weight=w),
                     net_trim(mlp, X, epsilon=0.1, sample_weight=w))
        return
    if entry == "net_trim_path":
        _, nets, _ = net_trim_path(mlp, Xc, [0.05, 0.2], sample_weight=w)
        _, expected, _ = net_trim_path(mlp, X, [0.05, 0.2], sample_weight=w)
        for a, b in zip(nets, expected):
            _assert_same(a, b)
        return
    frozen = entry.endswith("frozen")
    network = FrozenEstimator(mlp) if frozen else _unfrozen()
    if entry.startswith("transformer"):
        make = lambda: NetTrimTransformer(network, epsilon=0.1)  # noqa: E731
    else:
        make = lambda: NetTrimCV(network, epsilons=[0.05, 0.2], cv=2)  # noqa: E731
    needs_y = entry.startswith("cv") or not frozen
    fitted = make().fit(Xc, yc if needs_y else None, sample_weight=w)
    if entry not in _EXPECTED:
        _EXPECTED[entry] = make().fit(X, y if needs_y else None, sample_weight=w)
    expected = _EXPECTED[entry]
    _assert_same(fitted.estimator_, expected.estimator_)
    np.testing.assert_array_equal(fitted.predict(Xc), expected.predict(X))
    assert fitted.score(Xc, yc) == pytest.approx(expected.score(X, y))
    transformed = fitted.transform(Xc)
    assert transformed.shape == (len(X), int(fitted.get_support().sum()))
    certificates = check_certificate(fitted, Xc, sample_weight=w)
    assert all(c["certified"] for c in certificates)
    if container == "DataFrame":
        np.testing.assert_array_equal(fitted.feature_names_in_, Xc.columns)

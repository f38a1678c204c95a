"""compact(): dead hidden units removed, predictions unchanged, the user's objects untouched."""

import copy
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_diabetes, load_digits, load_iris, load_linnerud
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler

from sklearn_nettrim import NetTrimTransformer, check_certificate
from sklearn_nettrim._compact import compact_network

ACTIVATIONS = ["relu", "identity", "tanh", "logistic"]


def fitted(mlp, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return mlp.fit(X, y)


def outputs(mlp, X):
    """Everything the network predicts, as floats (probabilities or regression values)."""
    return mlp.predict_proba(X) if hasattr(mlp, "predict_proba") else mlp.predict(X)


def kill_units(mlp, rng, fraction=0.4):
    """Zero the incoming weights of some hidden units and the outgoing weights of others.

    The intercepts are left alone, so units without inputs output a non-zero constant
    that must be folded downstream.
    """
    damaged = copy.deepcopy(mlp)
    for layer in range(len(damaged.coefs_) - 1):
        n = damaged.coefs_[layer].shape[1]
        no_in = rng.random(n) < fraction
        no_out = rng.random(n) < fraction / 2
        damaged.coefs_[layer][:, no_in] = 0
        damaged.coefs_[layer + 1][no_out] = 0
        damaged.intercepts_[layer][no_in] += 0.5  # relu: keep some constants positive
    return damaged


def assert_equivalent(before, after, X):
    np.testing.assert_allclose(outputs(after, X), outputs(before, X), rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(after.predict(X), before.predict(X))


def shrunk(before, after):
    sizes = after.hidden_layer_sizes
    assert sizes == tuple(W.shape[1] for W in after.coefs_[:-1])
    assert all(a <= b for a, b in zip(sizes, before.hidden_layer_sizes))
    return sum(sizes) < sum(before.hidden_layer_sizes)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_classifier_every_activation(activation):
    X, y = load_digits(return_X_y=True)
    X = X[:600] / 16
    mlp = fitted(MLPClassifier(hidden_layer_sizes=(24, 12), activation=activation,
                               max_iter=60, random_state=0), X, y[:600])
    damaged = kill_units(mlp, np.random.default_rng(0))
    snapshot = pickle.dumps(damaged)
    compacted, kept = compact_network(damaged)
    assert pickle.dumps(damaged) == snapshot  # input untouched
    assert type(compacted) is MLPClassifier and compacted is not damaged
    assert shrunk(damaged, compacted)
    assert [k.size for k in kept] == list(compacted.hidden_layer_sizes)
    assert_equivalent(damaged, compacted, X)
    assert not hasattr(compacted, "_optimizer")


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_regressor_single_and_multi_output(activation):
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    rng = np.random.default_rng(1)
    single = fitted(MLPRegressor(hidden_layer_sizes=(20, 10), activation=activation,
                                 max_iter=100, random_state=0), X, y / 100)
    X2, Y2 = load_linnerud(return_X_y=True)
    X2 = StandardScaler().fit_transform(X2)
    multi = fitted(MLPRegressor(hidden_layer_sizes=(16,), activation=activation,
                                max_iter=200, random_state=0), X2, Y2 / 100)
    for mlp, data in ((single, X), (multi, X2)):
        damaged = kill_units(mlp, rng)
        compacted, _ = compact_network(damaged)
        assert type(compacted) is MLPRegressor
        assert shrunk(damaged, compacted)
        np.testing.assert_allclose(compacted.predict(data), damaged.predict(data),
                                   rtol=1e-9, atol=1e-9)


def test_binary_and_multilabel_classifiers():
    X, y = load_digits(return_X_y=True)
    X = X[:500] / 16
    rng = np.random.default_rng(2)
    binary = fitted(MLPClassifier(hidden_layer_sizes=(16,), max_iter=100, random_state=0),
                    X, y[:500] % 2)
    Y_multilabel = np.column_stack([y[:500] % 2, y[:500] > 4, y[:500] % 3 == 0])
    multilabel = fitted(MLPClassifier(hidden_layer_sizes=(16, 8), activation="tanh",
                                      max_iter=100, random_state=0), X, Y_multilabel)
    for mlp in (binary, multilabel):
        damaged = kill_units(mlp, rng)
        compacted, _ = compact_network(damaged)
        assert shrunk(damaged, compacted)
        assert_equivalent(damaged, compacted, X)


def test_cascading_removal_and_a_layer_where_every_unit_dies():
    X, y = load_iris(return_X_y=True)
    mlp = fitted(MLPClassifier(hidden_layer_sizes=(8, 6, 4), max_iter=500, random_state=0),
                 X, y)
    # Layer 2 loses all its inputs: its units become constants, then layer 1 has no
    # outgoing weights left, and layer 3 sees constants only: the network is constant.
    damaged = copy.deepcopy(mlp)
    damaged.coefs_[1][:] = 0
    damaged.intercepts_[1][:] = np.linspace(-0.5, 1.0, 6)
    compacted, kept = compact_network(damaged)
    assert [k.size for k in kept] == [0, 0, 0]
    assert compacted.hidden_layer_sizes == (1, 1, 1)  # inert placeholders
    assert all(not np.any(W) for W in compacted.coefs_)
    assert_equivalent(damaged, compacted, X)
    # A layer without outgoing weights: its units go, so layer 3 gets constants and
    # layer 1 loses its outgoing weights; the network is constant again.
    cut = copy.deepcopy(mlp)
    cut.coefs_[2][:] = 0
    compacted, kept = compact_network(cut)
    assert [k.size for k in kept] == [0, 0, 0]
    assert_equivalent(cut, compacted, X)
    assert np.ptp(compacted.predict_proba(X), axis=0).max() == 0


def test_sparse_coefs_after_sparsify_stay_sparse(digits, digits_mlp):
    X, _ = digits
    trim = NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=0.5).fit(X[:300])
    dense_outputs = trim.predict_proba(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "less than 90% sparse"
        trim.sparsify()
    trim.compact()
    assert all(sp.issparse(W) and W.format == "csr" for W in trim.estimator_.coefs_)
    np.testing.assert_allclose(trim.predict_proba(X), dense_outputs, rtol=1e-9, atol=1e-9)


def test_compact_method_replaces_estimator_and_keeps_the_rest(digits, digits_mlp):
    X, y = digits
    before = pickle.dumps(digits_mlp)
    trim = NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=0.5).fit(X[:300])
    assert trim.hidden_units_ == (32, 16)
    pruned = trim.estimator_
    pruned_snapshot = pickle.dumps(pruned)
    probabilities, support = trim.predict_proba(X), trim.get_support()
    certificates = check_certificate(trim, X[:300])
    assert trim.compact() is trim
    assert pickle.dumps(digits_mlp) == before and trim.network_ is digits_mlp
    assert pickle.dumps(pruned) == pruned_snapshot  # the old estimator_ is not modified
    assert trim.estimator_ is not pruned
    assert sum(trim.hidden_units_) < 48
    assert trim.estimator_.hidden_layer_sizes == trim.hidden_units_
    for units, size in zip(trim.kept_units_, (32, 16)):
        assert np.all(np.diff(units) > 0) and (units.size == 0 or units[-1] < size)
    np.testing.assert_allclose(trim.predict_proba(X), probabilities, rtol=1e-9, atol=1e-9)
    # Features that fed only removed units leave the support; no others do.
    assert not np.any(trim.get_support() & ~support)
    assert trim.transform(X).shape[1] == trim.get_support().sum()
    assert all(c["certified"] for c in certificates)
    with pytest.raises(ValueError, match="compacted.*before calling compact"):
        check_certificate(trim, X[:300])
    # Compacting again changes nothing; pickling round-trips.
    hidden, kept = trim.hidden_units_, [k.copy() for k in trim.kept_units_]
    trim.compact()
    assert trim.hidden_units_ == hidden
    assert all(np.array_equal(a, b) for a, b in zip(trim.kept_units_, kept))
    restored = pickle.loads(pickle.dumps(trim))
    np.testing.assert_array_equal(restored.predict_proba(X), trim.predict_proba(X))
    # A new fit starts from the full network again.
    trim.fit(X[:300])
    assert trim.hidden_units_ == (32, 16)


def test_compact_requires_a_fitted_estimator():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        NetTrimTransformer().compact()


def test_saved_model_holds_one_copy_of_the_pruned_weights(digits, digits_mlp):
    """scikit-learn's _best_coefs (restored by early stopping) must not keep the originals."""
    X, _ = digits
    trim = NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=0.5).fit(X[:300])

    def shared(mlp):
        return all(a is b for a, b in zip(mlp._best_coefs + mlp._best_intercepts,
                                          mlp.coefs_ + mlp.intercepts_))

    assert shared(trim.estimator_)
    dense_size = len(pickle.dumps(trim.estimator_))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "less than 90% sparse"
        trim.sparsify()
    assert shared(trim.estimator_)
    assert len(pickle.dumps(trim.estimator_)) < dense_size
    trim.compact()
    assert shared(trim.estimator_)
    trim.densify()
    assert shared(trim.estimator_)

"""magnitude_prune: global magnitude pruning and a sequential least-squares refit."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

from sklearn_nettrim import baseline
from sklearn_nettrim._network import stacked_weights
from sklearn_nettrim.baseline import global_magnitude_masks, magnitude_prune


@pytest.fixture(scope="module")
def small_mlp(digits):
    """A 64-16-8-10 ReLU network on 1000 digits."""
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return MLPClassifier(hidden_layer_sizes=(16, 8), max_iter=200,
                             random_state=0).fit(X[:1000], y[:1000])


def reference_refit(mlp, X, target_sparsity, sample_weight=None):
    """Per-neuron least squares with np.linalg.lstsq on the support, layer after layer.

    Each neuron's weights are the least-squares solution closest to its magnitude-pruned
    weights (lstsq's minimum-norm deviation from them), fitted on the pruned network's
    input to the original network's pre-activations.
    """
    with threadpool_limits(1):  # many tiny lstsq calls: threads only add overhead
        return _reference_refit(mlp, X, target_sparsity, sample_weight)


def _reference_refit(mlp, X, target_sparsity, sample_weight):
    weights = stacked_weights(mlp)
    masks = global_magnitude_masks(weights, target_sparsity)
    root = np.ones(len(X)) if sample_weight is None else np.sqrt(sample_weight)
    h_original = h_pruned = X
    out = []
    for i, (W, mask) in enumerate(zip(weights, masks)):
        Z = h_original @ W[:-1] + W[-1]
        A = np.hstack([h_pruned, np.ones((len(X), 1))])
        U = np.zeros_like(W)
        for j in range(W.shape[1]):
            rows = np.append(np.flatnonzero(mask[:, j]), W.shape[0] - 1)
            start = W[rows, j]
            deviation = np.linalg.lstsq(A[:, rows] * root[:, None],
                                        (Z[:, j] - A[:, rows] @ start) * root,
                                        rcond=None)[0]
            U[rows, j] = start + deviation
        out.append(U)
        if i < len(weights) - 1:
            h_original = np.maximum(Z, 0)
            h_pruned = np.maximum(A @ U, 0)
    return out


def assert_weights_close(pruned, reference, rtol=1e-8):
    for layer, (W, b, R) in enumerate(zip(pruned.coefs_, pruned.intercepts_, reference)):
        U = np.vstack([W, b])
        np.testing.assert_allclose(U, R, rtol=rtol, atol=rtol * np.abs(R).max(),
                                   err_msg=f"layer {layer}")


@pytest.mark.parametrize("target_sparsity", [0.0, 0.5, 0.8, 0.97])
def test_matches_per_neuron_lstsq(small_mlp, digits, target_sparsity):
    # 0.97 leaves hidden units without inputs: constant columns, collinear with the
    # intercept, which the lstsq fallback resolves like the reference.
    X, _ = digits
    pruned = magnitude_prune(small_mlp, X[:300], target_sparsity=target_sparsity)
    assert_weights_close(pruned, reference_refit(small_mlp, X[:300], target_sparsity))


def test_matches_reference_without_batched_scipy(small_mlp, digits, monkeypatch):
    X, _ = digits
    monkeypatch.setattr(baseline, "_SCIPY_BATCHES", False)
    pruned = magnitude_prune(small_mlp, X[:300], target_sparsity=0.8)
    assert_weights_close(pruned, reference_refit(small_mlp, X[:300], 0.8))


def test_small_batches_give_the_same_weights(small_mlp, digits, monkeypatch):
    X, _ = digits
    expected = magnitude_prune(small_mlp, X[:300], target_sparsity=0.5)
    monkeypatch.setattr(baseline, "_BATCH_BYTES", 1)  # one neuron per batch
    pruned = magnitude_prune(small_mlp, X[:300], target_sparsity=0.5)
    for W, V in zip(pruned.coefs_, expected.coefs_):
        np.testing.assert_allclose(W, V, rtol=1e-10, atol=1e-12)


def test_fewer_rows_than_kept_weights(small_mlp, digits):
    # 20 rows for up to 65 kept weights per neuron: every system is singular.
    X, _ = digits
    pruned = magnitude_prune(small_mlp, X[:20], target_sparsity=0.2)
    assert_weights_close(pruned, reference_refit(small_mlp, X[:20], 0.2), rtol=1e-6)


@pytest.mark.parametrize("target_sparsity", [0.0, 0.3, 0.8, 0.9, 0.999])
def test_exact_number_of_nonzeros(small_mlp, digits, target_sparsity):
    X, _ = digits
    pruned = magnitude_prune(small_mlp, X[:300], target_sparsity=target_sparsity)
    n_weights = sum(W.size for W in small_mlp.coefs_)
    kept = sum(int(np.count_nonzero(W)) for W in pruned.coefs_)
    assert kept == round((1 - target_sparsity) * n_weights)
    # The kept weights are the globally largest ones.
    magnitudes = np.sort(np.concatenate([np.abs(W).ravel() for W in small_mlp.coefs_]))
    for W, W0 in zip(pruned.coefs_, small_mlp.coefs_):
        if kept:
            assert np.all(np.abs(W0[W != 0]) >= magnitudes[-kept])


def test_ties_trimmed_in_the_largest_layer():
    weights = [np.vstack([np.ones((4, 3)), np.zeros((1, 3))]),      # 12 tied weights
               np.vstack([np.full((3, 2), 2.0), np.zeros((1, 2))]),  # 6 above
               np.vstack([np.ones((2, 2)), np.zeros((1, 2))])]       # 4 tied weights
    masks = global_magnitude_masks(weights, 1 - 10 / 22)
    assert [int(m.sum()) for m in masks] == [0, 6, 4]
    masks = global_magnitude_masks(weights, 1 - 16 / 22)
    assert [int(m.sum()) for m in masks] == [6, 6, 4]


def test_integer_weights_equal_repeated_rows(small_mlp, digits):
    X, _ = digits
    X = X[:200]
    counts = np.random.default_rng(0).integers(0, 4, size=len(X))
    weighted = magnitude_prune(small_mlp, X, target_sparsity=0.8, sample_weight=counts)
    repeated = magnitude_prune(small_mlp, np.repeat(X, counts, axis=0), target_sparsity=0.8)
    for W, V in zip(weighted.coefs_ + weighted.intercepts_,
                    repeated.coefs_ + repeated.intercepts_):
        np.testing.assert_allclose(W, V, rtol=1e-8, atol=1e-8 * np.abs(V).max())
    assert_weights_close(weighted, reference_refit(small_mlp, X, 0.8, counts))


def test_input_network_not_modified(small_mlp, digits):
    X, y = digits
    before = [W.copy() for W in small_mlp.coefs_ + small_mlp.intercepts_]
    score = small_mlp.score(X[1000:], y[1000:])
    pruned = magnitude_prune(small_mlp, X[:300], target_sparsity=0.9)
    assert pruned is not small_mlp
    assert all(W is not V for W, V in zip(pruned.coefs_, small_mlp.coefs_))
    for W, V in zip(before, small_mlp.coefs_ + small_mlp.intercepts_):
        np.testing.assert_array_equal(W, V)
    assert small_mlp.score(X[1000:], y[1000:]) == score
    assert type(pruned) is type(small_mlp)
    assert pruned.predict(X[1000:]).shape == y[1000:].shape


def test_frozen_network_sparse_input_and_float32(small_mlp, digits):
    X, _ = digits
    dense = magnitude_prune(small_mlp, X[:300], target_sparsity=0.8)
    frozen = magnitude_prune(FrozenEstimator(small_mlp), sp.csr_matrix(X[:300]),
                             target_sparsity=0.8)
    for W, V in zip(dense.coefs_, frozen.coefs_):
        np.testing.assert_allclose(W, V, rtol=1e-12, atol=1e-12)
    single = magnitude_prune(small_mlp, X[:300].astype(np.float32), target_sparsity=0.8)
    assert single.coefs_[0].dtype == small_mlp.coefs_[0].dtype


def test_regressor(regression_mlp):
    mlp, X, y = regression_mlp
    pruned = magnitude_prune(mlp, X, target_sparsity=0.5)
    assert sum(int(np.count_nonzero(W)) for W in pruned.coefs_) == round(
        0.5 * sum(W.size for W in mlp.coefs_))
    assert pruned.score(X, y) > 0.5


def test_beats_magnitude_alone(small_mlp, digits):
    X, y = digits
    pruned = magnitude_prune(small_mlp, X[:1000], target_sparsity=0.8)
    masks = global_magnitude_masks(stacked_weights(small_mlp), 0.8)
    plain = magnitude_prune(small_mlp, X[:1000], target_sparsity=0.0)
    plain.coefs_ = [W * m for W, m in zip(small_mlp.coefs_, masks)]
    plain.intercepts_ = list(small_mlp.intercepts_)
    assert pruned.score(X[1000:], y[1000:]) > plain.score(X[1000:], y[1000:])


@pytest.mark.parametrize("make_args, error, match", [
    (lambda m, X: (MLPClassifier(hidden_layer_sizes=(4,)), X, 0.5), Exception,
     "not fitted yet"),
    (lambda m, X: (m, X[:, :10], 0.5), ValueError, "X has 10 features"),
    (lambda m, X: (m, X, 1.5), ValueError, r"target_sparsity must be a float in \[0, 1\)"),
    (lambda m, X: (m, X, 1.0), ValueError, r"target_sparsity must be a float in \[0, 1\)"),
    (lambda m, X: (m, X, -0.1), ValueError, r"target_sparsity must be a float in \[0, 1\)"),
    (lambda m, X: (m, X, "0.5"), TypeError, "target_sparsity must be a float"),
    (lambda m, X: (m, X, True), TypeError, "target_sparsity must be a float"),
    (lambda m, X: (m, np.where(np.eye(*X.shape, dtype=bool), np.nan, X), 0.5), ValueError,
     "NaN"),
    (lambda m, X: (LogisticRegression(), X, 0.5), TypeError,
     "MLPClassifier or MLPRegressor.*got LogisticRegression"),
])
def test_bad_inputs(small_mlp, digits, make_args, error, match):
    X, _ = digits
    mlp, X_bad, target = make_args(small_mlp, X[:100])
    with pytest.raises(error, match=match):
        magnitude_prune(mlp, X_bad, target_sparsity=target)


def test_unfitted_error_is_a_not_fitted_error(digits):
    from sklearn.exceptions import NotFittedError

    X, _ = digits
    with pytest.raises(NotFittedError, match="magnitude_prune prunes a trained network"):
        magnitude_prune(MLPClassifier(), X[:10], target_sparsity=0.5)


def test_bad_sample_weight(small_mlp, digits):
    X, _ = digits
    with pytest.raises(ValueError, match="sample_weight has 3 entries"):
        magnitude_prune(small_mlp, X[:10], target_sparsity=0.5, sample_weight=[1, 2, 3])
    with pytest.raises(ValueError, match="(?i)negative"):
        magnitude_prune(small_mlp, X[:3], target_sparsity=0.5, sample_weight=[1, -2, 3])

"""The pruned, compacted network exports to ONNX and predicts the same in onnxruntime.

skl2onnx reads ``coefs_`` as dense arrays: after ``sparsify()`` it fails, and
``sklearn_nettrim.to_onnx`` exports a dense copy instead."""

import copy
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_nettrim import NetTrimTransformer, to_onnx

skl2onnx = pytest.importorskip("skl2onnx")
onnxruntime = pytest.importorskip("onnxruntime")


def run_onnx(model, X, convert=skl2onnx.to_onnx):
    onx = convert(model, X[:1].astype(np.float32), options={"zipmap": False}
                  if hasattr(model, "classes_") else None)
    return run_session(onx, X)


def run_session(onx, X):
    session = onnxruntime.InferenceSession(onx.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: X.astype(np.float32)})


def pruned_and_compacted(mlp, X, y, epsilon):
    with warnings.catch_warnings():  # the MLP's training only, not the pruning
        warnings.filterwarnings("ignore", message="Stochastic Optimizer",
                                category=ConvergenceWarning)
        trim = NetTrimTransformer(mlp, epsilon=epsilon).fit(X, y)
    full = trim.hidden_units_
    trim.compact()
    assert sum(trim.hidden_units_) < sum(full)  # really smaller
    return trim


def test_classifier_runs_in_onnxruntime(digits):
    X, y = digits
    mlp = MLPClassifier(hidden_layer_sizes=(32, 16), max_iter=100, random_state=0)
    trim = pruned_and_compacted(mlp, X, y, epsilon=0.3)
    labels, probabilities = run_onnx(trim.estimator_, X)
    np.testing.assert_allclose(probabilities, trim.predict_proba(X), atol=1e-4)
    # float32 inference may flip a near-tie: allow a handful out of 1797 digits.
    assert np.mean(labels == trim.predict(X)) > 0.998


def test_regressor_runs_in_onnxruntime():
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    mlp = MLPRegressor(hidden_layer_sizes=(32,), max_iter=300, random_state=0)
    trim = pruned_and_compacted(mlp, X, y / 100, epsilon=0.3)
    [predictions] = run_onnx(trim.estimator_, X)
    np.testing.assert_allclose(predictions.ravel(), trim.predict(X), rtol=1e-4, atol=1e-4)


@pytest.fixture(scope="module")
def sparsified(digits):
    X, y = digits
    mlp = MLPClassifier(hidden_layer_sizes=(32, 16), max_iter=100, random_state=0)
    with warnings.catch_warnings():  # the MLP's training only, not the pruning
        warnings.filterwarnings("ignore", message="Stochastic Optimizer",
                                category=ConvergenceWarning)
        trim = NetTrimTransformer(mlp, epsilon=0.3).fit(X, y)
    with pytest.warns(UserWarning, match="ONNX export needs dense weights"):
        trim.sparsify()  # the layers are less than 90% sparse
    assert all(sp.issparse(W) for W in trim.estimator_.coefs_)
    return trim


def test_skl2onnx_fails_on_sparse_coefs(digits, sparsified):
    # What the helper is for (skl2onnx 1.20): its MLP converter calls coefs_[i].ravel().
    # If this starts to pass, skl2onnx reads sparse weights and the helper is a copy.
    X, _ = digits
    with pytest.raises(AttributeError, match="ravel"):
        skl2onnx.to_onnx(sparsified.estimator_, X[:1].astype(np.float32))


def test_to_onnx_exports_a_sparsified_transformer(digits, sparsified):
    X, _ = digits
    before = copy.deepcopy(sparsified.estimator_.coefs_)
    labels, probabilities = run_onnx(sparsified, X, convert=to_onnx)
    np.testing.assert_allclose(probabilities, sparsified.predict_proba(X), atol=1e-4)
    assert np.mean(labels == sparsified.predict(X)) > 0.998
    # The model itself is not densified.
    assert all(sp.issparse(W) and (W != B).nnz == 0
               for W, B in zip(sparsified.estimator_.coefs_, before))
    # The network alone, and after compact() (CSR coefs stay CSR), export the same way.
    [_, same] = run_onnx(sparsified.estimator_, X, convert=to_onnx)
    np.testing.assert_array_equal(same, probabilities)
    compacted = copy.deepcopy(sparsified).compact()
    [_, small] = run_onnx(compacted, X, convert=to_onnx)
    np.testing.assert_allclose(small, probabilities, atol=1e-5)


def test_to_onnx_exports_a_pipeline_ending_in_a_sparsified_regressor():
    X, y = load_diabetes(return_X_y=True)
    mlp = MLPRegressor(hidden_layer_sizes=(32,), max_iter=300, random_state=0)
    with warnings.catch_warnings():  # the MLP's training only, not the pruning
        warnings.filterwarnings("ignore", message="Stochastic Optimizer",
                                category=ConvergenceWarning)
        pipe = make_pipeline(StandardScaler(), NetTrimTransformer(mlp, epsilon=0.3))
        pipe.fit(X, y / 100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        pipe[-1].sparsify()
    [predictions] = run_session(to_onnx(pipe, X[:1].astype(np.float32)), X)
    np.testing.assert_allclose(predictions.ravel(), pipe.predict(X), rtol=1e-4, atol=1e-4)


def test_to_onnx_refuses_what_it_cannot_export(digits, sparsified):
    X, _ = digits
    with pytest.raises(TypeError, match="NetTrimTransformer or NetTrimCV"):
        to_onnx(StandardScaler().fit(X), X[:1])
    with pytest.raises(TypeError, match="transformer"):
        to_onnx(make_pipeline(sparsified, StandardScaler()), X[:1])
    with pytest.raises(Exception, match="not fitted"):
        to_onnx(NetTrimTransformer(), X[:1])


def test_to_onnx_without_skl2onnx_says_what_to_install(monkeypatch, digits, sparsified):
    X, _ = digits
    monkeypatch.setitem(sys.modules, "skl2onnx", None)  # import fails
    with pytest.raises(ImportError, match="pip install skl2onnx"):
        to_onnx(sparsified, X[:1])

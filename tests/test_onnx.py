"""The pruned, compacted network exports to ONNX and predicts the same in onnxruntime."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler

from sklearn_nettrim import NetTrimTransformer

skl2onnx = pytest.importorskip("skl2onnx")
onnxruntime = pytest.importorskip("onnxruntime")


def run_onnx(model, X):
    onx = skl2onnx.to_onnx(model, X[:1].astype(np.float32), options={"zipmap": False}
                           if hasattr(model, "classes_") else None)
    session = onnxruntime.InferenceSession(onx.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: X.astype(np.float32)})


def pruned_and_compacted(mlp, X, y, epsilon):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
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

"""Label-free fine-tuning: masked Adam towards the original network's outputs."""

import copy
import pickle
import warnings

import numpy as np
import pytest
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
from sklearn_nettrim._finetune import (
    distillation_loss,
    fine_tune_weights,
    forward,
    loss_and_gradients,
    original_outputs,
)
from sklearn_nettrim._network import stacked_weights


def _pruned(mlp, X, **params):
    # Parallel mode with the output polish leaves fine-tuning something to do (the default
    # cascade + refine route is already close to the original network's outputs).
    params = {"epsilon": 0.3, "random_state": 0, "mode": "parallel", "polish": "output",
              **params}
    return NetTrimTransformer(FrozenEstimator(mlp), **params).fit(X)


@pytest.mark.parametrize("hidden", ["relu", "tanh", "logistic", "identity"])
@pytest.mark.parametrize("output", ["softmax", "logistic", "identity", "exp"])
def test_gradient_matches_finite_differences(hidden, output):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(7, 4))
    weights = [rng.normal(size=(5, 6)) * 0.5, rng.normal(size=(7, 5)) * 0.5,
               rng.normal(size=(6, 3)) * 0.5]
    teacher = [W + 0.3 * rng.normal(size=W.shape) for W in weights]
    targets = forward(teacher, X, hidden, output)[-1]
    loss, gradients = loss_and_gradients(weights, X, targets, hidden, output)
    assert loss == pytest.approx(
        distillation_loss(forward(weights, X, hidden, output)[-1], targets, output))
    h = 1e-6
    for layer, G in zip(range(len(weights)), gradients):
        numeric = np.zeros_like(G)
        for index in np.ndindex(G.shape):
            plus, minus = copy.deepcopy(weights), copy.deepcopy(weights)
            plus[layer][index] += h
            minus[layer][index] -= h
            numeric[index] = (
                loss_and_gradients(plus, X, targets, hidden, output)[0]
                - loss_and_gradients(minus, X, targets, hidden, output)[0]) / (2 * h)
        np.testing.assert_allclose(G, numeric, rtol=1e-5, atol=1e-8)


def test_loss_is_zero_on_the_original_outputs(digits, digits_mlp):
    X, _ = digits
    P = original_outputs(digits_mlp, X[:200])
    np.testing.assert_allclose(P, digits_mlp.predict_proba(X[:200]), rtol=1e-10)
    assert distillation_loss(P, P, "softmax") == pytest.approx(0, abs=1e-12)


def test_keeps_zeros_frees_intercepts_and_lowers_the_loss(digits, digits_mlp):
    X, _ = digits
    calibration = X[:400]
    plain = _pruned(digits_mlp, calibration)
    tuned = _pruned(digits_mlp, calibration, fine_tune=5, fine_tune_batch_size=50)
    for before, after, b0, b1 in zip(plain.estimator_.coefs_, tuned.estimator_.coefs_,
                                     plain.estimator_.intercepts_,
                                     tuned.estimator_.intercepts_):
        assert np.all(after[before == 0] == 0)
        # Weights into units that never activate get no gradient: most others move.
        assert np.mean(after[before != 0] != before[before != 0]) > 0.5
        assert not np.allclose(b0, b1)
    assert tuned.sparsity_ == plain.sparsity_
    loss = tuned.fine_tune_loss_
    assert loss.shape == (6,) and plain.fine_tune_loss_ is None
    assert loss[-1] < 0.8 * loss[0]  # from the output-polished start (0.165 -> 0.110 seen)
    # The curve starts at the pruned network's loss and ends at the fine-tuned one's.
    P = original_outputs(digits_mlp, calibration)
    assert loss[0] == pytest.approx(distillation_loss(
        plain.estimator_.predict_proba(calibration), P, "softmax"), rel=1e-6)
    assert loss[-1] == pytest.approx(distillation_loss(
        tuned.estimator_.predict_proba(calibration), P, "softmax"), rel=1e-6)


def test_frozen_network_without_y_is_untouched(digits, digits_mlp):
    X, _ = digits
    saved = pickle.dumps(digits_mlp)
    X_copy = X[:300].copy()
    trim = _pruned(digits_mlp, X_copy, fine_tune=2)
    assert pickle.dumps(digits_mlp) == saved
    np.testing.assert_array_equal(X_copy, X[:300])
    assert trim.network_ is digits_mlp and trim.estimator_ is not digits_mlp
    assert all(W.dtype == V.dtype for W, V in zip(trim.estimator_.coefs_, digits_mlp.coefs_))


def test_reproducible_with_random_state(digits, digits_mlp):
    X, _ = digits
    a = _pruned(digits_mlp, X[:300], fine_tune=2, random_state=3)
    b = _pruned(digits_mlp, X[:300], fine_tune=2, random_state=3)
    c = _pruned(digits_mlp, X[:300], fine_tune=2, random_state=4)
    for Wa, Wb in zip(a.estimator_.coefs_, b.estimator_.coefs_):
        np.testing.assert_array_equal(Wa, Wb)
    assert not np.array_equal(a.estimator_.coefs_[0], c.estimator_.coefs_[0])


def test_records_and_certificate_say_the_bound_no_longer_applies(digits, digits_mlp):
    X, _ = digits
    for mode in ("parallel", "cascade"):
        plain = _pruned(digits_mlp, X[:300], mode=mode)
        tuned = _pruned(digits_mlp, X[:300], mode=mode, fine_tune=3)
        assert all(r["fine_tuned"] is False for r in plain.layer_stats_)
        assert all(c["certified"] is True and c["fine_tuned"] is False
                   for c in check_certificate(plain, X[:300]))
        certificates = check_certificate(tuned, X[:300])
        for record, certificate, before in zip(tuned.layer_stats_, certificates,
                                               plain.layer_stats_):
            assert record["fine_tuned"] is True and record["fine_tune_epochs"] == 3
            assert record["before_fine_tune"]["relative_error"] == pytest.approx(
                before["relative_error"])
            assert certificate["fine_tuned"] is True and certificate["certified"] is None
            # The record holds the errors re-measured on the fine-tuned weights.
            assert record["relative_error"] == pytest.approx(certificate["relative_error"],
                                                             rel=1e-6)
            assert record["violation"] == pytest.approx(certificate["violation"], rel=1e-6,
                                                        abs=1e-12)
        assert tuned.layer_stats_[-1]["relative_error"] != pytest.approx(
            plain.layer_stats_[-1]["relative_error"])


def test_regressor(regression_mlp):
    mlp, X, y = regression_mlp
    plain = _pruned(mlp, X, epsilon=0.2)
    tuned = _pruned(mlp, X, epsilon=0.2, fine_tune=20, fine_tune_learning_rate=3e-3,
                    fine_tune_batch_size=50)
    assert tuned.fine_tune_loss_[-1] < 0.5 * tuned.fine_tune_loss_[0]
    reference = mlp.predict(X)
    assert (np.mean((tuned.predict(X) - reference) ** 2)
            < np.mean((plain.predict(X) - reference) ** 2))
    assert np.all(tuned.estimator_.coefs_[0][plain.estimator_.coefs_[0] == 0] == 0)


def test_multilabel_classifier(digits):
    X, y = digits
    Y = np.column_stack([y % 2, y > 4, y == 0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = MLPClassifier(hidden_layer_sizes=(24,), max_iter=100, random_state=0).fit(
            X[:500], Y[:500])
    assert mlp.out_activation_ == "logistic"
    tuned = _pruned(mlp, X[:500], fine_tune=5)
    assert tuned.fine_tune_loss_[-1] < tuned.fine_tune_loss_[0]
    P = mlp.predict_proba(X[:500])
    assert tuned.fine_tune_loss_[-1] == pytest.approx(
        distillation_loss(tuned.predict_proba(X[:500]), P, "logistic"), rel=1e-6)


def test_float32_network_stays_float32(digits):
    X, y = digits
    X32 = X[:400].astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = MLPClassifier(hidden_layer_sizes=(16,), max_iter=50, random_state=0).fit(
            X32, y[:400])
    weights = stacked_weights(mlp)
    assert weights[0].dtype == np.float32
    tuned, losses = fine_tune_weights(
        [W * (np.abs(W) > 0.1) for W in weights], X32, original_outputs(mlp, X32),
        hidden="relu", output="softmax", epochs=2, random_state=0)
    assert all(W.dtype == np.float32 for W in tuned) and losses[-1] < losses[0]


def test_net_trim_path_and_cv_fine_tune_every_point(breast_cancer):
    X, y = breast_cancer
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0).fit(X, y)
    _, nets, stats = net_trim_path(mlp, X, epsilons=[0.1, 0.3], fine_tune=2, random_state=0)
    for records in stats:
        assert all(r["fine_tuned"] for r in records)
        assert records[0]["fine_tune_loss"][-1] < records[0]["fine_tune_loss"][0]
    _, plain_nets, _ = net_trim_path(mlp, X, epsilons=[0.1, 0.3])
    for tuned, plain in zip(nets, plain_nets):
        assert np.all(tuned.coefs_[0][plain.coefs_[0] == 0] == 0)
        assert not np.allclose(tuned.coefs_[0], plain.coefs_[0])
    # net_trim is the path of one point.
    _, [point], _ = net_trim_path(mlp, X, epsilons=[0.3], fine_tune=2, random_state=0)
    single = net_trim(mlp, X, epsilon=0.3, fine_tune=2, random_state=0)
    np.testing.assert_array_equal(single.coefs_[0], point.coefs_[0])
    cv = NetTrimCV(FrozenEstimator(mlp), epsilons=[0.1, 0.3], cv=2, fine_tune=1,
                   random_state=0).fit(X, y)
    assert cv.fine_tune_loss_.shape == (2,)
    assert all(r["fine_tuned"] for r in cv.layer_stats_)


def test_verbose_prints_the_loss_per_epoch(digits, digits_mlp, capsys):
    X, _ = digits
    _pruned(digits_mlp, X[:200], fine_tune=2, verbose=1)
    out = capsys.readouterr().out
    assert out.count("fine-tune epoch") == 2 and "distillation loss" in out


@pytest.mark.parametrize("params, message", [
    ({"fine_tune": -1}, "fine_tune"),
    ({"fine_tune": 1.5}, "fine_tune"),
    ({"fine_tune_learning_rate": 0}, "fine_tune_learning_rate"),
    ({"fine_tune_batch_size": 0}, "fine_tune_batch_size"),
])
def test_bad_values_raise_clear_errors(digits, digits_mlp, params, message):
    X, _ = digits
    with pytest.raises(ValueError, match=message):
        _pruned(digits_mlp, X[:100], **params)
    with pytest.raises(ValueError, match=message):
        net_trim_path(digits_mlp, X[:100], epsilons=[0.3], **params)


def test_first_epochs_of_a_run_are_a_shorter_run(digits, digits_mlp):
    X, _ = digits
    weights = [W * (np.abs(W) > 0.1) for W in stacked_weights(digits_mlp)]
    targets = original_outputs(digits_mlp, X[:300])
    seen = {}
    options = dict(hidden="relu", output="softmax", batch_size=64, random_state=0)
    fine_tune_weights(weights, X[:300], targets, epochs=3,
                      callback=lambda epoch, W, loss: seen.setdefault(
                          epoch, ([w.copy() for w in W], loss)), **options)
    short, losses = fine_tune_weights(weights, X[:300], targets, epochs=2, **options)
    for a, b in zip(short, seen[2][0]):
        np.testing.assert_array_equal(a, b)
    assert losses[-1] == seen[2][1]

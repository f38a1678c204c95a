"""Holding up: certificates, awkward input, persistence and Dask.

Random layers (hypothesis) are in test_random_layers.py.
"""

import copy
import pickle
import warnings

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.neural_network import MLPClassifier

from sklearn_nettrim import NetTrimCV, NetTrimTransformer, check_certificate


def small_mlp(**params):
    return MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0, **params)


def assert_same_weights(a, b):
    for Wa, Wb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_array_equal(Wa, Wb)


#: sklearn's MLP training warning; the pruning's own ConvergenceWarnings stay visible.
MLP_NOT_CONVERGED = "Stochastic Optimizer: Maximum iterations"


def quiet_fit(estimator, *args):
    """Fit, ignoring the networks' own ConvergenceWarnings from short training only."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=MLP_NOT_CONVERGED,
                                category=ConvergenceWarning)
        return estimator.fit(*args)


# --- certificates -------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["parallel", "cascade"])
def test_certificate_recomputes_the_recorded_one(digits, digits_mlp, mode):
    X = digits[0][:400]
    trim = NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=0.1, mode=mode).fit(X)
    certificates = check_certificate(trim, X)
    assert len(certificates) == len(trim.layer_stats_)
    for cert, record in zip(certificates, trim.layer_stats_):
        assert cert["certified"], cert
        assert cert["mode"] == mode
        np.testing.assert_allclose(cert["eps_abs"], record["eps_abs"], rtol=1e-6)
        np.testing.assert_allclose(cert["relative_error"], record["relative_error"],
                                   rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(cert["violation"], record["violation"], atol=1e-9)
    # Sparse storage does not change the certificate.
    sparse = check_certificate(copy.deepcopy(trim).sparsify(), X)
    assert [c["relative_error"] for c in sparse] == pytest.approx(
        [c["relative_error"] for c in certificates])


def test_certificate_detects_tampered_weights(digits, digits_mlp):
    X = digits[0][:400]
    trim = NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=0.05).fit(X)
    trim.estimator_.coefs_[0] = np.where(trim.estimator_.coefs_[0] != 0, 0.0,
                                         trim.estimator_.coefs_[0])  # remove every weight
    first = check_certificate(trim, X)[0]
    assert not first["certified"]
    assert first["relative_error"] > 0.05


def test_certificate_of_nettrimcv_and_on_new_data(breast_cancer):
    X, y = breast_cancer
    search = quiet_fit(NetTrimCV(small_mlp(), epsilons=[0.05, 0.2], cv=2), X, y)
    assert all(c["certified"] for c in check_certificate(search, X))
    with pytest.raises(ValueError, match="features"):
        check_certificate(search, X[:, :5])


# --- awkward input ------------------------------------------------------------------

def test_rejects_infinite_values(digits, digits_mlp):
    X = digits[0][:100].copy()
    X[3, 5] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        NetTrimTransformer(FrozenEstimator(digits_mlp)).fit(X)


def test_sparse_csr_input_gives_the_dense_result(digits, digits_mlp):
    X = digits[0][:300]
    X_csr = sp.csr_matrix(X)
    dense = NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=0.1).fit(X)
    sparse = NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=0.1).fit(X_csr)
    assert_same_weights(dense.estimator_, sparse.estimator_)
    np.testing.assert_array_equal(sparse.predict(X_csr), dense.predict(X))
    assert sp.issparse(sparse.transform(X_csr))
    assert X_csr.nnz == np.count_nonzero(X)  # the user's matrix is untouched


def test_float16_input_is_upcast(digits):
    X, y = digits
    X16 = X[:500].astype(np.float16)
    trim = quiet_fit(NetTrimTransformer(small_mlp(), epsilon=0.1), X16, y[:500])
    assert X16.dtype == np.float16
    assert all(W.dtype == np.float64 for W in trim.estimator_.coefs_)
    assert trim.sparsity_ > 0 and trim.score(X16, y[:500]) > 0.8


def test_a_single_calibration_sample(digits, digits_mlp):
    X = digits[0][:1]
    trim = NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=0.1).fit(X)
    assert all(c["certified"] for c in check_certificate(trim, X))
    assert trim.sparsity_ > 0.5  # one sample constrains very little


def test_a_dead_network_prunes_to_its_intercepts(digits, digits_mlp):
    X = digits[0][:200]
    dead = copy.deepcopy(digits_mlp)
    dead.intercepts_[0] = np.full_like(dead.intercepts_[0], -1e3)  # no unit ever fires
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no 0/0 anywhere
        trim = NetTrimTransformer(FrozenEstimator(dead), epsilon=0.1, mode="parallel").fit(X)
    assert trim.sparsity_ == 1.0
    assert all(r["converged"] for r in trim.layer_stats_)
    assert all(r["relative_error"] < 1e-12 for r in trim.layer_stats_)  # intercepts kept
    np.testing.assert_allclose(trim.predict_proba(X), dead.predict_proba(X))


def test_a_network_trained_with_early_stopping(breast_cancer):
    X, y = breast_cancer
    trim = quiet_fit(NetTrimTransformer(small_mlp(early_stopping=True), epsilon=0.1), X, y)
    assert trim.network_.best_loss_ is None and trim.network_.validation_scores_
    assert trim.sparsity_ > 0.2 and trim.score(X, y) > 0.9


def test_a_multilabel_network(digits):
    X, y = digits
    Y = np.column_stack([y % 2 == 0, y > 4, y == 7]).astype(int)
    trim = quiet_fit(NetTrimTransformer(small_mlp(), epsilon=0.1), X[:600], Y[:600])
    assert trim.estimator_.out_activation_ == "logistic"
    assert trim.predict(X[600:]).shape == (len(X) - 600, 3)
    assert trim.score(X[600:], Y[600:]) > 0.7
    assert all(c["certified"] for c in check_certificate(trim, X[:600]))


# --- persistence --------------------------------------------------------------------

def test_joblib_round_trip_of_both_estimators(breast_cancer, tmp_path):
    X, y = breast_cancer
    models = [quiet_fit(NetTrimTransformer(small_mlp(), epsilon=0.1), X, y),
              quiet_fit(NetTrimCV(small_mlp(), epsilons=[0.05, 0.2], cv=2), X, y)]
    for k, model in enumerate(models):
        joblib.dump(model, tmp_path / f"{k}.joblib")
        again = joblib.load(tmp_path / f"{k}.joblib")
        np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))
        assert again.layer_stats_ == model.layer_stats_
        again = pickle.loads(pickle.dumps(model))
        np.testing.assert_array_equal(again.predict(X), model.predict(X))


def test_skops_saves_the_pruned_network_with_trusted_types_only(breast_cancer, tmp_path):
    sio = pytest.importorskip("skops.io")
    X, y = breast_cancer
    trim = quiet_fit(NetTrimTransformer(small_mlp(), epsilon=0.1), X, y)
    path = tmp_path / "pruned.skops"
    sio.dump(trim.estimator_, path)
    assert sio.get_untrusted_types(file=path) == []
    loaded = sio.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), trim.predict_proba(X))


# --- Dask ---------------------------------------------------------------------------

def test_dask_backend_gives_the_local_weights(breast_cancer):
    """Under joblib's dask backend the layer (and fold) jobs run on the cluster's workers,
    seen by its scheduler's task stream, and give the weights of a local run."""
    distributed = pytest.importorskip("distributed")
    X, y = breast_cancer
    frozen = FrozenEstimator(quiet_fit(MLPClassifier(hidden_layer_sizes=(16, 8),
                                                     max_iter=300, random_state=0), X, y))
    make = [lambda: NetTrimTransformer(frozen, epsilon=0.1, mode="parallel", n_jobs=2),
            lambda: NetTrimCV(small_mlp(), epsilons=[0.05, 0.2], cv=2, n_jobs=2)]
    local = [quiet_fit(m(), X, y) for m in make]
    remote, streams = [], []
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client, \
            joblib.parallel_config(backend="dask"):
        workers = set(client.scheduler_info()["workers"])
        for m in make:
            with distributed.get_task_stream(client=client) as stream:
                remote.append(quiet_fit(m(), X, y))
            streams.append(stream.data)
    assert len(workers) == 2
    # The transformer: one job per layer (3 layers); NetTrimCV: at least one per fold.
    assert len(streams[0]) >= len(frozen.coefs_), streams[0]
    assert len(streams[1]) >= 2, streams[1]
    for tasks in streams:
        assert {task["worker"] for task in tasks} <= workers
        assert all(task["status"] == "OK" for task in tasks)
    for a, b in zip(local, remote):
        assert_same_weights(a.estimator_, b.estimator_)
    assert local[1].epsilon_ == remote[1].epsilon_

"""Sample weights in the pruning, the network's training, CV and metadata routing."""

import warnings

import numpy as np
import pytest
import sklearn
from sklearn.exceptions import ConvergenceWarning, UnsetMetadataPassedError
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import accuracy_score, make_scorer
from sklearn.model_selection import GridSearchCV, GroupKFold, KFold
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_nettrim import (
    NetTrimCV,
    NetTrimTransformer,
    check_certificate,
    net_trim,
    net_trim_path,
)
from sklearn_nettrim._program import LayerProgram
from sklearn_nettrim._solvers import solve_layer
from tests.conftest import random_layer

TIGHT = dict()


@pytest.fixture(scope="module")
def cancer_net(breast_cancer):
    """A 30-12-6-1 ReLU network on 200 breast-cancer rows, and integer weights."""
    X, y = breast_cancer
    X, y = X[:200], y[:200]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = MLPClassifier(hidden_layer_sizes=(12, 6), max_iter=300, random_state=0).fit(X, y)
    weights = np.random.default_rng(0).integers(0, 4, size=len(X)).astype(float)
    return mlp, X, y, weights


def _repeated(X, weights):
    return np.repeat(X, weights.astype(int), axis=0)


def _assert_same_networks(a, b, atol):
    for Wa, Wb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_allclose(Wa, Wb, atol=atol * max(1.0, np.abs(Wb).max()))


@pytest.mark.parametrize("kind", ["relu", "linear"])
def test_layer_program_integer_weights_are_repeated_rows(kind):
    """The weighted program is the program on repeated rows: same tolerance, same answer."""
    X, W = random_layer(n_samples=40, n_inputs=8, n_outputs=5, seed=3)
    w = np.random.default_rng(1).integers(0, 4, size=40).astype(float)
    weighted = LayerProgram(X, W, kind=kind, epsilon=0.2, sample_weight=w)
    repeated = LayerProgram(_repeated(X, w), W, kind=kind, epsilon=0.2)
    assert weighted.n_samples == np.count_nonzero(w)
    assert weighted.eps_abs == pytest.approx(repeated.eps_abs, rel=1e-12)
    U_w = solve_layer(weighted, "cvxpy", warn=False).weights
    U_r = solve_layer(repeated, "cvxpy", warn=False).weights
    # The same optimum, to the interior-point solver's accuracy.
    assert weighted.objective(U_w) == pytest.approx(repeated.objective(U_r), rel=1e-5)
    np.testing.assert_allclose(U_w, U_r, atol=1e-3 * np.abs(W).max())
    # Both checks measure the same errors for any candidate.
    for U in (U_w, np.zeros_like(W), W):
        cw, cr = weighted.check(U), repeated.check(U)
        assert cw.relative_error == pytest.approx(cr.relative_error, rel=1e-9, abs=1e-12)
        assert cw.violation == pytest.approx(cr.violation, rel=1e-9, abs=1e-12)


def test_layer_program_scale_invariance():
    """Multiplying every weight by a constant changes no relative quantity."""
    X, W = random_layer(n_samples=30, seed=4)
    w = np.random.default_rng(2).uniform(0.1, 2, size=30)
    a = LayerProgram(X, W, epsilon=0.1, sample_weight=w)
    b = LayerProgram(X, W, epsilon=0.1, sample_weight=7 * w)
    U = 0.8 * W
    assert a.check(U).relative_error == pytest.approx(b.check(U).relative_error, rel=1e-12)
    np.testing.assert_array_equal(a.omega, b.omega)


@pytest.mark.parametrize("mode", ["parallel", "cascade"])
@pytest.mark.parametrize("polish", [None, "feasible", "least_squares"])
def test_zero_one_weights_equal_dropping_rows(cancer_net, mode, polish):
    mlp, X, _, weights = cancer_net
    w01 = (weights > 0).astype(float)
    options = dict(epsilon=0.1, mode=mode, polish=polish)
    weighted = net_trim(mlp, X, sample_weight=w01, **options)
    dropped = net_trim(mlp, X[w01 == 1], **options)
    _assert_same_networks(weighted, dropped, atol=1e-12)


@pytest.mark.parametrize("mode", ["parallel", "cascade"])
@pytest.mark.parametrize("polish", [None, "feasible", "least_squares"])
def test_integer_weights_equal_repeated_rows(cancer_net, mode, polish):
    mlp, X, _, weights = cancer_net
    options = dict(epsilon=0.1, mode=mode, polish=polish, **TIGHT)
    weighted = NetTrimTransformer(FrozenEstimator(mlp), **options).fit(X, sample_weight=weights)
    repeated = NetTrimTransformer(FrozenEstimator(mlp), **options).fit(_repeated(X, weights))
    _assert_same_networks(weighted.estimator_, repeated.estimator_, atol=1e-3)
    for a, b in zip(weighted.layer_stats_, repeated.layer_stats_):
        # Cascade tolerances of later layers depend on the pruned earlier layers.
        assert a["eps_abs"] == pytest.approx(b["eps_abs"], rel=1e-4)
        assert a["n_samples"] == np.count_nonzero(weights)
    # Weights matter: the unweighted pruning is another network.
    plain = NetTrimTransformer(FrozenEstimator(mlp), **options).fit(X)
    assert plain.layer_stats_[0]["eps_abs"] != pytest.approx(
        weighted.layer_stats_[0]["eps_abs"], rel=1e-3)


@pytest.mark.parametrize("mode", ["parallel", "cascade"])
def test_certificate_in_the_weighted_norm(cancer_net, mode):
    mlp, X, _, weights = cancer_net
    trim = NetTrimTransformer(FrozenEstimator(mlp), epsilon=0.1, mode=mode).fit(
        X, sample_weight=weights)
    certificates = check_certificate(trim, X, sample_weight=weights)
    assert all(c["certified"] for c in certificates)
    for c, record in zip(certificates, trim.layer_stats_):
        assert c["eps_abs"] == pytest.approx(record["eps_abs"], rel=1e-6)
        assert c["relative_error"] == pytest.approx(record["relative_error"], rel=1e-6)
    # The same errors as the certificate on repeated rows.
    repeated = check_certificate(trim, _repeated(X, weights))
    for a, b in zip(certificates, repeated):
        assert a["relative_error"] == pytest.approx(b["relative_error"], rel=1e-9)


def test_cvxpy_solver_with_weights(cancer_net):
    mlp, X, _, weights = cancer_net
    small = MLPRegressor(hidden_layer_sizes=(4,), max_iter=50, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        small.fit(X[:60, :5], X[:60, 5])
    w = weights[:60]
    a = net_trim(small, X[:60, :5], epsilon=0.1, solver="cvxpy", polish=None,
                 sample_weight=w)
    b = net_trim(small, _repeated(X[:60, :5], w), epsilon=0.1, solver="cvxpy", polish=None)
    _assert_same_networks(a, b, atol=1e-4)


def test_max_samples_draws_among_positive_rows(cancer_net):
    """Zero weights are dropped first; the draw then keeps the weights of what it takes."""
    mlp, X, _, weights = cancer_net
    w01 = (weights > 0).astype(float)
    options = dict(epsilon=0.1, max_samples=50, random_state=0)
    weighted = NetTrimTransformer(FrozenEstimator(mlp), **options).fit(X, sample_weight=w01)
    dropped = NetTrimTransformer(FrozenEstimator(mlp), **options).fit(X[w01 == 1])
    _assert_same_networks(weighted.estimator_, dropped.estimator_, atol=1e-12)
    assert weighted.layer_stats_[0]["n_samples"] == 50


def test_weights_reach_the_network_fit(cancer_net):
    _, X, y, weights = cancer_net
    mlp = MLPClassifier(hidden_layer_sizes=(6,), solver="lbfgs", max_iter=200, random_state=0)
    with warnings.catch_warnings():  # the lbfgs training only, not the pruning
        warnings.filterwarnings("ignore", message="lbfgs failed to converge",
                                category=ConvergenceWarning)
        trim = NetTrimTransformer(mlp, epsilon=0.1).fit(X, y, sample_weight=weights)
        expected = sklearn.clone(mlp).fit(X, y, sample_weight=weights)
    _assert_same_networks(trim.network_, expected, atol=1e-12)


class RecordingMLP(MLPClassifier):
    """An MLPClassifier that records the sample weights its fit receives."""

    calls = []

    def fit(self, X, y, sample_weight=None):
        RecordingMLP.calls.append(None if sample_weight is None else np.asarray(sample_weight))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return super().fit(X, y, sample_weight=sample_weight)


def _recording_mlp():
    RecordingMLP.calls = []
    return RecordingMLP(hidden_layer_sizes=(6,), max_iter=100, random_state=0)


def test_cv_splits_weights_with_the_folds(cancer_net):
    _, X, y, weights = cancer_net
    scored = []

    def scorer(estimator, X_test, y_test, sample_weight=None):
        scored.append(sample_weight)
        return estimator.score(X_test, y_test, sample_weight=sample_weight)

    folds = KFold(3)
    cv = NetTrimCV(_recording_mlp(), epsilons=[0.05, 0.2], cv=folds, scoring=scorer)
    cv.fit(X, y, sample_weight=weights)
    splits = list(folds.split(X))
    trained = RecordingMLP.calls
    assert len(trained) == len(splits) + 1          # the final network, then the folds
    np.testing.assert_array_equal(trained[0], weights)
    for (train, test), fold_weights in zip(splits, trained[1:]):
        np.testing.assert_array_equal(fold_weights, weights[train])
    assert len(scored) == 2 * len(splits)
    for k, (_, test) in enumerate(splits):
        for sample_weight in scored[2 * k:2 * k + 2]:
            np.testing.assert_array_equal(sample_weight, weights[test])
    # The final pruning uses the weights: as a weighted transformer at epsilon_.
    direct = NetTrimTransformer(FrozenEstimator(cv.network_), epsilon=cv.epsilon_).fit(
        X, sample_weight=weights)
    _assert_same_networks(cv.estimator_, direct.estimator_, atol=1e-12)


@pytest.fixture
def routing():
    with sklearn.config_context(enable_metadata_routing=True):
        yield


def _pruned_weighted(X, y, weights, epsilon):
    """What a weighted fit with a recording network gives, without routing."""
    return NetTrimTransformer(_recording_mlp(), epsilon=epsilon).fit(X, y, sample_weight=weights)


def test_routing_through_pipeline(cancer_net, routing):
    _, X, y, weights = cancer_net
    trim = NetTrimTransformer(_recording_mlp().set_fit_request(sample_weight=True),
                              epsilon=0.1).set_fit_request(sample_weight=True)
    scaler = StandardScaler().set_fit_request(sample_weight=False)
    pipe = Pipeline([("scale", scaler), ("trim", trim)]).fit(
        X, y, sample_weight=weights)
    [received] = RecordingMLP.calls
    np.testing.assert_array_equal(received, weights)
    X_scaled = StandardScaler().fit_transform(X)
    with sklearn.config_context(enable_metadata_routing=False):
        expected = _pruned_weighted(X_scaled, y, weights, 0.1)
    _assert_same_networks(pipe[-1].estimator_, expected.estimator_, atol=1e-12)


def test_routing_pruning_only(cancer_net, routing):
    """The network trained without weights, the pruning with them."""
    mlp, X, y, weights = cancer_net
    trim = NetTrimTransformer(_recording_mlp().set_fit_request(sample_weight=False),
                              epsilon=0.1).set_fit_request(sample_weight=True)
    Pipeline([("trim", trim)]).fit(X, y, sample_weight=weights)
    assert RecordingMLP.calls == [None]
    expected = NetTrimTransformer(FrozenEstimator(trim.network_), epsilon=0.1).fit(
        X, sample_weight=weights)
    _assert_same_networks(trim.estimator_, expected.estimator_, atol=1e-12)


def test_routing_through_grid_search(cancer_net, routing):
    _, X, y, weights = cancer_net
    trim = (NetTrimTransformer(_recording_mlp().set_fit_request(sample_weight=True))
            .set_fit_request(sample_weight=True).set_score_request(sample_weight=True))
    search = GridSearchCV(trim, {"epsilon": [0.05, 0.2]}, cv=KFold(2)).fit(
        X, y, sample_weight=weights)
    splits = list(KFold(2).split(X))
    calls = RecordingMLP.calls
    assert len(calls) == 2 * len(splits) + 1
    for k, received in enumerate(calls[:-1]):
        np.testing.assert_array_equal(received, weights[splits[k % 2][0]])
    np.testing.assert_array_equal(calls[-1], weights)
    with sklearn.config_context(enable_metadata_routing=False):
        expected = _pruned_weighted(X, y, weights, search.best_params_["epsilon"])
    _assert_same_networks(search.best_estimator_.estimator_, expected.estimator_, atol=1e-12)


def test_routing_default_request_is_empty(routing):
    trim = NetTrimTransformer(MLPClassifier())
    routing_info = trim.get_metadata_routing()
    for method in ("fit", "score"):
        assert routing_info.consumes(method, ["sample_weight"]) == set()
    assert trim.get_metadata_routing()._self_request.fit.requests == {"sample_weight": None}


def test_routing_unset_network_request_raises(cancer_net, routing):
    _, X, y, weights = cancer_net
    trim = NetTrimTransformer(MLPClassifier(hidden_layer_sizes=(4,), max_iter=20))
    with pytest.raises(UnsetMetadataPassedError, match="MLPClassifier.fit"):
        trim.fit(X, y, sample_weight=weights)


def test_routing_frozen_network_consumes_nothing(cancer_net, routing):
    mlp, X, _, weights = cancer_net
    trim = NetTrimTransformer(FrozenEstimator(mlp), epsilon=0.1).fit(X, sample_weight=weights)
    with sklearn.config_context(enable_metadata_routing=False):
        expected = NetTrimTransformer(FrozenEstimator(mlp), epsilon=0.1).fit(
            X, sample_weight=weights)
    _assert_same_networks(trim.estimator_, expected.estimator_, atol=1e-12)


def test_routing_cv_to_splitter_and_scorer(cancer_net, routing):
    mlp, X, y, weights = cancer_net
    groups = np.arange(len(X)) % 4
    scorer = make_scorer(accuracy_score).set_score_request(sample_weight=True)
    cv = NetTrimCV(FrozenEstimator(mlp), epsilons=[0.05, 0.2], cv=GroupKFold(2),
                   scoring=scorer).set_fit_request(sample_weight=True)
    cv.fit(X, y, sample_weight=weights, groups=groups)
    splits = list(GroupKFold(2).split(X, y, groups))
    with sklearn.config_context(enable_metadata_routing=False):
        for k, (train, test) in enumerate(splits):
            pruned = net_trim(mlp, X[train], epsilon=0.05, sample_weight=weights[train])
            score = accuracy_score(y[test], pruned.predict(X[test]),
                                   sample_weight=weights[test])
            assert cv.cv_results_[f"split{k}_test_score"][0] == pytest.approx(score)


def test_without_routing_fit_params_still_go_to_the_network(cancer_net):
    _, X, y, _ = cancer_net
    with pytest.raises(TypeError, match="groups"):
        NetTrimTransformer(MLPClassifier(max_iter=5)).fit(X, y, groups=np.zeros(len(X)))


BAD_WEIGHTS = [
    (lambda n: -np.ones(n), "Negative"),
    (lambda n: np.ones(n - 3), "3 entries|samples"),
    (lambda n: np.r_[np.nan, np.ones(n - 1)], "NaN"),
    (lambda n: np.r_[np.inf, np.ones(n - 1)], "inf"),
    (lambda n: np.zeros(n), "zero everywhere"),
]


@pytest.mark.parametrize("make_weights, match", BAD_WEIGHTS)
@pytest.mark.parametrize("entry", ["transformer", "cv", "net_trim", "path", "certificate",
                                   "program"])
def test_bad_weights_clear_error(cancer_net, make_weights, match, entry):
    mlp, X, y, _ = cancer_net
    X, y = X[:40], y[:40]
    w = make_weights(len(X))
    if match.startswith("3 entries"):
        match = f"{len(X) - 3} entries but X has {len(X)} samples"
    calls = {
        "transformer": lambda: NetTrimTransformer(FrozenEstimator(mlp)).fit(X, sample_weight=w),
        "cv": lambda: NetTrimCV(FrozenEstimator(mlp), epsilons=[0.1], cv=2).fit(
            X, y, sample_weight=w),
        "net_trim": lambda: net_trim(mlp, X, sample_weight=w),
        "path": lambda: net_trim_path(mlp, X, [0.1], sample_weight=w),
        "certificate": lambda: check_certificate(
            NetTrimTransformer(FrozenEstimator(mlp)).fit(X), X, sample_weight=w),
        "program": lambda: LayerProgram(X, np.ones((X.shape[1] + 1, 2)), sample_weight=w),
    }
    with pytest.raises(ValueError, match=match):
        calls[entry]()

"""Choosing epsilon: the warm-started path, NetTrimCV, scorers, plots and sparse export."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_nettrim import NetTrimCV, NetTrimTransformer, net_trim_path
from sklearn_nettrim.metrics import (
    count_nonzero_weights,
    nnz_scorer,
    sparsest_within,
    sparsity_scorer,
)

GRID = [0.01, 0.03, 0.1, 0.3]


@pytest.fixture(scope="module")
def small_mlp():
    return MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0)


@pytest.mark.parametrize("mode", ["parallel", "cascade"])
def test_path_sparsity_grows_with_epsilon(digits, digits_mlp, mode):
    X, _ = digits
    eps, nets, stats = net_trim_path(digits_mlp, X[:400], GRID, mode=mode, polish=None)
    np.testing.assert_array_equal(eps, GRID)
    nnz = np.array([[r["nnz_after"] for r in s] for s in stats])   # (points, layers)
    total = nnz.sum(axis=1)
    assert np.all(np.diff(total) <= 0.01 * total[0])  # non-increasing, within tolerance
    assert total[-1] < 0.5 * total[0]
    assert all(count_nonzero_weights(n) == t for n, t in zip(nets, total))


def test_warm_path_matches_cold_solves(digits, digits_mlp):
    X, _ = digits
    _, _, warm = net_trim_path(digits_mlp, X[:400], GRID, polish=None)
    _, _, cold = net_trim_path(digits_mlp, X[:400], GRID, polish=None, warm_start=False)
    for w_point, c_point in zip(warm, cold):
        for w, c in zip(w_point, c_point):
            assert w["l1_after"] == pytest.approx(c["l1_after"], rel=0.01)
            assert w["violation"] <= 1e-3 and c["violation"] <= 1e-3
    # And warm starts save iterations over the whole path.
    assert sum(r["n_iter"] for s in warm for r in s) < sum(r["n_iter"] for s in cold for r in s)


def test_path_int_grid_and_errors(breast_cancer, small_mlp):
    X, y = breast_cancer
    mlp = clone(small_mlp).fit(X, y)
    eps, nets, _ = net_trim_path(mlp, X, 3)
    np.testing.assert_allclose(eps, [0.01, np.sqrt(0.01 * 0.5), 0.5])
    assert len(nets) == 3
    with pytest.raises(ValueError, match="epsilons"):
        net_trim_path(mlp, X, [0.1, -1])
    with pytest.raises(ValueError, match="features"):
        net_trim_path(mlp, X[:, :5], 3)


def test_nettrimcv_chooses_sparsest_within_tolerance(breast_cancer, small_mlp):
    X, y = breast_cancer
    with warnings.catch_warnings():  # the MLP's training only, not the pruning
        warnings.filterwarnings("ignore", message="Stochastic Optimizer",
                                category=ConvergenceWarning)
        cv = NetTrimCV(small_mlp, epsilons=GRID, cv=3, score_tolerance=0.01, n_jobs=2,
                       mode="parallel").fit(X, y)
    res = cv.cv_results_
    n = len(GRID)
    np.testing.assert_array_equal(res["epsilon"], GRID)
    splits = np.array([res[f"split{k}_test_score"] for k in range(3)])
    np.testing.assert_allclose(res["mean_test_score"], splits.mean(axis=0))
    np.testing.assert_allclose(res["std_test_score"], splits.std(axis=0))
    sparsity = np.array([res[f"split{k}_sparsity"] for k in range(3)])
    np.testing.assert_allclose(res["mean_sparsity"], sparsity.mean(axis=0))
    assert sorted(res["rank_test_score"]) == list(range(1, n + 1))
    best = res["mean_test_score"].max()
    chosen = cv.best_index_
    assert cv.epsilon_ == GRID[chosen]
    assert res["mean_test_score"][chosen] >= best - 0.01
    eligible = res["mean_test_score"] >= best - 0.01
    assert res["mean_sparsity"][chosen] == res["mean_sparsity"][eligible].max()
    # The refit model is pruned at epsilon_ and predicts.
    assert cv.score(X, y) > 0.9
    assert all(r["epsilon"] == pytest.approx(cv.epsilon_) for r in cv.layer_stats_)
    assert cv.predict_proba(X).shape == (X.shape[0], 2)


def test_nettrimcv_with_a_frozen_network_and_scoring(breast_cancer, small_mlp):
    X, y = breast_cancer
    mlp = clone(small_mlp).fit(X, y)
    cv = NetTrimCV(FrozenEstimator(mlp), epsilons=[0.05, 0.2], cv=2,
                   scoring="balanced_accuracy").fit(X, y)
    assert cv.epsilon_ in (0.05, 0.2)
    assert np.all(cv.cv_results_["mean_test_score"] >= 0.5)


def test_grid_search_with_sparsity_scorer_and_refit_helper(breast_cancer, small_mlp):
    X, y = breast_cancer
    pipe = make_pipeline(StandardScaler(), NetTrimTransformer(small_mlp))
    search = GridSearchCV(pipe, {"nettrimtransformer__epsilon": GRID}, cv=3,
                          scoring={"accuracy": "accuracy", "sparsity": sparsity_scorer,
                                   "nnz": nnz_scorer},
                          refit=sparsest_within(0.02, metric="accuracy"))
    search.fit(X, y)
    res = search.cv_results_
    assert np.all(np.diff(res["mean_test_sparsity"]) >= -0.02)
    np.testing.assert_array_less(res["mean_test_nnz"], 0)
    i = search.best_index_
    assert res["mean_test_accuracy"][i] >= res["mean_test_accuracy"].max() - 0.02
    assert search.predict(X).shape == y.shape
    # Single-metric search: the helper falls back to the largest epsilon in tolerance.
    refit = sparsest_within(1.0)
    assert refit({"mean_test_score": [0.9, 0.8], "param_t__epsilon": [0.1, 0.2]}) == 1
    with pytest.raises(KeyError, match="mean_test_accuracy"):
        sparsest_within(0.1, metric="accuracy")({"mean_test_score": [1.0]})


def test_sparsify_keeps_predictions(digits, digits_mlp):
    X, _ = digits
    trim = NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=0.3).fit(X[:500])
    dense_proba = trim.predict_proba(X)
    dense_pred = trim.predict(X)
    support = trim.get_support()
    with pytest.warns(UserWarning, match="less than 90% sparse"):
        trim.sparsify()
    import scipy.sparse as sp

    assert all(sp.issparse(W) for W in trim.estimator_.coefs_)
    np.testing.assert_array_equal(trim.predict(X), dense_pred)
    np.testing.assert_allclose(trim.predict_proba(X), dense_proba, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(trim.get_support(), support)
    assert sparsity_scorer(trim) == pytest.approx(trim.sparsity_)
    trim.densify()
    assert not any(sp.issparse(W) for W in trim.estimator_.coefs_)
    np.testing.assert_array_equal(trim.predict_proba(X), dense_proba)


def test_plots_render_with_agg(breast_cancer, digits, digits_mlp, small_mlp):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sklearn_nettrim.plotting import NetTrimPathDisplay, plot_first_layer_mask

    X, y = breast_cancer
    cv = NetTrimCV(small_mlp, epsilons=[0.05, 0.2], cv=2).fit(X, y)
    display = NetTrimPathDisplay.from_estimator(cv)
    assert display.ax_sparsity_ is not None
    labels = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert any("chosen epsilon" in t for t in labels)
    search = GridSearchCV(NetTrimTransformer(small_mlp), {"epsilon": [0.05, 0.2]}, cv=2,
                          scoring={"score": "accuracy", "sparsity": sparsity_scorer},
                          refit="score").fit(X, y)
    NetTrimPathDisplay.from_cv_results(search.cv_results_)
    Xd, _ = digits
    trim = NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=0.2).fit(Xd[:300])
    ax = plot_first_layer_mask(trim)
    assert "inputs used" in ax.get_title()
    with pytest.raises(ValueError, match="image_shape"):
        plot_first_layer_mask(trim, image_shape=(5, 5))
    with pytest.raises(TypeError, match="NetTrimCV"):
        NetTrimPathDisplay.from_estimator(trim)
    plt.close("all")

"""NetTrimTransformer and net_trim on real data: pipelines, search, errors, persistence."""

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_nettrim import NetTrimTransformer, net_trim

TOL = 1e-3


def weights_equal(a, b):
    """Same support and the same values up to BLAS rounding (threads differ per worker)."""
    pairs = list(zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_))
    return all(np.array_equal(x == 0, y == 0) and np.allclose(x, y, rtol=0, atol=1e-10)
               for x, y in pairs)


def test_prunes_digits_network_within_epsilon(digits, digits_mlp):
    X, y = digits
    before = pickle.dumps(digits_mlp)
    trim = NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=0.1).fit(X[:1000])
    assert pickle.dumps(digits_mlp) == before  # the user's network is untouched
    assert trim.estimator_ is not digits_mlp
    assert isinstance(trim.estimator_, MLPClassifier)
    assert len(trim.layer_stats_) == 3
    for record in trim.layer_stats_:
        assert record["converged"]
        assert record["relative_error"] <= 0.1 * (1 + TOL)
        assert record["nnz_after"] < record["nnz_before"]
    assert 0.3 < trim.sparsity_ < 1
    total = sum(W.size for W in digits_mlp.coefs_)
    zeros = sum(np.sum(W == 0) for W in trim.estimator_.coefs_)
    assert trim.sparsity_ == pytest.approx(zeros / total)
    original = digits_mlp.score(X[1000:], y[1000:])
    assert trim.score(X[1000:], y[1000:]) >= original - 0.05
    np.testing.assert_array_equal(trim.classes_, digits_mlp.classes_)


def test_fit_trains_a_clone_and_leaves_the_estimator_alone(breast_cancer):
    X, y = breast_cancer
    mlp = MLPClassifier(hidden_layer_sizes=(16,), max_iter=500, random_state=0)
    params = mlp.get_params()
    trim = NetTrimTransformer(mlp, epsilon=0.05).fit(X, y)
    assert not hasattr(mlp, "coefs_")
    assert mlp.get_params() == params
    assert trim.predict(X).shape == (X.shape[0],)
    assert trim.predict_proba(X).shape == (X.shape[0], 2)


def test_net_trim_returns_a_pruned_copy(breast_cancer):
    X, y = breast_cancer
    mlp = MLPClassifier(hidden_layer_sizes=(16,), max_iter=500, random_state=0).fit(X, y)
    X_before = X.copy()
    snapshot = clone(mlp).set_params()
    coefs = [W.copy() for W in mlp.coefs_]
    pruned = net_trim(mlp, X, epsilon=0.1)
    assert all(np.array_equal(W, C) for W, C in zip(mlp.coefs_, coefs))
    np.testing.assert_array_equal(X, X_before)
    assert type(pruned) is type(snapshot)
    assert sum(np.sum(W == 0) for W in pruned.coefs_) > 0
    assert pruned.score(X, y) > 0.9


def test_pipeline_grid_search_over_epsilon(breast_cancer):
    X, y = breast_cancer
    pipe = make_pipeline(
        StandardScaler(),
        NetTrimTransformer(MLPClassifier(hidden_layer_sizes=(16,), max_iter=500,
                                         random_state=0)),
    )
    search = GridSearchCV(pipe, {"nettrimtransformer__epsilon": [0.02, 0.1, 0.3]}, cv=3)
    search.fit(X, y)
    assert search.best_params_["nettrimtransformer__epsilon"] in (0.02, 0.1, 0.3)
    assert search.predict(X).shape == y.shape
    assert search.score(X, y) > 0.9
    assert is_classifier(pipe)
    assert "mean_test_score" in search.cv_results_


def test_tags_follow_the_network(regression_mlp):
    mlp, X, y = regression_mlp
    assert is_classifier(NetTrimTransformer())
    assert is_classifier(NetTrimTransformer(MLPClassifier()))
    assert is_regressor(NetTrimTransformer(MLPRegressor()))
    assert is_regressor(NetTrimTransformer(FrozenEstimator(mlp)))
    trim = NetTrimTransformer(FrozenEstimator(mlp), epsilon=0.05).fit(X)
    assert not hasattr(trim, "predict_proba")
    assert trim.score(X, y) > 0.8 * mlp.score(X, y)


def test_transform_keeps_features_with_surviving_weights(digits, digits_mlp):
    X, _ = digits
    trim = NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=0.2).fit(X[:1000])
    support = trim.get_support()
    # Digits has pixels that are zero in every image: Net-Trim drops them.
    silent = ~np.any(X[:1000] != 0, axis=0)
    assert not np.any(support[silent])
    assert trim.transform(X).shape == (X.shape[0], support.sum())
    names = trim.get_feature_names_out()
    assert len(names) == support.sum() and names[0].startswith("x")


def test_pandas_feature_names_are_kept(breast_cancer):
    pd = pytest.importorskip("pandas")
    X, y = breast_cancer
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    trim = NetTrimTransformer(MLPClassifier(hidden_layer_sizes=(8,), max_iter=300,
                                            random_state=0), epsilon=0.2).fit(df, y)
    np.testing.assert_array_equal(trim.feature_names_in_, df.columns)
    out = trim.set_output(transform="pandas").transform(df)
    assert list(out.columns) == list(df.columns[trim.get_support()])
    with pytest.raises(ValueError, match="feature names"):
        trim.predict(df.rename(columns={"f0": "other"}))


def test_n_jobs_gives_the_same_weights(digits, digits_mlp):
    X, _ = digits
    one = NetTrimTransformer(FrozenEstimator(digits_mlp), n_jobs=1).fit(X[:500])
    two = NetTrimTransformer(FrozenEstimator(digits_mlp), n_jobs=2).fit(X[:500])
    assert weights_equal(one.estimator_, two.estimator_)


def test_verbose_prints_one_line_per_layer(digits, digits_mlp, capsys):
    X, _ = digits
    NetTrimTransformer(FrozenEstimator(digits_mlp), verbose=1).fit(X[:300])
    lines = [line for line in capsys.readouterr().out.splitlines() if "[NetTrim]" in line]
    assert len(lines) == 3
    assert "nnz" in lines[0] and "->" in lines[0] and "s" in lines[0]


def test_pruned_estimator_loads_without_this_package(breast_cancer, tmp_path):
    X, y = breast_cancer
    trim = NetTrimTransformer(MLPClassifier(hidden_layer_sizes=(8,), max_iter=300,
                                            random_state=0), epsilon=0.1).fit(X, y)
    path = tmp_path / "pruned.pkl"
    path.write_bytes(pickle.dumps(trim.estimator_))
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "expected.npy", trim.predict_proba(X))
    code = (
        "import pickle, sys, numpy as np\n"
        f"model = pickle.load(open({str(path)!r}, 'rb'))\n"
        f"X = np.load({str(tmp_path / 'X.npy')!r})\n"
        f"expected = np.load({str(tmp_path / 'expected.npy')!r})\n"
        "assert not any(m.startswith('sklearn_nettrim') for m in sys.modules), 'imported'\n"
        "assert np.array_equal(model.predict_proba(X), expected)\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=tmp_path)
    assert result.stdout.strip() == "ok", result.stderr
    # And the whole transformer round-trips.
    again = pickle.loads(pickle.dumps(trim))
    np.testing.assert_array_equal(again.predict(X), trim.predict(X))


def test_float32_end_to_end(digits):
    X, y = digits
    X32 = X.astype(np.float32)
    mlp = MLPClassifier(hidden_layer_sizes=(16,), max_iter=100, random_state=0)
    with warnings.catch_warnings():  # the MLP's training only, not the pruning
        warnings.filterwarnings("ignore", message="Stochastic Optimizer",
                                category=ConvergenceWarning)
        trim = NetTrimTransformer(mlp, epsilon=0.1).fit(X32, y)
    assert all(W.dtype == np.float32 for W in trim.estimator_.coefs_)
    assert trim.transform(X32).dtype == np.float32


# --- errors -------------------------------------------------------------------------


def test_rejects_an_estimator_that_is_not_an_mlp(breast_cancer):
    X, y = breast_cancer
    with pytest.raises(TypeError, match="MLPClassifier or MLPRegressor.*LogisticRegression"):
        NetTrimTransformer(LogisticRegression()).fit(X, y)
    with pytest.raises(TypeError, match="MLPClassifier or MLPRegressor"):
        net_trim(LogisticRegression().fit(X, y), X)


def test_rejects_an_unfitted_frozen_network(breast_cancer):
    X, _ = breast_cancer
    with pytest.raises(NotFittedError, match="not fitted"):
        NetTrimTransformer(FrozenEstimator(MLPClassifier())).fit(X)


def test_needs_y_to_train(breast_cancer):
    X, _ = breast_cancer
    with pytest.raises(ValueError, match="requires y"):
        NetTrimTransformer(MLPClassifier()).fit(X)


@pytest.mark.parametrize("epsilon", [-0.1, float("nan"), "big"])
def test_rejects_bad_epsilon(breast_cancer, epsilon):
    X, y = breast_cancer
    with pytest.raises(ValueError, match="epsilon"):
        NetTrimTransformer(MLPClassifier(hidden_layer_sizes=(4,), max_iter=50),
                           epsilon=epsilon).fit(X, y)


def test_rejects_per_layer_epsilon_of_the_wrong_length(digits, digits_mlp):
    X, _ = digits
    with pytest.raises(ValueError, match="one value per layer \\(3 layers"):
        NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=[0.1, 0.1]).fit(X)
    trim = NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=[0.0, 0.1, 0.3]).fit(X[:300])
    assert trim.layer_stats_[0]["sparsity"] < trim.layer_stats_[2]["sparsity"]


def test_rejects_wrong_feature_count(digits, digits_mlp):
    X, _ = digits
    with pytest.raises(ValueError, match="X has 10 features, but the frozen network"):
        NetTrimTransformer(FrozenEstimator(digits_mlp)).fit(X[:, :10])
    trim = NetTrimTransformer(FrozenEstimator(digits_mlp)).fit(X[:300])
    with pytest.raises(ValueError, match="features"):
        trim.predict(X[:, :10])


def test_rejects_nan(digits, digits_mlp):
    X, _ = digits
    X = X[:100].copy()
    X[3, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        NetTrimTransformer(FrozenEstimator(digits_mlp)).fit(X)


def test_epsilon_one_warns_that_layers_may_vanish(breast_cancer):
    X, y = breast_cancer
    mlp = MLPClassifier(hidden_layer_sizes=(8,), max_iter=300, random_state=0).fit(X, y)
    with pytest.warns(UserWarning, match="epsilon >= 1"):
        trim = NetTrimTransformer(FrozenEstimator(mlp), epsilon=1.0).fit(X)
    assert not np.any(trim.estimator_.coefs_[0])


def test_demo_prints_net_trim_beside_the_baseline(capsys):
    from sklearn_nettrim.__main__ import main

    main(["--targets", "0.8", "--epsilons", "0.3"])
    out = capsys.readouterr().out
    rows = {line.split("|")[0].strip(): line.split("|") for line in out.splitlines()
            if "|" in line and not line.strip().startswith("method")}
    assert set(rows) == {"Net-Trim, target 0.8", "baseline, target 0.8",
                         "Net-Trim, epsilon 0.3"}
    for name in ("Net-Trim, target 0.8", "baseline, target 0.8"):
        assert abs(float(rows[name][2].strip().rstrip("%")) - 80) <= 0.5
    assert all(0.5 < float(row[3]) <= 1 for row in rows.values())
    assert rows["Net-Trim, target 0.8"][5].strip() == "True"

"""penalty="group" / "sparse_group" through the estimators: whole units drop out."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_nettrim import (
    NetTrimCV,
    NetTrimTransformer,
    check_certificate,
    net_trim,
    net_trim_path,
)


def zero_rows_only(U, Y_dead):
    """Every row is all zero or zero exactly on the dead outputs (whole units drop out)."""
    zero = U == 0
    live_cols = ~Y_dead
    rows = zero[:, live_cols]
    return bool(np.all(rows.all(axis=1) | ~rows.any(axis=1)))


@pytest.fixture(scope="module")
def group_trims(digits, digits_mlp):
    X, _ = digits
    return {penalty: NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=0.2,
                                        mode="parallel", polish="output",
                                        penalty=penalty).fit(X[:300])
            for penalty in ("l1", "group", "sparse_group")}


def test_group_penalty_zeroes_whole_rows_and_certifies(digits, group_trims):
    X, y = digits
    l1, group = group_trims["l1"], group_trims["group"]
    for W, record in zip(group.estimator_.coefs_, group.layer_stats_):
        dead_outputs = ~np.any(W != 0, axis=0)
        assert zero_rows_only(W, dead_outputs)
        assert record["penalty"] == "group"
        assert record["inputs_kept"] == int(np.any(W != 0, axis=1).sum())
    assert all(c["certified"] for c in check_certificate(group, X[:300]))
    # Whole input features (pixels) go: fewer than l1 keeps, selected by transform.
    assert group.get_support().sum() < l1.get_support().sum()
    assert group.transform(X).shape[1] == group.get_support().sum()
    # And whole hidden units go: compact() removes more of them than after l1.
    assert sum(group.layer_stats_[i]["inputs_kept"] for i in (1, 2)) < sum(
        l1.layer_stats_[i]["inputs_kept"] for i in (1, 2))
    assert group.score(X[1000:], y[1000:]) > 0.8


def test_sparse_group_is_sparser_than_group_with_fewer_units_than_l1(digits, group_trims):
    X, _ = digits
    l1, group, mixed = (group_trims[k] for k in ("l1", "group", "sparse_group"))
    assert mixed.sparsity_ > group.sparsity_
    units = [sum(r["inputs_kept"] for r in t.layer_stats_) for t in (l1, mixed)]
    assert units[1] < units[0]
    assert all(c["certified"] for c in check_certificate(mixed, X[:300]))


def test_admm_and_cvxpy_agree_on_the_group_program(breast_cancer):
    X, y = breast_cancer
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = MLPClassifier(hidden_layer_sizes=(6,), max_iter=300, random_state=0).fit(X, y)
    trims = {solver: NetTrimTransformer(FrozenEstimator(mlp), epsilon=0.3, penalty="group",
                                        solver=solver, polish=None, tol=1e-4,
                                        max_iter=5000).fit(X[:120])
             for solver in ("admm", "cvxpy")}
    for fast, reference in zip(trims["admm"].layer_stats_, trims["cvxpy"].layer_stats_):
        assert fast["violation"] <= 1e-3
        assert fast["l1_after"] == pytest.approx(reference["l1_after"], rel=0.02, abs=1e-6)
    # The interior point leaves tiny rows where ADMM has exact zeros, and rows at the
    # edge of the support are decided by the solvers' tolerances: the rows that clearly
    # carry weight in the reference are kept, and ADMM keeps no row the reference zeroes.
    for U, R in zip(trims["admm"].estimator_.coefs_, trims["cvxpy"].estimator_.coefs_):
        norms = np.linalg.norm(R, axis=1)
        kept = np.any(U != 0, axis=1)
        # With the gap-based stop (3e-3) a nearly degenerate row may still be moving
        # (seen: one of 30 input rows kept, objective equal to 0.02%).
        assert np.all(kept[norms > 1e-2 * norms.max()])
        assert np.sum(kept != (norms > 1e-3 * norms.max())) <= max(1, 0.05 * kept.size)


def test_penalty_through_net_trim_path_cv_and_grid_search(breast_cancer):
    X, y = breast_cancer
    mlp = MLPClassifier(hidden_layer_sizes=(8,), max_iter=300, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the MLP's training only
        fitted = mlp.fit(X, y)
    pruned = net_trim(fitted, X, epsilon=0.3, penalty="group")
    _, nets, stats = net_trim_path(fitted, X, [0.1, 0.3], penalty="group")
    # NetTrimCV and the search train the network again: only its warning is ignored.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Stochastic Optimizer",
                                category=ConvergenceWarning)
        cv = NetTrimCV(mlp, epsilons=[0.1, 0.3], cv=2, penalty="group").fit(X, y)
        search = GridSearchCV(
            make_pipeline(StandardScaler(), NetTrimTransformer(mlp, epsilon=0.2)),
            {"nettrimtransformer__penalty": ["l1", "group"]}, cv=2).fit(X, y)
    assert all(r["penalty"] == "group" for s in stats for r in s)
    for W in (pruned.coefs_[0], nets[1].coefs_[0]):
        assert zero_rows_only(W, ~np.any(W != 0, axis=0))
    assert all(r["penalty"] == "group" for r in cv.layer_stats_)
    assert search.best_params_["nettrimtransformer__penalty"] in ("l1", "group")
    assert list(search.cv_results_["param_nettrimtransformer__penalty"]) == ["l1", "group"]


@pytest.mark.parametrize("bad", ["lasso", "L1", None, 1])
def test_bad_penalty_raises_clear_errors(breast_cancer, bad):
    X, y = breast_cancer
    with pytest.raises(ValueError, match="penalty"):
        NetTrimTransformer(penalty=bad).fit(X, y)
    with pytest.raises(ValueError, match="penalty"):
        NetTrimCV(penalty=bad).fit(X, y)
    mlp = MLPClassifier(hidden_layer_sizes=(4,), max_iter=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(X, y)
    with pytest.raises(ValueError, match="penalty must be one of"):
        net_trim_path(mlp, X, [0.1], penalty=bad)

"""One meaning per parameter: refused old values, warnings for unused ones, resolved
"auto" values, and verdicts that depend on what the fit used, not on later set_params."""

import warnings

import numpy as np
import pytest
from sklearn.frozen import FrozenEstimator

from sklearn_nettrim import NetTrimCV, NetTrimTransformer, check_certificate, net_trim_path
from sklearn_nettrim._finetune import distillation_loss, loss_and_gradients


@pytest.fixture
def calibration(digits):
    return digits[0][:300]


@pytest.mark.parametrize("old, new", [(True, "feasible"), (False, "None"),
                                      ("refit", "least_squares")])
def test_old_polish_values_are_refused_naming_the_new_ones(digits_mlp, calibration, old, new):
    for fit in (lambda: NetTrimTransformer(FrozenEstimator(digits_mlp), polish=old)
                .fit(calibration),
                lambda: NetTrimCV(FrozenEstimator(digits_mlp), polish=old).fit(calibration),
                lambda: net_trim_path(digits_mlp, calibration, [0.1], polish=old)):
        with pytest.raises(ValueError, match=f"polish={old!r} is no longer accepted.*{new}"):
            fit()


def test_unknown_polish_is_refused(digits_mlp, calibration):
    with pytest.raises(ValueError, match="polish"):
        NetTrimTransformer(FrozenEstimator(digits_mlp), polish="magic").fit(calibration)
    with pytest.raises(ValueError, match="polish"):
        net_trim_path(digits_mlp, calibration, [0.1], polish="magic")


@pytest.mark.parametrize("mode, allocation, expected", [
    ("parallel", "auto", "magnitude"), ("cascade", "auto", "magnitude"),
    ("parallel", "uniform", "uniform"), ("cascade", "magnitude", "magnitude")])
def test_allocation_is_resolved_in_a_fitted_attribute(digits_mlp, calibration, mode,
                                                      allocation, expected):
    trim = NetTrimTransformer(FrozenEstimator(digits_mlp), target_sparsity=0.8, mode=mode,
                              allocation=allocation, polish=None).fit(calibration)
    assert trim.allocation_ == expected
    plain = NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=0.1).fit(calibration)
    assert plain.allocation_ is None


def test_epsilon_with_target_sparsity_warns_which_is_used(digits_mlp, calibration):
    with pytest.warns(UserWarning, match="epsilon=0.2 is ignored: target_sparsity=0.8"):
        trim = NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=0.2,
                                  target_sparsity=0.8, polish=None).fit(calibration)
    assert abs(trim.sparsity_ - 0.8) <= 0.005
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # the default epsilon: no warning
        NetTrimTransformer(FrozenEstimator(digits_mlp), target_sparsity=0.8,
                           polish=None).fit(calibration)


def test_admm_settings_with_cvxpy_warn(breast_cancer):
    from sklearn.neural_network import MLPClassifier

    X, y = breast_cancer
    mlp = MLPClassifier(hidden_layer_sizes=(4,), max_iter=50, random_state=0)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Stochastic Optimizer")
        mlp.fit(X, y)
    with pytest.warns(UserWarning, match="max_iter apply to solver='admm' only"):
        NetTrimTransformer(FrozenEstimator(mlp), solver="cvxpy", max_iter=50,
                           polish=None).fit(X[:60])
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        NetTrimTransformer(FrozenEstimator(mlp), solver="cvxpy", polish=None).fit(X[:60])


def test_set_params_after_fit_leaves_the_certificate_unchanged(digits_mlp, calibration):
    trim = NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=0.2, mode="cascade",
                              gamma=1.5, polish="output").fit(calibration)
    before = check_certificate(trim, calibration)
    assert all(c["certified"] for c in before)
    trim.set_params(gamma=1.0, epsilon=0.01, penalty="group", penalize_intercept=True,
                    polish=None, mode="parallel")
    after = check_certificate(trim, calibration)
    for b, a in zip(before, after):
        for key in ("eps_abs", "output_bound", "violation", "l1_after", "certified", "mode"):
            assert a[key] == b[key], key


def test_records_say_what_the_fit_used(digits_mlp, calibration):
    trim = NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=0.2, mode="cascade",
                              gamma=1.5, polish="least_squares",
                              penalty="sparse_group").fit(calibration)
    for i, record in enumerate(trim.layer_stats_):
        assert record["gamma"] == 1.5
        assert record["penalty"] == "sparse_group"
        assert record["polished"] == "least_squares"
        assert record["guarantee"] == "none"
        assert record["mode"] == "cascade"
        assert (record["epsilon_floor"] is None) == (i == 0)


def test_fine_tuned_records_are_in_the_weighted_norm(digits_mlp, calibration):
    # Heavier weights on the rows of one half of the digits: the weighted norm differs
    # (by 25-40% here). A ratio of 16, not 400: with 20 vs 0.05 the ADMM of layer 0 needs
    # about 5600 iterations and stopped at max_iter=2000 with a ConvergenceWarning.
    weight = np.where(digits_mlp.predict(calibration) < 5, 4.0, 0.25)
    trim = NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=0.2, fine_tune=2,
                              random_state=0).fit(calibration, sample_weight=weight)
    weighted = check_certificate(trim, calibration, sample_weight=weight)
    plain = check_certificate(trim, calibration)
    for record, w, p in zip(trim.layer_stats_, weighted, plain):
        assert record["relative_error"] == pytest.approx(w["relative_error"], rel=1e-6)
        assert record["relative_error"] != pytest.approx(p["relative_error"], rel=1e-2)


def test_distillation_loss_and_gradient_use_the_sample_weights(rng=np.random.default_rng(0)):
    weights = [rng.normal(size=(5, 4)), rng.normal(size=(5, 3))]
    X = rng.normal(size=(20, 4))
    targets = rng.dirichlet(np.ones(3), size=20)
    w = rng.integers(0, 3, size=20).astype(float)
    # Integer weights: the loss of the rows repeated that many times.
    repeated = np.repeat(np.arange(20), w.astype(int))
    loss, grads = loss_and_gradients(weights, X, targets, "relu", "softmax", w)
    loss_r, grads_r = loss_and_gradients(weights, X[repeated], targets[repeated], "relu",
                                         "softmax")
    assert loss == pytest.approx(loss_r, rel=1e-12)
    for g, g_r in zip(grads, grads_r):
        np.testing.assert_allclose(g, g_r, rtol=1e-10, atol=1e-14)
    unweighted = distillation_loss(np.full((20, 3), 1 / 3), targets, "softmax")
    assert distillation_loss(np.full((20, 3), 1 / 3), targets, "softmax", w) != \
        pytest.approx(unweighted, rel=1e-6)


def test_target_search_prints_its_steps(digits_mlp, calibration, capsys):
    NetTrimTransformer(FrozenEstimator(digits_mlp), target_sparsity=0.8, mode="cascade",
                       allocation="uniform", polish=None, verbose=1).fit(calibration)
    out = capsys.readouterr().out
    steps = [line for line in out.splitlines() if "search step" in line]
    assert steps and all("-> sparsity" in line and line.endswith("s") for line in steps)
    NetTrimTransformer(FrozenEstimator(digits_mlp), target_sparsity=0.8, polish=None,
                       verbose=1).fit(calibration)
    out = capsys.readouterr().out
    assert "layer 0 search: epsilon" in out and "non-zeros (budget" in out


def test_cv_prints_fold_and_point(digits_mlp, calibration, capsys):
    y = digits_mlp.predict(calibration)
    NetTrimCV(FrozenEstimator(digits_mlp), epsilons=[0.05, 0.2], cv=2, polish=None,
              verbose=1).fit(calibration, y)
    out = capsys.readouterr().out
    assert "fold 2/2, epsilon 0.2: score" in out and "fold 1/2 done in" in out

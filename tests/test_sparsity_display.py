"""SparsityCurveDisplay: Net-Trim and the magnitude baseline, score against sparsity."""

import sys
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.neural_network import MLPClassifier

from sklearn_nettrim import NetTrimTransformer
from sklearn_nettrim.plotting import SparsityCurveDisplay

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

FAST = {"polish": "output"}
SPARSITIES = (0.5, 0.8)


@pytest.fixture(scope="module")
def tiny(digits):
    """A 64-8-10 network, 400 training digits, 200 test digits."""
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = MLPClassifier(hidden_layer_sizes=(8,), max_iter=200,
                            random_state=0).fit(X[:400], y[:400])
    return mlp, X[:400], X[1000:1200], y[1000:1200]


@pytest.fixture(scope="module")
def display(tiny):
    mlp, X_train, X_test, y_test = tiny
    result = SparsityCurveDisplay.from_estimator(
        mlp, X_test, y_test, X_calibration=X_train, sparsities=SPARSITIES,
        nettrim_params=FAST)
    yield result
    plt.close("all")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_from_estimator_computes_and_plots(tiny, display):
    mlp, _, X_test, y_test = tiny
    np.testing.assert_array_equal(display.sparsities, SPARSITIES)
    assert display.nettrim_scores.shape == display.baseline_scores.shape == (2,)
    assert np.all((display.nettrim_scores > 0.1) & (display.nettrim_scores <= 1))
    assert np.all((display.baseline_scores > 0.1) & (display.baseline_scores <= 1))
    assert display.unpruned_score == pytest.approx(mlp.score(X_test, y_test))
    assert display.score_name == "accuracy"
    assert display.ax_ is not None and display.figure_ is display.ax_.figure
    assert len(display.lines_) == 3
    nettrim, baseline, unpruned = display.lines_
    np.testing.assert_allclose(nettrim.get_ydata(), display.nettrim_scores)
    np.testing.assert_allclose(baseline.get_ydata(), display.baseline_scores)
    assert unpruned is display.unpruned_line_
    assert unpruned.get_linestyle() == "--"
    assert np.allclose(unpruned.get_ydata(), display.unpruned_score)
    labels = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert labels[:2] == ["Net-Trim", "magnitude + least squares"]
    assert labels[2].startswith("unpruned")
    assert display.ax_.get_xlabel().startswith("sparsity")
    assert display.ax_.get_ylabel() == "accuracy"


def test_baseline_scores_match_magnitude_prune(tiny, display):
    from sklearn_nettrim.baseline import magnitude_prune

    mlp, X_train, X_test, y_test = tiny
    expected = [magnitude_prune(mlp, X_train, target_sparsity=s).score(X_test, y_test)
                for s in SPARSITIES]
    np.testing.assert_allclose(display.baseline_scores, expected)


def test_plot_on_user_axes_with_custom_kwargs(display):
    fig, (ax_left, ax_right) = plt.subplots(1, 2)
    display.plot(ax=ax_right, nettrim_kw={"color": "red", "label": "mine"},
                 baseline_kw={"color": "green", "linestyle": ":"})
    assert display.ax_ is ax_right and display.figure_ is fig
    assert not ax_left.lines
    assert len(ax_right.lines) == 3
    nettrim, baseline, _ = display.lines_
    assert nettrim.get_color() == "red" and nettrim.get_label() == "mine"
    assert nettrim.get_marker() == "o"  # defaults kept where not overridden
    assert baseline.get_color() == "green" and baseline.get_linestyle() == ":"


def test_from_estimator_with_user_axes_and_without_baseline(tiny):
    mlp, X_train, X_test, y_test = tiny
    _, ax = plt.subplots()
    display = SparsityCurveDisplay.from_estimator(
        mlp, X_test, y_test, X_calibration=X_train, sparsities=[0.6],
        nettrim_params=FAST, baseline=False, ax=ax, scoring="balanced_accuracy")
    assert display.ax_ is ax
    assert display.baseline_scores is None and display.baseline_line_ is None
    assert len(display.lines_) == 2 and len(ax.lines) == 2
    assert display.score_name == "balanced_accuracy"
    assert ax.get_ylabel() == "balanced_accuracy"


def test_from_fitted_transformer_uses_its_network_and_params(tiny):
    mlp, X_train, X_test, y_test = tiny
    trim = NetTrimTransformer(FrozenEstimator(mlp), target_sparsity=0.5, **FAST).fit(
        X_train)
    display = SparsityCurveDisplay.from_estimator(
        trim, X_test, y_test, X_calibration=X_train, sparsities=[0.5], baseline=False)
    assert display.unpruned_score == pytest.approx(mlp.score(X_test, y_test))
    assert display.nettrim_scores[0] == pytest.approx(trim.score(X_test, y_test))


def test_plot_from_saved_numbers():
    display = SparsityCurveDisplay([0.9, 0.5], [0.9, 0.95], unpruned_score=None,
                                   score_name="R2").plot()
    assert len(display.lines_) == 1 and display.unpruned_line_ is None
    # Drawn in order of sparsity.
    np.testing.assert_array_equal(display.lines_[0].get_xdata(), [0.5, 0.9])
    np.testing.assert_array_equal(display.lines_[0].get_ydata(), [0.95, 0.9])
    with pytest.raises(ValueError, match="one score per sparsity"):
        SparsityCurveDisplay([0.5, 0.9], [0.9]).plot()


def test_bad_arguments(tiny):
    mlp, X_train, X_test, y_test = tiny
    with pytest.raises(ValueError, match=r"sparsities must be .* in \[0, 1\)"):
        SparsityCurveDisplay.from_estimator(mlp, X_test, y_test, sparsities=[0.5, 1.0])
    with pytest.raises(ValueError, match="may not set target_sparsity"):
        SparsityCurveDisplay.from_estimator(mlp, X_test, y_test,
                                            nettrim_params={"target_sparsity": 0.5})
    with pytest.raises(TypeError, match="MLPClassifier or MLPRegressor"):
        SparsityCurveDisplay.from_estimator("mlp", X_test, y_test)
    with pytest.raises(Exception, match="not fitted"):
        SparsityCurveDisplay.from_estimator(MLPClassifier(), X_test, y_test)
    with pytest.raises(Exception, match="not fitted"):
        SparsityCurveDisplay.from_estimator(NetTrimTransformer(FrozenEstimator(mlp)),
                                            X_test, y_test)


@pytest.fixture
def no_matplotlib(monkeypatch):
    for name in ("matplotlib", "matplotlib.pyplot"):
        monkeypatch.setitem(sys.modules, name, None)


def test_plot_without_matplotlib(no_matplotlib):
    display = SparsityCurveDisplay([0.5], [0.9], [0.8], 0.95)
    with pytest.raises(ImportError, match="Plotting needs matplotlib: pip install"):
        display.plot()


def test_from_estimator_without_matplotlib_fails_before_pruning(tiny, no_matplotlib,
                                                                 monkeypatch):
    # from_estimator plots (scikit-learn's convention), so it needs matplotlib; it says
    # so at once instead of after the pruning.
    from sklearn_nettrim import baseline

    def fail(*args, **kwargs):
        raise AssertionError("pruned although matplotlib is missing")

    monkeypatch.setattr(baseline, "magnitude_prune", fail)
    monkeypatch.setattr(NetTrimTransformer, "fit", fail)
    mlp, X_train, X_test, y_test = tiny
    with pytest.raises(ImportError, match="Plotting needs matplotlib"):
        SparsityCurveDisplay.from_estimator(mlp, X_test, y_test, X_calibration=X_train,
                                            sparsities=SPARSITIES, nettrim_params=FAST)

"""Plots: score and sparsity along epsilon, score against sparsity for Net-Trim and the
baseline, and which input pixels survive.

matplotlib is optional: it is imported when a plot is drawn, with a helpful error.
"""

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from sklearn.base import is_classifier
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import check_scoring
from sklearn.utils.validation import check_is_fitted

__all__ = ["NetTrimPathDisplay", "SparsityCurveDisplay", "plot_first_layer_mask"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "Plotting needs matplotlib: pip install matplotlib (or"
            " pip install 'sklearn-nettrim[examples]').") from exc
    return plt


class NetTrimPathDisplay:
    """Mean CV score and sparsity against epsilon, with the chosen epsilon marked.

    Build it with :meth:`from_estimator` (a fitted NetTrimCV) or :meth:`from_cv_results`
    (NetTrimCV's or GridSearchCV's ``cv_results_``), like scikit-learn's
    ``ValidationCurveDisplay``.

    Parameters
    ----------
    epsilons, mean_score, std_score, sparsity : ndarray of shape (n_points,)
        ``std_score`` and ``sparsity`` may be None.
    chosen_epsilon : float or None
    score_name : str

    Attributes
    ----------
    ax_, ax_sparsity_, figure_ : matplotlib objects, after :meth:`plot`.
    """

    def __init__(self, epsilons, mean_score, std_score=None, sparsity=None,
                 chosen_epsilon=None, score_name="score"):
        self.epsilons = np.asarray(epsilons, dtype=float)
        self.mean_score = np.asarray(mean_score, dtype=float)
        self.std_score = None if std_score is None else np.asarray(std_score, dtype=float)
        self.sparsity = None if sparsity is None else np.asarray(sparsity, dtype=float)
        self.chosen_epsilon = chosen_epsilon
        self.score_name = score_name

    def plot(self, ax=None):
        """Draw on ``ax`` (a new figure if None); sparsity on a twin axis. Returns self."""
        plt = _pyplot()
        if ax is None:
            _, ax = plt.subplots()
        order = np.argsort(self.epsilons)
        eps = self.epsilons[order]
        mean = self.mean_score[order]
        ax.plot(eps, mean, "o-", color="C0", label=f"mean test {self.score_name}")
        if self.std_score is not None:
            std = self.std_score[order]
            ax.fill_between(eps, mean - std, mean + std, color="C0", alpha=0.2)
        ax.set_xscale("log")
        ax.set_xlabel("epsilon (relative tolerance per layer)")
        ax.set_ylabel(self.score_name, color="C0")
        self.ax_sparsity_ = None
        if self.sparsity is not None:
            twin = ax.twinx()
            twin.plot(eps, self.sparsity[order], "s--", color="C1", label="sparsity")
            twin.set_ylabel("sparsity (fraction of zero weights)", color="C1")
            twin.set_ylim(0, 1)
            self.ax_sparsity_ = twin
        if self.chosen_epsilon is not None:
            ax.axvline(self.chosen_epsilon, color="k", linestyle=":",
                       label=f"chosen epsilon = {self.chosen_epsilon:.3g}")
        ax.legend(loc="lower left")
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_cv_results(cls, cv_results, *, chosen_epsilon=None, metric="score",
                        sparsity="sparsity", ax=None):
        """From NetTrimCV's or GridSearchCV's ``cv_results_`` (epsilon as a parameter).

        For GridSearchCV, ``metric`` is the scoring key and ``sparsity`` the key of
        :func:`sklearn_nettrim.metrics.sparsity_scorer` if it was used.
        """
        if "epsilon" in cv_results:
            eps = cv_results["epsilon"]
            spars = cv_results.get(f"mean_{sparsity}")
        else:
            params = [k for k in cv_results if k.startswith("param_") and "epsilon" in k]
            if not params:
                raise ValueError("cv_results has no epsilon column or parameter.")
            eps = np.asarray(cv_results[params[0]], dtype=float)
            spars = cv_results.get(f"mean_test_{sparsity}")
        display = cls(eps, cv_results[f"mean_test_{metric}"],
                      cv_results.get(f"std_test_{metric}"), spars, chosen_epsilon, metric)
        return display.plot(ax=ax)

    @classmethod
    def from_estimator(cls, estimator, *, ax=None):
        """From a fitted :class:`~sklearn_nettrim.NetTrimCV`."""
        if not hasattr(estimator, "cv_results_"):
            raise TypeError("from_estimator needs a fitted NetTrimCV; for GridSearchCV use"
                            " from_cv_results(search.cv_results_).")
        return cls.from_cv_results(estimator.cv_results_, chosen_epsilon=estimator.epsilon_,
                                   ax=ax)


def plot_first_layer_mask(estimator, image_shape=None, *, ax=None, cmap="viridis"):
    """Show, per input pixel, how many first-layer weights survive pruning.

    Pixels at zero are ignored by the pruned network (``transform`` drops them).

    Parameters
    ----------
    estimator : fitted NetTrimTransformer, NetTrimCV, or MLP
    image_shape : tuple of int or None
        Shape of one image; None means square.
    ax : matplotlib Axes or None

    Returns
    -------
    ax : matplotlib Axes
    """
    plt = _pyplot()
    network = getattr(estimator, "estimator_", estimator)
    first = network.coefs_[0]
    kept = (np.diff(sp.csr_matrix(first).indptr) if sp.issparse(first)
            else np.count_nonzero(first, axis=1))
    n = kept.size
    if image_shape is None:
        side = int(round(np.sqrt(n)))
        if side * side != n:
            raise ValueError(f"{n} input features are not a square image: pass image_shape.")
        image_shape = (side, side)
    if int(np.prod(image_shape)) != n:
        raise ValueError(f"image_shape {image_shape} does not hold {n} input features.")
    if ax is None:
        _, ax = plt.subplots()
    image = ax.imshow(kept.reshape(image_shape), cmap=cmap)
    ax.figure.colorbar(image, ax=ax, label="first-layer weights kept")
    ax.set_title(f"{np.count_nonzero(kept)} of {n} inputs used")
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


class SparsityCurveDisplay:
    """Score against sparsity for Net-Trim and the magnitude baseline, on your network.

    For every sparsity, the network is pruned by Net-Trim
    (:class:`~sklearn_nettrim.NetTrimTransformer` with ``target_sparsity``) and by the
    baseline :func:`~sklearn_nettrim.baseline.magnitude_prune` (global magnitude, then a
    sequential least-squares refit), and both pruned networks are scored on ``(X, y)``.
    The plot shows both curves and the unpruned network's score as a dashed line.

    Build it with :meth:`from_estimator` (which prunes, scores and plots), or directly
    from saved numbers and call :meth:`plot`, like scikit-learn's
    ``ValidationCurveDisplay``.

    Parameters
    ----------
    sparsities : array-like of shape (n_points,)
        Target sparsities (fraction of zero non-intercept weights).
    nettrim_scores : array-like of shape (n_points,)
        Score of the network pruned by Net-Trim at each sparsity.
    baseline_scores : array-like of shape (n_points,) or None, default=None
        Score of the network pruned by the baseline at each sparsity; None draws no
        baseline curve.
    unpruned_score : float or None, default=None
        Score of the unpruned network; None draws no reference line.
    score_name : str, default="score"
        Label of the y axis.

    Attributes
    ----------
    ax_ : matplotlib Axes
        Axes the curves are drawn on (after :meth:`plot`).
    figure_ : matplotlib Figure
        Figure holding ``ax_``.
    lines_ : list of matplotlib Line2D
        The Net-Trim curve, the baseline curve (when drawn) and the unpruned line (when
        drawn), in this order; also as ``nettrim_line_``, ``baseline_line_`` and
        ``unpruned_line_`` (None when not drawn).

    See Also
    --------
    sklearn_nettrim.baseline.magnitude_prune : The baseline.
    NetTrimPathDisplay : Score and sparsity along epsilon, from cross-validation.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_nettrim.plotting import SparsityCurveDisplay
    >>> display = SparsityCurveDisplay([0.5, 0.9], [0.95, 0.93], [0.95, 0.88],
    ...                                unpruned_score=0.96, score_name="accuracy")
    >>> display = display.plot()
    >>> len(display.lines_)
    3
    """

    def __init__(self, sparsities, nettrim_scores, baseline_scores=None,
                 unpruned_score=None, *, score_name="score"):
        self.sparsities = np.asarray(sparsities, dtype=float)
        self.nettrim_scores = np.asarray(nettrim_scores, dtype=float)
        self.baseline_scores = (None if baseline_scores is None
                                else np.asarray(baseline_scores, dtype=float))
        self.unpruned_score = None if unpruned_score is None else float(unpruned_score)
        self.score_name = score_name

    def plot(self, ax=None, *, nettrim_kw=None, baseline_kw=None):
        """Draw the curves on ``ax`` (a new figure if None).

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None creates a figure and axes.
        nettrim_kw, baseline_kw : dict, default=None
            Keyword arguments for ``ax.plot`` of the Net-Trim and the baseline curves
            (``color``, ``label``, ``marker``, ...), overriding the defaults.

        Returns
        -------
        display : SparsityCurveDisplay
            ``self``, with ``ax_``, ``figure_`` and ``lines_`` set.
        """
        plt = _pyplot()
        if self.nettrim_scores.shape != self.sparsities.shape:
            raise ValueError(
                f"nettrim_scores has shape {self.nettrim_scores.shape} but sparsities has"
                f" shape {self.sparsities.shape}: give one score per sparsity.")
        if (self.baseline_scores is not None
                and self.baseline_scores.shape != self.sparsities.shape):
            raise ValueError(
                f"baseline_scores has shape {self.baseline_scores.shape} but sparsities"
                f" has shape {self.sparsities.shape}: give one score per sparsity.")
        if ax is None:
            _, ax = plt.subplots()
        order = np.argsort(self.sparsities, kind="stable")
        x = self.sparsities[order]
        nettrim_kw = {"marker": "o", "color": "C0", "label": "Net-Trim",
                      **(nettrim_kw or {})}
        (self.nettrim_line_,) = ax.plot(x, self.nettrim_scores[order], **nettrim_kw)
        self.lines_ = [self.nettrim_line_]
        self.baseline_line_ = None
        if self.baseline_scores is not None:
            baseline_kw = {"marker": "s", "color": "C1",
                           "label": "magnitude + least squares",
                           **(baseline_kw or {})}
            (self.baseline_line_,) = ax.plot(x, self.baseline_scores[order],
                                             **baseline_kw)
            self.lines_.append(self.baseline_line_)
        self.unpruned_line_ = None
        if self.unpruned_score is not None:
            self.unpruned_line_ = ax.axhline(
                self.unpruned_score, color="k", linestyle="--",
                label=f"unpruned ({self.unpruned_score:.3g})")
            self.lines_.append(self.unpruned_line_)
        ax.set_xlabel("sparsity (fraction of zero weights)")
        ax.set_ylabel(self.score_name)
        ax.legend(loc="best")
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_estimator(cls, estimator, X, y, *, X_calibration=None,
                       sparsities=(0.5, 0.8, 0.9, 0.95), scoring=None,
                       nettrim_params=None, baseline=True, ax=None, n_jobs=None):
        """Prune a fitted network at each sparsity with Net-Trim and the baseline, score
        both, and plot.

        Parameters
        ----------
        estimator : MLPClassifier, MLPRegressor or NetTrimTransformer
            A fitted network (optionally in ``FrozenEstimator``), or a fitted
            :class:`~sklearn_nettrim.NetTrimTransformer`: then its unpruned network
            ``network_`` is pruned again with its own parameters (``target_sparsity``
            replaced, ``epsilon`` unused).
        X : array-like of shape (n_samples, n_features)
            Data the pruned networks are scored on: held-out data, for an honest curve.
        y : array-like of shape (n_samples,)
            Targets of ``X``.
        X_calibration : array-like of shape (n_calibration, n_features), default=None
            Data both pruners are calibrated on (the network's training data, say).
            None uses ``X``: the scores are then measured on the calibration data and
            are optimistic for both methods.
        sparsities : array-like of float in [0, 1), default=(0.5, 0.8, 0.9, 0.95)
            Target sparsities.
        scoring : str, callable or None, default=None
            As in :func:`sklearn.metrics.check_scoring`; None uses the network's
            ``score`` (accuracy for a classifier, R2 for a regressor).
        nettrim_params : dict, default=None
            Parameters of :class:`~sklearn_nettrim.NetTrimTransformer` (for example
            ``{"polish": "output"}`` for speed); they override those of a given
            NetTrimTransformer. ``estimator`` and ``target_sparsity`` are set here.
        baseline : bool, default=True
            Also prune with :func:`~sklearn_nettrim.baseline.magnitude_prune`.
        ax : matplotlib Axes, default=None
            Axes to draw on; None creates a figure and axes.
        n_jobs : int, default=None
            Number of pruning jobs run in parallel over sparsities and methods
            (joblib; None means 1 unless in a ``joblib.parallel_backend`` context).

        Returns
        -------
        display : SparsityCurveDisplay
            The display, plotted (``ax_``, ``figure_``, ``lines_`` set).

        Examples
        --------
        >>> import warnings
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn.datasets import load_digits
        >>> from sklearn.exceptions import ConvergenceWarning
        >>> from sklearn.neural_network import MLPClassifier
        >>> from sklearn_nettrim.plotting import SparsityCurveDisplay
        >>> X, y = load_digits(return_X_y=True)
        >>> X = X / 16.0
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore", ConvergenceWarning)
        ...     mlp = MLPClassifier(hidden_layer_sizes=(16,), max_iter=100,
        ...                         random_state=0).fit(X[:1000], y[:1000])
        >>> display = SparsityCurveDisplay.from_estimator(
        ...     mlp, X[1000:], y[1000:], X_calibration=X[:1000], sparsities=[0.5, 0.8],
        ...     nettrim_params={"polish": "output"})
        >>> display.nettrim_scores.shape, display.baseline_scores.shape
        ((2,), (2,))
        """
        from ._network import check_supported_estimator
        from ._transformer import NetTrimTransformer
        from .baseline import magnitude_prune

        _pyplot()  # fail before the pruning if matplotlib is missing
        params = {}
        if isinstance(estimator, NetTrimTransformer):
            check_is_fitted(estimator, "network_", msg=(
                "This NetTrimTransformer is not fitted yet: fit it first, or pass the"
                " fitted network itself."))
            network = estimator.network_
            params = estimator.get_params(deep=False)
            for name in ("estimator", "target_sparsity", "epsilon"):
                params.pop(name, None)
        else:
            network = check_supported_estimator(estimator)
            check_is_fitted(network, msg=(
                "This %(name)s is not fitted yet: SparsityCurveDisplay prunes a trained"
                " network; call fit on it first."))
        if nettrim_params is not None:
            if not isinstance(nettrim_params, dict):
                raise TypeError(f"nettrim_params must be a dict or None, got"
                                f" {type(nettrim_params).__name__}.")
            fixed = sorted({"estimator", "target_sparsity"} & set(nettrim_params))
            if fixed:
                raise ValueError(
                    f"nettrim_params may not set {', '.join(fixed)}: the network is"
                    " `estimator` and the target sparsities are `sparsities`.")
            params.update(nettrim_params)
        sparsities = np.asarray(sparsities, dtype=float).ravel()
        if sparsities.size == 0 or np.any(~np.isfinite(sparsities)) or np.any(
                (sparsities < 0) | (sparsities >= 1)):
            raise ValueError(
                f"sparsities must be a non-empty list of floats in [0, 1), got"
                f" {sparsities.tolist()}.")
        if not isinstance(baseline, (bool, np.bool_)):
            raise TypeError(f"baseline must be True or False, got {baseline!r}.")
        X_calibration = X if X_calibration is None else X_calibration
        scorer = check_scoring(network, scoring=scoring)

        def nettrim(sparsity):
            trim = NetTrimTransformer(FrozenEstimator(network), target_sparsity=sparsity,
                                      **params)
            return scorer(trim.fit(X_calibration).estimator_, X, y)

        def magnitude(sparsity):
            pruned = magnitude_prune(network, X_calibration, target_sparsity=sparsity)
            return scorer(pruned, X, y)

        jobs = [(nettrim, float(s)) for s in sparsities]
        if baseline:
            jobs += [(magnitude, float(s)) for s in sparsities]
        scores = Parallel(n_jobs=n_jobs)(delayed(job)(s) for job, s in jobs)
        n = sparsities.size
        display = cls(
            sparsities, scores[:n], scores[n:] if baseline else None,
            unpruned_score=scorer(network, X, y),
            score_name=_score_name(scoring, network))
        return display.plot(ax=ax)


def _score_name(scoring, network):
    if isinstance(scoring, str):
        return scoring
    if scoring is None:
        return "accuracy" if is_classifier(network) else "R2"
    return "score"

"""NetTrimCV: choose epsilon by cross-validation, like LassoCV chooses alpha."""

import time
from numbers import Integral, Real

import numpy as np
from sklearn.base import _fit_context, clone, is_classifier
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.model_selection import check_cv
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metadata_routing import MethodMapping
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import _check_method_params, check_array

from ._base import PrunedNetworkMixin, calibration_data, overall_sparsity
from ._network import with_weights
from ._path import epsilon_grid
from ._prune import layer_grid, prune_grid
from ._solvers import SOLVERS
from ._transformer import NetTrimTransformer


def _rows(y, indices):
    return None if y is None else _safe_indexing(y, indices)


def _fold_path(fold, network, X, y, train, test, grid, scorer, options, max_samples,
               fit_params, sample_weight, score_params, verbose=0):
    """Train on one fold (unless frozen), prune along the grid, score every point.

    Per-sample metadata (the network's ``fit_params``, ``sample_weight`` and the
    scorer's ``score_params``) is split with the fold: the network is trained and
    pruned with the training part's weights, and scored with the test part's.
    ``fold`` is ``(k, n_folds)``, for the progress lines of ``verbose``.
    """
    started = time.perf_counter()
    X_train, y_train = _safe_indexing(X, train), _rows(y, train)
    X_test, y_test = _safe_indexing(X, test), _rows(y, test)
    if isinstance(network, FrozenEstimator):
        fitted = network.estimator
    else:
        fitted = clone(network).fit(X_train, y_train,
                                    **_check_method_params(X, fit_params, train))
    calibration, weight = calibration_data(X_train, _rows(sample_weight, train),
                                           max_samples, options.random_state)
    n_layers = len(fitted.coefs_)
    points = prune_grid(fitted, calibration, layer_grid(grid, n_layers, options.mode),
                        options.with_(sample_weight=weight))
    test_params = _check_method_params(X, score_params, test)
    scores = np.array([scorer(with_weights(fitted, weights), X_test, y_test, **test_params)
                       for weights, _ in points])
    sparsity = np.array([overall_sparsity(records) for _, records in points])
    if verbose:
        k, n_folds = fold
        for epsilon, score, size in zip(grid, scores, sparsity):
            print(f"[NetTrimCV] fold {k + 1}/{n_folds}, epsilon {epsilon:.4g}: score"
                  f" {score:.4f}, sparsity {size:.4f}", flush=True)
        print(f"[NetTrimCV] fold {k + 1}/{n_folds} done in"
              f" {time.perf_counter() - started:.1f}s", flush=True)
    return scores, sparsity


class NetTrimCV(PrunedNetworkMixin):
    """Net-Trim with epsilon chosen by cross-validation along a warm-started path.

    For every fold, trains the network on the training part, prunes it along the
    epsilon grid (each solve warm-started from the previous one) with the training part
    as calibration data, and scores every pruned network on the held-out part. The
    chosen ``epsilon_`` is the one with the sparsest pruned networks (mean over folds)
    among those whose mean score is within ``score_tolerance`` of the best mean score:
    users rarely need the last 0.1% of accuracy and usually want the smallest network
    that keeps it. Finally the network is trained on all the data and pruned at
    ``epsilon_``.

    ``fit(X, y, sample_weight=w)`` splits the weights with the folds: each fold trains
    and prunes with its training rows' weights (errors in the sample-weighted Frobenius
    norm) and scores with its test rows'. With metadata routing on, ``fit`` metadata is
    routed to the network, the splitter (e.g. ``groups`` for ``GroupKFold``) and the
    scorer, as each requests it.

    Parameters
    ----------
    estimator : MLPClassifier, MLPRegressor, FrozenEstimator of one, or None
        As in :class:`NetTrimTransformer`. With a frozen network, every fold prunes the
        same trained network on its training part: since that network has seen the
        held-out parts too, the scores are optimistic.
    epsilons : int or array-like of float, default=10
        An int gives a log grid of that many tolerances between 0.01 and 0.5.
    cv : int, cross-validation generator or iterable, default=5
        As in scikit-learn (stratified for classifiers).
    scoring : str, callable or None, default=None
        Score of the pruned networks; ``None`` uses the network's ``score`` (accuracy or
        R^2).
    score_tolerance : float, default=0.01
        How much mean CV score (absolute, in the scorer's units) may be given up for
        sparsity.
    mode, solver, gamma, penalize_intercept, polish, max_samples, max_iter, tol, verbose,\
random_state, reweight
        As in :class:`NetTrimTransformer`.
    n_jobs : int or None, default=None
        Folds run concurrently through joblib (each fold trains, then walks the path).
    fine_tune, fine_tune_learning_rate, fine_tune_batch_size
        As in :class:`NetTrimTransformer`. Every point of every fold's path is
        fine-tuned before it is scored, so that epsilon is chosen for the network
        ``fit`` returns (the cost grows with ``n_folds * n_epsilons``); the final refit
        at ``epsilon_`` is fine-tuned too.
    penalty : {"l1", "group", "sparse_group"}, default="l1"
        As in :class:`NetTrimTransformer`.

    Attributes
    ----------
    epsilon_ : float
        The chosen tolerance.
    epsilons_ : ndarray of shape (n_epsilons,)
        The grid, increasing.
    best_index_ : int
        Index of ``epsilon_`` in ``epsilons_``.
    cv_results_ : dict of ndarray
        ``epsilon``, ``mean_test_score``, ``std_test_score``, ``rank_test_score``,
        ``mean_sparsity``, ``std_sparsity`` and ``split{k}_test_score`` /
        ``split{k}_sparsity`` per fold.
    estimator_, network_, layer_stats_, sparsity_, n_iter_, fine_tune_loss_, hidden_units_,\
kept_units_,\
n_features_in_, feature_names_in_, classes_
        As in :class:`NetTrimTransformer`, for the refit at ``epsilon_``.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.neural_network import MLPClassifier
    >>> from sklearn.preprocessing import scale
    >>> from sklearn_nettrim import NetTrimCV
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = scale(X)
    >>> mlp = MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0)
    >>> cv = NetTrimCV(mlp, epsilons=[0.02, 0.1, 0.3], cv=3).fit(X, y)
    >>> float(cv.epsilon_) in (0.02, 0.1, 0.3)
    True
    >>> bool(cv.score(X, y) > 0.9)
    True
    """

    _parameter_constraints = {
        **{k: v for k, v in NetTrimTransformer._parameter_constraints.items()
           if k not in ("epsilon", "target_sparsity", "allocation")},
        "epsilons": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "cv": ["cv_object"],
        "scoring": [StrOptions(set(get_scorer_names())), callable, None],
        "score_tolerance": [Interval(Real, 0, None, closed="left")],
        "solver": [StrOptions(set(SOLVERS))],
    }

    def __init__(self, estimator=None, *, epsilons=10, cv=5, scoring=None,
                 score_tolerance=0.01, mode="cascade", solver="admm", gamma=1.1,
                 penalize_intercept=False, polish="refine", max_samples=None, max_iter=2000,
                 tol=1e-3, n_jobs=None, verbose=0, random_state=None, reweight=0,
                 fine_tune=0, fine_tune_learning_rate=1e-3, fine_tune_batch_size=200,
                 penalty="l1"):
        self.estimator = estimator
        self.epsilons = epsilons
        self.cv = cv
        self.scoring = scoring
        self.score_tolerance = score_tolerance
        self.mode = mode
        self.solver = solver
        self.gamma = gamma
        self.penalize_intercept = penalize_intercept
        self.polish = polish
        self.max_samples = max_samples
        self.max_iter = max_iter
        self.tol = tol
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.random_state = random_state
        self.reweight = reweight
        self.fine_tune = fine_tune
        self.fine_tune_learning_rate = fine_tune_learning_rate
        self.fine_tune_batch_size = fine_tune_batch_size
        self.penalty = penalty

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, sample_weight=None, **fit_params):
        """Cross-validate the epsilon grid, choose ``epsilon_``, refit on all data.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), default=None
            Needed unless the estimator is a fitted network in FrozenEstimator.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows, split with the folds: each fold trains and prunes with
            its training part's weights and scores with its test part's (passed to the
            scorer); the final refit uses them all. See :meth:`NetTrimTransformer.fit`.
        **fit_params : dict
            Passed to the network's ``fit`` (split with the folds where they have one
            entry per sample). With metadata routing on, ``fit`` metadata is routed to
            the network's ``fit``, the splitter's ``split`` and the scorer as they
            request it.

        Returns
        -------
        self : object
        """
        grid = epsilon_grid(self.epsilons)
        routed = self._route_fit_params(sample_weight, fit_params)
        network, X_checked, sample_weight, calibration, weight = self._validated_fit_data(
            X, y, routed.estimator.fit, sample_weight)
        estimator = self._network_estimator()
        if y is not None:
            y = check_array(y, ensure_2d=False, dtype=None, ensure_all_finite=False)
        splitter = check_cv(self.cv, y, classifier=is_classifier(self))
        folds = list(splitter.split(X_checked, y, **routed.splitter.split))
        scorer = self._get_scorer()
        options = self._prune_options(weight)
        fold_options = options.with_(n_jobs=1, verbose=0)
        results = Parallel(n_jobs=self.n_jobs, verbose=self.verbose)(
            delayed(_fold_path)(
                (k, len(folds)), estimator, X_checked, y, train, test, grid, scorer,
                fold_options, self.max_samples, routed.estimator.fit, sample_weight,
                routed.scorer.score, self.verbose)
            for k, (train, test) in enumerate(folds))
        scores = np.array([r[0] for r in results])       # (n_folds, n_points)
        sparsity = np.array([r[1] for r in results])
        self.epsilons_ = grid
        self.cv_results_ = self._results(grid, scores, sparsity)
        self.best_index_ = self._choose(self.cv_results_)
        self.epsilon_ = float(grid[self.best_index_])
        [(weights, records)] = prune_grid(
            network, calibration, layer_grid([self.epsilon_], len(network.coefs_), self.mode),
            options)
        self._set_pruned(network, weights, records)
        return self

    def _get_scorer(self):
        return check_scoring(self._network_template(), scoring=self.scoring)

    def get_metadata_routing(self):
        """Get the metadata routing of this object.

        ``fit`` consumes ``sample_weight`` itself (pruning, and splitting it with the
        folds) and routes metadata to the network's ``fit``, the splitter's ``split`` and
        the scorer's ``score``, as each requests it. See scikit-learn's
        Metadata Routing User Guide.

        Returns
        -------
        routing : MetadataRouter
        """
        return (super().get_metadata_routing()
                .add(splitter=check_cv(self.cv),
                     method_mapping=MethodMapping().add(caller="fit", callee="split"))
                .add(scorer=self._get_scorer(),
                     method_mapping=MethodMapping().add(caller="fit", callee="score")))

    @staticmethod
    def _results(grid, scores, sparsity):
        results = {"epsilon": grid}
        for k in range(scores.shape[0]):
            results[f"split{k}_test_score"] = scores[k]
        for k in range(sparsity.shape[0]):
            results[f"split{k}_sparsity"] = sparsity[k]
        results["mean_test_score"] = scores.mean(axis=0)
        results["std_test_score"] = scores.std(axis=0)
        order = np.argsort(-results["mean_test_score"], kind="stable")
        rank = np.empty(len(grid), dtype=np.int32)
        rank[order] = np.arange(1, len(grid) + 1)
        results["rank_test_score"] = rank
        results["mean_sparsity"] = sparsity.mean(axis=0)
        results["std_sparsity"] = sparsity.std(axis=0)
        return results

    def _choose(self, results):
        """The sparsest point whose mean score is within the tolerance of the best."""
        mean = results["mean_test_score"]
        eligible = np.flatnonzero(mean >= np.nanmax(mean) - self.score_tolerance)
        sparsity = results["mean_sparsity"][eligible]
        # Ties in sparsity go to the larger epsilon (the later index).
        return int(eligible[np.flatnonzero(sparsity == sparsity.max())[-1]])

"""Scorers and refit helpers for choosing epsilon with GridSearchCV.

``GridSearchCV(pipe, {"nettrimtransformer__epsilon": [...]},
scoring={"accuracy": "accuracy", "sparsity": sparsity_scorer},
refit=sparsest_within(0.01, metric="accuracy"))`` picks the sparsest network whose mean
accuracy is within 0.01 of the best, which is what NetTrimCV does along its path.
"""

import numpy as np
import scipy.sparse as sp

__all__ = ["count_nonzero_weights", "network_sparsity", "nnz_scorer", "sparsest_within",
           "sparsity_scorer"]


def _pruned_network(estimator):
    """The MLP inside a fitted NetTrim estimator, a Pipeline ending in one, or an MLP."""
    if hasattr(estimator, "steps"):
        estimator = estimator.steps[-1][1]
    if hasattr(estimator, "best_estimator_"):
        return _pruned_network(estimator.best_estimator_)
    network = getattr(estimator, "estimator_", estimator)
    if not hasattr(network, "coefs_"):
        raise TypeError(
            "expected a fitted NetTrimTransformer/NetTrimCV, a Pipeline ending in one, or a"
            f" fitted MLP; got {type(estimator).__name__}.")
    return network


def count_nonzero_weights(estimator):
    """Number of non-zero weights (intercepts excluded) of the (pruned) network."""
    return int(sum(W.nnz if sp.issparse(W) else np.count_nonzero(W)
                   for W in _pruned_network(estimator).coefs_))


def network_sparsity(estimator):
    """Fraction of zero weights (intercepts excluded) of the (pruned) network."""
    coefs = _pruned_network(estimator).coefs_
    total = sum(W.shape[0] * W.shape[1] for W in coefs)
    return 1.0 - count_nonzero_weights(estimator) / total


def sparsity_scorer(estimator, X=None, y=None):
    """Scorer (greater is better): fraction of zero weights of the pruned network.

    Usable as one metric of GridSearchCV's multi-metric ``scoring``; X and y are unused.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.neural_network import MLPClassifier
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_nettrim import NetTrimTransformer
    >>> from sklearn_nettrim.metrics import sparsest_within, sparsity_scorer
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> pipe = make_pipeline(StandardScaler(), NetTrimTransformer(
    ...     MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0)))
    >>> search = GridSearchCV(
    ...     pipe, {"nettrimtransformer__epsilon": [0.02, 0.1, 0.3]}, cv=3,
    ...     scoring={"accuracy": "accuracy", "sparsity": sparsity_scorer},
    ...     refit=sparsest_within(0.02, metric="accuracy")).fit(X, y)
    >>> search.best_params_["nettrimtransformer__epsilon"] in (0.02, 0.1, 0.3)
    True
    """
    return network_sparsity(estimator)


def nnz_scorer(estimator, X=None, y=None):
    """Scorer (greater is better): minus the number of non-zero weights."""
    return -float(count_nonzero_weights(estimator))


def sparsest_within(tolerance, metric="score", sparsity="sparsity"):
    """A callable ``refit`` for GridSearchCV: the sparsest candidate near the best score.

    Parameters
    ----------
    tolerance : float
        How much mean test score (absolute) may be given up for sparsity.
    metric : str, default="score"
        The scoring key to rank by: ``"score"`` for single-metric search, otherwise the
        name given in ``scoring``.
    sparsity : str, default="sparsity"
        The scoring key of :func:`sparsity_scorer`. If ``cv_results_`` has no such
        column, the candidate with the largest ``epsilon`` parameter is taken as the
        sparsest (sparsity grows with epsilon).

    Returns
    -------
    refit : callable
        ``refit(cv_results) -> best_index``. GridSearchCV then has no ``best_score_``.
    """
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}.")

    def refit(cv_results):
        key = f"mean_test_{metric}"
        if key not in cv_results:
            raise KeyError(f"cv_results_ has no {key!r}; scoring keys are"
                           f" {[k[10:] for k in cv_results if k.startswith('mean_test_')]}.")
        mean = np.asarray(cv_results[key], dtype=float)
        eligible = np.flatnonzero(mean >= np.nanmax(mean) - tolerance)
        sparse_key = f"mean_test_{sparsity}"
        if sparse_key in cv_results:
            how_sparse = np.asarray(cv_results[sparse_key], dtype=float)[eligible]
        else:
            params = [k for k in cv_results if k.startswith("param_") and "epsilon" in k]
            if not params:
                raise KeyError(f"cv_results_ has neither {sparse_key!r} nor an epsilon"
                               " parameter to order the candidates by sparsity.")
            how_sparse = np.asarray(cv_results[params[0]], dtype=float)[eligible]
        return int(eligible[np.flatnonzero(how_sparse == how_sparse.max())[-1]])

    return refit

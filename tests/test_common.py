"""scikit-learn's common estimator checks on NetTrimTransformer."""

import warnings

from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_nettrim import NetTrimTransformer

ESTIMATORS = [
    NetTrimTransformer(),
    NetTrimTransformer(MLPClassifier(hidden_layer_sizes=(8,), max_iter=300, random_state=0),
                       epsilon=0.02),
    NetTrimTransformer(MLPRegressor(hidden_layer_sizes=(8,), max_iter=500, random_state=0),
                       epsilon=0.02),
]


def expected_failed_checks(estimator):
    """Checks expected to fail, with the reason: none at present (all pass)."""
    return {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)

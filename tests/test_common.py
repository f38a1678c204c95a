"""scikit-learn's common estimator checks on NetTrimTransformer."""

import functools
import warnings

from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_nettrim import NetTrimCV, NetTrimTransformer

ESTIMATORS = [
    NetTrimTransformer(),
    NetTrimTransformer(MLPClassifier(hidden_layer_sizes=(8,), max_iter=300, random_state=0),
                       epsilon=0.02),
    NetTrimTransformer(MLPRegressor(hidden_layer_sizes=(8,), max_iter=500, random_state=0),
                       epsilon=0.02),
    NetTrimCV(epsilons=[0.02, 0.1], cv=2),
]


def expected_failed_checks(estimator):
    """Checks expected to fail, each with its reason."""
    return {
        "check_sparsify_coefficients": (
            "The check is written for linear models (it reads coef_). Our sparsify()"
            " stores the pruned network's coefs_ as CSR matrices; tests/test_path_cv.py"
            " checks that predictions stay the same."),
        **dict.fromkeys(
            ["check_sample_weight_equivalence_on_dense_data",
             "check_sample_weight_equivalence_on_sparse_data"],
            "The check asks fitting with integer weights to match repeated rows to"
            " rtol=1e-7. The default networks train with adam on shuffled minibatches,"
            " which is not weight-equivalent, and NetTrimCV's folds split repeated rows"
            " apart; even with an lbfgs network the pruning is equivalent only up to the"
            " ADMM tolerance (about 1e-5 relative here). tests/test_sample_weight.py"
            " checks the pruning's equivalence at solver tolerance."),
    }


# The checks where the regressor's pruning cannot converge, on data that makes its program
# degenerate (measured with the default mode="parallel", polish="output"):
# - check_transformer_general, check_transformer_data_not_an_array and
#   check_transformer_preserve_dtypes fit 30 rows in two tight blobs (std 0.1): nearly two
#   distinct points, and epsilon=0.02 asks the first layer to fit the blobs' noise;
# - check_fit_idempotent, check_fit_check_is_fitted and check_n_features_in fit y = pure
#   noise on uncentered X (normal around 100): the hidden outputs are nearly collinear and
#   the output layer's l1 program is degenerate.
# Their ADMM stops at max_iter (default 2000). None of the changes tried converges on all
# six: max_iter=20000, tol=1e-2, epsilon=0.1 leave the noise-target checks warning, an lbfgs
# network fixes only the blobs, epsilon=0.05 moves the failures to five other checks.
# Only there, and only for the regressor, is the pruning's ConvergenceWarning ignored: the
# checks test the API, tests/test_solvers.py and the others the convergence.
# With the defaults of a731269 (mode="cascade", polish="refine") the output layer's ADMM
# also stops at max_iter on many checks' data, for every estimator here: not ignored, so it
# shows in the warnings summary (and fails under -W error::...ConvergenceWarning).
DEGENERATE_FOR_REGRESSOR = {
    "check_transformer_general", "check_transformer_data_not_an_array",
    "check_transformer_preserve_dtypes", "check_fit_idempotent", "check_fit_check_is_fitted",
    "check_n_features_in"}


def _check_name(check):
    while isinstance(check, functools.partial):
        check = check.func
    return check.__name__


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    # The checks train the networks on small random data: the MLP's own warning
    # ("Stochastic Optimizer: Maximum iterations ...") is ignored, not the pruning's.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Stochastic Optimizer",
                                category=ConvergenceWarning)
        if (isinstance(estimator.estimator, MLPRegressor)
                and _check_name(check) in DEGENERATE_FOR_REGRESSOR):
            warnings.filterwarnings("ignore", message="Net-Trim layer .* did not converge",
                                    category=ConvergenceWarning)
        check(estimator)

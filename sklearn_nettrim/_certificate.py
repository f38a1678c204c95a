"""Recomputing Net-Trim's per-layer guarantee from a pruned network and data.

``layer_stats_`` records what the solver reported while fitting. :func:`check_certificate`
does not trust it: it rebuilds every layer's program from the ORIGINAL network
(``network_``) on the given data and measures the pruned weights against it, so a user can
verify a saved model, or see how far the guarantee carries over to new data.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_array, check_is_fitted

from ._network import hidden_activation, layer_inputs, layer_kinds, stacked_weights
from ._program import LayerProgram
from ._prune import cascade_layer_terms, make_penalty


def check_certificate(estimator, X, *, tol=1e-3):
    """Recompute each pruned layer's error and constraint violation on ``X``.

    On the calibration data used in ``fit`` (all of it, i.e. ``max_samples=None``), every
    layer of a converged fit is certified: its outputs are within its tolerance of the
    original network's and the ReLU clip constraints hold, up to ``tol``. On other data
    the same numbers measure how well the guarantee generalises.

    Parameters
    ----------
    estimator : fitted NetTrimTransformer or NetTrimCV
    X : array-like of shape (n_samples, n_features)
        Data to check on, typically the calibration data.
    tol : float, default=1e-3
        Allowed constraint violation, relative to the norm of the layer's outputs (the
        solvers stop at a relative tolerance too).

    Returns
    -------
    certificates : list of dict
        Per layer: ``layer``, ``kind``, ``mode``, ``eps_abs``, ``relative_error`` (output
        error on the constrained part over the output norm), ``output_error`` (absolute,
        all outputs), ``violation`` (relative), ``l1_before``, ``l1_after`` and
        ``certified`` (``violation <= tol``).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.neural_network import MLPClassifier
    >>> from sklearn_nettrim import NetTrimTransformer, check_certificate
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X / 16
    >>> mlp = MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0)
    >>> trim = NetTrimTransformer(mlp, epsilon=0.1).fit(X, y)
    >>> all(c["certified"] for c in check_certificate(trim, X))
    True
    """
    check_is_fitted(estimator, ["estimator_", "network_", "layer_stats_"])
    original_net, pruned_net = estimator.network_, estimator.estimator_
    X = check_array(X, accept_sparse=["csr", "csc"], dtype=[np.float64, np.float32])
    if sp.issparse(X):
        X = X.toarray()
    if X.shape[1] != original_net.n_features_in_:
        raise ValueError(f"X has {X.shape[1]} features, but the network was trained on"
                         f" {original_net.n_features_in_} features.")
    if any(W.shape != V.shape for W, V in zip(original_net.coefs_, pruned_net.coefs_)):
        raise ValueError(
            "check_certificate compares estimator_ with network_ layer by layer, but"
            f" estimator_ was compacted (hidden units {original_net.hidden_layer_sizes} ->"
            f" {pruned_net.hidden_layer_sizes}): its layers no longer match the programs."
            " Check the certificate before calling compact(), or on a copy made before it"
            " (copy.deepcopy(trim) then trim.compact()).")
    original, pruned = stacked_weights(original_net), stacked_weights(pruned_net)
    activation = hidden_activation(original_net)
    original_inputs = layer_inputs(original, X, activation)
    pruned_inputs = layer_inputs(pruned, X, activation)
    penalty = make_penalty(getattr(estimator, "penalty", "l1"), estimator.penalize_intercept)
    certificates = []
    for i, (record, kind) in enumerate(zip(estimator.layer_stats_, layer_kinds(original_net))):
        if record["mode"] == "cascade" and i > 0:
            targets, upper, eps_abs = cascade_layer_terms(
                original_inputs[i], pruned_inputs[i], original[i], kind, estimator.gamma)
            program = LayerProgram(pruned_inputs[i], original[i], kind=kind, epsilon=eps_abs,
                                   relative=False, targets=targets, upper_bound=upper,
                                   penalize_intercept=estimator.penalize_intercept,
                                   penalty=penalty)
        else:
            program = LayerProgram(original_inputs[i], original[i], kind=kind,
                                   epsilon=record["epsilon"],
                                   penalize_intercept=estimator.penalize_intercept,
                                   penalty=penalty)
        check = program.check(pruned[i])
        certificates.append({
            "layer": i,
            "kind": kind,
            "mode": record["mode"],
            "eps_abs": program.eps_abs,
            "relative_error": check.relative_error,
            "output_error": check.output_error,
            "violation": check.violation,
            "l1_before": program.objective(original[i]),
            "l1_after": check.l1,
            "certified": bool(check.violation <= tol),
        })
    return certificates

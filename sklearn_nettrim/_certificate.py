"""Recomputing Net-Trim's per-layer guarantee from a pruned network and data.

``layer_stats_`` records what the solver reported while fitting. :func:`check_certificate`
does not trust its measurements: it rebuilds every layer's program from the ORIGINAL
network (``network_``) on the given data, with what the fit used (tolerance, ``gamma``,
penalty, polish: read from the records, not from the estimator's current parameters) and
measures the pruned weights against it, so a user can verify a saved model, or see how far
the guarantee carries over to new data.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_array, check_is_fitted

from ._engine import cascade_problem, parallel_problem
from ._network import hidden_activation, layer_inputs, layer_kinds, stacked_weights
from ._penalties import make_penalty
from ._spec import LayerRecord
from ._weights import check_sample_weight, positive_rows


def check_certificate(estimator, X, *, tol=1e-3, sample_weight=None):
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
    sample_weight : array-like of shape (n_samples,), default=None
        Measure in the sample-weighted Frobenius norm, as ``fit`` did when it was given
        these weights (a fit with weights is certified on the same weights).

    Returns
    -------
    certificates : list of dict
        Per layer: ``layer``, ``kind``, ``mode``, ``eps_abs``, ``relative_error`` (output
        error on the constrained part over the output norm), ``output_error`` (absolute,
        all outputs), ``output_bound`` (what the layer's program guarantees for it),
        ``violation`` (relative), ``l1_before``, ``l1_after``, ``fine_tuned``,
        ``certified`` (``violation <= tol``; with ``polish="output"`` or ``"refine"``,
        ``output_error <= output_bound`` up to ``tol`` relative to the outputs' norm) and
        ``gap``: the certified relative optimality gap of the layer's l1 solve at fit
        time, ``(l1 - bound) / l1`` with ``bound`` the value of a dual-feasible point the
        solver built (``nan`` where none was built, e.g. ``solver="cvxpy"``). It is taken
        from ``layer_stats_``, not recomputed: the dual point is not stored, and it refers
        to the l1 solution before any polishing (with ``reweight``, to the last round's
        weighted program). For a network fine-tuned after pruning (``fine_tune > 0``) the
        per-layer bound does not apply: ``certified`` is None and the other fields measure
        how far each layer moved from the original network's.

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
    sample_weight = check_sample_weight(sample_weight, X.shape[0])
    X, sample_weight = positive_rows(X, sample_weight)
    original, pruned = stacked_weights(original_net), stacked_weights(pruned_net)
    records = [LayerRecord.from_dict(r) for r in estimator.layer_stats_]
    measured = layer_checks(original, pruned, X, original_net, records,
                            sample_weight=sample_weight)
    certificates = []
    for i, (record, (program, check)) in enumerate(zip(records, measured)):
        bound = program.output_bound()
        if record.guarantee == "output_bound":
            # What polish="output" and "refine" keep: the output bound, not the clip
            # constraints.
            certified = check.output_error <= bound + tol * program.target_norm
        else:
            certified = check.violation <= tol
        certificates.append({
            "layer": i,
            "kind": program.kind,
            "mode": record.mode,
            "eps_abs": program.eps_abs,
            "relative_error": check.relative_error,
            "output_error": check.output_error,
            "output_bound": bound,
            "violation": check.violation,
            "l1_before": program.objective(original[i]),
            "l1_after": check.l1,
            "fine_tuned": record.fine_tuned,
            # Fine-tuned weights were never promised the bound: not a failure, no verdict.
            "certified": None if record.fine_tuned else bool(certified),
            "gap": record.gap,
        })
    return certificates


def layer_checks(original, pruned, X, mlp, records, *, sample_weight=None):
    """Each layer's program rebuilt from the original network on ``X`` as its record
    says it was fitted, and the check of the pruned weights against it: a list of
    ``(program, check)``.

    Parallel layers (and a cascade's first) get the program of the original activations
    at the recorded relative tolerance; later cascade layers that of the pruned
    network's own input (:func:`~._engine.cascade_problem`, the constructor the fit
    used) with the recorded ``gamma`` and floor. The penalty is the recorded one.
    """
    activation = hidden_activation(mlp)
    original_inputs = layer_inputs(original, X, activation)
    pruned_inputs = layer_inputs(pruned, X, activation)
    measured = []
    for i, (record, kind) in enumerate(zip(records, layer_kinds(mlp))):
        penalty = make_penalty(record.penalty, record.penalize_intercept)
        if record.mode == "cascade" and i > 0:
            problem = cascade_problem(i, kind, original_inputs[i], pruned_inputs[i],
                                      original[i], record.gamma, sample_weight)
            epsilon = record.epsilon_floor or 0.0
        else:
            problem = parallel_problem(i, kind, original_inputs[i], original[i])
            epsilon = record.epsilon
        program = problem.program(epsilon, penalty=penalty, sample_weight=sample_weight)
        measured.append((program, program.check(pruned[i])))
    return measured

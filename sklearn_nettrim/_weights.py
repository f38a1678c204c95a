"""Sample weights: validation, and the rows they keep.

A weighted layer program measures its error in the sample-weighted Frobenius norm,
``||r||_w^2 = sum_i w_i ||r_i||^2``: the rows of the layer input (with its column of
ones), of the targets and of ``V`` are scaled by ``sqrt(w_i)``. Since
``relu(sqrt(w) z) = sqrt(w) relu(z)`` for ``w > 0``, Omega is unchanged and the scaled
program is an ordinary Net-Trim program. Rows of weight 0 do not count and are dropped;
an integer weight k counts as k copies of the row.
"""

import numpy as np
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import _check_sample_weight, _num_samples


def check_sample_weight(sample_weight, n_samples):
    """``sample_weight`` as a float64 array of length ``n_samples``, or None.

    A scalar means the same weight for every row. Raises a ValueError naming the problem
    for a wrong length, a non-finite, negative or all-zero weight.
    """
    if sample_weight is None:
        return None
    if not np.isscalar(sample_weight):
        try:
            length = _num_samples(sample_weight)
        except TypeError:
            length = None
        if length is not None and length != n_samples:
            raise ValueError(
                f"sample_weight has {length} entries but X has {n_samples} samples:"
                " give one weight per row of X.")
    X_like = np.empty((n_samples, 0))
    weights = _check_sample_weight(sample_weight, X_like, dtype=np.float64,
                                   ensure_non_negative=True, allow_all_zero_weights=True)
    if not np.all(np.isfinite(weights)):
        raise ValueError("sample_weight must be finite; it contains inf.")
    if n_samples and not np.any(weights > 0):
        raise ValueError("sample_weight is zero everywhere: at least one row must have a"
                         " positive weight.")
    return weights


def positive_rows(X, sample_weight):
    """``(X, sample_weight)`` without the rows of weight 0 (unchanged when there are none)."""
    if sample_weight is None:
        return X, None
    keep = sample_weight > 0
    if np.all(keep):
        return X, sample_weight
    return _safe_indexing(X, np.flatnonzero(keep)), sample_weight[keep]


def weighted_norm(M, sample_weight):
    """Frobenius norm of ``M`` with row ``i`` counted ``sample_weight[i]`` times."""
    if sample_weight is None:
        return float(np.linalg.norm(M))
    return float(np.linalg.norm(M * np.sqrt(np.asarray(sample_weight))[:, None]))

"""Diagnostics of a pruning run: conditions under which Net-Trim's result misleads.

Pure functions: they look at numbers and weights, return a message or ``None``, and warn
nobody themselves. ``fit`` raises the messages with :func:`sklearn_nettrim._warnings.warn_user`.
"""

import numpy as np
import scipy.sparse as sp

__all__ = ["calibration_size_warning", "constant_layer_warning"]


def calibration_size_warning(n_samples, layer_shapes, kinds=None):
    """A message when there are too few calibration rows for the layer programs.

    The rule: warn when ``n_samples < n_inputs + 1`` for some layer, i.e. when the layer
    program's input matrix ``A`` (``n_samples`` x ``n_inputs + 1``, the last column the
    intercept's ones) has fewer rows than a neuron has weights.

    Why this rule. Let ``U*`` be an optimum of a layer program and ``Z* = A @ U*``. Every
    column ``u`` of ``U*`` then also minimizes ``||u||_1`` subject to the ``P = n_samples``
    equations ``A @ u = Z*[:, j]`` (any ``u`` meeting them meets the layer's constraints,
    which only involve ``A @ U``). That linear program has an optimal vertex (a basic
    solution) with at most ``P`` non-zeros, and when the columns of ``A`` are in general
    position it is the only optimum. So with ``P < n_inputs + 1`` rows, whatever
    ``epsilon`` is, each neuron keeps at most about ``P`` non-zero weights: the number of
    rows sets the sparsity, not the tolerance, and the program cannot pin the weights
    down (``A @ u = z`` leaves an affine family of solutions; the l1 norm picks a sparse
    member that fits the calibration rows and nothing else). Net-Trim's theory (Aghasi
    et al., 2017/2020) asks for ``P`` on the order of ``s log(N/s)`` rows to identify a
    neuron with ``s`` kept weights out of ``N``; below ``P = N + 1`` nothing guarantees
    that the ``s <= P`` weights the program keeps are the right ones.

    Measured on digits (a 64-40-24-10 ReLU MLPClassifier with 0.94 test accuracy, ADMM
    solver): with 5 calibration rows every neuron of every layer keeps at most 6 weights,
    overall sparsity is 0.93 to 0.97 for epsilon 0.01 to 0.3 and test accuracy 0.10 to
    0.22; with 30 rows, at most 29 weights at epsilon 0.01 (accuracy 0.90); with 65 rows
    (``= n_inputs + 1``) at most 44 and with 300 rows at most 49 (accuracy 0.93, 0.94):
    there the tolerance decides. (The cvxpy solver may spread a weight over identical
    input columns, e.g. pixels equal on all 5 rows, which ties the l1 norm; it then
    reports more non-zeros, not better weights.) For MNIST's 784 inputs the rule asks for
    785 rows; the 3500 usually used are enough.

    Parameters
    ----------
    n_samples : int
        Number of calibration rows (after ``max_samples`` and after dropping rows of
        sample weight 0).
    layer_shapes : sequence of (int, int)
        ``(n_inputs, n_outputs)`` of each layer, i.e. ``coefs_[i].shape``, intercept
        excluded.
    kinds : sequence of {"relu", "linear"}, default=None
        Each layer's program kind, only used in the wording.

    Returns
    -------
    message : str or None
        ``None`` when every layer has at least ``n_inputs + 1`` calibration rows.
    """
    n_samples = int(n_samples)
    short = [(i, int(shape[0])) for i, shape in enumerate(layer_shapes)
             if n_samples < int(shape[0]) + 1]
    if not short:
        return None
    kinds = [None] * len(layer_shapes) if kinds is None else list(kinds)
    named = ", ".join(
        f"layer {i} ({'' if kinds[i] is None else kinds[i] + ', '}{n} inputs)"
        for i, n in short)
    needed = max(n for _, n in short) + 1
    return (
        f"Net-Trim is calibrating on {n_samples} rows, fewer than the weights of a neuron"
        f" (inputs + intercept) in {named}. With P rows each neuron keeps at most P"
        f" non-zero weights whatever epsilon is (an l1 minimum under P equations has a"
        f" solution with at most P non-zeros), so there the number of rows, not epsilon,"
        f" sets the sparsity, and the kept weights only have to fit these {n_samples}"
        f" rows: the pruned network may predict poorly. Calibrate on at least {needed}"
        f" rows (more rows in X, a larger max_samples, or max_samples=None for all rows).")


def _depends_on_input(weights):
    """Per layer, which outputs still depend on the network input (``None`` past a
    layer where none does), judged from the non-zero pattern of the weights alone."""
    dependent = None
    per_layer = []
    for U in weights:
        W = U[:-1]
        if dependent is None:
            dependent = np.ones(W.shape[0], dtype=bool)
        if sp.issparse(W):
            reads = np.asarray((abs(sp.csr_matrix(W)[np.flatnonzero(dependent)]) > 0)
                               .sum(axis=0)).ravel() > 0
        else:
            reads = np.any(np.asarray(W)[dependent] != 0, axis=0)
        per_layer.append(reads)
        dependent = reads
    return per_layer


def constant_layer_warning(weights, kinds=None, epsilon=None):
    """A message when the pruned network's output no longer depends on its input.

    A layer none of whose outputs reads an input-dependent unit through a non-zero
    weight (typically: all its non-intercept weights are zero) outputs a constant
    (``activation(intercept)``), and so does the network after it: it then predicts the
    same value for every sample. This happens when ``epsilon`` makes the constant
    feasible: the tolerance is relative, ``eps_abs = epsilon * ||Y||_F``, and the intercept
    is not penalized by default, so a layer may drop all its weights as soon as
    ``epsilon * ||Y||_F >= ||Y - mean(Y)||_F``. For a regressor trained on a target far
    from zero mean (diabetes with ``y / 100``: mean 1.5) the output's norm is mostly its
    mean: epsilon 0.4 already prunes a 10-16-1 network's output layer to zero
    (R^2 0.58 -> 0.00), while the same network trained on a centered target keeps 6 of
    16 output weights at epsilon 0.4 (R^2 0.55 -> 0.54).

    Parameters
    ----------
    weights : list of ndarray or sparse matrix
        The pruned network's stacked weights, ``(n_inputs + 1, n_outputs)`` per layer,
        intercept in the last row.
    kinds : sequence of {"relu", "linear"}, default=None
        Each layer's program kind, only used in the wording.
    epsilon : float, array-like of floats or None, default=None
        The relative tolerance (one for all layers or one per layer), quoted in the
        message.

    Returns
    -------
    message : str or None
        ``None`` when some output of the last layer still depends on the input.
    """
    if not len(weights):
        return None
    per_layer = _depends_on_input(weights)
    constant = next((i for i, reads in enumerate(per_layer) if not reads.any()), None)
    if constant is None:
        return None
    W = weights[constant][:-1]
    n_kept = W.nnz if sp.issparse(W) else int(np.count_nonzero(W))
    last = len(weights) - 1
    where = "the output layer" if constant == last else "a hidden layer"
    if kinds is not None:
        where += f", {kinds[constant]}"
    if n_kept == 0:
        what = f"Pruned layer {constant} ({where}) has no non-zero weight left"
    else:
        what = (f"The {n_kept} non-zero weights left in pruned layer {constant} ({where})"
                f" all read units that are constant")
    eps = ""
    if epsilon is not None:
        e = np.asarray(epsilon, dtype=float)
        e = float(e) if e.ndim == 0 else float(e.ravel()[min(constant, e.size - 1)])
        eps = f" (epsilon={e:g} there)"
    if constant == last:
        example, fix = (" (e.g. an uncentered regression target)",
                        " or train the network on a centered target")
    else:
        example, fix = " (ReLU outputs are non-negative)", ""
    return (
        f"{what}: its output is a constant (activation of its intercept), so the pruned"
        f" network predicts the same value for every input. The tolerance{eps} is"
        f" relative to the norm of the layer's original output, and an output far from"
        f" zero mean{example} is within it of its own mean. Lower epsilon for this layer"
        f" (epsilon can be given per layer){fix}.")

"""Label-free fine-tuning: train the pruned network, zeros kept, to mimic the original.

After pruning, the kept weights are trained by Adam on mini-batches of the calibration
data to reproduce the ORIGINAL network's outputs (knowledge distillation): no labels are
needed, so it works on a frozen network too. The zeros stay zeros (gradients and Adam's
moments are masked), intercepts are free. The distillation loss pairs each output
activation scikit-learn's MLP uses with its canonical loss, so that the gradient with
respect to the output pre-activations is always ``(outputs - targets) / n_samples``:

==========  ========================================  ===================================
output      network                                   loss to the original's outputs
==========  ========================================  ===================================
softmax     multiclass classifier                     KL divergence of the probabilities
logistic    binary or multilabel classifier           KL of the Bernoulli probabilities
identity    regressor (squared error)                 half squared error of predictions
exp         regressor (``loss="poisson"``)            Poisson deviance of predictions
==========  ========================================  ===================================

The per-layer bound of the convex programs no longer applies to the fine-tuned weights:
the records say so (``fine_tuned``) and carry the errors measured on them.
"""

import time

import numpy as np
from scipy.special import expit, xlogy
from sklearn.utils import check_random_state

from ._certificate import layer_checks
from ._network import stacked_weights


def _softmax(Z):
    Z = Z - Z.max(axis=1, keepdims=True)
    np.exp(Z, out=Z)
    Z /= Z.sum(axis=1, keepdims=True)
    return Z


OUTPUT_ACTIVATIONS = {
    "softmax": _softmax,
    "logistic": expit,
    "identity": lambda Z: Z,
    "exp": np.exp,
}

# Hidden activation -> (forward, derivative expressed with the activation's OUTPUT h).
HIDDEN_ACTIVATIONS = {
    "relu": (lambda Z: np.maximum(Z, 0), lambda H: (H > 0).astype(H.dtype)),
    "tanh": (np.tanh, lambda H: 1 - H * H),
    "logistic": (expit, lambda H: H * (1 - H)),
    "identity": (lambda Z: Z, None),
}

#: Adam's moment decays and denominator guard, as in scikit-learn's MLP.
ADAM_BETA1, ADAM_BETA2, ADAM_EPSILON = 0.9, 0.999, 1e-8


def check_fine_tune_options(fine_tune, learning_rate, batch_size):
    """Raise a clear error for a bad number of epochs, learning rate or batch size."""
    checks = (("fine_tune", fine_tune, "an int >= 0 (number of epochs)", 0),
              ("fine_tune_batch_size", batch_size, "an int >= 1", 1))
    for name, value, what, low in checks:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name} must be {what}, got {value!r}.")
    if (isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float, np.number))
            or not np.isfinite(learning_rate) or learning_rate <= 0):
        raise ValueError(
            f"fine_tune_learning_rate must be a finite number > 0, got {learning_rate!r}.")


def forward(weights, X, hidden, output):
    """Activations of every layer on ``X``: ``[X, h_1, ..., h_{L-1}, outputs]``."""
    activate = HIDDEN_ACTIVATIONS[hidden][0]
    activations = [X]
    for i, Wb in enumerate(weights):
        Z = activations[-1] @ Wb[:-1] + Wb[-1]
        last = i == len(weights) - 1
        activations.append(OUTPUT_ACTIVATIONS[output](Z) if last else activate(Z))
    return activations


def _row_weights(sample_weight, n):
    """Rows' weights normalised to a sum of 1 (``1 / n`` each without weights)."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=float)
    return w / w.sum()


def distillation_loss(outputs, targets, output, sample_weight=None):
    """Mean over samples (weighted by ``sample_weight``) of the loss between the
    network's and the original's outputs.

    Zero when they are equal. Probabilities are clipped away from 0 and 1 at the dtype's
    epsilon, as scikit-learn's log loss does.
    """
    n = outputs.shape[0]
    if output in ("softmax", "logistic"):
        eps = np.finfo(outputs.dtype).eps
        p = np.clip(outputs, eps, 1 - eps)
        loss = xlogy(targets, targets) - xlogy(targets, p)
        if output == "logistic":
            loss += xlogy(1 - targets, 1 - targets) - xlogy(1 - targets, 1 - p)
    elif output == "exp":
        p = np.maximum(outputs, np.finfo(outputs.dtype).tiny)
        loss = xlogy(targets, targets) - xlogy(targets, p) - targets + p
    else:
        loss = 0.5 * (outputs - targets) ** 2
    weights = _row_weights(sample_weight, n)
    if weights is None:
        return float(loss.sum() / n)
    return float(weights @ loss.sum(axis=1))


def loss_and_gradients(weights, X, targets, hidden, output, sample_weight=None):
    """The distillation loss and its gradient with respect to every stacked weight."""
    activations = forward(weights, X, hidden, output)
    loss = distillation_loss(activations[-1], targets, output, sample_weight)
    derivative = HIDDEN_ACTIVATIONS[hidden][1]
    row_weights = _row_weights(sample_weight, X.shape[0])
    if row_weights is None:
        delta = (activations[-1] - targets) / X.shape[0]
    else:
        delta = (activations[-1] - targets) * row_weights[:, None].astype(X.dtype)
    gradients = [None] * len(weights)
    for i in range(len(weights) - 1, -1, -1):
        H = activations[i]
        gradients[i] = np.vstack([H.T @ delta, delta.sum(axis=0, keepdims=True)])
        if i > 0:
            delta = delta @ weights[i][:-1].T
            if derivative is not None:
                delta *= derivative(H)
    return loss, gradients


def fine_tune_weights(weights, X, targets, *, hidden, output, epochs, learning_rate=1e-3,
                      batch_size=200, random_state=None, verbose=0, callback=None,
                      sample_weight=None):
    """Train stacked ``weights`` on ``(X, targets)`` by Adam, keeping their zeros.

    With ``sample_weight`` every batch's loss is the weighted mean over its rows (and so
    is the reported loss on all rows).

    Every weight that is zero in ``weights`` stays exactly zero (its gradient is masked,
    so Adam's moments and step are zero too); the intercept row is free. Mini-batches
    are drawn by a permutation per epoch from ``random_state``.

    ``callback(epoch, weights, loss)``, if given, is called after every epoch (the first
    ``k`` epochs of a run are exactly a run of ``k`` epochs).

    Returns the trained weights (new arrays, in the dtype of ``weights``) and the loss
    on all of ``X`` before training and after every epoch (``epochs + 1`` values).
    """
    weights = [np.array(W, copy=True) for W in weights]
    dtype = weights[0].dtype
    X = np.asarray(X, dtype=dtype)
    targets = np.asarray(targets, dtype=dtype)
    masks = []
    for W in weights:
        mask = W != 0
        mask[-1] = True
        masks.append(mask.astype(dtype))
    first = [np.zeros_like(W) for W in weights]
    second = [np.zeros_like(W) for W in weights]
    rng = check_random_state(random_state)
    n = X.shape[0]
    batch_size = int(min(batch_size, n))
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    losses = [distillation_loss(forward(weights, X, hidden, output)[-1], targets, output, w)]
    step = 0
    start = time.perf_counter()
    for epoch in range(epochs):
        order = rng.permutation(n)
        for begin in range(0, n, batch_size):
            rows = order[begin:begin + batch_size]
            _, gradients = loss_and_gradients(weights, X[rows], targets[rows], hidden, output,
                                              None if w is None else w[rows])
            step += 1
            rate = learning_rate * np.sqrt(1 - ADAM_BETA2 ** step) / (1 - ADAM_BETA1 ** step)
            for W, G, M, V, mask in zip(weights, gradients, first, second, masks):
                G *= mask
                M *= ADAM_BETA1
                M += (1 - ADAM_BETA1) * G
                V *= ADAM_BETA2
                V += (1 - ADAM_BETA2) * G * G
                W -= (rate * M / (np.sqrt(V) + ADAM_EPSILON)).astype(dtype, copy=False)
                W *= mask
        losses.append(distillation_loss(forward(weights, X, hidden, output)[-1], targets,
                                        output, w))
        if callback is not None:
            callback(epoch + 1, weights, losses[-1])
        if verbose:
            print(f"[NetTrim] fine-tune epoch {epoch + 1}/{epochs}: distillation loss"
                  f" {losses[-1]:.5g} (before: {losses[0]:.5g}),"
                  f" {time.perf_counter() - start:.2f}s", flush=True)
    return weights, losses


def original_outputs(mlp, X):
    """The original network's outputs on ``X``: probabilities or predictions."""
    weights = stacked_weights(mlp)
    X = np.asarray(X, dtype=weights[0].dtype)
    return forward(weights, X, mlp.activation, mlp.out_activation_)[-1]


#: The record fields re-measured on fine-tuned weights (their pruning-time values are
#: kept under ``before_fine_tune``).
MEASURED_FIELDS = ("relative_error", "output_error", "violation", "l1_after", "nnz_after",
                   "sparsity")


def fine_tune_network(mlp, X, pruned, records, options):
    """Fine-tune a pruned network (stacked ``pruned``) towards the original ``mlp`` on X.

    Runs in the dtype of ``mlp``'s weights, with ``options.sample_weight`` weighing the
    rows of the distillation loss and of the re-measured errors. Returns the fine-tuned
    weights, new records (``fine_tuned``, the certificate fields re-measured on the
    fine-tuned weights with the penalty and tolerances the fit used, the values at
    pruning time under ``before_fine_tune``, the loss curve under ``fine_tune_loss``) and
    the loss curve.
    """
    original = stacked_weights(mlp)
    dtype = original[0].dtype
    X = np.asarray(X, dtype=dtype)
    targets = original_outputs(mlp, X)
    pruned = [np.asarray(U, dtype=dtype) for U in pruned]
    spec = options.fine_tune
    tuned, losses = fine_tune_weights(
        pruned, X, targets, hidden=mlp.activation, output=mlp.out_activation_,
        epochs=spec.epochs, learning_rate=spec.learning_rate, batch_size=spec.batch_size,
        random_state=options.random_state, verbose=options.verbose,
        sample_weight=options.sample_weight)
    measured = layer_checks(original, tuned, X, mlp, records,
                            sample_weight=options.sample_weight)
    updated = []
    for record, U, (_, check) in zip(records, tuned, measured):
        nnz = int(np.count_nonzero(U[:-1]))
        updated.append(record.with_(
            before_fine_tune={key: getattr(record, key) for key in MEASURED_FIELDS},
            fine_tuned=True, relative_error=check.relative_error,
            output_error=check.output_error, violation=check.violation, l1_after=check.l1,
            nnz_after=nnz, sparsity=1.0 - nnz / U[:-1].size if U[:-1].size else 0.0,
            fine_tune_epochs=int(spec.epochs), fine_tune_loss=tuple(losses)))
    return tuned, updated, losses


def fine_tune_points(mlp, X, points, options):
    """Fine-tune every ``(weights, records)`` point when ``options`` ask for it."""
    if not options.fine_tune.epochs:
        return points
    return [fine_tune_network(mlp, X, weights, records, options)[:2]
            for weights, records in points]

"""The field's one-shot pruners, for comparison with Net-Trim at the same size.

Not part of the package: the benchmarks use them as yardsticks. Every pruner works on the
stacked weights of a fitted MLP (``stacked_weights``: the intercept is the last row,
never pruned) and returns new stacked weights; none retrains.

* :func:`magnitude` - keep the largest |w|: ``split="global"`` (one threshold for all
  layers), ``"uniform"`` (the same fraction in every layer) or given per-layer nnz.
* :func:`least_squares_refit` - keep a support, refit each neuron's kept weights and
  intercept by least squares to the ORIGINAL pre-activations, on the original network's
  layer input (``sequential=False``) or on the pruned network's own input, layer after
  layer (``sequential=True``).
* :func:`wanda` - Sun, Liu, Bair, Kolter (2023), "A simple and effective pruning approach
  for large language models": score ``|W_ij| * ||x_i||_2`` compared within each output
  neuron, no weight update, inputs from the pruned network.
* :func:`sparsegpt` - Frantar and Alistarh (2023), "SparseGPT: massive language models
  can be accurately pruned in one-shot": the OBS column sweep with the inverse Hessian
  ``(X^T X + damp)^-1``, adaptive masks per block of 128 inputs, sequential calibration.
* :func:`alps` - Meng, Behdin, Wang, Mazumder (NeurIPS 2024), "ALPS: improved optimization
  for highly sparse one-shot pruning", written from the paper: per layer, on the pruned
  network's input, ``min ||A W - Z||^2`` with at most k non-zeros by ADMM on the Gram
  matrix (top-k projection, rising rho, stop when the support settles), then least squares
  on the support.
"""

import numpy as np
from scipy import linalg

from sklearn_nettrim._network import hidden_activation, stacked_weights


def _layer_nnz(sizes, split, sparsity, weights):
    """Per-layer nnz budgets for a split rule."""
    if split == "uniform":
        return [int(round((1 - sparsity) * n)) for n in sizes]
    if split == "global":
        magnitudes = np.concatenate([np.abs(W[:-1]).ravel() for W in weights])
        keep = int(round((1 - sparsity) * magnitudes.size))
        if keep == 0:
            return [0] * len(weights)
        threshold = np.partition(magnitudes, magnitudes.size - keep)[magnitudes.size - keep]
        counts = [int(np.sum(np.abs(W[:-1]) >= threshold)) for W in weights]
        # Ties at the threshold: trim the largest layer to the exact budget.
        counts[int(np.argmax(counts))] -= sum(counts) - keep
        return counts
    return list(split)


def _top_k_mask(scores, k):
    flat = scores.ravel()
    keep = np.zeros(flat.size, dtype=bool)
    if k > 0:
        keep[np.argpartition(-flat, k - 1)[:k]] = True
    return keep.reshape(scores.shape)


def _per_output_mask(scores, k):
    """Keep about ``k`` entries in all, split evenly over the outputs (columns)."""
    n_in, n_out = scores.shape
    per = np.full(n_out, k // n_out)
    per[: k % n_out] += 1
    order = np.argsort(-scores, axis=0)
    mask = np.zeros_like(scores, dtype=bool)
    for j in range(n_out):
        mask[order[: per[j], j], j] = True
    return mask


def _forward(W, h, activation, last):
    z = h @ W[:-1] + W[-1]
    return z if last else activation(z)


def _with_body(W, body):
    return np.vstack([body, W[-1:]])


def magnitude(mlp, sparsity=None, split="global"):
    """Keep the largest |w|: one global threshold, a uniform fraction, or given nnz."""
    weights = stacked_weights(mlp)
    sizes = [W[:-1].size for W in weights]
    nnz = _layer_nnz(sizes, split, sparsity, weights)
    return [_with_body(W, W[:-1] * _top_k_mask(np.abs(W[:-1]), k))
            for W, k in zip(weights, nnz)]


def least_squares_refit(mlp, pruned, X, *, sequential=True, ridge=1e-8):
    """Refit every neuron's kept weights and intercept to the original pre-activations.

    Per neuron, ``min ||[H_S, 1] u - z||`` by the normal equations on one Gram matrix per
    layer, with a tiny relative ridge so silent inputs keep their value. ``H`` is the
    original network's layer input (``sequential=False``) or the refitted network's own
    (``sequential=True``), which lets each layer absorb the errors of the ones before.
    """
    weights = stacked_weights(mlp)
    activation = hidden_activation(mlp)
    h_orig = h_new = X
    out = []
    for i, (W, P) in enumerate(zip(weights, pruned)):
        last = i == len(weights) - 1
        H = h_new if sequential else h_orig
        A = np.hstack([H, np.ones((H.shape[0], 1))])
        Z = h_orig @ W[:-1] + W[-1]
        gram, rhs = A.T @ A, A.T @ Z
        scale = ridge * max(float(np.trace(gram)) / gram.shape[0], 1e-300)
        U = np.zeros_like(W)
        support = np.vstack([P[:-1] != 0, np.ones((1, W.shape[1]), dtype=bool)])
        for j in range(W.shape[1]):
            rows = support[:, j]
            G = gram[np.ix_(rows, rows)]
            G[np.diag_indices_from(G)] += scale
            # Around the pruned weights, so the ridge pulls towards them, not to zero.
            base = P[rows, j]
            U[rows, j] = base + linalg.solve(G, rhs[rows, j] - G @ base, assume_a="pos",
                                             check_finite=False)
        out.append(U)
        h_orig = _forward(W, h_orig, activation, last)
        h_new = _forward(U, h_new, activation, last)
    return out


def _sequential(mlp, X, sparsity, split, prune_layer):
    """Prune layer after layer, each on the pruned network's input, to per-layer nnz."""
    weights = stacked_weights(mlp)
    activation = hidden_activation(mlp)
    nnz = _layer_nnz([W[:-1].size for W in weights], split, sparsity, weights)
    h, out = X, []
    for i, (W, k) in enumerate(zip(weights, nnz)):
        U = prune_layer(W, h, k)
        out.append(U)
        h = _forward(U, h, activation, i == len(weights) - 1)
    return out


def _wanda_layer(W, h, k):
    scores = np.abs(W[:-1]) * np.linalg.norm(h, axis=0)[:, None]
    return _with_body(W, W[:-1] * _per_output_mask(scores, k))


def wanda(mlp, X, sparsity=None, split="uniform"):
    """Wanda: keep the largest ``|W_ij| * ||x_i||`` within each output, inputs pruned."""
    return _sequential(mlp, X, sparsity, split, _wanda_layer)


def _sparsegpt_layer(W, H_input, keep_fraction, block=128, damp=0.01):
    """One layer of SparseGPT (our layout: rows are inputs; the intercept row is kept)."""
    A = np.hstack([H_input, np.ones((H_input.shape[0], 1))])
    n_rows = W.shape[0]
    H = A.T @ A
    dead = np.diag(H) == 0
    H[dead, dead] = 1.0
    H[np.diag_indices(n_rows)] += damp * float(np.mean(np.diag(H)))
    # Upper Cholesky factor of H^-1, as in the reference implementation.
    Hinv = linalg.cholesky(linalg.cho_solve(linalg.cho_factor(H), np.eye(n_rows)), lower=False)
    Wt = W.T.copy()  # (outputs, inputs): the sweep runs over inputs
    Wt[:, dead] = 0
    sparsity = 1.0 - keep_fraction
    for start in range(0, n_rows - 1, block):  # the intercept (last row) is never pruned
        end = min(start + block, n_rows - 1)
        W1 = Wt[:, start:end].copy()
        Hinv1 = Hinv[start:end, start:end]
        d = np.diag(Hinv1)
        score = W1 ** 2 / d[None, :] ** 2
        k = int(score.size * sparsity)
        mask = np.zeros_like(W1, dtype=bool)  # True = pruned
        if k > 0:
            mask.ravel()[np.argpartition(score.ravel(), k - 1)[:k]] = True
        err = np.zeros_like(W1)
        for c in range(end - start):
            w = W1[:, c]
            q = np.where(mask[:, c], 0.0, w)
            e = (w - q) / d[c]
            W1[:, c:] -= np.outer(e, Hinv1[c, c:])
            W1[:, c] = q
            err[:, c] = e
        Wt[:, start:end] = W1
        Wt[:, end:] -= err @ Hinv[start:end, end:]
    return Wt.T


def _sparsegpt_exact(W, h, k):
    U = _sparsegpt_layer(W, h, k / W[:-1].size)
    # The per-block rounding can leave a few extra weights: trim to the exact count.
    extra = int(np.count_nonzero(U[:-1])) - k
    if extra > 0:
        body = U[:-1]
        alive = np.flatnonzero(body)
        body.ravel()[alive[np.argsort(np.abs(body.ravel()[alive]))[:extra]]] = 0
    return U


def sparsegpt(mlp, X, sparsity=None, split="uniform"):
    """SparseGPT with sequential calibration (each layer sees the pruned network's input)."""
    return _sequential(mlp, X, sparsity, split, _sparsegpt_exact)


def _alps_layer(W, h, k, Z, *, rho_start=0.1, rho_growth=1.3, grow_every=3, patience=10,
                max_iter=300, ridge=1e-8):
    """ALPS on one layer: the support of ``min ||A U - Z||^2, nnz(U body) <= k``.

    ADMM (scaled dual) on ``U`` (least squares) = ``D`` (top-k over the whole layer's body,
    the intercept row always kept): ``U = (G + rho I)^-1 (A^T Z + rho (D - V))``,
    ``D = P_k(U + V)``, ``V += U - D``. ``G = A^T A`` is scaled to unit mean diagonal, so
    ``rho`` is relative: it starts at ``rho_start`` and is multiplied by ``rho_growth``
    every ``grow_every`` iterations (the scaled dual rescaled with it). One eigendecomposition
    of ``G`` serves every ``rho``. Stops when the support has not changed for ``patience``
    iterations (or after ``max_iter``), then refits each neuron by least squares on it.
    """
    A = np.hstack([h, np.ones((h.shape[0], 1))])
    gram, rhs = A.T @ A, A.T @ Z
    scale = max(float(np.trace(gram)) / gram.shape[0], 1e-300)
    G, B = gram / scale, rhs / scale
    G[np.diag_indices_from(G)] += ridge
    lam, Q = np.linalg.eigh(G)
    QtB = Q.T @ B

    def project(M):
        D = np.zeros_like(M)
        D[-1] = M[-1]
        body = M[:-1]
        mask = _top_k_mask(np.abs(body), k)
        D[:-1] = np.where(mask, body, 0.0)
        return D, mask

    D, mask = project(W)
    V = np.zeros_like(W)
    rho, still, iterations = rho_start, 0, 0
    for iterations in range(1, max_iter + 1):
        U = Q @ ((QtB + rho * (Q.T @ (D - V))) / (lam + rho)[:, None])
        D, new_mask = project(U + V)
        V += U - D
        still = still + 1 if np.array_equal(new_mask, mask) else 0
        mask = new_mask
        if still >= patience:
            break
        if iterations % grow_every == 0:
            rho *= rho_growth
            V /= rho_growth  # the scaled dual is (dual / rho)
    support = np.vstack([mask, np.ones((1, W.shape[1]), dtype=bool)])
    return _least_squares_on_support(gram, rhs, support, D, ridge), iterations


def _least_squares_on_support(gram, rhs, support, base, ridge=1e-8):
    """Per column ``j``: least squares on the rows ``support[:, j]``, around ``base``."""
    scale = ridge * max(float(np.trace(gram)) / gram.shape[0], 1e-300)
    U = np.zeros_like(base)
    for j in range(base.shape[1]):
        rows = support[:, j]
        G = gram[np.ix_(rows, rows)]
        G[np.diag_indices_from(G)] += scale
        b = base[rows, j]
        U[rows, j] = b + linalg.solve(G, rhs[rows, j] - G @ b, assume_a="pos",
                                      check_finite=False)
    return U


def alps(mlp, X, sparsity=None, split="global", *, return_info=False, **options):
    """ALPS-style l0 ADMM, layer after layer on the pruned network's input.

    ``split``: ``"global"`` (the per-layer nnz of a global magnitude threshold),
    ``"uniform"`` or a list of per-layer nnz. The target of every layer is the ORIGINAL
    network's pre-activations on ``X``; the input is the pruned network's own. ``options``
    go to the layer solver (``rho_start``, ``rho_growth``, ``grow_every``, ``patience``,
    ``max_iter``). With ``return_info`` also the ADMM iterations per layer.
    """
    weights = stacked_weights(mlp)
    activation = hidden_activation(mlp)
    nnz = _layer_nnz([W[:-1].size for W in weights], split, sparsity, weights)
    h_orig = h_new = X
    out, info = [], []
    for i, (W, k) in enumerate(zip(weights, nnz)):
        last = i == len(weights) - 1
        Z = h_orig @ W[:-1] + W[-1]
        U, iterations = _alps_layer(W, h_new, k, Z, **options)
        out.append(U)
        info.append(iterations)
        h_orig = _forward(W, h_orig, activation, last)
        h_new = _forward(U, h_new, activation, last)
    return (out, info) if return_info else out

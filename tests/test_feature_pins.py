"""Pins of features a refactoring could break without any other test noticing.

Each test here was checked against a mutation of the code (a feature silently switched
off or computed the wrong way) and fails under it; the quantities are recomputed
independently (NumPy from the MLP's ``coefs_``/``intercepts_``), not with the package's
own helpers, since a certificate that rebuilds a program with the same wrong formula
certifies itself. Only the public API and the stable internals (layer program, penalties,
``solve_layer``, ``dual_bound``, ``magnitude_budgets``) are used.
"""

import numpy as np
import pytest
from sklearn.frozen import FrozenEstimator

from sklearn_nettrim import NetTrimTransformer, check_certificate
from sklearn_nettrim._allocation import magnitude_budgets
from sklearn_nettrim._penalties import (
    L1,
    GroupL1,
    SparseGroupL1,
    make_penalty,
    reweighted_penalty,
)
from sklearn_nettrim._program import LayerProgram
from sklearn_nettrim._solvers import solve_layer

from .conftest import random_layer

@pytest.fixture(scope="module")
def calibration(digits):
    return digits[0][:300]


def _relu(Z):
    return np.maximum(Z, 0)


def _layer_inputs(coefs, intercepts, X):
    """The input of every layer of a ReLU MLP (NumPy only)."""
    inputs = [X]
    for W, b in zip(coefs[:-1], intercepts[:-1]):
        inputs.append(_relu(inputs[-1] @ W + b))
    return inputs


def _nnz(trim):
    return [record["nnz_after"] for record in trim.layer_stats_]


# --- 1. reweighting really runs -------------------------------------------------------

@pytest.mark.parametrize("mode", ["parallel", "cascade"])
def test_reweighting_strictly_cuts_non_zeros(digits_mlp, calibration, mode):
    """reweight=2 at the same epsilon: every layer sparser, still certified.

    Measured on this network at epsilon 0.2: 25-46% fewer non-zeros per layer (43% in
    total); the bounds leave room for solver noise, a skipped round gives 0%.
    """
    fits = {reweight: NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=0.2, mode=mode,
                                         reweight=reweight).fit(calibration)
            for reweight in (0, 2)}
    plain, rounds = _nnz(fits[0]), _nnz(fits[2])
    for before, after in zip(plain, rounds):
        assert after <= 0.9 * before, (plain, rounds)
    assert sum(rounds) <= 0.8 * sum(plain), (plain, rounds)
    assert all(r["reweight"] == 2 for r in fits[2].layer_stats_)
    assert all(c["certified"] for c in check_certificate(fits[2], calibration))
    assert fits[2].layer_stats_[0]["relative_error"] <= 0.2 * (1 + 1e-3)


# --- 2. the cascade tolerance, recomputed from scratch --------------------------------

@pytest.mark.parametrize("gamma", [1.0, 2.0])
def test_cascade_tolerance_is_sqrt_gamma_times_the_residual(digits_mlp, calibration, gamma):
    """eps_l = sqrt(gamma) ||(A_pruned W_l - Y_l) on Omega||_F (linear layer: all of it).

    Computed here with NumPy from the original and the pruned networks' weights; the
    certificate cannot catch a wrong formula, it rebuilds the program with the same one.
    """
    trim = NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=0.1, mode="cascade",
                              gamma=gamma).fit(calibration)
    original, pruned = digits_mlp, trim.estimator_
    X = calibration.astype(np.float64)
    A_orig = _layer_inputs(original.coefs_, original.intercepts_, X)
    A_pruned = _layer_inputs(pruned.coefs_, pruned.intercepts_, X)
    n_layers = len(original.coefs_)
    first = trim.layer_stats_[0]
    np.testing.assert_allclose(
        first["eps_abs"],
        0.1 * np.linalg.norm(_relu(X @ original.coefs_[0] + original.intercepts_[0])),
        rtol=1e-6)
    for i in range(1, n_layers):
        W, b = original.coefs_[i], original.intercepts_[i]
        Z_orig = A_orig[i] @ W + b
        Z_pruned = A_pruned[i] @ W + b
        if i < n_layers - 1:
            Y = _relu(Z_orig)
            residual = np.where(Y > 0, Z_pruned - Y, 0.0)
        else:
            residual = Z_pruned - Z_orig
        expected = np.sqrt(gamma) * np.linalg.norm(residual)
        assert expected > 0  # the earlier layers were pruned: a real test of the formula
        np.testing.assert_allclose(trim.layer_stats_[i]["eps_abs"], expected, rtol=1e-6,
                                   err_msg=f"layer {i}, gamma={gamma}")


# --- 3. the allocations are different code ---------------------------------------------

def _global_magnitude_split(mlp, target):
    """Per-layer non-zeros a single threshold on |w| keeps (NumPy, no package code)."""
    magnitudes = np.sort(np.concatenate([np.abs(W).ravel() for W in mlp.coefs_]))[::-1]
    keep = int(round((1 - target) * magnitudes.size))
    threshold = magnitudes[keep - 1]
    return np.array([np.sum(np.abs(W) >= threshold) for W in mlp.coefs_], dtype=float)


def test_output_and_magnitude_allocations_split_the_budget_differently(digits_mlp,
                                                                        calibration):
    """At 80%: "magnitude" keeps the global-threshold split, "output" another one.

    Measured: magnitude [309, 166, 70] for the threshold's [308, 165, 71]; output
    [333, 127, 86]. The per-layer search stops within 2% of a layer's budget.
    """
    target = 0.8
    fits = {allocation: NetTrimTransformer(FrozenEstimator(digits_mlp), target_sparsity=target,
                                           allocation=allocation, polish="output",
                                           random_state=0).fit(calibration)
            for allocation in ("output", "magnitude")}
    expected = _global_magnitude_split(digits_mlp, target)
    stacked = [np.vstack([W, b]) for W, b in zip(digits_mlp.coefs_, digits_mlp.intercepts_)]
    budget = (1 - target) * sum(W.size for W in digits_mlp.coefs_)
    np.testing.assert_allclose(magnitude_budgets(stacked, budget), expected, atol=1)
    slack = np.maximum(3, 0.02 * expected)
    magnitude = np.array(_nnz(fits["magnitude"]), dtype=float)
    output = np.array(_nnz(fits["output"]), dtype=float)
    assert np.all(np.abs(magnitude - expected) <= slack), (magnitude, expected)
    assert np.any(np.abs(output - magnitude) > 3 * slack), (output, magnitude)
    for trim in fits.values():
        assert abs(trim.sparsity_ - target) <= 0.005
        assert all(c["certified"] for c in check_certificate(trim, calibration))


# --- 4. the shared price is optimal: tests/test_allocation.py ---------------------------
# (test_one_price_allocation_is_optimal_on_convex_curves, against an exhaustive search)


# --- 5. a dual bound that is not vacuous: tests/test_gap.py ------------------------------
# (test_bound_of_any_multiplier_is_valid, from cvxpy's optimal multiplier plus noise)


# --- 6. the certificate's edge ----------------------------------------------------------

def _scale_for_error(P, Y, target):
    """The larger ``s`` with ``||s P - Y||_F = target`` (a quadratic in ``s``)."""
    a, b, c = np.sum(P * P), np.sum(P * Y), np.sum(Y * Y) - target ** 2
    disc = b * b - a * c
    assert disc > 0, "the target error is below the best scaling's"
    return (b + np.sqrt(disc)) / a


@pytest.mark.parametrize("polish", [None, "output"])
@pytest.mark.parametrize("layer", [1, 2])
@pytest.mark.parametrize("side", ["outside", "inside"])
def test_certificate_fails_just_outside_the_ball(digits_mlp, calibration, polish, layer, side):
    """Scale one pruned layer (intercept too) so that its error is 1% outside (inside) what
    the certificate checks: that layer alone is (not) rejected.

    Scaling keeps the ReLU clip constraints (``s A U <= 0`` where ``A U <= 0``). Without
    polishing the certificate checks the ball (``violation <= tol``, tol 1e-3 of the
    outputs' norm: 1% of epsilon 0.3 is 3e-3); with ``polish="output"`` the bound on the
    whole output error.
    """
    epsilon = 0.3
    # Parallel mode: the programs below are built from the original network's inputs.
    trim = NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=epsilon, mode="parallel",
                              polish=polish).fit(calibration)
    assert all(c["certified"] for c in check_certificate(trim, calibration))
    X = calibration.astype(np.float64)
    original = digits_mlp
    inputs = _layer_inputs(original.coefs_, original.intercepts_, X)
    W, b = original.coefs_[layer], original.intercepts_[layer]
    U, c = trim.estimator_.coefs_[layer], trim.estimator_.intercepts_[layer]
    Z, AU = inputs[layer] @ W + b, inputs[layer] @ U + c
    linear = layer == len(original.coefs_) - 1
    Y = Z if linear else _relu(Z)
    if polish == "output":  # ||outputs(s A U) - Y|| over all entries; relu(s x) = s relu(x)
        P = AU if linear else _relu(AU)
    else:  # the ball: on Omega
        P = AU if linear else np.where(Y > 0, AU, 0.0)
    eps_abs = epsilon * np.linalg.norm(Y)
    factor = 1.01 if side == "outside" else 0.99
    s = _scale_for_error(P, Y, factor * eps_abs)
    trim.estimator_.coefs_[layer] = s * U
    trim.estimator_.intercepts_[layer] = s * c
    certificates = check_certificate(trim, calibration)
    measured = certificates[layer]["output_error" if polish else "relative_error"]
    expected = factor * eps_abs if polish else factor * epsilon
    assert measured == pytest.approx(expected, rel=1e-6)
    verdicts = [cert["certified"] for cert in certificates]
    wanted = [side == "inside" or i != layer for i in range(len(certificates))]
    assert verdicts == wanted, (verdicts, s)


# --- 7a. reweighting the sparse group penalty ---------------------------------------------

def test_sparse_group_reweighting_cuts_non_zeros(digits_mlp, calibration):
    """Measured at epsilon 0.2: 26-30% fewer per layer (28% in total); it was 0%."""
    fits = {reweight: NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=0.2,
                                         penalty="sparse_group",
                                         reweight=reweight).fit(calibration)
            for reweight in (0, 2)}
    plain, rounds = _nnz(fits[0]), _nnz(fits[2])
    for before, after in zip(plain, rounds):
        assert after <= 0.95 * before, (plain, rounds)
    assert sum(rounds) <= 0.85 * sum(plain), (plain, rounds)
    assert all(c["certified"] for c in check_certificate(fits[2], calibration))


def test_reweighted_sparse_group_reweights_the_l1_part_only():
    rng = np.random.default_rng(0)
    U = rng.normal(size=(6, 4)) * (rng.random((6, 4)) < 0.6)
    base = SparseGroupL1(0.5, weights=rng.uniform(0.5, 2.0, size=6))
    new = reweighted_penalty(base, U)
    assert isinstance(new, SparseGroupL1) and new.alpha == base.alpha
    np.testing.assert_array_equal(new.weights, base.weights)  # the group part is kept
    expected = reweighted_penalty(L1(), U).weights  # the l1 part: as plain reweighted l1
    np.testing.assert_allclose(new.l1_weights, expected)
    # Its value: the group part unchanged, the l1 part with the entry weights.
    w = base.group.weight_array(6)
    value = (0.5 * np.sum(w[:, None] * expected * np.abs(U))
             + 0.5 * np.sum(w * np.linalg.norm(U, axis=1)))
    assert new.value(U) == pytest.approx(value)
    assert isinstance(reweighted_penalty(GroupL1(), U), GroupL1)
    assert isinstance(reweighted_penalty(make_penalty("l1"), U), L1)


def test_entry_weighted_sparse_group_prox_dual_norm_and_scaling():
    """The new entry weights of the l1 part: prox, dual norm and scaling stay exact."""
    rng = np.random.default_rng(3)
    shape = (6, 4)
    penalty = SparseGroupL1(0.4, weights=rng.uniform(0.5, 2.0, size=6),
                            l1_weights=rng.uniform(0.2, 3.0, size=shape))
    X = rng.normal(scale=1.5, size=shape)
    step = 0.7
    P = penalty.prox(X, step)

    def objective(Z):
        return 0.5 * np.sum((Z - X) ** 2) + step * penalty.value(Z)

    best = objective(P)
    for _ in range(200):
        direction = rng.normal(size=shape)
        for t in (1e-3, 1e-2, -1e-3, -1e-2):
            assert objective(P + t * direction) >= best - 1e-10
    G = rng.normal(size=shape)
    G[-1] = 0  # the free intercept row
    norm = penalty.dual_norm(G)
    for _ in range(200):
        V = rng.normal(size=shape) * (rng.random(shape) < 0.5)
        assert np.sum(G * V) <= norm * penalty.value(V) * (1 + 1e-9) + 1e-12
    assert not np.any(penalty.prox(G / (norm * (1 + 1e-6)), 1.0))
    assert np.any(penalty.prox(G / (norm * (1 - 1e-3)), 1.0))
    d = rng.uniform(0.1, 3.0, size=6)
    assert penalty.scaled(d).value(X / d[:, None]) == pytest.approx(penalty.value(X))
    rows, cols = np.array([0, 2, 5]), np.array([1, 3])
    assert penalty.restrict(rows, cols).value(X[rows][:, cols]) == pytest.approx(
        SparseGroupL1(0.4, weights=penalty.weights[rows],
                      l1_weights=penalty.l1_weights[rows][:, cols]).value(X[rows][:, cols]))


def test_entry_weighted_sparse_group_admm_matches_cvxpy():
    pytest.importorskip("cvxpy")
    inputs, W = random_layer(n_samples=60, n_inputs=10, n_outputs=5, seed=3)
    rng = np.random.default_rng(1)
    penalty = SparseGroupL1(0.5, l1_weights=rng.uniform(0.3, 3.0, size=W.shape))
    program = LayerProgram(inputs, W, kind="relu", epsilon=0.1, penalty=penalty)
    admm = solve_layer(program, "admm", tol=1e-4, max_iter=5000)
    ref = solve_layer(program, "cvxpy")
    assert admm.converged and admm.check.violation <= 1e-3
    assert abs(admm.check.l1 - ref.check.l1) <= 0.01 * ref.check.l1
    assert admm.extra["bound"] <= ref.check.l1 * (1 + 1e-6)


# --- 7b. group penalty and fine-tuning: the recorded objective ------------------------------

def test_fine_tuned_group_fit_records_the_group_norm(digits_mlp, calibration):
    """Fine-tuning re-measures each layer with the fit's penalty (the group norm), as
    check_certificate does. Before the engine restructure (113bd9c) layer_stats_ had the
    plain l1 norm there: 214.9 against the certificate's 47.35 on the first layer."""
    trim = NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=0.2, penalty="group",
                              fine_tune=2, random_state=0).fit(calibration)
    certificates = check_certificate(trim, calibration)
    for record, cert in zip(trim.layer_stats_, certificates):
        assert record["l1_after"] == pytest.approx(cert["l1_after"], rel=1e-6)

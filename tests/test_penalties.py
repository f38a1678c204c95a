"""Penalty objects: each prox against its definition, dual norms, and ADMM against cvxpy."""

import numpy as np
import pytest

from sklearn_nettrim._engine import cascade_problem
from sklearn_nettrim._penalties import L1, GroupL1, SparseGroupL1, SupportMask
from sklearn_nettrim._program import LayerProgram
from sklearn_nettrim._solvers import solve_layer

from .conftest import random_layer

SHAPE = (6, 4)  # 5 inputs + intercept, 4 outputs


def _penalties(rng):
    return [
        L1(),
        L1(penalize_intercept=True),
        L1(weights=rng.uniform(0.2, 2.0, size=SHAPE)),
        GroupL1(),
        GroupL1(weights=rng.uniform(0.2, 2.0, size=SHAPE[0]), penalize_intercept=True),
        SparseGroupL1(alpha=0.3),
        SparseGroupL1(alpha=0.8, weights=rng.uniform(0.2, 2.0, size=SHAPE[0])),
        SupportMask(rng.random(SHAPE) < 0.5),
    ]


@pytest.mark.parametrize("index", range(8))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_prox_minimises_its_definition(index, dtype):
    """prox(x, step) = argmin_z 0.5 ||z - x||^2 + step * value(z), checked by perturbation.

    The objective is strongly convex, so a point no direction improves is the minimiser:
    every coordinate and random direction, at several step lengths, must not decrease it.
    """
    rng = np.random.default_rng(index)
    penalty = _penalties(rng)[index]
    X = rng.normal(scale=1.5, size=SHAPE).astype(dtype)
    X[2] *= 0.05  # a row the group penalties drop
    step = 0.7
    P = penalty.prox(X, step)
    assert P.dtype == dtype and P.shape == X.shape

    def objective(Z):
        return 0.5 * np.sum((Z - X.astype(float)) ** 2) + step * penalty.value(Z)

    best = objective(P.astype(float))
    assert np.isfinite(best)
    directions = [np.eye(X.size)[k].reshape(SHAPE) for k in range(X.size)]
    directions += [rng.normal(size=SHAPE) for _ in range(50)]
    tol = 1e-5 if dtype == np.float32 else 1e-10
    for direction in directions:
        if isinstance(penalty, SupportMask):
            direction = direction * penalty.support  # stay where the value is finite
        for t in (1e-3, 1e-2, 1e-1, -1e-3, -1e-2, -1e-1):
            assert objective(P + t * direction) >= best - tol


def test_prox_matches_closed_forms():
    rng = np.random.default_rng(0)
    X = rng.normal(size=SHAPE)
    w = rng.uniform(0.5, 1.5, size=SHAPE)
    expected = np.sign(X) * np.maximum(np.abs(X) - 0.3 * w, 0)
    expected[-1] = X[-1]  # the unpenalised intercept
    np.testing.assert_allclose(L1(w).prox(X, 0.3), expected)
    # Group: row i shrinks by 0.3 in norm; sparse group = soft then block.
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    group = X * np.maximum(1 - 0.3 / norms, 0)
    group[-1] = X[-1]
    np.testing.assert_allclose(GroupL1().prox(X, 0.3), group)
    soft = L1(np.full((SHAPE[0], 1), 0.5)).prox(X, 0.3)
    np.testing.assert_allclose(SparseGroupL1(0.5).prox(X, 0.3), GroupL1(
        np.full(SHAPE[0], 0.5)).prox(soft, 0.3))


def test_scaled_is_the_penalty_of_the_scaled_variables():
    rng = np.random.default_rng(1)
    U = rng.normal(size=SHAPE)
    d = rng.uniform(0.1, 3.0, size=SHAPE[0])
    for penalty in _penalties(rng)[:-1]:
        assert penalty.scaled(d).value(U / d[:, None]) == pytest.approx(penalty.value(U))


@pytest.mark.parametrize("index", range(7))
def test_dual_norm_is_the_norm_of_the_dual(index):
    """<G, U> <= dual_norm(G) * value(U) for all U, with equality reached (at a prox)."""
    rng = np.random.default_rng(index)
    penalty = _penalties(rng)[index]
    G = rng.normal(size=SHAPE)
    free = penalty.free_mask(SHAPE)
    G[free] = 0
    norm = penalty.dual_norm(G)
    for _ in range(200):
        U = rng.normal(size=SHAPE) * (rng.random(SHAPE) < 0.5)
        assert np.sum(G * U) <= norm * penalty.value(U) * (1 + 1e-9) + 1e-12
    # Tight: G / s is in the dual unit ball (= the subdifferential at 0, where the prox at
    # unit step returns 0) exactly for s >= dual_norm(G).
    assert not np.any(penalty.prox(G / (norm * (1 + 1e-6)), 1.0))
    assert np.any(penalty.prox(G / (norm * (1 - 1e-3)), 1.0))
    # Non-zero where the weight is zero: no dual-feasible point, infinite dual norm.
    if free.any():
        G[np.argwhere(free)[0][0], np.argwhere(free)[0][1]] = 1.0
        assert penalty.dual_norm(G) == np.inf


def test_invalid_weights_are_clear_errors():
    with pytest.raises(ValueError, match="finite and >= 0"):
        L1(weights=-np.ones(SHAPE))
    with pytest.raises(ValueError, match="2-dimensional"):
        L1(weights=np.ones(6))
    with pytest.raises(ValueError, match=r"shape \(n_rows,\)"):
        GroupL1(weights=np.ones(SHAPE))
    with pytest.raises(ValueError, match="alpha"):
        SparseGroupL1(alpha=1.5)
    with pytest.raises(ValueError, match="rows"):
        L1(weights=np.ones((3, 4))).value(np.ones(SHAPE))


def test_default_penalty_is_todays_l1():
    X, W = random_layer()
    for intercept in (False, True):
        program = LayerProgram(X, W, penalize_intercept=intercept)
        body = W if intercept else W[:-1]
        assert program.objective(W) == pytest.approx(np.abs(body).sum())


def _cascade_program(inputs, W, kind, penalty, rng):
    """A cascade program (V != 0 for ReLU): the input as a pruned previous layer sees it."""
    pruned = inputs * (rng.random(inputs.shape) > 0.15)
    return cascade_problem(1, kind, inputs, pruned, W, 1.1).program(0.0, penalty=penalty)


def _make_penalty(name, shape, rng):
    if name == "l1-weights":
        return L1(weights=rng.uniform(0.3, 3.0, size=shape))
    if name == "group":
        return GroupL1()
    return SparseGroupL1(alpha=0.5)


@pytest.mark.parametrize("name", ["l1-weights", "group", "sparse-group"])
@pytest.mark.parametrize("data", ["random", "digits"])
@pytest.mark.parametrize("setting", ["relu-parallel", "relu-cascade", "linear-parallel",
                                     "linear-cascade"])
def test_admm_matches_cvxpy_with_penalties(digits_layers, name, data, setting):
    rng = np.random.default_rng(0)
    kind, mode = setting.split("-")
    if data == "random":
        inputs, W = random_layer(n_samples=60, n_inputs=10, n_outputs=5, seed=3)
    else:
        inputs, W = digits_layers[1]
        inputs, W = inputs[:150], W[:, :8]
    penalty = _make_penalty(name, W.shape, rng)
    if mode == "parallel":
        program = LayerProgram(inputs, W, kind=kind, epsilon=0.1, penalty=penalty)
    else:
        program = _cascade_program(inputs, W, kind, penalty, rng)
        if kind == "relu":
            assert np.any(program.V != 0)
    admm = solve_layer(program, "admm", tol=1e-4, max_iter=5000)
    ref = solve_layer(program, "cvxpy")
    assert admm.converged and ref.converged
    assert admm.check.violation <= 1e-3
    assert ref.check.violation <= 1e-3
    assert abs(admm.check.l1 - ref.check.l1) <= 0.01 * ref.check.l1
    if name != "l1-weights" and data == "digits":  # group penalties remove input units
        assert np.any(~admm.weights[:-1].any(axis=1))


def test_polish_uses_the_support_mask(digits_layers):
    from sklearn_nettrim._polish import polish_on_support

    inputs, W = digits_layers[1]
    program = LayerProgram(inputs, W, kind="relu", epsilon=0.1)
    U = solve_layer(program).weights
    polished = polish_on_support(program, U)
    assert np.all((polished[:-1] != 0) <= (U[:-1] != 0))
    assert program.check(polished).relative_error <= program.check(U).relative_error

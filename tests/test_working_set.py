"""The ADMM's working set of input rows: same certified answer, fewer rows in the products."""

import numpy as np
import pytest

from sklearn_nettrim._program import LayerProgram
from sklearn_nettrim._solvers import solve_layer, working_set
from sklearn_nettrim._solvers.working_set import RowWorkingSet


def _small_set(seed=0):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(40, 6)).astype(np.float32)
    weights = np.ones((6, 1))
    weights[-1] = 0  # an unpenalised intercept row
    return RowWorkingSet(A, (A.T @ A).astype(np.float64), 0.5, weights), A


def test_shrink_drops_rows_deep_in_the_dead_zone_but_never_the_intercept():
    rows, _ = _small_set()
    S_hat = np.full((6, 3), 2.0, dtype=np.float32)  # threshold 1: outside the dead zone
    S_hat[1] = 0.5  # every entry at half the threshold: leaves
    S_hat[2] = [0.5, 0.9, 0.1]  # one entry above DROP_LEVEL: stays
    S_hat[-1] = 0.0  # the intercept row costs nothing: always stays
    assert rows.shrink(S_hat, threshold_scale=1.0)
    assert rows.active.tolist() == [True, False, True, True, True, True]
    assert np.all(S_hat[1] == 0)  # so its prox stays 0


def test_u_step_on_the_working_set_solves_the_restricted_system():
    rows, A = _small_set()
    S_hat = np.full((6, 3), 2.0, dtype=np.float32)
    S_hat[1] = 0.0
    rows.shrink(S_hat, 1.0)
    rng = np.random.default_rng(1)
    work = rng.normal(size=(40, 3)).astype(np.float32)
    rhs = rng.normal(size=(6, 3)).astype(np.float32)
    AU = np.empty_like(work)
    U = rows.u_step(work, rhs, AU)
    keep = rows.active
    B = A[:, keep].astype(np.float64)
    expected = np.linalg.solve(B.T @ B + 0.5 * np.eye(keep.sum()), B.T @ work + rhs[keep])
    np.testing.assert_allclose(U[keep], expected, rtol=1e-3, atol=1e-4)
    assert np.all(U[~keep] == 0)
    np.testing.assert_allclose(AU, B @ expected, rtol=1e-3, atol=1e-3)


def test_grow_brings_back_rows_whose_dual_constraint_fails():
    rows, A = _small_set()
    S_hat = np.full((6, 3), 2.0, dtype=np.float32)
    S_hat[[1, 3]] = 0.0
    rows.shrink(S_hat, 1.0)
    multiplier = np.zeros((40, 3), dtype=np.float32)
    assert not rows.grow(multiplier)  # |A^T 0| = 0 <= w: nothing comes back
    multiplier[:, 0] = 2 * A[:, 3] / (A[:, 3] @ A[:, 3])  # (A^T Lambda)_3 = 2 > 1
    assert rows.grow(multiplier)
    assert rows.active[3]


@pytest.fixture
def sparse_layer(digits_layers):
    """Digits' first layer at a tolerance that zeroes many inputs in all 12 neurons."""
    inputs, W = digits_layers[0]
    return LayerProgram(inputs, W[:, :12], kind="relu", epsilon=0.3)


def _record_active(monkeypatch):
    sizes = []
    original = RowWorkingSet._factor

    def factor(self):
        original(self)
        sizes.append(int(self.active.sum()))

    monkeypatch.setattr(RowWorkingSet, "_factor", factor)
    return sizes


def test_working_set_keeps_the_certified_answer(sparse_layer, monkeypatch):
    sizes = _record_active(monkeypatch)
    with_set = solve_layer(sparse_layer, "admm")
    assert min(sizes) < sizes[0]  # inputs did leave the products
    monkeypatch.setattr(working_set, "DROP_LEVEL", -1.0)  # nothing ever leaves
    without = solve_layer(sparse_layer, "admm")
    ref = solve_layer(sparse_layer, "cvxpy")
    for sol in (with_set, without):
        assert sol.converged and sol.check.violation <= 1e-3 and sol.extra["gap"] <= 3e-3
        assert abs(sol.check.l1 - ref.check.l1) <= 0.01 * ref.check.l1


def test_wrong_drops_delay_but_never_pass_the_stop(sparse_layer, monkeypatch):
    """Dropping every row with a zero weight at iteration 30 drops rows the optimum
    needs: the certificate, evaluated on all inputs, still holds the stop until the
    answer is certified on the full program."""
    monkeypatch.setattr(working_set, "DROP_LEVEL", 1.0)
    monkeypatch.setattr(working_set, "MIN_SHRINK", 0.0)
    sol = solve_layer(sparse_layer, "admm")
    ref = solve_layer(sparse_layer, "cvxpy")
    assert sol.converged and sol.extra["gap"] <= 3e-3
    assert sol.extra["bound"] <= ref.check.l1 * (1 + 1e-6)
    assert abs(sol.check.l1 - ref.check.l1) <= 0.01 * ref.check.l1

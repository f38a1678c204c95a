"""Random layers (hypothesis): the solver's answer is feasible, or its failure is flagged.

In a module of its own: without hypothesis only these tests are skipped.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from sklearn_nettrim._program import LayerProgram
from sklearn_nettrim._solvers import solve_layer

from .conftest import random_layer

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies


@hypothesis.settings(max_examples=40, deadline=None, derandomize=True)
@hypothesis.given(
    n_samples=st.integers(1, 40), n_inputs=st.integers(1, 8), n_outputs=st.integers(1, 5),
    kind=st.sampled_from(["relu", "linear"]), epsilon=st.floats(0.0, 1.2),
    seed=st.integers(0, 2 ** 16), max_iter=st.sampled_from([3, 2000]))
def test_solver_output_is_feasible_or_flagged(n_samples, n_inputs, n_outputs, kind, epsilon,
                                              seed, max_iter):
    X, W = random_layer(n_samples, n_inputs, n_outputs, seed=seed)
    program = LayerProgram(X, W, kind=kind, epsilon=epsilon)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        solution = solve_layer(program, "admm", max_iter=max_iter)
    flagged = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    assert flagged == (not solution.converged)
    assert np.all(np.isfinite(solution.weights))
    if solution.converged:
        assert solution.check.feasible(1e-3), solution.check
        assert solution.check.l1 <= program.objective(W) * (1 + 1e-2) + 1e-12

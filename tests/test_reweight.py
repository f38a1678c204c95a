"""Reweighted l1: the same constrained program, fewer non-zeros, the guarantee kept."""

import pytest
from sklearn.frozen import FrozenEstimator

from sklearn_nettrim import NetTrimTransformer, check_certificate
from sklearn_nettrim._modes import _solve_one


@pytest.mark.parametrize("epsilon", [0.1, 0.3])
def test_reweighting_keeps_feasibility_and_never_adds_weights(digits_layers, epsilon):
    for index, (inputs, weights) in enumerate(digits_layers):
        kind = "linear" if index == len(digits_layers) - 1 else "relu"
        plain = _solve_one(index, inputs, weights, kind=kind, epsilon=epsilon)[2]
        rounds = _solve_one(index, inputs, weights, kind=kind, epsilon=epsilon, reweight=2)[2]
        assert rounds["violation"] <= 1e-3
        assert rounds["relative_error"] <= epsilon * (1 + 1e-3)
        assert rounds["nnz_after"] <= plain["nnz_after"]
        assert rounds["reweight"] == 2


def test_reweight_in_the_estimator(digits, digits_mlp):
    X = digits[0][:300]
    trim = NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=0.2, reweight=1,
                              polish="output").fit(X)
    plain = NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=0.2,
                               polish="output").fit(X)
    assert trim.sparsity_ >= plain.sparsity_
    assert all(c["certified"] for c in check_certificate(trim, X))
    with pytest.raises(ValueError, match="reweight"):
        NetTrimTransformer(FrozenEstimator(digits_mlp), reweight=-1).fit(X)

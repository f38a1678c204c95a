"""polish="refine": a new support at the same nnz, the output bound kept."""

import numpy as np
import pytest
from sklearn.frozen import FrozenEstimator

from sklearn_nettrim import NetTrimTransformer, check_certificate, net_trim_path
from sklearn_nettrim._penalties import GroupL1
from sklearn_nettrim._polish import polish_outputs
from sklearn_nettrim._program import LayerProgram
from sklearn_nettrim._refine import budget_mask, output_loss, refine_layer, refine_support
from sklearn_nettrim._solvers import solve_layer


def _body_nnz(U):
    return int(np.count_nonzero(U[:-1]))


@pytest.mark.parametrize("layer, epsilon", [(0, 0.3), (1, 0.3), (2, 0.2)])
def test_refined_layer_keeps_size_and_bound_and_fits_better(digits_layers, layer, epsilon):
    inputs, W = digits_layers[layer]
    kind = "linear" if layer == len(digits_layers) - 1 else "relu"
    program = LayerProgram(inputs, W, kind=kind, epsilon=epsilon)
    U_l1 = solve_layer(program, "admm", warn=False).weights
    U, accepted, info = refine_layer(program, U_l1)
    assert _body_nnz(U) <= _body_nnz(U_l1)
    assert program.check(U).output_error <= program.output_bound()
    # The point of the feature: a smaller output loss than the output polish of Net-Trim's
    # own support (on these layers the new support is accepted).
    fallback = polish_outputs(program, U_l1)
    assert accepted
    assert output_loss(program, U) < output_loss(program, fallback)
    assert info["loss_refined"] == pytest.approx(output_loss(program, U))


def test_refine_support_moves_the_support_at_the_same_budget(digits_layers):
    inputs, W = digits_layers[0]
    program = LayerProgram(inputs, W, epsilon=0.3)
    U_l1 = solve_layer(program, "admm", warn=False).weights
    D, n_iter = refine_support(program, U_l1)
    _, budgeted, k = budget_mask(program, U_l1)
    assert int(np.count_nonzero(D[budgeted])) == k
    assert np.any((D[:-1] != 0) != (U_l1[:-1] != 0))
    assert 0 < n_iter


def test_rejected_refinement_falls_back_to_the_output_polish(digits_layers):
    """A layer whose bound the refined weights cannot meet keeps the output polish."""
    inputs, W = digits_layers[1]
    program = LayerProgram(inputs, W, epsilon=0.3)
    U_l1 = solve_layer(program, "admm", warn=False).weights
    program.eps_abs = 0.0  # no answer with fewer weights can be within a zero bound
    U, accepted, _ = refine_layer(program, U_l1)
    assert not accepted
    np.testing.assert_array_equal(U, polish_outputs(program, U_l1))


@pytest.mark.parametrize("mode", ["parallel", "cascade"])
def test_transformer_refine_is_certified(digits, digits_mlp, mode):
    X, _ = digits
    calibration = X[:300]
    fits = {polish: NetTrimTransformer(FrozenEstimator(digits_mlp), epsilon=0.3, mode=mode,
                                       polish=polish).fit(calibration)
            for polish in ("output", "refine")}
    trim = fits["refine"]
    assert all(r["polished"] == "refine" for r in trim.layer_stats_)
    assert all(isinstance(r["refined"], bool) for r in trim.layer_stats_)
    assert all(c["certified"] for c in check_certificate(trim, calibration))
    if mode == "parallel":  # same l1 solutions: the refinement never adds non-zeros
        for ours, theirs in zip(trim.layer_stats_, fits["output"].layer_stats_):
            assert ours["nnz_after"] <= theirs["nnz_after"]
    assert trim.score(X[1000:], digits[1][1000:]) > 0.8


def test_refine_through_the_path_and_target_sparsity(digits, digits_mlp):
    X, _ = digits
    _, nets, stats = net_trim_path(digits_mlp, X[:300], [0.2, 0.4], polish="refine")
    assert all(r["polished"] == "refine" for s in stats for r in s)
    trim = NetTrimTransformer(FrozenEstimator(digits_mlp), target_sparsity=0.9,
                              mode="cascade", polish="refine", random_state=0).fit(X[:300])
    assert abs(trim.sparsity_ - 0.9) <= 0.005
    assert all(c["certified"] for c in check_certificate(trim, X[:300]))


def test_refine_with_group_penalty_keeps_removed_units_removed(digits_layers):
    inputs, W = digits_layers[0]
    program = LayerProgram(inputs, W, epsilon=0.3, penalty=GroupL1())
    U_l1 = solve_layer(program, "admm", warn=False).weights
    U, _, _ = refine_layer(program, U_l1)
    removed = ~np.any(U_l1[:-1] != 0, axis=1)
    assert removed.any()
    assert not np.any(U[:-1][removed])
    assert program.check(U).output_error <= program.output_bound()


def test_bad_polish_is_rejected(digits, digits_mlp):
    X, _ = digits
    with pytest.raises(ValueError, match="polish"):
        NetTrimTransformer(FrozenEstimator(digits_mlp), polish="refined").fit(X[:100])


def test_refinement_spends_a_budget_larger_than_the_l1_solution(digits_layers):
    """A target size's share the l1 solution left unused goes to a smaller output error."""
    inputs, W = digits_layers[1]
    program = LayerProgram(inputs, W, epsilon=0.3)
    U_l1 = solve_layer(program, "admm", warn=False).weights
    budget = 2 * _body_nnz(U_l1)
    U, accepted, _ = refine_layer(program, U_l1, budget)
    same_size, _, _ = refine_layer(program, U_l1)
    assert accepted
    assert _body_nnz(U_l1) < _body_nnz(U) <= budget
    assert program.check(U).output_error <= program.output_bound()
    assert output_loss(program, U) < output_loss(program, same_size)
    # A budget below the l1 solution's count never removes weights the program kept.
    assert budget_mask(program, U_l1, 1)[2] == budget_mask(program, U_l1)[2]


def test_cascade_layer_at_its_floor_fills_its_share(digits, digits_mlp):
    """Cascade mode: a layer whose floor tolerance keeps fewer weights than its share of
    the target (here a generous share) keeps its share after the refinement, certified."""
    from sklearn_nettrim._allocation import BudgetSearch
    from sklearn_nettrim._engine import Network, final_weights, traverse
    from sklearn_nettrim._spec import PruneOptions

    X = digits[0][:300]
    network = Network.from_mlp(digits_mlp, X)
    sizes = [W[:-1].size for W in network.weights]
    budgets = np.array([0.1 * sizes[0], 0.6 * sizes[1], 0.1 * sizes[2]])
    options = PruneOptions(polish="refine")
    results = traverse(network, BudgetSearch(budgets, np.full(3, 0.3)), options)
    _, records = final_weights(results)
    floor = results[1][-1]
    assert floor.epsilon == 0.0  # the floor already fit the share: no search
    assert floor.l1.nnz < records[1].nnz_after <= round(budgets[1] + budgets[0]
                                                        - records[0].nnz_after)
    assert records[1].refined
    assert records[1].output_error <= records[1].output_bound

"""Where an ADMM run ended: the start of a nearby program (a path, a target-size search).

The l1 weights alone are a poor start for ADMM: from them a solve at a tolerance 10% away
needed 220 iterations on MNIST's first layer (270 cold); from the whole state, weights
and both multipliers, 90 (digits' second layer: 260 against 70). The advantage fades with
the distance: 140 against 250 at 33% (MNIST), even at 52% (digits), and over a path of
tolerances 3x apart the states cost 1% more iterations than the weights. So a state is
used only for a tolerance within :data:`STATE_RANGE` of its own.
"""

from dataclasses import dataclass

import numpy as np

#: Largest ratio between two tolerances (``eps_abs``) for which a solver state is a
#: better start than the weights alone (see the module docstring).
STATE_RANGE = 1.5


@dataclass
class SolverState:
    """An ADMM state in the program's own variables (not the solver's equilibrated ones).

    Attributes
    ----------
    weights : ndarray of shape (n_inputs + 1, n_outputs)
        The l1 solution (exact zeros).
    Z : ndarray of shape (n_rows, n_outputs)
        The projected ``A U`` (``n_rows`` is ``n_samples``, or the QR factor's rows of a
        linear program).
    multiplier : ndarray of shape (n_rows, n_outputs)
        The multiplier of ``A U = Z``.
    subgradient : ndarray of shape (n_inputs + 1, n_outputs)
        The multiplier of ``U = S``: a subgradient of the penalty at ``weights``.
    rho : float
        The penalty it ended with (``kappa`` is the solver's constant).
    eps_abs : float
        The tolerance of the program it solved.
    """

    weights: np.ndarray
    Z: np.ndarray
    multiplier: np.ndarray
    subgradient: np.ndarray
    rho: float
    eps_abs: float

    def suits(self, eps_abs):
        """Whether this state is a good start for a program of tolerance ``eps_abs``."""
        low, high = sorted((self.eps_abs, eps_abs))
        return low > 0 and high <= STATE_RANGE * low

    def restricted(self, rows, cols):
        """The state of the sub-program on ``rows`` of the weights and ``cols`` outputs."""
        return SolverState(self.weights[np.ix_(rows, cols)], self.Z[:, cols],
                           self.multiplier[:, cols], self.subgradient[np.ix_(rows, cols)],
                           self.rho, self.eps_abs)

    def embedded(self, rows, cols, shape):
        """This sub-program state in the full program (zeros on the dropped parts)."""
        def full(values, n_rows, row_index):
            out = np.zeros((n_rows, shape[1]), dtype=values.dtype)
            out[np.ix_(row_index, cols)] = values
            return out

        all_rows = np.ones(self.Z.shape[0], dtype=bool)
        return SolverState(full(self.weights, shape[0], rows),
                           full(self.Z, self.Z.shape[0], all_rows),
                           full(self.multiplier, self.Z.shape[0], all_rows),
                           full(self.subgradient, shape[0], rows), self.rho, self.eps_abs)


def start_weights(start):
    """The weights of a warm start (a :class:`SolverState` or plain weights)."""
    return start.weights if isinstance(start, SolverState) else start

"""One layer's Net-Trim convex program: its data, its tolerance and a feasibility check.

The program (design notes, section 1), samples first, ``A = [X, 1]``::

    relu   : min ||U||_1  s.t. ||(A U - Y) on Omega||_F <= eps_abs,  (A U) on Omega^c <= V
    linear : min ||U||_1  s.t. ||A U - Z||_F <= eps_abs,              Z = A W

Every solver takes a :class:`LayerProgram` and returns a :class:`LayerSolution`, so
the solvers can be compared with each other on exactly the same data.
"""

from dataclasses import dataclass, field

import numpy as np

from ._penalties import L1
from ._weights import check_sample_weight

KINDS = ("relu", "linear")


def add_intercept_column(X):
    """Return ``[X, 1]`` in the dtype of ``X`` (the intercept becomes the last weight row)."""
    X = np.asarray(X)
    return np.hstack([X, np.ones((X.shape[0], 1), dtype=X.dtype)])


@dataclass
class ProgramCheck:
    """How a candidate ``U`` fares on a :class:`LayerProgram`.

    ``relative_error`` is the constrained residual divided by the target norm (on Omega for
    a ReLU layer, everywhere for a linear one); ``violation`` is the relative amount by
    which ``U`` misses the constraints (0 when feasible): the excess of the ball residual
    over ``eps_abs`` plus the Frobenius norm of the positive part of ``A U - V`` on
    Omega^c, both divided by the target norm. ``max_clip_violation`` is the worst single
    entry of ``A U - V`` on Omega^c (absolute, <= 0 when feasible).
    """

    relative_error: float
    output_error: float
    violation: float
    max_clip_violation: float
    l1: float
    nnz: int

    def feasible(self, tol=1e-3):
        return self.violation <= tol


@dataclass
class LayerSolution:
    """A solver's answer for one layer (``weights`` has the intercept as its last row)."""

    weights: np.ndarray
    solver: str
    converged: bool
    n_iter: int
    seconds: float
    check: ProgramCheck
    message: str = ""
    extra: dict = field(default_factory=dict)


class LayerProgram:
    """The Net-Trim program of one layer, built from its input and its trained weights.

    Parameters
    ----------
    inputs : ndarray of shape (n_samples, n_inputs)
        The layer input on the calibration data, without the ones column.
    weights : ndarray of shape (n_inputs + 1, n_outputs)
        Trained weights with the intercept stacked as the last row.
    kind : {"relu", "linear"}
        ReLU program on the outputs, or linear program on the pre-activations.
    epsilon : float
        Tolerance; relative to the target norm unless ``relative=False``.
    relative : bool, default=True
        Whether ``epsilon`` is relative (``eps_abs = epsilon * ||Y||_F``) or absolute.
    upper_bound : ndarray of shape (n_samples, n_outputs) or None
        ``V`` on Omega^c for a ReLU layer (cascade mode); ``None`` means 0.
    targets : ndarray of shape (n_samples, n_outputs) or None
        ``Y`` (ReLU) or ``Z`` (linear) to keep; ``None`` means computed from
        ``inputs @ weights``. Cascade mode passes the ORIGINAL network's outputs here
        while ``inputs`` are the pruned network's.
    penalize_intercept : bool, default=False
        Whether the intercept row is part of the l1 objective (True is the authors' program).
    sample_weight : array-like of shape (n_samples,) or None
        Errors are measured in the sample-weighted Frobenius norm: rows of weight 0 are
        dropped and the rows of ``A`` (ones column included), of the targets and of
        ``V`` are scaled by ``sqrt(w)`` (Omega is unchanged). ``A``, ``Y`` and ``V``
        below are the scaled arrays, so every solver and check sees a plain program;
        ``eps_abs`` (relative) and the errors are in the weighted norm.
    penalty : penalty object or None
        The objective (see ``_penalties``); ``None`` means
        ``L1(penalize_intercept=penalize_intercept)``. A given penalty decides itself
        whether the intercept is penalised.
    """

    def __init__(self, inputs, weights, *, kind="relu", epsilon=0.05, relative=True,
                 upper_bound=None, targets=None, penalize_intercept=False, penalty=None,
                 sample_weight=None):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}.")
        inputs = np.asarray(inputs)
        weights = np.asarray(weights)
        if weights.ndim != 2 or inputs.ndim != 2 or weights.shape[0] != inputs.shape[1] + 1:
            raise ValueError(
                f"weights must have shape (n_inputs + 1, n_outputs) = ({inputs.shape[1] + 1}, M);"
                f" got inputs {inputs.shape} and weights {weights.shape}."
            )
        if not np.isfinite(epsilon) or epsilon < 0:
            raise ValueError(f"epsilon must be a finite number >= 0, got {epsilon!r}.")
        dtype = np.result_type(inputs.dtype, weights.dtype, np.float32)
        self.dtype = dtype
        self.kind = kind
        self.A = add_intercept_column(inputs.astype(dtype, copy=False))
        self.W = weights.astype(dtype, copy=False)
        Z = self.A @ self.W
        if targets is None:
            targets = np.maximum(Z, 0) if kind == "relu" else Z
        self.Y = np.asarray(targets, dtype=dtype)
        if self.Y.shape != Z.shape:
            raise ValueError(f"targets must have shape {Z.shape}, got {self.Y.shape}.")
        self.omega = self.Y > 0 if kind == "relu" else None
        if upper_bound is None:
            self.V = None
        else:
            if kind != "relu":
                raise ValueError("upper_bound applies to a ReLU layer only.")
            self.V = np.asarray(upper_bound, dtype=dtype)
            if self.V.shape != Z.shape:
                raise ValueError(f"upper_bound must have shape {Z.shape}, got {self.V.shape}.")
        sample_weight = check_sample_weight(sample_weight, Z.shape[0])
        if sample_weight is not None:
            self._apply_sample_weight(sample_weight)
        if penalty is None:
            penalty = L1(penalize_intercept=penalize_intercept)
        self.penalty = penalty
        self.penalize_intercept = bool(getattr(penalty, "penalize_intercept",
                                               penalize_intercept))
        self.target_norm = float(np.linalg.norm(self.Y))
        self.epsilon = float(epsilon)
        self.eps_abs = float(epsilon) * self.target_norm if relative else float(epsilon)

    def _apply_sample_weight(self, sample_weight):
        """Drop the rows of weight 0 and scale the others by ``sqrt(w)``."""
        keep = sample_weight > 0
        root = np.sqrt(sample_weight[keep]).astype(self.dtype)[:, None]
        self.A = self.A[keep] * root
        self.Y = self.Y[keep] * root
        if self.omega is not None:
            self.omega = self.omega[keep]
        if self.V is not None:
            self.V = self.V[keep] * root

    def with_penalty(self, penalty):
        """The same program (arrays shared, not copied) with another objective."""
        other = object.__new__(type(self))
        other.__dict__.update(self.__dict__)
        other.penalty = penalty
        return other

    @property
    def shape(self):
        """(n_inputs + 1, n_outputs): the shape of the weights."""
        return self.W.shape

    @property
    def n_samples(self):
        return self.A.shape[0]

    def upper_bound(self):
        """``V`` as a dense array (zeros in parallel mode)."""
        return np.zeros_like(self.Y) if self.V is None else self.V

    def objective(self, U):
        """The penalty's value (by default the l1 norm, with or without the intercept row)."""
        return self.penalty.value(U)

    def residuals(self, AU):
        """(ball residual, clip excess matrix) of pre-activations ``AU``."""
        if self.kind == "linear":
            return float(np.linalg.norm(AU - self.Y)), np.zeros((0,), dtype=AU.dtype)
        ball = float(np.linalg.norm(np.where(self.omega, AU - self.Y, 0)))
        clip = np.where(self.omega, 0, AU - self.upper_bound())
        return ball, clip

    def check(self, U):
        """Measure a candidate ``U``: errors, constraint violation, l1 norm and nnz."""
        U = np.asarray(U)
        AU = self.A @ U.astype(self.dtype, copy=False)
        ball, clip = self.residuals(AU)
        clip_excess = float(np.linalg.norm(np.maximum(clip, 0))) if clip.size else 0.0
        max_clip = float(clip.max()) if clip.size else 0.0
        scale = self.target_norm if self.target_norm > 0 else 1.0
        output = AU if self.kind == "linear" else np.maximum(AU, 0)
        return ProgramCheck(
            relative_error=ball / scale,
            output_error=float(np.linalg.norm(output - self.Y)),
            violation=(max(ball - self.eps_abs, 0.0) + clip_excess) / scale,
            max_clip_violation=max_clip,
            l1=self.objective(U),
            nnz=int(np.count_nonzero(U)),
        )

    def output_bound(self):
        """What every feasible ``U`` guarantees: ``||outputs(A U) - Y||_F`` at most this.

        ``eps_abs`` for a linear layer and in parallel mode (inactive outputs stay 0);
        with ``V`` (cascade) an inactive output may reach ``max(V, 0)``, so
        ``sqrt(eps_abs^2 + ||max(V, 0) on Omega^c||_F^2)``.
        """
        if self.kind == "linear" or self.V is None:
            return self.eps_abs
        excess = float(np.linalg.norm(np.where(self.omega, 0, np.maximum(self.V, 0))))
        return float(np.hypot(self.eps_abs, excess))

    def zero_is_feasible(self):
        """Whether ``U = 0`` satisfies the constraints (then it is optimal)."""
        if self.kind == "linear":
            return self.target_norm <= self.eps_abs
        ball = float(np.linalg.norm(np.where(self.omega, self.Y, 0)))
        return ball <= self.eps_abs and (self.V is None or bool(np.all(self.V[~self.omega] >= 0)))

    def trivial_columns(self):
        """Outputs whose optimal weights are exactly zero: nothing to keep, 0 is allowed.

        A ReLU neuron that never fires on the calibration data (empty Omega column) with
        ``V >= 0``, or a linear output that is identically zero.
        """
        if self.kind == "linear":
            return ~np.any(self.Y != 0, axis=0)
        dead = ~np.any(self.omega, axis=0)
        if self.V is not None:
            dead &= np.all(np.where(self.omega, 0, self.V) >= 0, axis=0)
        return dead

    def silent_rows(self):
        """Inputs that are zero on every calibration sample: their weights cannot matter."""
        silent = ~np.any(self.A != 0, axis=0)
        silent[-1] = False  # the intercept's column of ones
        return silent

    def restricted(self, rows, cols):
        """The same program on a subset of weight rows and output columns.

        Valid when the dropped rows multiply all-zero inputs and the dropped columns are
        trivially zero (their Omega part is empty), so ``eps_abs`` is unchanged.
        """
        if not rows[-1]:
            raise ValueError("the intercept row cannot be dropped.")
        sub = object.__new__(type(self))
        sub.__dict__.update(self.__dict__)
        # Views, not copies, of what is kept whole (usually all rows): A is the largest
        # array of the program.
        rows = slice(None) if np.all(rows) else rows
        cols = slice(None) if np.all(cols) else cols
        sub.A = self.A[:, rows]
        sub.W = self.W[rows][:, cols]
        sub.Y = self.Y[:, cols]
        sub.omega = None if self.omega is None else self.omega[:, cols]
        sub.V = None if self.V is None else self.V[:, cols]
        sub.penalty = self.penalty.restrict(rows, cols)
        return sub

    def linear_reduction(self):
        """``(R, T, eps)`` with ``||A U - Z||_F <= eps_abs  <=>  ||R U - T||_F <= eps``.

        With the thin QR ``A = Q R`` (when there are more samples than weight rows),
        ``||A U - Z||^2 = ||R U - Q^T Z||^2 + ||(I - Q Q^T) Z||^2``: the linear program
        only ever needs the small square factor R. ``eps`` is NaN if the part of Z
        outside the range of A already exceeds ``eps_abs`` (the program is infeasible).
        """
        if self.kind != "linear":
            raise ValueError("only a linear program can be reduced.")
        A, Z = self.A, self.Y
        if A.shape[0] <= A.shape[1]:
            return A, Z, self.eps_abs
        Q, R = np.linalg.qr(A, mode="reduced")
        T = Q.T @ Z
        outside = max(float(np.linalg.norm(Z)) ** 2 - float(np.linalg.norm(T)) ** 2, 0.0)
        slack = self.eps_abs ** 2 - outside
        if slack < -1e-10 * max(self.target_norm ** 2, np.finfo(float).tiny):
            return R, T, float("nan")
        return R, T, float(np.sqrt(max(slack, 0.0)))

    def __repr__(self):
        return (f"LayerProgram(kind={self.kind!r}, shape={self.shape}, n_samples={self.n_samples},"
                f" eps_abs={self.eps_abs:.4g}, cascade={self.V is not None})")

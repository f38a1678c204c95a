"""Batched ADMM for one layer's Net-Trim program (the authors' splitting).

Variables, all of them matrices so that every neuron of the layer is solved at once::

    minimize ||S||_1 + indicator_C(Z)   subject to   A U = Z,   U = S

``Z`` (n_samples x n_outputs) is projected onto the constraint set (the Frobenius ball
around ``Y`` on Omega, clipping to ``<= V`` on Omega^c), ``S`` is soft-thresholded and
``U`` is a ridge-like least-squares step. The two constraints carry the penalties ``rho``
and ``rho kappa``; the U-step matrix ``A^T A + kappa I`` does not depend on ``rho``: it is
inverted once per layer and the penalty can still adapt.

Layout: :func:`solve` (the l1 program, certified) and :func:`polish` (least squares on a
support, for ``_polish``) are the entry points; each builds its constraint set
(``_ReluSet`` / ``_BallSet`` / ``_FitSet``) and drives one :class:`_AdmmRun`, whose
methods are the stages of a run: setup (equilibration and the U-step factor, the start
and the initial ``rho``, the stopping tests), :meth:`~_AdmmRun.step` (one iteration, with
``rebalance`` of ``rho``), :meth:`~_AdmmRun.certify` (the dual bound, the gap and the
stopping test) and the export (:meth:`~_AdmmRun.weights`, :meth:`~_AdmmRun.state`,
:meth:`~_AdmmRun.certify_weights`).
"""

import contextlib
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from threadpoolctl import threadpool_limits

from .._penalties import L1, SupportMask
from .gap import dual_bound, relative_gap, tightened_multiplier
from .state import SolverState
from .working_set import RowWorkingSet

NAME = "admm"


class _ReluSet:
    """Omega: the Frobenius ball around Y; Omega^c: clip to <= V (0 in parallel mode).

    Projections write into preallocated buffers: on real layers the elementwise work on
    the n_samples x n_outputs matrices costs more than the two products with A, and
    fresh temporaries of that size cost page faults on every iteration.
    """

    def __init__(self, Y, omega, V, radius):
        dtype = Y.dtype
        self.on = omega.astype(dtype)
        self.off = (~omega).astype(dtype)
        self.Y = Y * self.on
        self.V = 0 if V is None else V
        self.radius = radius

    def project_into(self, D, out, work):
        np.subtract(D, self.Y, out=work)
        work *= self.on
        norm = np.sqrt(_sq_norm(work))
        if norm > self.radius:  # radius == 0 and norm == 0 never get here: no 0/0
            work *= self.radius / norm
        work += self.Y
        np.minimum(D, self.V, out=out)
        out *= self.off
        out += work
        return out


    def violation(self, AS, work):
        """Absolute excess of pre-activations ``AS`` over the constraints (0 if inside)."""
        np.subtract(AS, self.Y, out=work)
        work *= self.on
        excess = max(np.sqrt(_sq_norm(work)) - self.radius, 0.0)
        np.subtract(AS, self.V, out=work)
        np.maximum(work, 0, out=work)
        work *= self.off
        return excess + np.sqrt(_sq_norm(work))


class _FitSet(_ReluSet):
    """Polishing: least squares to Y on Omega (a prox, not a projection), clip on Omega^c.

    The prox depends on the penalty: the solver keeps ``rho`` up to date.
    """

    def __init__(self, Y, omega, V):
        super().__init__(Y, omega, V, radius=np.inf)
        self.rho = 1.0

    def fit_omega_into(self, D, work):
        """argmin_z 1/2 ||z - Y||^2 + rho/2 ||z - D||^2 on Omega (0 elsewhere), in ``work``."""
        np.multiply(D, self.rho, out=work)
        work += self.Y
        work *= self.on
        work /= 1 + self.rho
        return work

    def project_into(self, D, out, work):
        self.fit_omega_into(D, work)
        np.minimum(D, self.V, out=out)
        out *= self.off
        out += work
        return out


class _BallSet:
    """All entries: the Frobenius ball around T (the QR-reduced linear program)."""

    def __init__(self, T, radius):
        self.T, self.radius = T, radius

    def project_into(self, D, out, work):
        np.subtract(D, self.T, out=work)
        norm = np.sqrt(_sq_norm(work))
        if norm > self.radius:
            work *= self.radius / norm
        np.add(self.T, work, out=out)
        return out

    def violation(self, AS, work):
        # In the reduced form: an upper bound on the excess of the full residual.
        np.subtract(AS, self.T, out=work)
        return max(np.sqrt(_sq_norm(work)) - self.radius, 0.0)


def _sq_norm(X):
    """Squared Frobenius norm, accumulated in float64 even for float32 iterates."""
    return float(np.einsum("ij,ij->", X, X, dtype=np.float64))


#: Multiplier of :func:`_initial_rho` per program kind, measured on real layers:
#: - linear (QR-reduced) programs: on 24 output and tanh layers (breast_cancer, digits,
#:   wine; epsilon 0.02-0.3) 0.1 cut the iterations from 8910 to 3170 in all, with the
#:   same l1 objective to 0.1%;
#: - ReLU layers in parallel mode: on the digits 64-128-64-10 hidden layers at epsilon
#:   0.05-0.5, 0.3 needed 230-420 iterations instead of 250-890 at 1, objectives equal;
#: - ReLU layers in cascade mode (V != 0): at 1 the stopping test passed 14% above the
#:   optimal l1 (digits layer 2, epsilon 0.3: 289.9 against 254.8 from a 1e-5 solve) or
#:   hit max_iter (epsilon 0.02); at 0.1 it stopped within 0.8%, in 220 and 930
#:   iterations.
RHO_SCALE = {"relu": 0.3, "relu-cascade": 0.1, "linear": 0.1}

#: Weight of the ``U = S`` constraint against ``A U = Z``. Both penalties follow ``rho``
#: together (the S-step threshold ``1 / (rho kappa)`` is set by :func:`_initial_rho`, so
#: ``kappa`` moves only the penalty on ``A U = Z``, by ``1 / kappa``). Measured with
#: ``alpha`` 1.9 on 11 layers (digits 64-128-64-10 and MNIST-5k 784-300-100-10, both
#: modes, epsilon 0.05-0.3): iterations in all 3880 at 1, 2880 at 0.5; 0.3 and 0.1 help
#: the digits layers more but cost MNIST's first layer 10-60%. At the default ``alpha``
#: (1.75): 3180, against 4330 at the former kappa 1 and alpha 1.6.
KAPPA = 0.5

#: Certified runs balance rho when one stopping test lags the other by this factor
#: (violation / tol against gap / gap_tol).
CERTIFIED_BALANCE = 2.0

#: The tightened multiplier (gap.py) costs about one iteration's products plus a small
#: solve per output column: tried at most once in this many iterations.
TIGHTEN_EVERY = 20


def _rho_key(program):
    return "relu-cascade" if program.kind == "relu" and program.V is not None else program.kind


def _initial_rho(W, d, kappa, row_scale):
    """A penalty that thresholds row i near a tenth of its typical trained weight.

    Row i of the scaled weights is thresholded at ``row_scale_i / (rho kappa)`` (for the
    l1 norm ``row_scale = d``).
    """
    W_n = np.abs(W[:-1]) / d[:-1, None]
    typical = np.mean(W_n, axis=1)
    ok = (typical > 0) & (row_scale[:-1] > 0)
    return (float(np.median(row_scale[:-1][ok] / (0.1 * kappa * typical[ok]))) if ok.any()
            else 1.0)


#: Every this many iterations the inputs deep in the dead zone leave the products
#: (working_set.py).
WORKING_SET_EVERY = 30

#: Below this many multiply-adds per product with the layer matrix, ADMM runs with one
#: BLAS thread: its matrices are too small to share. Measured on 2 cores with another
#: process busy: pruning a 30-64-32-1 breast-cancer network (569 samples) at three
#: epsilons took 5.2-6.4 s with threaded BLAS, 1.8-2.6 s with one thread.
SMALL_PRODUCT = 2_000_000


def blas_threads(program):
    """The BLAS thread policy of a layer's iterations: one thread for small products.

    A context manager; also keeps results independent of the process a layer runs in
    (joblib workers get fewer BLAS threads than the main process).
    """
    n_rows = program.A.shape[0]
    if program.kind == "linear":
        n_rows = min(n_rows, program.A.shape[1])  # the QR-reduced matrix R
    if n_rows * program.A.shape[1] * program.shape[1] >= SMALL_PRODUCT:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


@dataclass(frozen=True)
class AdmmOptions:
    """The options of a run (see :func:`solve` for their meaning), built once per call."""

    max_iter: int = 2000
    tol: float = 1e-3
    gap_tol: float = 3e-3
    dual_tol: float | None = None
    rho: float | None = None
    adaptive_rho: bool = True
    alpha: float = 1.75
    check_every: int = 10
    compute_dtype: type = np.float32


class _Dual(NamedTuple):
    """The data of the program's dual (gap.py): ``targets``, ``V`` in the iterations'
    precision for the stopping test; ``program_targets`` in the program's for the
    certificate that is returned."""

    targets: np.ndarray
    radius: float
    omega: np.ndarray | None
    V: np.ndarray | None
    program_targets: np.ndarray


def solve(program, *, warm_start=None, penalty=None, keep_state=False, **options):
    """Solve ``program`` with batched ADMM.

    The S-step is the prox of ``penalty`` (default ``program.penalty``), expressed in the
    equilibrated variables. Polishing (the weights on a support closest to the targets)
    has its own entry point, :func:`polish`.

    Parameters
    ----------
    program : LayerProgram
    warm_start : ndarray of shape program.shape, SolverState or None
        Starting weights (default: the trained weights, which are feasible), or where a
        run on a nearby program ended (``extra["state"]`` of that run): its weights,
        multipliers and penalties.
    penalty : penalty object or None
        The penalty to minimise instead of ``program.penalty``.
    keep_state : bool
        Return where the run ended (``extra["state"]``, a :class:`SolverState`: two
        n_samples x n_outputs arrays) to start a nearby program from; paths and target
        searches ask for it, a single fit does not.
    max_iter : int
        Iteration cap; reaching it returns ``converged=False``.
    tol : float
        Relative tolerance of the primal residual, measured against the smaller of the
        iterates' size and ``eps_abs`` (so the outputs end within ``eps_abs * (1 + tol)``).
    gap_tol : float
        Stopping test on the certified relative optimality gap (see ``gap``): the run
        stops once the primal residual passes and ``(P(S) - bound) / P(S) <= gap_tol``,
        ``bound`` the dual value of the ADMM's multiplier made dual feasible.
    dual_tol : float or None
        Relative tolerance of the dual residual, the stopping test where no gap exists
        (polishing, penalties whose free entries are not an intercept row); ``None``
        means ``10 * tol``.
    rho : float or None
        Initial penalty; ``None`` picks one from the scale of the weights.
    adaptive_rho : bool
        Balance the stopping tests every ``5 * check_every`` iterations: with a
        certificate, double ``rho`` when the violation lags the gap (relative to their
        tolerances) by ``CERTIFIED_BALANCE``, halve it when the gap lags; without,
        residual balancing (Boyd et al. 2011, section 3.4.1).
    alpha : float
        Over-relaxation factor in (0, 2); 1 is plain ADMM. On the 11 layers of ``KAPPA``
        1.9 needed 2880 iterations in all, 1.75 3180, 1.6 3330; but at a tight tolerance
        (``tol=1e-4``, ``gap_tol=3e-4``, six digits layers) 1.9 needed 7580, 1.75 4920 and
        1.6 5450 (equal penalties and 1.6, the former default: 11070). Hence 1.75.
    check_every : int
        Residuals cost an extra product with ``A``; they are measured every few iterations.
    compute_dtype : dtype
        Precision of the iterations (float32 by default, twice as fast; norms are summed
        in float64). Safe: equilibrated columns and ``kappa = 0.5`` bound the condition
        number of the U-step by ``2 n_inputs + 3``, and the stopping tolerances are far
        above single precision. The weights come back in the program's dtype.

    Returns
    -------
    weights, n_iter, converged, message, extra : the sparse ``S`` iterate (exact zeros),
    the iteration count, whether both residuals passed, a text and diagnostics.
    """
    options = AdmmOptions(**options)
    with blas_threads(program):
        dtype = np.promote_types(options.compute_dtype, np.float32)
        problem = _l1_constraints(program, dtype)
        if problem is None:
            return (program.W.copy(), 0, False,
                    "infeasible: the targets are farther than eps_abs from the range of A", {})
        A, cset, dual = problem
        penalty = program.penalty if penalty is None else penalty
        certify = not isinstance(penalty, SupportMask)
        run = _AdmmRun(program, A, cset, penalty, dual if certify else None, warm_start,
                       options)
        run.iterate()
        weights = run.weights()
        extra = {"rho": run.rho}
        if keep_state:
            extra["state"] = run.state()
        if certify:
            run.certify_weights(weights)
        extra.update(bound=run.bound, gap=run.gap)
        return weights, run.n_iter, run.converged, run.message(), extra


def polish(program, U0, support, **options):
    """The weights on ``support`` closest to a ReLU program's targets: the polishing ADMM.

    Minimises ``1/2 ||(A U - Y) on Omega||^2`` over ``U`` zero off ``support`` subject to
    the program's clipping ``A U <= V`` on Omega^c, by the iterations of :func:`solve`
    with the ball projection replaced by the least-squares prox on Omega and the l1
    prox by masking (``SupportMask``); stopped on the primal and dual residuals (there is
    no certificate). Starts from ``U0``; ``options`` as for :func:`solve`. Returns the
    weights, which meet the clipping only to ``tol``: the caller checks them.
    """
    options = AdmmOptions(**options)
    with blas_threads(program):
        dtype = np.promote_types(options.compute_dtype, np.float32)
        V = None if program.V is None else program.V.astype(dtype, copy=False)
        cset = _FitSet(program.Y.astype(dtype, copy=False), program.omega, V)
        run = _AdmmRun(program, program.A, cset, SupportMask(support), None, U0, options)
        run.iterate()
        return run.weights()


def _l1_constraints(program, dtype):
    """``(A, cset, dual)``: the matrix and constraint set of the l1 program (the
    QR-reduced ball of a linear one) and its dual's data; ``None`` if it is infeasible."""
    if program.kind == "linear":
        A, T, radius = program.linear_reduction()
        if np.isnan(radius):
            return None
        cset = _BallSet(T.astype(dtype, copy=False), radius)
        return A, cset, _Dual(cset.T, radius, None, None, T)
    V = None if program.V is None else program.V.astype(dtype, copy=False)
    cset = _ReluSet(program.Y.astype(dtype, copy=False), program.omega, V, program.eps_abs)
    return program.A, cset, _Dual(cset.Y, program.eps_abs, program.omega, V, program.Y)


class _AdmmRun:
    """One ADMM run: its matrices, buffers and scalars, in the equilibrated variables.

    The life of a run: ``__init__`` sets it up (equilibration and the U-step factor,
    the start and the initial ``rho``, the stopping tests), :meth:`iterate` runs
    :meth:`step` until :meth:`certify` (or the residual test) passes or ``max_iter``,
    then :meth:`weights`, :meth:`state` and :meth:`certify_weights` export the result.

    The iteration's state is the pre-prox points ``(Dx, Sx)`` (ADMM as Douglas-Rachford):
    ``Z = P(Dx)`` and ``S = prox(Sx)`` are the projected iterates, ``Lz = Dx - Z`` and
    ``Ls = Sx - S`` the scaled multipliers. The next state ``(fD, fS)`` is written into a
    second pair of buffers, swapped with the first every iteration.

    ``dual`` (a :class:`_Dual`, or ``None``) asks for the certified stopping test; it
    is used when the penalty has a certificate.
    """

    def __init__(self, program, A, cset, penalty, dual, warm_start, options):
        self.program, self.cset, self.penalty, self.dual = program, cset, penalty, dual
        self.options = options
        self.kappa = KAPPA
        self._equilibrate(A, np.promote_types(options.compute_dtype, np.float32))
        self._start(warm_start, options.rho)
        self._stopping_tests()

    # -- setup ----------------------------------------------------------------------

    def _equilibrate(self, A, dtype):
        """Unit-norm columns of ``A``, the penalty scaled to match, the Gram matrix.

        Layer inputs differ in scale by orders of magnitude; equilibrating (U scaled
        inversely, the penalty's weights scaled by the column scales) is what keeps one
        penalty good for every row.
        """
        col_norms = np.sqrt(np.einsum("ij,ij->j", A, A))
        col_norms[col_norms == 0] = 1.0
        self.d = 1.0 / col_norms
        self.A_program = A
        A = A * self.d  # in the program's precision for the Gram matrix, then in compute's
        self.scaled = self.penalty.scaled(self.d)  # the penalty of the variables U / d
        self.gram = A.T @ A  # also serves the certificate's tightened multiplier (gap.py)
        self.tighten_weights = (self.scaled.weight_array(A.shape[1])
                                if isinstance(self.scaled, L1) else None)
        self.A = A.astype(dtype, copy=False)

    def _start(self, warm_start, rho):
        """The starting state, its buffers and the initial ``rho``."""
        program, A, d, kappa = self.program, self.A, self.d, self.kappa
        state = warm_start if isinstance(warm_start, SolverState) else None
        if state is not None:
            warm_start = state.weights
        U = (program.W if warm_start is None else np.asarray(warm_start)).astype(
            A.dtype, copy=True)
        U /= d[:, None]
        self.U, self.S, self.m = U, None, U.shape[1]
        self.AU = AU = A @ U
        self.Dx, self.Sx = AU.copy(), U.copy()
        self.fD, self.fS = np.empty_like(self.Dx), np.empty_like(self.Sx)
        self.work = np.empty_like(AU)
        self.Z, self.Lz, self.spare = np.empty_like(AU), np.empty_like(AU), np.empty_like(AU)
        row_scale = self.scaled.row_scale(U.shape[0], U.shape[1])
        if state is not None and state.Z.shape == AU.shape and state.suits(program.eps_abs):
            # Restart where a nearby program's run ended: its penalties and multipliers
            # (the multiplier of U = S back in the equilibrated variables, see
            # SolverState).
            rho = state.rho if rho is None else rho
            np.add(state.Z, state.multiplier / rho, out=self.Dx, casting="unsafe")
            self.Sx += state.subgradient * d[:, None] / (rho * kappa)
        if rho is None:
            rho = (1.0 if row_scale is None
                   else _initial_rho(program.W, d, kappa, row_scale)
                   * RHO_SCALE[_rho_key(program)])
        self.rho = self.rho0 = self.cset.rho = rho

    def _stopping_tests(self):
        """The scales of the stopping tests, whether the run is certified, the working set."""
        program, opts = self.program, self.options
        # A dual scale for when the optimum has (almost) no penalised weights and the
        # duals vanish: a thousandth of the norm of a full subgradient of the penalty.
        self.dual_floor = max(1e-3 * self.scaled.subgradient_norm(self.U.shape),
                              np.finfo(np.float32).eps)
        self.dual_tol = 10 * opts.tol if opts.dual_tol is None else opts.dual_tol
        # Feasibility is measured like the primal residual: relative to eps_abs when it is
        # the smaller, so the outputs end within eps_abs * (1 + tol).
        gap_scale = min(program.target_norm, program.eps_abs) if program.eps_abs > 0 else 1.0
        gap_scale = gap_scale if gap_scale > 0 else 1.0
        if self.dual is not None and not np.isfinite(dual_bound(
                self.A[:1], self.dual.targets[:1], 0.0, self.scaled,
                np.zeros_like(self.AU[:1]))):
            gap_scale = np.inf  # zero weights off the intercept: no certificate, old test
        self.gap_scale = gap_scale
        self.certified = self.dual is not None and np.isfinite(gap_scale)
        # Only a certified run may leave inputs out: its stopping test checks them all.
        self.working = RowWorkingSet(self.A, self.gram, self.kappa,
                                     self.tighten_weights if self.certified else None)
        self.gap = self.bound = self.violation = float("nan")
        self.best_multiplier, self.tightened_at = None, -TIGHTEN_EVERY
        self.r_norm = self.s_norm = self.eps_dual = np.inf
        self.Z_old = self.S_old = None
        self.n_iter, self.converged = 0, False

    # -- iterate --------------------------------------------------------------------

    def prox_s(self, X):
        return self.scaled.prox(X, 1.0 / (self.rho * self.kappa))

    def iterate(self):
        """Run :meth:`step` until the stopping test passes or ``max_iter``."""
        for n_iter in range(1, self.options.max_iter + 1):
            self.n_iter = n_iter
            if self.step(n_iter):
                self.converged = True
                break

    def step(self, n_iter):
        """ADMM iteration ``n_iter``; True when the stopping test passed (at the state
        the iteration started from, which is then kept)."""
        opts = self.options
        measure = n_iter % opts.check_every == 0 or n_iter == opts.max_iter
        # The dual residual costs a product with A^T on two blocks: with a certificate it
        # only steers rho, so it is measured only when rho may change.
        balance = opts.adaptive_rho and n_iter % (5 * opts.check_every) == 0
        need_dual = measure and not self.certified
        if n_iter % WORKING_SET_EVERY == 0:
            self.working.shrink(self.Sx, 1.0 / (self.rho * self.kappa))
        self._resolve_and_u_step()
        if measure:
            Ls, both = self._residuals(need_dual)
        self._relax()
        if measure and self._passes(n_iter, balance, Ls, both):
            return True
        # The dual residual compares the resolvents of consecutive iterations.
        following = n_iter + 1
        if ((following % opts.check_every == 0 or following == opts.max_iter)
                and not self.certified):
            self.Z_old, self.S_old = self.Z.copy(), self.S
        if measure and balance and n_iter < opts.max_iter and self.rebalance():
            return False  # the state is already the rescaled one
        self._swap()
        return False

    def _resolve_and_u_step(self):
        """``Z = P(Dx)``, ``S = prox(Sx)``, the U-step and ``fD = A U - Z``.

        The scaled multipliers Lz = Dx - Z and Ls = Sx - S are formed only where they are
        read, which saves passes over the n_samples x n_outputs arrays (they dominate on
        small layers).
        """
        Z, work = self.Z, self.work
        self.cset.project_into(self.Dx, Z, work)
        self.S = S = self.prox_s(self.Sx)
        # The U-step from Z - Lz = 2 Z - Dx and S - Ls = 2 S - Sx.
        np.multiply(Z, 2, out=work)
        work -= self.Dx
        self.U = self.working.u_step(work, self.kappa * (2 * S - self.Sx), self.AU)
        np.subtract(self.AU, Z, out=self.fD)

    def _relax(self):
        """The relaxed updates (Boyd et al. 2011, 3.4.3) into ``(fD, fS)``: Dx + alpha
        (A U - Z) is alpha A U + (1 - alpha) Z + Lz, and the same for Sx."""
        alpha = self.options.alpha
        self.fD *= alpha
        self.fD += self.Dx
        np.subtract(self.U, self.S, out=self.fS)
        self.fS *= alpha
        self.fS += self.Sx

    def _swap(self):
        self.Dx, self.fD, self.Sx, self.fS = self.fD, self.Dx, self.fS, self.Sx

    def rebalance(self):
        """Balance the two stopping tests by rescaling ``rho``; True if it changed.

        Within [rho0 / 16, 16 rho0] (unbounded balancing was seen to drive rho to 1e-15
        and diverge on real layers). With a certificate: a larger rho enforces the
        constraints harder, a smaller one moves the multipliers faster; residual
        balancing (Boyd et al. 2011, 3.4.1) was seen to drive rho to its cap on cascade
        layers, where the gap then stalled (digits layer 2, epsilon 0.3: 2000 iterations,
        gap 3%, against 920 to a 0.3% gap at the fixed initial rho). Without: the
        relative residuals. (A zero dual residual, e.g. an intercept-only layer, counts as
        balanced low.)
        """
        rho, rho0 = self.rho, self.rho0
        if self.certified:
            opts = self.options
            lags = ((self.violation / opts.tol, self.gap / opts.gap_tol)
                    if np.isfinite(self.gap) else (1, 1))
            band = CERTIFIED_BALANCE
        else:
            lags, band = (self.r_norm / self.eps_pri, self.s_norm / self.eps_dual), 10
        factor = (2.0 if lags[0] > band * lags[1] and rho < 16 * rho0
                  else 0.5 if lags[1] > band * lags[0] and rho > rho0 / 16 else 1.0)
        if factor == 1.0:
            return False
        # The new state resolves to the same Z and S: the multipliers are normal to the
        # set at Z (and subgradients at S), so any positive multiple is.
        self._swap()
        Dx, Sx, Z, Lz = self.Dx, self.Sx, self.Z, self.Lz
        self.cset.project_into(Dx, Z, self.work)
        np.subtract(Dx, Z, out=Lz)
        self.S = S = self.prox_s(Sx)
        Sx[...] = S + (Sx - S) / factor
        Dx[...] = Z + Lz / factor
        self.rho = self.cset.rho = rho * factor
        return True

    # -- certify --------------------------------------------------------------------

    def _residuals(self, need_dual):
        """The primal residual (and the dual one if ``need_dual``); ``Lz`` into its
        buffer. Returns ``Ls`` and ``A^T [Z - Z_old, Lz]`` (``None`` if not measured)."""
        kappa, S = self.kappa, self.S
        Rs = self.U - S
        self.r_norm = np.sqrt(_sq_norm(self.fD) + kappa * _sq_norm(Rs))
        np.subtract(self.Dx, self.Z, out=self.Lz)
        Ls = self.Sx - S
        both = None
        if need_dual and self.Z_old is not None:
            both = self.A.T @ np.hstack([self.Z - self.Z_old, self.Lz])
            self.s_norm = self.rho * np.sqrt(
                _sq_norm(both[:, :self.m] + kappa * (S - self.S_old)))
        return Ls, both

    def _passes(self, n_iter, balance, Ls, both):
        """The stopping test: :meth:`certify` for a certified run, else the residuals."""
        opts, rho = self.options, self.rho
        scale_pri = max(np.sqrt(_sq_norm(self.AU) + self.kappa * _sq_norm(self.U)),
                        np.sqrt(_sq_norm(self.Z) + self.kappa * _sq_norm(self.S)))
        # Relative to the tolerance itself when it is the smaller: the returned weights
        # must keep the outputs within eps_abs * (1 + tol), not tol * ||Y||.
        radius = self.cset.radius
        self.eps_pri = opts.tol * max(min(scale_pri, radius) if radius > 0 else scale_pri,
                                      1e-30)
        # U carries no cost, so A^T y_z + kappa y_s -> 0 at the optimum and Boyd's
        # relative dual scale degenerates (it equals the dual residual itself); the two
        # terms' own sizes are the scale instead.
        if both is not None:
            self.eps_dual = self.dual_tol * max(
                rho * np.sqrt(_sq_norm(both[:, self.m:])),
                rho * self.kappa * np.sqrt(_sq_norm(Ls)), self.dual_floor)
        if self.certified:
            return self.certify(n_iter, balance)
        return self.r_norm <= self.eps_pri and self.s_norm <= self.eps_dual

    def _scaled_bound(self, multiplier):
        """The dual bound of a multiplier, in the equilibrated variables."""
        dual = self.dual
        return dual_bound(self.A, dual.targets, dual.radius, self.scaled, multiplier,
                          omega=dual.omega, V=dual.V)

    def certify(self, n_iter, balance):
        """Stop on what is returned: S feasible to tol, and certified near optimal.

        The gap is evaluated when S is feasible (and when rho may be rebalanced): from the
        multiplier ``rho Lz`` and, at most every ``TIGHTEN_EVERY`` iterations, its
        tightened form (gap.py). A failed test brings back dropped inputs whose dual
        constraint the multiplier violates.
        """
        opts, S, scaled = self.options, self.S, self.scaled
        self.working.product(S, self.work)
        self.violation = violation = (self.cset.violation(self.work, self.spare)
                                      / self.gap_scale)
        if not (violation <= opts.tol or balance):
            return False
        multiplier = self.rho * self.Lz
        self.bound = self._scaled_bound(multiplier)
        self.gap = relative_gap(scaled.value(S), self.bound)
        if (self.gap > opts.gap_tol and self.tighten_weights is not None
                and n_iter - self.tightened_at >= TIGHTEN_EVERY):
            self.tightened_at = n_iter
            candidate = tightened_multiplier(self.A, self.gram, S, multiplier,
                                             self.tighten_weights)
            tight = self._scaled_bound(candidate)
            if tight > self.bound:
                self.best_multiplier, self.bound = candidate, tight
                self.gap = relative_gap(scaled.value(S), self.bound)
        if violation <= opts.tol and self.gap <= opts.gap_tol:
            return True
        self.working.grow(multiplier)
        return False

    def certify_weights(self, weights):
        """The certificate of the returned ``weights``, in the program's own variables
        and precision (float64 sums): ``self.bound`` and ``self.gap``."""
        dual = self.dual
        candidates = ([self.rho * self.Lz] if self.best_multiplier is None
                      else [self.rho * self.Lz, self.best_multiplier])
        self.bound = max(dual_bound(self.A_program, dual.program_targets, dual.radius,
                                    self.penalty, Lam, omega=dual.omega, V=self.program.V)
                         for Lam in candidates)
        self.gap = relative_gap(self.penalty.value(weights), self.bound)

    # -- export ---------------------------------------------------------------------

    def weights(self):
        """The sparse iterate ``S`` in the program's variables and dtype."""
        return (self.S * self.d[:, None]).astype(self.program.dtype, copy=False)

    def state(self):
        """Where the run ended (the resolvents of the current state), to start a nearby
        program from. Overwrites the ``Z`` and ``work`` buffers."""
        d, rho, Dx, Sx, Z = self.d, self.rho, self.Dx, self.Sx, self.Z
        self.cset.project_into(Dx, Z, self.work)
        S_end = self.prox_s(Sx)
        return SolverState(
            weights=(S_end * d[:, None]).astype(self.program.dtype, copy=False), Z=Z.copy(),
            multiplier=rho * (Dx - Z), subgradient=rho * self.kappa * (Sx - S_end) / d[:, None],
            rho=rho, eps_abs=self.program.eps_abs)

    def message(self):
        if self.converged:
            return "converged"
        return (f"stopped at max_iter={self.options.max_iter}: primal residual"
                f" {float(self.r_norm):.3g}, dual residual {float(self.s_norm):.3g},"
                f" relative violation {self.violation:.3g}, optimality gap {self.gap:.3g}")

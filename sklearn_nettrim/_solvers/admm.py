"""Batched ADMM for one layer's Net-Trim program (the authors' splitting).

Variables, all of them matrices so that every neuron of the layer is solved at once::

    minimize ||S||_1 + indicator_C(Z)   subject to   A U = Z,   U = S

``Z`` (n_samples x n_outputs) is projected onto the constraint set (the Frobenius ball
around ``Y`` on Omega, clipping to ``<= V`` on Omega^c), ``S`` is soft-thresholded and
``U`` is a ridge-like least-squares step. The two constraints carry the penalties ``rho``
and ``rho kappa``; the U-step matrix ``A^T A + kappa I`` does not depend on ``rho``: it is
inverted once per layer and the penalty can still adapt.
"""

import contextlib

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


def solve(program, **options):
    """Solve ``program`` with batched ADMM (see :func:`_solve` for the options)."""
    with blas_threads(program):
        return _solve(program, **options)


def _solve(program, *, warm_start=None, max_iter=2000, tol=1e-3, rho=None,
          adaptive_rho=True, alpha=1.75, check_every=10, dual_tol=None,
          compute_dtype=np.float32, penalty=None, fit_targets=False, gap_tol=3e-3,
          keep_state=False):
    """Solve ``program`` with batched ADMM.

    The S-step is the prox of ``penalty`` (default ``program.penalty``), expressed in the
    equilibrated variables. With ``fit_targets`` (ReLU programs only) the Z-step fits the
    targets on Omega by least squares instead of projecting on the ball: with
    ``penalty=SupportMask(support)`` that is the polishing problem, the weights restricted
    to ``support`` closest to the targets on Omega under the same clipping on Omega^c.

    Parameters
    ----------
    program : LayerProgram
    warm_start : ndarray of shape program.shape, SolverState or None
        Starting weights (default: the trained weights, which are feasible), or where a
        run on a nearby program ended (``extra["state"]`` of that run): its weights,
        multipliers and penalties.
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
    keep_state : bool
        Return where the run ended (``extra["state"]``, a :class:`SolverState`: two
        n_samples x n_outputs arrays) to start a nearby program from; paths and target
        searches ask for it, a single fit does not.

    Returns
    -------
    weights, n_iter, converged, message, extra : the sparse ``S`` iterate (exact zeros),
    the iteration count, whether both residuals passed, a text and diagnostics.
    """
    dtype = np.promote_types(compute_dtype, np.float32)
    if program.kind == "linear":
        A, T, radius = program.linear_reduction()
        if np.isnan(radius):
            return (program.W.copy(), 0, False,
                    "infeasible: the targets are farther than eps_abs from the range of A", {})
        cset = _BallSet(T.astype(dtype, copy=False), radius)
    else:
        A = program.A
        V = None if program.V is None else program.V.astype(dtype, copy=False)
        Y = program.Y.astype(dtype, copy=False)
        cset = (_FitSet(Y, program.omega, V) if fit_targets
                else _ReluSet(Y, program.omega, V, program.eps_abs))
    # Equilibrate: unit-norm columns of A (U scaled inversely, the penalty's weights
    # become scaled by the column scales). Layer inputs differ in scale by orders of
    # magnitude; this is what keeps one penalty good for every row.
    col_norms = np.sqrt(np.einsum("ij,ij->j", A, A))
    col_norms[col_norms == 0] = 1.0
    d = 1.0 / col_norms
    A_program = A
    A = A * d  # in the program's precision for the Gram matrix, then in compute precision
    penalty = program.penalty if penalty is None else penalty
    scaled = penalty.scaled(d)  # the penalty of the equilibrated variables U / d

    gram = A.T @ A  # also serves the certificate's tightened multiplier (gap.py)
    tighten_weights = (scaled.weight_array(A.shape[1]) if isinstance(scaled, L1) else None)
    kappa = KAPPA
    A = A.astype(dtype, copy=False)

    state = warm_start if isinstance(warm_start, SolverState) else None
    if state is not None:
        warm_start = state.weights
    U = (program.W if warm_start is None else np.asarray(warm_start)).astype(dtype, copy=True)
    U /= d[:, None]
    m = U.shape[1]
    # The iteration's state is the pre-prox points (D, S_hat) (ADMM as Douglas-Rachford):
    # Z = P(D) and S = prox(S_hat) are the projected iterates, Lz = D - Z and
    # Ls = S_hat - S the scaled multipliers. The next state (fD, fS) is written into a
    # second pair of buffers, swapped with the first every iteration.
    AU = A @ U
    Dx, Sx = AU.copy(), U.copy()
    fD, fS = np.empty_like(Dx), np.empty_like(Sx)
    work = np.empty_like(AU)
    Z, Lz, spare = np.empty_like(AU), np.empty_like(AU), np.empty_like(AU)
    row_scale = scaled.row_scale(U.shape[0], U.shape[1])
    if state is not None and state.Z.shape == AU.shape and state.suits(program.eps_abs):
        # Restart where a nearby program's run ended: its penalties and multipliers (the
        # multiplier of U = S back in the equilibrated variables, see SolverState).
        rho = state.rho if rho is None else rho
        np.add(state.Z, state.multiplier / rho, out=Dx, casting="unsafe")
        Sx += state.subgradient * d[:, None] / (rho * kappa)
    if rho is None:
        rho = (1.0 if row_scale is None
               else _initial_rho(program.W, d, kappa, row_scale) * RHO_SCALE[_rho_key(program)])
    rho0 = cset.rho = rho

    def prox_s(X, rho):
        return scaled.prox(X, 1.0 / (rho * kappa))

    # A dual scale for when the optimum has (almost) no penalised weights and the duals
    # vanish: a thousandth of the norm of a full subgradient of the penalty.
    dual_floor = max(1e-3 * scaled.subgradient_norm(U.shape), np.finfo(np.float32).eps)
    dual_tol = 10 * tol if dual_tol is None else dual_tol
    # The data of the dual (gap.py), in the equilibrated variables.
    certify = not fit_targets and not isinstance(penalty, SupportMask)
    if program.kind == "linear":
        dual_data = dict(targets=cset.T, radius=radius, omega=None, V=None)
    else:
        dual_data = dict(targets=cset.Y, radius=program.eps_abs, omega=program.omega, V=V)
    gap = bound = violation = float("nan")
    # Feasibility is measured like the primal residual: relative to eps_abs when it is
    # the smaller, so the outputs end within eps_abs * (1 + tol).
    gap_scale = min(program.target_norm, program.eps_abs) if program.eps_abs > 0 else 1.0
    gap_scale = gap_scale if gap_scale > 0 else 1.0
    if certify and not np.isfinite(dual_bound(A[:1], dual_data["targets"][:1], 0.0, scaled,
                                              np.zeros_like(AU[:1]))):
        gap_scale = np.inf  # zero weights off the intercept: no certificate, old test
    certified = certify and np.isfinite(gap_scale)
    # Only a certified run may leave inputs out: its stopping test checks them all.
    working = RowWorkingSet(A, gram, kappa, tighten_weights if certified else None)

    def scaled_bound(multiplier):
        """The dual bound of a multiplier, in the equilibrated variables."""
        return dual_bound(A, dual_data["targets"], dual_data["radius"], scaled, multiplier,
                          omega=dual_data["omega"], V=dual_data["V"])

    best_multiplier, tightened_at = None, -TIGHTEN_EVERY
    converged = False
    r_norm = s_norm = eps_dual = np.inf
    Z_old = S_old = None
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        measure = n_iter % check_every == 0 or n_iter == max_iter
        # The dual residual costs a product with A^T on two blocks: with a certificate it
        # only steers rho, so it is measured only when rho may change.
        balance = adaptive_rho and n_iter % (5 * check_every) == 0
        need_dual = measure and not certified
        if n_iter % WORKING_SET_EVERY == 0:
            working.shrink(Sx, 1.0 / (rho * kappa))
        # The resolvents of the state: Z = P(D), S = prox(S_hat); the scaled multipliers
        # Lz = D - Z and Ls = S_hat - S are formed only where they are read, which saves
        # passes over the n_samples x n_outputs arrays (they dominate on small layers).
        cset.project_into(Dx, Z, work)
        S = prox_s(Sx, rho)
        # The U-step from Z - Lz = 2 Z - D and S - Ls = 2 S - S_hat.
        np.multiply(Z, 2, out=work)
        work -= Dx
        U = working.u_step(work, kappa * (2 * S - Sx), AU)
        # The relaxed updates (Boyd et al. 2011, 3.4.3): D + alpha (A U - Z) is
        # alpha A U + (1 - alpha) Z + Lz, and the same for S_hat.
        np.subtract(AU, Z, out=fD)
        if measure:
            Rs = U - S
            r_norm = np.sqrt(_sq_norm(fD) + kappa * _sq_norm(Rs))
            np.subtract(Dx, Z, out=Lz)
            Ls = Sx - S
            if need_dual and Z_old is not None:
                both = A.T @ np.hstack([Z - Z_old, Lz])
                s_norm = rho * np.sqrt(_sq_norm(both[:, :m] + kappa * (S - S_old)))
        fD *= alpha
        fD += Dx
        np.subtract(U, S, out=fS)
        fS *= alpha
        fS += Sx
        if measure:
            scale_pri = max(np.sqrt(_sq_norm(AU) + kappa * _sq_norm(U)),
                            np.sqrt(_sq_norm(Z) + kappa * _sq_norm(S)))
            # Relative to the tolerance itself when it is the smaller: the returned
            # weights must keep the outputs within eps_abs * (1 + tol), not tol * ||Y||.
            eps_pri = tol * max(min(scale_pri, cset.radius) if cset.radius > 0
                                else scale_pri, 1e-30)
            # U carries no cost, so A^T y_z + kappa y_s -> 0 at the optimum and Boyd's
            # relative dual scale degenerates (it equals the dual residual itself); the
            # two terms' own sizes are the scale instead.
            if need_dual and Z_old is not None:
                eps_dual = dual_tol * max(rho * np.sqrt(_sq_norm(both[:, m:])),
                                          rho * kappa * np.sqrt(_sq_norm(Ls)), dual_floor)
            if certified:
                # Stop on what is returned: S feasible to tol, and certified near optimal.
                working.product(S, work)
                violation = cset.violation(work, spare) / gap_scale
                if violation <= tol or balance:
                    multiplier = rho * Lz
                    bound = scaled_bound(multiplier)
                    gap = relative_gap(scaled.value(S), bound)
                    if (gap > gap_tol and tighten_weights is not None
                            and n_iter - tightened_at >= TIGHTEN_EVERY):
                        tightened_at = n_iter
                        candidate = tightened_multiplier(A, gram, S, multiplier,
                                                         tighten_weights)
                        tight = scaled_bound(candidate)
                        if tight > bound:
                            best_multiplier, bound = candidate, tight
                            gap = relative_gap(scaled.value(S), bound)
                    if violation <= tol and gap <= gap_tol:
                        converged = True
                        break
                    working.grow(multiplier)
            elif r_norm <= eps_pri and s_norm <= eps_dual:
                converged = True
                break
        # The dual residual compares the resolvents of consecutive iterations.
        following = n_iter + 1
        if (following % check_every == 0 or following == max_iter) and not certified:
            Z_old, S_old = Z.copy(), S
        if measure and balance and n_iter < max_iter:
            # Balance the two stopping tests, within [rho0 / 16, 16 rho0] (unbounded
            # balancing was seen to drive rho to 1e-15 and diverge on real layers). With a
            # certificate: a larger rho enforces the constraints harder, a smaller one
            # moves the multipliers faster; residual balancing (Boyd et al. 2011, 3.4.1)
            # was seen to drive rho to its cap on cascade layers, where the gap then
            # stalled (digits layer 2, epsilon 0.3: 2000 iterations, gap 3%, against 920
            # to a 0.3% gap at the fixed initial rho). Without: the relative residuals.
            # (A zero dual residual, e.g. an intercept-only layer, counts as balanced low.)
            if certified:
                lags = ((violation / tol, gap / gap_tol) if np.isfinite(gap) else (1, 1))
                band = CERTIFIED_BALANCE
            else:
                lags, band = (r_norm / eps_pri, s_norm / eps_dual), 10
            factor = (2.0 if lags[0] > band * lags[1] and rho < 16 * rho0
                      else 0.5 if lags[1] > band * lags[0] and rho > rho0 / 16 else 1.0)
            if factor != 1.0:
                # The new state resolves to the same Z and S: the multipliers are normal
                # to the set at Z (and subgradients at S), so any positive multiple is.
                Dx, fD, Sx, fS = fD, Dx, fS, Sx
                cset.project_into(Dx, Z, work)
                np.subtract(Dx, Z, out=Lz)
                S = prox_s(Sx, rho)
                Sx[...] = S + (Sx - S) / factor
                Dx[...] = Z + Lz / factor
                rho *= factor
                cset.rho = rho
                continue
        Dx, fD, Sx, fS = fD, Dx, fS, Sx
    weights = (S * d[:, None]).astype(program.dtype, copy=False)
    extra = {"rho": rho}
    if keep_state:
        # Where the run ended (the resolvents of the current state), to start a nearby
        # program from.
        cset.project_into(Dx, Z, work)
        S_end = prox_s(Sx, rho)
        extra["state"] = SolverState(
            weights=(S_end * d[:, None]).astype(program.dtype, copy=False), Z=Z.copy(),
            multiplier=rho * (Dx - Z), subgradient=rho * kappa * (Sx - S_end) / d[:, None],
            rho=rho, eps_abs=program.eps_abs)
    if certify:
        # The certificate, in the program's own variables and precision (float64 sums).
        targets = T if program.kind == "linear" else program.Y
        bound = max(dual_bound(A_program, targets, dual_data["radius"], penalty, Lam,
                               omega=dual_data["omega"], V=program.V)
                    for Lam in ([rho * Lz] if best_multiplier is None
                                else [rho * Lz, best_multiplier]))
        gap = relative_gap(penalty.value(weights), bound)
    message = "converged" if converged else (
        f"stopped at max_iter={max_iter}: primal residual {float(r_norm):.3g},"
        f" dual residual {float(s_norm):.3g}, relative violation {violation:.3g},"
        f" optimality gap {gap:.3g}")
    extra.update(bound=bound, gap=gap)
    return weights, n_iter, converged, message, extra

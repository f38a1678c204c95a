"""What a fit uses and what each layer's fit achieved, as frozen records.

:class:`PruneOptions` is built once in ``fit`` from the validated parameters and handed
to every internal function instead of keyword lists. :class:`LayerRecord` is made once
per layer by the engine and never changed afterwards (fine-tuning makes new ones); users
see it as a dict in ``layer_stats_``, and :func:`check_certificate` reads from it what
the fit used, so ``set_params`` after a fit cannot change a verdict.
"""

from dataclasses import asdict, dataclass, field, fields, replace

import numpy as np

from ._penalties import make_penalty

#: ``polish`` values, named for what happens after the l1 solve. ``None`` keeps the l1
#: solution. The guarantee each one keeps is in :data:`GUARANTEES`.
POLISHES = ("feasible", "output", "least_squares", "refine")

#: What a layer's weights are promised, by polish: ``"program"`` (every constraint of
#: the layer's program holds), ``"output_bound"`` (the measured output error is within
#: the layer's output bound; the clip constraints may not hold) or ``"none"``.
GUARANTEES = {None: "program", "feasible": "program", "output": "output_bound",
              "refine": "output_bound", "least_squares": "none"}

#: The values of ``polish`` before 0.2, refused with a message naming the new ones.
OLD_POLISH_NAMES = {True: "feasible", False: None, "refit": "least_squares"}


def check_polish(polish):
    """Refuse the ``polish`` values of before 0.2 with a message naming the new ones."""
    if isinstance(polish, (bool, np.bool_)) or polish == "refit":
        new = OLD_POLISH_NAMES[polish if polish == "refit" else bool(polish)]
        raise ValueError(
            f"polish={polish!r} is no longer accepted: polish takes None or one of"
            f" {POLISHES}. The old {polish!r} is now {new!r}"
            + (" (keep the l1 solution)." if new is None else ".")
            + " 'output' (the default) and 'refine' keep each layer's output bound.")


@dataclass(frozen=True)
class SolverSpec:
    """The layer solver and its settings (``max_iter``/``tol`` only reach the ADMM)."""

    name: str = "admm"
    max_iter: int = 2000
    tol: float = 1e-3
    #: Keep the ADMM's end state for a nearby solve (paths and target searches).
    keep_state: bool = False

    def options(self):
        """Keyword options of :func:`~._solvers.solve_layer` for this solver."""
        if self.name != "admm":
            return {}
        return {"max_iter": self.max_iter, "tol": self.tol, "keep_state": self.keep_state}


@dataclass(frozen=True)
class FineTuneSpec:
    """Label-free fine-tuning after pruning (0 epochs: none)."""

    epochs: int = 0
    learning_rate: float = 1e-3
    batch_size: int = 200


@dataclass(frozen=True, eq=False)
class PruneOptions:
    """Everything a pruning run uses besides the network, its data and the tolerances."""

    mode: str = "cascade"
    solver: SolverSpec = field(default_factory=SolverSpec)
    penalty: str = "l1"
    penalize_intercept: bool = False
    polish: str | None = "refine"
    reweight: int = 0
    gamma: float = 1.1
    sample_weight: np.ndarray | None = None
    fine_tune: FineTuneSpec = field(default_factory=FineTuneSpec)
    n_jobs: int | None = None
    verbose: int = 0
    random_state: object = None

    @classmethod
    def from_params(cls, params, sample_weight=None):
        """Options from an estimator's validated ``get_params()``-like mapping."""
        return cls(
            mode=params["mode"],
            solver=SolverSpec(params["solver"], params["max_iter"], params["tol"]),
            penalty=params["penalty"], penalize_intercept=params["penalize_intercept"],
            polish=params["polish"], reweight=params["reweight"], gamma=params["gamma"],
            sample_weight=sample_weight,
            fine_tune=FineTuneSpec(params["fine_tune"], params["fine_tune_learning_rate"],
                                   params["fine_tune_batch_size"]),
            n_jobs=params["n_jobs"], verbose=params["verbose"],
            random_state=params["random_state"])

    def make_penalty(self):
        """A fresh penalty object of every layer program."""
        return make_penalty(self.penalty, self.penalize_intercept)

    def with_(self, **changes):
        """A copy with ``changes`` (``solver_*`` keys change the solver spec)."""
        solver = {k[len("solver_"):]: changes.pop(k) for k in list(changes)
                  if k.startswith("solver_")}
        if solver:
            changes["solver"] = replace(self.solver, **solver)
        return replace(self, **changes)


@dataclass(frozen=True)
class LayerRecord:
    """What one layer's fit used and achieved. Never changed after it is made."""

    layer: int
    kind: str
    mode: str
    shape: tuple
    n_samples: int
    #: Relative tolerance: given (parallel, a cascade's first layer) or ``eps_abs`` over
    #: the target norm (later cascade layers).
    epsilon: float
    #: Cascade layers >= 2: the relative floor of the tolerance (0: from gamma alone).
    epsilon_floor: float | None
    eps_abs: float
    gamma: float
    penalty: str
    penalize_intercept: bool
    solver: str
    polished: str | None
    #: See :data:`GUARANTEES`.
    guarantee: str
    refined: bool | None
    reweight: int
    nnz_before: int
    nnz_after: int
    sparsity: float
    relative_error: float
    output_error: float
    output_bound: float
    violation: float
    l1_before: float
    l1_after: float
    gap: float
    n_iter: int
    converged: bool
    message: str
    inputs_kept: int
    seconds: float
    fine_tuned: bool = False
    fine_tune_epochs: int = 0
    fine_tune_loss: tuple | None = None
    #: The measured fields at pruning time, when fine-tuned afterwards.
    before_fine_tune: dict | None = None

    def as_dict(self):
        """The record as the plain dict users see in ``layer_stats_``."""
        record = asdict(self)
        if record["fine_tune_loss"] is not None:
            record["fine_tune_loss"] = list(record["fine_tune_loss"])
        return record

    @classmethod
    def from_dict(cls, record):
        """A record back from its ``layer_stats_`` dict (keys it does not know ignored)."""
        known = {f.name for f in fields(cls)}
        record = {k: v for k, v in record.items() if k in known}
        if record.get("fine_tune_loss") is not None:
            record["fine_tune_loss"] = tuple(record["fine_tune_loss"])
        return cls(**record)

    def with_(self, **changes):
        """A new record with ``changes`` (this one is not changed)."""
        return replace(self, **changes)


def records_nnz(records):
    """Non-zero (non-intercept) weights over ``records``."""
    return sum(r.nnz_after for r in records)

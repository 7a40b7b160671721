"""The checks library: what every hidden test calls.

A check draws fresh random inputs from a seeded generator (the seed is in
every failure message, so a case can be replayed with ``seed=``), chosen to
expose transposes and broadcasting (n_x != m, m = 1) and extreme values, and
compares the learner's function with the reference: type first, then shape,
then values.  When the values are wrong it tries the fingerprints of known
mistakes and names the one that matches.  Messages never show the reference's
numbers: a learner is told what is wrong, not what to type.

One module per lesson: `data` and `sigmoid` (stage 1), `propagate` (2),
`optimize` (3), `predict` (4: predict and model), `montage` (5); `core`
holds what they share.  Hidden tests import from the package:
``from checks import check_propagate_cost``.
"""
from .core import (
    ATOL,
    RTOL,
    CAUSES,
    CheckFailure,
    Mistake,
    call,
    call_without_mutation,
    check_origin,
    close,
    diagnose,
    diagnose_all,
    explain,
    fail,
    learner_frames,
    logistic_problem,
    new_seed,
    require,
    substituted,
)
from .data import check_dataset_sizes, check_flatten_and_standardize
from .sigmoid import check_sigmoid
from .propagate import (
    check_initialize_with_zeros, check_propagate_cost, check_propagate_gradients, finite_difference_gradients,
    relative_error,
)
from .optimize import (
    check_optimize, check_optimize_costs, check_optimize_inputs, check_optimize_printing, check_optimize_steps,
)
from .predict import check_predict, check_model
from .montage import check_montage, check_montage_background, check_montage_canvas, check_montage_places

__all__ = [
    "ATOL",
    "RTOL",
    "CAUSES",
    "CheckFailure",
    "Mistake",
    "call",
    "call_without_mutation",
    "check_origin",
    "close",
    "diagnose",
    "diagnose_all",
    "explain",
    "fail",
    "learner_frames",
    "logistic_problem",
    "new_seed",
    "relative_error",
    "require",
    "substituted",
    "check_dataset_sizes",
    "check_flatten_and_standardize",
    "check_sigmoid",
    "check_initialize_with_zeros",
    "check_propagate_cost",
    "check_propagate_gradients",
    "finite_difference_gradients",
    "check_optimize",
    "check_optimize_steps",
    "check_optimize_costs",
    "check_optimize_printing",
    "check_optimize_inputs",
    "check_predict",
    "check_model",
    "check_montage",
    "check_montage_canvas",
    "check_montage_background",
    "check_montage_places",
]

"""Net-Trim: convex pruning of trained neural networks, for scikit-learn MLPs."""

from ._certificate import check_certificate
from ._cv import NetTrimCV
from .baseline import magnitude_prune
from ._onnx import to_onnx
from ._path import net_trim_path
from ._solvers import NetTrimSolverError
from ._transformer import NetTrimTransformer, net_trim

__version__ = "0.1.0"

__all__ = [
    "NetTrimCV",
    "NetTrimSolverError",
    "NetTrimTransformer",
    "check_certificate",
    "magnitude_prune",
    "net_trim",
    "net_trim_path",
    "to_onnx",
]

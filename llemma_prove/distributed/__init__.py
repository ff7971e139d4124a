"""Running searches beyond one process: Ray workers fed from a picklable component factory.

Ray (the `ray` extra) is imported only when a cluster is used, so this package imports cheaply.
"""

from .factory import ComponentFactory, FactoryError
from .ray_runner import LOCAL_CLUSTER, RayCluster, RayOptions, RayRunner, RayRunStats, RayUnavailable
from .worker import ProverWorker, WorkerResult, attempt_theorem

__all__ = [
    "LOCAL_CLUSTER",
    "ComponentFactory",
    "FactoryError",
    "ProverWorker",
    "RayCluster",
    "RayOptions",
    "RayRunStats",
    "RayRunner",
    "RayUnavailable",
    "WorkerResult",
    "attempt_theorem",
]

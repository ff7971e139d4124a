"""Where prover workers go: every alive node with room, a GPU for a local model engine where there is one."""

from __future__ import annotations

import pytest

pytest.importorskip("ray")

from llemma_prove.distributed import RayCluster, RayOptions, RayUnavailable  # noqa: E402

NODES = [
    {"NodeID": "gpu-node", "Alive": True, "Resources": {"CPU": 16.0, "GPU": 2.0}},
    {"NodeID": "cpu-node", "Alive": True, "Resources": {"CPU": 8.0}},
    {"NodeID": "dead-node", "Alive": False, "Resources": {"CPU": 8.0, "GPU": 1.0}},
    {"NodeID": "head-without-cpus", "Alive": True, "Resources": {"memory": 1.0}},
]


class _ClusterState:
    """Stands in for the `ray` module's cluster view (test double): only `nodes()` is read."""

    def __init__(self, nodes):
        self._nodes = nodes

    def nodes(self):
        return self._nodes


def _nodes(options: RayOptions, nodes=NODES):
    cluster = RayCluster(options)
    cluster.ray = _ClusterState(nodes)
    return cluster.nodes()


def test_engine_workers_take_a_gpu_where_a_node_has_one():
    assert _nodes(RayOptions(gpus_per_worker=None)) == [("gpu-node", 1.0), ("cpu-node", 0.0)]


def test_endpoint_workers_need_no_gpu_and_gpu_only_workers_skip_cpu_nodes():
    assert _nodes(RayOptions(gpus_per_worker=0.0)) == [("gpu-node", 0.0), ("cpu-node", 0.0)]
    assert _nodes(RayOptions(gpus_per_worker=1.0)) == [("gpu-node", 1.0)]


def test_no_usable_node_is_a_user_error():
    with pytest.raises(RayUnavailable, match="no Ray node has 4 CPU"):
        _nodes(RayOptions(cpus_per_worker=4.0), [NODES[1] | {"Resources": {"CPU": 2.0}}])


def test_missing_ray_is_a_one_line_user_error(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` sees without the extra installed
    with pytest.raises(RayUnavailable, match=r"pip install 'llemma-prove\[ray\]'"):
        RayCluster(RayOptions())

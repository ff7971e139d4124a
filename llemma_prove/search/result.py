"""What one search produced: status, proof, timings, and the search graph."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import networkx as nx

from ..types import Proof, SearchStatus, Verification

MESSAGE_LIMIT = 400  # characters of a prover message kept in the graph (graphs stay small on disk)


@dataclass(frozen=True)
class SearchResult:
    theorem_name: str
    status: SearchStatus
    proof: Proof | None = None
    expansions: int = 0
    steps: int = 0  # tactic calls sent to the prover
    elapsed_s: float = 0.0
    prover_s: float = 0.0  # time spent waiting for the prover
    model_wait_s: float = 0.0  # time spent waiting for the proposer (a shared model included)
    error: str = ""
    verification: Verification | None = None
    graph: nx.DiGraph = field(default_factory=nx.DiGraph, compare=False, repr=False)

    @property
    def proved(self) -> bool:
        return self.status is SearchStatus.PROVED

    def with_verification(self, verification: Verification) -> "SearchResult":
        """Attach the final check. A found proof that the check does not accept is not a proof."""
        status, proof = self.status, self.proof
        if self.status is SearchStatus.PROVED and not verification.accepted:
            status = SearchStatus.REJECTED
        concrete = verification.details.get("tactics") if verification.accepted else None
        if concrete:  # e.g. the tactic Sledgehammer found, in place of the hammer call the search ran
            proof = Proof(tuple(concrete))
        return replace(self, verification=verification, status=status, proof=proof)

    def to_record(self) -> dict[str, Any]:
        """One line of the results file (the graph is stored apart)."""
        return {
            "name": self.theorem_name,
            "status": self.status.value,
            "proved": self.proved,
            "proof": list(self.proof.tactics) if self.proof else None,
            "expansions": self.expansions,
            "steps": self.steps,
            "elapsed_s": round(self.elapsed_s, 4),
            "prover_s": round(self.prover_s, 4),
            "model_wait_s": round(self.model_wait_s, 4),
            "error": self.error,
            "verification": self.verification.to_json() if self.verification else None,
        }

    def graph_json(self) -> dict[str, Any]:
        return graph_to_json(self.graph)


def graph_to_json(graph: nx.DiGraph) -> dict[str, Any]:
    return nx.node_link_data(graph, edges="edges")


def graph_from_json(data: dict[str, Any]) -> nx.DiGraph:
    return nx.node_link_graph(data, directed=True, edges="edges")

"""Best-first proof search: knows the Prover and Proposer interfaces, nothing else."""

from .attempt import prove_theorem
from .best_first import BestFirstSearch, best_first_search
from .config import Priority, SearchConfig
from .result import SearchResult, graph_from_json, graph_to_json

__all__ = [
    "BestFirstSearch",
    "Priority",
    "SearchConfig",
    "SearchResult",
    "best_first_search",
    "prove_theorem",
    "graph_from_json",
    "graph_to_json",
]

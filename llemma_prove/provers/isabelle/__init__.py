"""Isabelle behind the prover interfaces, through PISA (Portal to ISAbelle) over gRPC.

- `pisa.proto` / `pisa_pb2*.py`: the service definition and stubs (`regen_stubs` regenerates them);
- `client`: async gRPC client and the mapping of PISA replies to step outcomes;
- `server`: PISA server processes, the per-server lock and the restart watchdog;
- `hammer`: DSP heuristic tactics, then Sledgehammer (`normalhammer`);
- `prover`: `PisaProver` / `PisaSession` and the sound final check;
- `official`: whole-theory check through `isabelle server`;
- `health`: `llemma-prove setup isabelle` / `doctor` checks;
- `theory`: theory text scanning, splitting, rendering, forbidden words;
- `prompt`: the few-shot next-step prompt file and the hammer-candidate proposer.
"""

from .health import isabelle_health, setup_isabelle
from .options import IsabelleOptions
from .prompt import HammerCandidates, isabelle_prompt_path
from .prover import PisaHandle, PisaProver, PisaSession

__all__ = [
    "HammerCandidates",
    "IsabelleOptions",
    "PisaHandle",
    "PisaProver",
    "PisaSession",
    "isabelle_health",
    "isabelle_prompt_path",
    "setup_isabelle",
]

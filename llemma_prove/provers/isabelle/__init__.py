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

import os

# gRPC's fork handlers make a child started by fork() (every `ChildProcess`: it uses a preexec hook)
# abort now and then while channels are active in this process ("epoll_wait error: Bad file
# descriptor", SIGABRT before exec). Turning them off must happen before grpc is first imported.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "0")

from .health import isabelle_health, setup_isabelle  # noqa: E402
from .options import IsabelleOptions  # noqa: E402
from .prompt import HammerCandidates, isabelle_prompt_path  # noqa: E402
from .prover import PisaHandle, PisaProver, PisaSession  # noqa: E402

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

"""llemma-prove: LLEMMA language models + Lean 4 / Isabelle proof assistants for neural theorem proving."""

import os as _os

# gRPC's fork handlers can abort children forked while a channel is open (our process-group children
# fork through a preexec hook); this must be set before grpc is first imported anywhere.
_os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "0")

__version__ = "0.1.0"

"""One complete attempt at one theorem: open a session, search, close, check the proof from scratch.

The runner, the editor command and the language server all go through here, so no path can report
a proof that skipped the final check.
"""

from __future__ import annotations

import logging
import time

from ..errors import ProverError
from ..interfaces import Proposer, Prover
from ..types import SearchStatus, Theorem, Verdict, Verification
from .best_first import best_first_search
from .config import SearchConfig
from .result import SearchResult

log = logging.getLogger(__name__)


async def prove_theorem(
    theorem: Theorem, prover: Prover, proposer: Proposer, config: SearchConfig
) -> SearchResult:
    start = time.monotonic()
    try:
        session = await prover.open(theorem)
    except ProverError as exc:
        return SearchResult(theorem.name, SearchStatus.ERROR, error=f"could not open the theorem: {exc}",
                            elapsed_s=time.monotonic() - start)
    try:
        result = await best_first_search(theorem, session, proposer, config)
    finally:
        try:
            await session.close()
        except ProverError as exc:  # a session that cannot close cleanly does not void the search
            log.warning("closing the session for %s failed: %s", theorem.name, exc)
    if result.proof is None:
        return result
    try:
        verification = await prover.verify(theorem, result.proof)
    except ProverError as exc:
        verification = Verification(Verdict.UNCHECKED, f"final check could not run: {exc}")
    if not verification.accepted:
        log.warning("proof of %s found by the search was not accepted: %s", theorem.name, verification.reason)
    return result.with_verification(verification)

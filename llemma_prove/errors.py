"""Exceptions with messages meant for users.

A `UserError` is printed by the CLI as one line and exits non-zero; anything else is a bug and keeps
its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input or a missing piece the user can fix; the message says what and how."""


class DataError(UserError):
    """A data file is missing or malformed (the message names the file and line)."""


class ProverUnavailable(UserError):
    """A proof assistant (or a part of its installation) is missing; the message says what to install."""


class ModelLoadError(UserError):
    """A model could not be loaded; the message names the model id."""


class ProverError(Exception):
    """A prover failed in a way that is not an ordinary tactic error (crash, broken protocol)."""


class ProposerError(Exception):
    """A proposer failed to generate (server down, missing log-probs)."""

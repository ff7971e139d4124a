"""Every editor test checks that it leaves no child process behind."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _leaves_no_children(no_leftover_children):
    yield

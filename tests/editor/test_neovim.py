"""A real Neovim drives the language server (Debian stable ships Neovim 0.7.2; `.ci/run` installs it
when missing): the code action is found, the command runs, the server's edit lands in the buffer and
the written file holds the proof; the reasons for sorrys that cannot be searched arrive as hints."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import PLUGIN_DIST, ROOT
from tests.editor.doubles import SAMPLE_LEAN

NVIM = shutil.which("nvim")
pytestmark = pytest.mark.skipif(NVIM is None, reason="Neovim is not installed (apt-get install neovim)")


def test_neovim_proves_a_sorry_through_the_language_server(tmp_path):
    path = tmp_path / "Sample.lean"
    path.write_text(SAMPLE_LEAN, encoding="utf-8")
    out = tmp_path / "out.json"
    log = tmp_path / "events.log"
    init = {"backends": "test-lsp", "backendOptions": {"log": str(log)}, "expansions": 10}
    env = dict(os.environ, LLEMMA_OUT=str(out), LLEMMA_FILE=str(path), LLEMMA_PYTHON=sys.executable,
               LLEMMA_ROOT=str(ROOT), LLEMMA_MARKER="lemma helper", LLEMMA_INIT=json.dumps(init),
               PYTHONPATH=os.pathsep.join([str(ROOT), str(PLUGIN_DIST)]), HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_DATA_HOME=str(tmp_path / "data"), XDG_STATE_HOME=str(tmp_path / "state"))
    script = ROOT / "tests" / "editor" / "nvim_drive.lua"
    done = subprocess.run([NVIM, "--headless", "-u", "NONE", "-i", "NONE", "-n", "-c", f"luafile {script}"],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          start_new_session=True)
    assert out.exists(), done.stderr + done.stdout
    data = json.loads(out.read_text(encoding="utf-8"))
    assert "error" not in data, data
    assert "Prove with LLEMMA" in data["titles"] and "Suggest next steps (LLEMMA)" in data["titles"]
    assert data["result"]["status"] == "proved" and data["result"]["applied"] is True
    assert path.read_text(encoding="utf-8") == SAMPLE_LEAN.replace("x + 0 = x := by sorry", "x + 0 = x := by simp")
    # Neovim before 0.11 does not show disabled code actions: the reason comes as a hint diagnostic.
    assert any("LLEMMA cannot search this sorry" in hint for hint in data["hints"])

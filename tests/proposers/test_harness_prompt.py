"""The paper harness's prompt: fetched at its pinned commit, extracted with `ast`, cached, hashed.

The network is never used: the fetcher is pointed at a local git repository (a test double of
wellecks/llemma_formal2formal whose `proofsearch.py` builds its prompt from the shared copy), or at a
cache pre-seeded with that copy.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from llemma_prove.data.upstream import PinnedFile, cached_file_path, fetch_pinned_file
from llemma_prove.errors import DataError
from llemma_prove.proposers.prompts import (
    HARNESS_PROMPT_FILE,
    HARNESS_PROMPT_SHA256,
    PromptTemplate,
    default_lean4_template,
    harness_prompt,
    percent_template,
)
from tests.conftest import HARNESS_PROMPT_COPY, require_shared, seed_harness_prompt

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


def proofsearch_source(template: str) -> str:
    """A `proofsearch.py` shaped like the harness's (its prompt function returns `\"\"\"...\"\"\" % (ts)`)."""
    assert '"""' not in template
    return (
        "import heapq\n\n\n"
        "def _unique_sorted(texts, scores):\n    return texts, scores\n\n\n"
        f'def _prompt_fewshot(ts):\n    prompt = """{template}""" % (ts)\n    return prompt\n'
    )


def make_repo(tmp_path: Path, template: str) -> PinnedFile:
    repo = tmp_path / "llemma_formal2formal"
    repo.mkdir()
    _git(repo, "init", "--quiet")
    (repo / "proofsearch.py").write_text(proofsearch_source(template), encoding="utf-8")
    _git(repo, "add", "proofsearch.py")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "harness")
    _git(repo, "config", "uploadpack.allowReachableSHA1InWant", "true")
    return replace(HARNESS_PROMPT_FILE, url=f"file://{repo}", commit=_git(repo, "rev-parse", "HEAD"))


@pytest.fixture
def shared_template() -> str:
    return json.loads(require_shared(HARNESS_PROMPT_COPY).read_text(encoding="utf-8"))["template"]


async def test_fetched_at_the_pinned_commit_extracted_cached_and_hashed(tmp_path, shared_template):
    spec = make_repo(tmp_path, shared_template)
    cache = tmp_path / "cache"
    template = await harness_prompt(cache, spec)
    assert template.sha256 == HARNESS_PROMPT_SHA256
    assert template.stop == ("---",)
    assert template.source.endswith(f"{spec.commit[:12]}:proofsearch.py#_prompt_fewshot")
    assert template.render("⊢ 1 = 1").endswith("Tactic state:\n---\n⊢ 1 = 1\n---\nNext tactic:\n---")
    # The upstream file is cached with its sha256 beside it ...
    cached = cached_file_path(spec, cache)
    recorded = cached.with_name("proofsearch.py.sha256").read_text().strip()
    assert (await fetch_pinned_file(spec, cache)).sha256 == recorded
    # ... and the second use needs no repository at all.
    shutil.rmtree(tmp_path / "llemma_formal2formal")
    again = await harness_prompt(cache, spec)
    assert again.sha256 == HARNESS_PROMPT_SHA256


async def test_a_pre_seeded_cache_is_used_without_any_download(tmp_path):
    require_shared(HARNESS_PROMPT_COPY)
    assert seed_harness_prompt(tmp_path)
    offline = replace(HARNESS_PROMPT_FILE, url=f"file://{tmp_path}/no-such-repo")
    template = await harness_prompt(tmp_path, offline)
    assert template.sha256 == HARNESS_PROMPT_SHA256


async def test_offline_without_a_cache_names_both_alternatives(tmp_path):
    offline = replace(HARNESS_PROMPT_FILE, url=f"file://{tmp_path}/no-such-repo")
    with pytest.raises(DataError) as info:
        await harness_prompt(tmp_path / "cache", offline)
    message = str(info.value)
    assert "--prompt FILE" in message and "--prompt builtin" in message and "\n" not in message


async def test_another_prompt_upstream_is_refused(tmp_path, shared_template):
    spec = make_repo(tmp_path, shared_template.replace("Next tactic:", "Next step:"))
    with pytest.raises(DataError, match="not the harness's"):
        await harness_prompt(tmp_path / "cache", spec)


async def test_a_cached_file_that_changed_is_noticed(tmp_path, shared_template):
    spec = make_repo(tmp_path, shared_template)
    cache = tmp_path / "cache"
    await fetch_pinned_file(spec, cache)
    cached = cached_file_path(spec, cache)
    cached.write_text(cached.read_text() + "\n# edited\n")
    with pytest.raises(DataError, match="changed since it was fetched"):
        await fetch_pinned_file(spec, cache)


def test_extraction_reads_the_literal_and_refuses_other_shapes():
    assert percent_template(proofsearch_source("A %s B"), "_prompt_fewshot", "x") == "A %s B"
    with pytest.raises(DataError, match="format directives"):
        percent_template(proofsearch_source("A %s B %d"), "_prompt_fewshot", "x")
    with pytest.raises(DataError, match="0 functions"):
        percent_template("def other(ts):\n    return 'a %s' % ts\n", "_prompt_fewshot", "x")
    with pytest.raises(DataError, match="not Python"):
        percent_template("def (", "_prompt_fewshot", "x")


def test_the_same_prompt_hashes_the_same_from_any_file(tmp_path):
    data = json.loads(require_shared(HARNESS_PROMPT_COPY).read_text(encoding="utf-8"))
    assert PromptTemplate.from_json(data).sha256 == HARNESS_PROMPT_SHA256
    data["placeholder"], data["template"] = "{STATE}", data["template"].replace("%s", "{STATE}")
    assert PromptTemplate.from_json(data).sha256 == HARNESS_PROMPT_SHA256  # same text shown to the model
    data["stop"] = ["\n"]
    assert PromptTemplate.from_json(data).sha256 != HARNESS_PROMPT_SHA256
    assert default_lean4_template().sha256 != HARNESS_PROMPT_SHA256


def test_no_harness_prompt_text_in_the_package():
    """The harness's examples are fetched, never carried in the source."""
    data = json.loads(require_shared(HARNESS_PROMPT_COPY).read_text(encoding="utf-8"))
    package = Path(__file__).resolve().parents[2] / "llemma_prove"
    sources = "".join(p.read_text(encoding="utf-8") for p in package.rglob("*") if p.suffix in (".py", ".json"))
    for example in data["examples"]:
        assert example["tactic_state"] not in sources and example["next_tactic"] not in sources
    assert "suggest a next tactic" not in sources
